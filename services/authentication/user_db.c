/* User records in the sealed store; see user_db.h. */
#include "authentication/user_db.h"

#include "core/error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX     "user/"
#define DELETED_PREFIX "deleted/" /* tombstones: ids of deleted users */
#define KEY_MAX        (sizeof DELETED_PREFIX + STEEP_AUTH_ID_MAX)

/* Versions stay below 2^53 so they survive any JSON reader exactly. */
#define VERSION_MASK ((UINT64_C(1) << 53) - 1)

bool steep_auth_user_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, STEEP_AUTH_ID_MAX + 1);
    return n > 0 && n <= STEEP_AUTH_ID_MAX;
}

static size_t make_key(const char *id, char key[KEY_MAX])
{
    return (size_t)snprintf(key, KEY_MAX, KEY_PREFIX "%s", id);
}

static int encode(const struct steep_auth_user *user, struct steep_buf *out)
{
    char role[STEEP_AUTH_ROLE_MAX];
    steep_auth_role_format(&user->role, role, sizeof role);
    json_t *object = json_pack("{s:s, s:s, s:I}", "role", role, "hash", user->hash, "version",
                               (json_int_t)user->version);
    ENSURE(object != NULL, "cannot encode user record");
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    ENSURE(text != NULL, "cannot encode user record");
    int rc = steep_buf_append(out, text, strlen(text));
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

static int decode(const char *id, const uint8_t *data, size_t len, struct steep_auth_user *user)
{
    json_error_t error;
    json_t *object = json_loadb((const char *)data, len, 0, &error);
    ENSURE(object != NULL, "user record of '%.64s' is not JSON", id);
    const char *role = NULL, *hash = NULL;
    json_int_t version = 0;
    int rc =
        json_unpack(object, "{s:s, s:s, s:I}", "role", &role, "hash", &hash, "version", &version);
    if (rc == 0 && strlen(hash) < sizeof user->hash && steep_auth_user_id_valid(id)) {
        memset(user, 0, sizeof *user);
        snprintf(user->id, sizeof user->id, "%s", id);
        user->role = steep_auth_role_parse(role);
        memcpy(user->hash, hash, strlen(hash) + 1);
        user->version = (uint64_t)version;
    } else {
        rc = -1;
    }
    json_decref(object);
    ENSURE(rc == 0, "user record of '%.64s' is malformed", id);
    return 0;
}

int steep_auth_user_get(struct steep_store *store, const char *id, struct steep_auth_user *user)
{
    char key[KEY_MAX];
    size_t key_len = make_key(id, key);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(store, key, key_len, &value);
    if (rc == STEEP_STORE_OK && decode(id, value.data, value.len, user) < 0)
        rc = STEEP_STORE_ERROR;
    steep_buf_free(&value);
    return rc;
}

uint64_t steep_auth_user_next_version(uint64_t v)
{
    uint64_t next = (v + 1) & VERSION_MASK;
    return next ? next : 1;
}

int steep_auth_user_create(struct steep_store *store, struct steep_auth_user *user)
{
    uint64_t random = 0;
    ENSURE(RAND_bytes((uint8_t *)&random, sizeof random) == 1, "no randomness");
    user->version = steep_auth_user_next_version(random & VERSION_MASK);
    char key[KEY_MAX];
    size_t key_len = make_key(user->id, key);
    struct steep_buf value = STEEP_BUF_INIT;
    steep_buf_wipe(&value);
    if (encode(user, &value) < 0) {
        steep_buf_free(&value);
        return -1;
    }
    struct steep_store_cas cas = {
        .key = key,
        .key_len = key_len,
        .expect_absent = true,
        .value = value.data,
        .value_len = value.len,
    };
    int rc = steep_store_compare_and_swap(store, &cas);
    steep_buf_free(&value);
    if (rc != STEEP_STORE_OK)
        return -1;
    return cas.swapped ? 0 : 1;
}

int steep_auth_user_put(struct steep_store *store, const struct steep_auth_user *user)
{
    char key[KEY_MAX];
    size_t key_len = make_key(user->id, key);
    struct steep_buf value = STEEP_BUF_INIT;
    steep_buf_wipe(&value);
    int rc = encode(user, &value);
    if (rc == 0)
        rc = steep_store_put(store, key, key_len, value.data, value.len) == STEEP_STORE_OK ? 0 : -1;
    steep_buf_free(&value);
    return rc;
}

int steep_auth_user_delete(struct steep_store *store, const char *id)
{
    char key[KEY_MAX], tombstone[KEY_MAX];
    size_t key_len = make_key(id, key);
    size_t tombstone_len = (size_t)snprintf(tombstone, sizeof tombstone, DELETED_PREFIX "%s", id);
    /* One batch: a user is never gone without its tombstone. */
    const struct steep_store_op ops[] = {
        {.is_delete = true, .key = key, .key_len = key_len},
        {.key = tombstone, .key_len = tombstone_len, .value = "{}", .value_len = 2},
    };
    return steep_store_batch(store, ops, 2) == STEEP_STORE_OK ? 0 : -1;
}

int steep_auth_user_was_deleted(struct steep_store *store, const char *id)
{
    char tombstone[KEY_MAX];
    size_t tombstone_len = (size_t)snprintf(tombstone, sizeof tombstone, DELETED_PREFIX "%s", id);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(store, tombstone, tombstone_len, &value);
    steep_buf_free(&value);
    return rc;
}

struct each_context {
    steep_auth_user_fn fn;
    void *arg;
};

static int each_record(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
    struct each_context *context = arg;
    size_t prefix = sizeof KEY_PREFIX - 1;
    char id[STEEP_AUTH_ID_MAX + 1];
    ENSURE(key_len > prefix && key_len - prefix <= STEEP_AUTH_ID_MAX, "bad user key");
    memcpy(id, key + prefix, key_len - prefix);
    id[key_len - prefix] = '\0';
    struct steep_auth_user user;
    GUARD(decode(id, value, value_len, &user));
    int rc = context->fn(context->arg, &user);
    OPENSSL_cleanse(&user, sizeof user);
    return rc < 0 ? -1 : 0;
}

int steep_auth_user_each(struct steep_store *store, steep_auth_user_fn fn, void *arg)
{
    struct each_context context = {fn, arg};
    return steep_store_scan(store, KEY_PREFIX, sizeof KEY_PREFIX - 1, each_record, &context) ==
                   STEEP_STORE_OK
               ? 0
               : -1;
}
