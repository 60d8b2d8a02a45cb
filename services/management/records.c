/*
 * Teaclave's JSON records (§5.7) with jansson. Sets are kept sorted so that
 * equal records serialise to equal bytes, which keeps compare-and-swap
 * meaningful; objects are dumped with sorted keys for the same reason.
 */
#include "records.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "management.h"
#include "rpc/rpc.h"
#include "task/record.h"

json_t *steep_record_bytes(const uint8_t *data, size_t len)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < len; i++)
        json_array_append_new(array, json_integer(data[i]));
    return array;
}

int steep_record_bytes_get(const json_t *array, struct steep_buf *out)
{
    ENSURE(json_is_array(array), "record: expected a byte array");
    out->len = 0;
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        ENSURE(json_is_integer(item), "record: expected a byte");
        json_int_t v = json_integer_value(item);
        ENSURE(v >= 0 && v <= 255, "record: byte out of range");
        GUARD(steep_buf_append_u8(out, (uint8_t)v));
    }
    return 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the set's members and drops duplicates and anything not a string. */
static void set_sort(json_t *uids)
{
    size_t n = json_array_size(uids), m = 0;
    const char **names = calloc(n + 1, sizeof *names);
    if (!names)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(uids, i));
        if (name)
            names[m++] = name;
    }
    qsort(names, m, sizeof *names, compare_strings);
    json_t *sorted = json_array();
    for (size_t i = 0; i < m; i++)
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
            json_array_append_new(sorted, json_string(names[i]));
    free(names);
    json_array_clear(uids);
    json_array_extend(uids, sorted);
    json_decref(sorted);
}

json_t *steep_record_set(const char *const *uids, size_t n)
{
    json_t *array = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, json_string(uids[i]));
    set_sort(array);
    return json_pack("{s:o}", "uids", array);
}

json_t *steep_record_set_uids(const json_t *set)
{
    static json_t *empty;
    json_t *uids = json_object_get(set, "uids");
    if (json_is_array(uids))
        return uids;
    if (!empty)
        empty = json_array();
    return empty;
}

bool steep_record_set_contains(const json_t *set, const char *uid)
{
    size_t i;
    json_t *item;
    json_array_foreach(steep_record_set_uids(set), i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), uid) == 0)
            return true;
    }
    return false;
}

int steep_record_set_add(json_t *set, const char *uid)
{
    json_t *uids = json_object_get(set, "uids");
    if (!json_is_array(uids)) {
        uids = json_array();
        json_object_set_new(set, "uids", uids);
    }
    ENSURE(json_array_append_new(uids, json_string(uid)) == 0, "out of memory");
    set_sort(uids);
    return 0;
}

bool steep_record_set_equal(const json_t *a, const json_t *b)
{
    return json_equal(steep_record_set_uids(a), steep_record_set_uids(b));
}

const char *steep_record_string(const json_t *object, const char *key)
{
    const char *s = json_string_value(json_object_get(object, key));
    return s ? s : "";
}

json_t *steep_record_inner(const json_t *object, const char *key)
{
    json_t *inner = json_object_get(json_object_get(object, key), "inner");
    return json_is_object(inner) ? inner : NULL;
}

/* ---- files ---- */

static json_t *crypto_key_iv(const char *name, const ProtobufCBinaryData *key,
                             const ProtobufCBinaryData *iv)
{
    json_t *body = json_pack("{s:o}", "key", steep_record_bytes(key->data, key->len));
    if (iv)
        json_object_set_new(body, "iv", steep_record_bytes(iv->data, iv->len));
    return json_pack("{s:o}", name, body);
}

