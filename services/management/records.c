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

/* ---- task status ---- */

static const struct {
    int value;
    const char *name;
} statuses[] = {
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Created, "Created"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__DataAssigned, "DataAssigned"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Approved, "Approved"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Staged, "Staged"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Running, "Running"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Finished, "Finished"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Canceled, "Canceled"},
    {TEACLAVE_COMMON_PROTO__TASK_STATUS__Failed, "Failed"},
};

const char *steep_record_status_name(TeaclaveCommonProto__TaskStatus status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].value == (int)status)
            return statuses[i].name;
    return "Unknown";
}

int steep_record_status_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(statuses[i].name, name) == 0)
            return statuses[i].value;
    return -1;
}

int steep_record_task_status(const json_t *task)
{
    return steep_record_status_parse(json_string_value(json_object_get(task, "status")));
}

void steep_record_task_set_status(json_t *task, TeaclaveCommonProto__TaskStatus status)
{
    json_object_set_new(task, "status", json_string(steep_record_status_name(status)));
}

void steep_record_task_set_error(json_t *task, const char *reason)
{
    json_object_set_new(task, "result", json_pack("{s:{s:s}}", "Err", "reason", reason));
}

/* ---- storage ---- */

char *steep_record_dump(const json_t *record)
{
    return json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int steep_record_load(const struct steep_kv *kv, const char *key, json_t **out,
                      struct steep_buf *raw)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = kv->get(kv->ctx, key, &value);
    if (rc != STEEP_STORE_OK) {
        steep_buf_free(&value);
        return rc;
    }
    json_error_t error;
    *out = json_loadb((const char *)value.data, value.len, 0, &error);
    if (raw) {
        raw->len = 0;
        if (steep_buf_append(raw, value.data, value.len) < 0) {
            json_decref(*out);
            *out = NULL;
        }
    }
    steep_buf_free(&value);
    if (!*out)
        return steep_error_set("record %.80s is not valid JSON", key);
    return STEEP_STORE_OK;
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
    return size <= limit ? 0 : too_large(size, limit, what, hint);
}

/* Writes text over key if the stored bytes still equal expected (or the
 * key is still absent): 0 written, 1 changed meanwhile, -1 failure.
 * written (may be NULL) gets a copy of text after a write. */
static int swap(const struct steep_kv *kv, const char *key, bool absent,
                const struct steep_buf *expected, char *text, struct steep_buf *written)
{
    if (!text)
        return steep_error_set("out of memory");
    struct steep_store_cas cas = {.key = key,
                                  .key_len = strlen(key),
                                  .expect_absent = absent,
                                  .expected = absent ? NULL : expected->data,
                                  .expected_len = absent ? 0 : expected->len,
                                  .value = text,
                                  .value_len = strlen(text)};
    int rc = kv->compare_and_swap(kv->ctx, &cas);
    if (rc != STEEP_STORE_OK)
        return -1;
    if (cas.swapped && written) {
        written->len = 0;
        if (steep_buf_append(written, text, strlen(text)) < 0)
            written->len = 0;
    }
    return cas.swapped ? 0 : 1;
}

/* Runs update on record and swaps the result in: 0 written (or nothing to
 * write: *done), 1 to retry, or update's code / -1 (*done). */
static int apply(const struct steep_kv *kv, const char *key, json_t *record, bool absent,
                 const struct steep_buf *expected, struct steep_buf *written,
                 steep_record_update_fn update, void *arg, bool *done)
{
    int rc = record ? update(record, arg) : steep_error_set("out of memory");
    char *text = rc == 0 ? steep_record_dump(record) : NULL;
    json_decref(record);
    *done = true;
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    /* Both the expected bytes and these travel in one storage message. */
    if (text && strlen(text) > steep_record_limits.update_max) {
        rc = too_large(strlen(text), steep_record_limits.update_max, "update",
                       " (a record that is updated travels twice in one 4 MiB storage message)");
        free(text);
        return rc;
    }
    rc = swap(kv, key, absent, expected, text, written);
    free(text);
    *done = rc != 1;
    return rc;
}

int steep_record_update_known(const struct steep_kv *kv, const char *key,
                              const struct steep_buf *known, struct steep_buf *written,
                              steep_record_update_fn update, void *arg)
{
    struct steep_buf expected = STEEP_BUF_INIT;
    bool done = false;
    int rc = 0;
    for (int attempt = 0; !done && attempt < 1000; attempt++) {
        json_t *record = NULL;
        if (attempt == 0 && known) {
            json_error_t error;
            record = json_loadb((const char *)known->data, known->len, 0, &error);
            rc = record && steep_buf_append(&expected, known->data, known->len) == 0
                     ? STEEP_STORE_OK
                     : steep_error_set("record %.80s is not valid JSON", key);
        } else {
            rc = steep_record_load(kv, key, &record, &expected);
        }
        if (rc != STEEP_STORE_OK) {
            json_decref(record);
            rc = rc == STEEP_STORE_NOT_FOUND ? STEEP_RECORD_MISSING : -1;
            break;
        }
        rc = apply(kv, key, record, false, &expected, written, update, arg, &done);
    }
    steep_buf_free(&expected);
    if (!done && rc == 1)
        return steep_error_set("record %.80s: too many concurrent updates", key);
    return rc;
}

int steep_record_update(const struct steep_kv *kv, const char *key, const json_t *initial,
                        steep_record_update_fn update, void *arg)
{
    struct steep_buf expected = STEEP_BUF_INIT;
    bool done = false;
    int rc = 0;
    for (int attempt = 0; !done && attempt < 1000; attempt++) {
        json_t *record = NULL;
        rc = steep_record_load(kv, key, &record, &expected);
        if (rc == STEEP_STORE_OK) {
            json_decref(record);
            rc = steep_record_update_known(kv, key, &expected, NULL, update, arg);
            break;
        }
        if (rc != STEEP_STORE_NOT_FOUND || !initial) {
            rc = rc == STEEP_STORE_NOT_FOUND ? STEEP_RECORD_MISSING : -1;
            break;
        }
        rc = apply(kv, key, json_deep_copy(initial), true, NULL, NULL, update, arg, &done);
    }
    steep_buf_free(&expected);
    if (!done && rc == 1)
        return steep_error_set("record %.80s: too many concurrent updates", key);
    return rc;
}