json_t *steep_record_crypto(const TeaclaveCommonProto__FileCryptoInfo *info)
{
    if (!info) {
        steep_error_set("missing crypto_info");
        return NULL;
    }
    const char *schema = info->schema ? info->schema : "";
    if (strcmp(schema, "aes-gcm-128") == 0 || strcmp(schema, "aes-gcm-256") == 0) {
        size_t key_len = strcmp(schema, "aes-gcm-128") == 0 ? 16 : 32;
        if (info->key.len != key_len || info->iv.len != 12) {
            steep_error_set("crypto_info: %s needs a %zu-byte key and a 12-byte iv", schema,
                            key_len);
            return NULL;
        }
        return crypto_key_iv(key_len == 16 ? "AesGcm128" : "AesGcm256", &info->key, &info->iv);
    }
    if (strcmp(schema, "teaclave-file-128") == 0) {
        if (info->key.len != 16 || info->iv.len != 0) {
            steep_error_set("crypto_info: teaclave-file-128 needs a 16-byte key and no iv");
            return NULL;
        }
        return crypto_key_iv("TeaclaveFile128", &info->key, NULL);
    }
    if (strcmp(schema, "raw") == 0)
        return json_string("Raw");
    steep_error_set("crypto_info: unknown schema \"%.64s\"", schema);
    return NULL;
}

json_t *steep_record_crypto_random_tf128(void)
{
    uint8_t key[16];
    if (RAND_bytes(key, sizeof key) != 1) {
        steep_error_set("random number generator failed");
        return NULL;
    }
    ProtobufCBinaryData bin = {sizeof key, key};
    json_t *crypto = crypto_key_iv("TeaclaveFile128", &bin, NULL);
    OPENSSL_cleanse(key, sizeof key);
    return crypto;
}

json_t *steep_record_file(const char *url, const uint8_t *cmac, json_t *crypto, json_t *owner,
                          const char *uuid)
{
    json_t *cmac_json =
        cmac ? json_pack("{s:o}", "tag", steep_record_bytes(cmac, 16)) : json_null();
    return json_pack("{s:s, s:o, s:o, s:o, s:s}", "url", url, "cmac", cmac_json, "crypto_info",
                     crypto, "owner", owner, "uuid", uuid);
}

bool steep_record_file_cmac(const json_t *file, uint8_t cmac[16])
{
    json_t *tag = json_object_get(json_object_get(file, "cmac"), "tag");
    struct steep_buf bytes = STEEP_BUF_INIT;
    bool ok = tag && steep_record_bytes_get(tag, &bytes) == 0 && bytes.len == 16;
    if (ok && cmac)
        memcpy(cmac, bytes.data, 16);
    steep_buf_free(&bytes);
    return ok;
}

/* ---- task status (the one table: lib/task/status.c) ---- */

const char *steep_record_status_name(TeaclaveCommonProto__TaskStatus status)
{
    const char *name = steep_task_status_text((int)status);
    return name ? name : "Unknown";
}

int steep_record_status_parse(const char *name)
{
    return steep_task_status_value(name);
}

int steep_record_task_status(const json_t *task)
{
    return steep_task_record_status(task);
}

/* ---- storage ---- */

char *steep_record_dump(const json_t *record)
{
    return steep_task_record_dump(record);
}

int steep_record_load(const struct steep_kv *kv, const char *key, json_t **out,
                      struct steep_buf *raw)
{
    return steep_task_record_read(kv, key, out, raw);
}

int steep_record_save(const struct steep_kv *kv, const char *key, const json_t *record)
{
    char *text = steep_record_dump(record);
    ENSURE(text != NULL, "out of memory");
    int rc = kv->put(kv->ctx, key, text, strlen(text));
    free(text);
    return rc;
}

static int too_large(size_t size, size_t limit, const char *what, const char *hint)
{
    return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT,
                                 "%s too large: its record would be %zu bytes; the limit is %zu "
                                 "bytes%s",
                                 what, size, limit, hint ? hint : "");
}

#define LIMITS_OF(s)                                                                               \
    {                                                                                              \
        .update_max = ((s) - (64u << 10)) / 2, .task_max = ((s) - (64u << 10)) / 4,                \
        .function_max = ((s) - (64u << 10)) / 2 - (64u << 10),                                     \
        .staged_max = (s) / 2 - (64u << 10), .url_max = 256u << 10,                                \
    }

struct steep_record_limits steep_record_limits = LIMITS_OF(10u * (4u << 20) + (1u << 20));

void steep_record_limits_set(size_t max_message)
{
    size_t storage_message = steep_rpc_internal_max_message(max_message);
    steep_record_limits = (struct steep_record_limits)LIMITS_OF(storage_message);
}

int steep_record_check_size(const json_t *record, size_t limit, const char *what, const char *hint)
{
    char *text = steep_record_dump(record);
    if (!text)
        return steep_management_internal("record size");
    size_t size = strlen(text);
    free(text);
    return steep_record_check_length(size, limit, what, hint);
}

int steep_record_check_length(size_t size, size_t limit, const char *what, const char *hint)
{
    return size <= limit ? 0 : too_large(size, limit, what, hint);
}

/* ---- updates: the one loop of lib/task/record.c ---- */

/* Its codes in management's terms: a record that outgrew update_max is the
 * caller's INVALID_ARGUMENT (both the expected bytes and the new ones
 * travel in one storage message), a vanished one STEEP_RECORD_MISSING. */
static int change_code(int rc)
{
    if (rc == STEEP_TASK_RECORD_TOO_LARGE)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT,
                                     "update too large: %s (a record that is updated travels "
                                     "twice in one 4 MiB storage message)",
                                     steep_error_get());
    return rc == STEEP_TASK_RECORD_MISSING ? STEEP_RECORD_MISSING : rc;
}

static int change(const struct steep_kv *kv, const char *key, steep_record_update_fn update,
                  void *arg, struct steep_task_record_options *opt)
{
    opt->max_len = steep_record_limits.update_max;
    return change_code(steep_task_record_change(kv, key, update, arg, opt));
}

int steep_record_update_task_then(const struct steep_kv *kv, const char *key,
                                  const struct steep_buf *known, struct steep_buf *written,
                                  steep_task_update_fn update, void *arg,
                                  const struct steep_store_op *then, size_t n_then)
{
    struct steep_task_record_options opt = {.known = known,
                                            .written = written,
                                            .then = then,
                                            .n_then = n_then,
                                            .max_len = steep_record_limits.update_max};
    return change_code(steep_task_update(kv, key, update, arg, &opt));
}

int steep_record_update_task(const struct steep_kv *kv, const char *key,
                             steep_task_update_fn update, void *arg)
{
    return steep_record_update_task_then(kv, key, NULL, NULL, update, arg, NULL, 0);
}

int steep_record_update_then(const struct steep_kv *kv, const char *key,
                             const struct steep_buf *known, struct steep_buf *written,
                             steep_record_update_fn update, void *arg,
                             const struct steep_store_op *then, size_t n_then)
{
    struct steep_task_record_options opt = {
        .known = known, .written = written, .then = then, .n_then = n_then};
    return change(kv, key, update, arg, &opt);
}

int steep_record_update_known(const struct steep_kv *kv, const char *key,
                              const struct steep_buf *known, struct steep_buf *written,
                              steep_record_update_fn update, void *arg)
{
    return steep_record_update_then(kv, key, known, written, update, arg, NULL, 0);
}

int steep_record_update(const struct steep_kv *kv, const char *key, const json_t *initial,
                        steep_record_update_fn update, void *arg)
{
    return steep_record_update_initial_then(kv, key, initial, update, arg, NULL, 0);
}

int steep_record_update_initial_then(const struct steep_kv *kv, const char *key,
                                     const json_t *initial, steep_record_update_fn update,
                                     void *arg, const struct steep_store_op *then, size_t n_then)
{
    struct steep_task_record_options opt = {.initial = initial, .then = then, .n_then = n_then};
    return change(kv, key, update, arg, &opt);
}
