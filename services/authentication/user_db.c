/* User records in the sealed store; see user_db.h. */
#include "authentication/user_db.h"

#include "core/error.h"
#include "core/log.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX     "user/"
#define DELETED_PREFIX "deleted/" /* tombstones: ids of deleted users */
#define INDEX_HEX      64
#define KEY_MAX        (sizeof DELETED_PREFIX + INDEX_HEX)
#define INDEX_MARKER   "meta/key-index"

/* Versions stay below 2^53 so they survive any JSON reader exactly. */
#define VERSION_MASK ((UINT64_C(1) << 53) - 1)

bool steep_auth_user_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, STEEP_AUTH_ID_MAX + 1);
    return n > 0 && n <= STEEP_AUTH_ID_MAX;
}

/* prefix + hex HMAC-SHA256(index_key, id). */
static size_t make_key(const struct steep_auth_user_db *db, const char *prefix, const char *id,
                       char key[KEY_MAX])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t n = strlen(prefix);
    memcpy(key, prefix, n);
    if (!HMAC(EVP_sha256(), db->index_key, sizeof db->index_key, (const uint8_t *)id, strlen(id),
              mac, &mac_len) ||
        mac_len != INDEX_HEX / 2) {
        /* Only an OpenSSL failure gets here: a key no record has makes the
         * caller's read or write fail cleanly instead of using the id. */
        key[n] = '\0';
        return n;
    }
    steep_hex_encode(mac, mac_len, key + n);
    return n + INDEX_HEX;
}

static int encode(const struct steep_auth_user *user, struct steep_buf *out)
{
    char role[STEEP_AUTH_ROLE_MAX];
    steep_auth_role_format(&user->role, role, sizeof role);
    json_t *object = json_pack("{s:s, s:s, s:s, s:I}", "id", user->id, "role", role, "hash",
                               user->hash, "version", (json_int_t)user->version);
    ENSURE(object != NULL, "cannot encode user record");
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    ENSURE(text != NULL, "cannot encode user record");
    int rc = steep_buf_append(out, text, strlen(text));
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

/* id: the id the record is expected to hold, or NULL (a scan: take it from
 * the record; the legacy format without "id" needs it given). */
static int decode(const char *id, const uint8_t *data, size_t len, struct steep_auth_user *user)
{
    json_error_t error;
    json_t *object = json_loadb((const char *)data, len, 0, &error);
    ENSURE(object != NULL, "user record of '%.64s' is not JSON", id ? id : "?");
    const char *role = NULL, *hash = NULL, *stored_id = NULL;
    json_int_t version = 0;
    int rc = json_unpack(object, "{s?s, s:s, s:s, s:I}", "id", &stored_id, "role", &role, "hash",
                         &hash, "version", &version);
    if (rc == 0 && stored_id && id && strcmp(stored_id, id) != 0)
        rc = -1; /* an HMAC collision or a record moved by hand */
    if (!id)
        id = stored_id;
    if (rc == 0 && !id)
        rc = -1;
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
    ENSURE(rc == 0, "user record of '%.64s' is malformed", id ? id : "?");
    return 0;
}

int steep_auth_user_get(const struct steep_auth_user_db *db, const char *id,
                        struct steep_auth_user *user)
{
    char key[KEY_MAX];
    size_t key_len = make_key(db, KEY_PREFIX, id, key);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(db->store, key, key_len, &value);
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

int steep_auth_user_create(const struct steep_auth_user_db *db, struct steep_auth_user *user)
{
    uint64_t random = 0;
    ENSURE(RAND_bytes((uint8_t *)&random, sizeof random) == 1, "no randomness");
    user->version = steep_auth_user_next_version(random & VERSION_MASK);
    char key[KEY_MAX];
    size_t key_len = make_key(db, KEY_PREFIX, user->id, key);
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
    int rc = steep_store_compare_and_swap(db->store, &cas);
    steep_buf_free(&value);
    if (rc != STEEP_STORE_OK)
        return -1;
    return cas.swapped ? 0 : 1;
}

int steep_auth_user_put(const struct steep_auth_user_db *db, const struct steep_auth_user *user)
{
    char key[KEY_MAX];
    size_t key_len = make_key(db, KEY_PREFIX, user->id, key);
    struct steep_buf value = STEEP_BUF_INIT;
    steep_buf_wipe(&value);
    int rc = encode(user, &value);
    if (rc == 0)
        rc = steep_store_put(db->store, key, key_len, value.data, value.len) == STEEP_STORE_OK ? 0
                                                                                               : -1;
    steep_buf_free(&value);
    return rc;
}

int steep_auth_user_delete(const struct steep_auth_user_db *db, const char *id)
{
    char key[KEY_MAX], tombstone[KEY_MAX];
    size_t key_len = make_key(db, KEY_PREFIX, id, key);
    size_t tombstone_len = make_key(db, DELETED_PREFIX, id, tombstone);
    /* One batch: a user is never gone without its tombstone. */
    const struct steep_store_op ops[] = {
        {.is_delete = true, .key = key, .key_len = key_len},
        {.key = tombstone, .key_len = tombstone_len, .value = "{}", .value_len = 2},
    };
    return steep_store_batch(db->store, ops, 2) == STEEP_STORE_OK ? 0 : -1;
}

int steep_auth_user_was_deleted(const struct steep_auth_user_db *db, const char *id)
{
    char tombstone[KEY_MAX];
    size_t tombstone_len = make_key(db, DELETED_PREFIX, id, tombstone);
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(db->store, tombstone, tombstone_len, &value);
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
    (void)key;
    (void)key_len;
    struct steep_auth_user user;
    GUARD(decode(NULL, value, value_len, &user));
    int rc = context->fn(context->arg, &user);
    OPENSSL_cleanse(&user, sizeof user);
    return rc < 0 ? -1 : 0;
}

int steep_auth_user_each(const struct steep_auth_user_db *db, steep_auth_user_fn fn, void *arg)
{
    struct each_context context = {fn, arg};
    return steep_store_scan(db->store, KEY_PREFIX, sizeof KEY_PREFIX - 1, each_record, &context) ==
                   STEEP_STORE_OK
               ? 0
               : -1;
}

/* ---- migration of plaintext keys ---------------------------------------- */

/* The rewrite of an older store: new records to put, old keys to delete. */
struct migration {
    const struct steep_auth_user_db *db;
    const char *prefix;
    struct steep_store_op *ops;
    size_t n, cap;
};

static int add_op(struct migration *m, struct steep_store_op op)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct steep_store_op *grown = realloc(m->ops, cap * sizeof *grown);
        ENSURE(grown != NULL, "out of memory");
        m->ops = grown;
        m->cap = cap;
    }
    m->ops[m->n++] = op;
    return 0;
}

static void *copy(const void *data, size_t len)
{
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, data, len);
        out[len] = '\0';
    }
    return out;
}

/* One legacy record "<prefix><id>": delete it, put it under the index key. */
static int migrate_record(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len)
{
    struct migration *m = arg;
    size_t prefix = strlen(m->prefix);
    ENSURE(key_len > prefix && key_len - prefix <= STEEP_AUTH_ID_MAX, "bad legacy user key");
    char id[STEEP_AUTH_ID_MAX + 1];
    memcpy(id, key + prefix, key_len - prefix);
    id[key_len - prefix] = '\0';
    struct steep_buf record = STEEP_BUF_INIT;
    steep_buf_wipe(&record);
    if (strcmp(m->prefix, KEY_PREFIX) == 0) {
        struct steep_auth_user user;
        int rc = decode(id, value, value_len, &user);
        if (rc == 0)
            rc = encode(&user, &record);
        OPENSSL_cleanse(&user, sizeof user);
        if (rc < 0) {
            steep_buf_free(&record);
            return -1;
        }
    } else if (steep_buf_append(&record, value, value_len) < 0) {
        return -1;
    }
    char new_key[KEY_MAX];
    size_t new_len = make_key(m->db, m->prefix, id, new_key);
    void *old_copy = copy(key, key_len), *new_copy = copy(new_key, new_len),
         *value_copy = copy(record.data, record.len);
    size_t record_len = record.len;
    steep_buf_free(&record);
    int rc = old_copy && new_copy && value_copy ? 0 : steep_error_set("out of memory");
    if (rc == 0)
        rc = add_op(
            m, (struct steep_store_op){.is_delete = true, .key = old_copy, .key_len = key_len});
    if (rc == 0)
        rc = add_op(m, (struct steep_store_op){.key = new_copy,
                                               .key_len = new_len,
                                               .value = value_copy,
                                               .value_len = record_len});
    if (rc < 0) {
        free(old_copy);
        free(new_copy);
        free(value_copy);
    }
    return rc;
}

static void free_migration(struct migration *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free((void *)m->ops[i].key);
        if (m->ops[i].value) {
            OPENSSL_cleanse((void *)m->ops[i].value, m->ops[i].value_len);
            free((void *)m->ops[i].value);
        }
    }
    free(m->ops);
}

int steep_auth_user_db_migrate(const struct steep_auth_user_db *db)
{
    struct steep_buf marker = STEEP_BUF_INIT;
    int rc = steep_store_get(db->store, INDEX_MARKER, strlen(INDEX_MARKER), &marker);
    steep_buf_free(&marker);
    if (rc != STEEP_STORE_NOT_FOUND)
        return rc == STEEP_STORE_OK ? 0 : -1;
    struct migration m = {.db = db, .prefix = KEY_PREFIX};
    rc = steep_store_scan(db->store, KEY_PREFIX, strlen(KEY_PREFIX), migrate_record, &m) ==
                 STEEP_STORE_OK
             ? 0
             : -1;
    size_t users = m.n / 2;
    m.prefix = DELETED_PREFIX;
    if (rc == 0)
        rc = steep_store_scan(db->store, DELETED_PREFIX, strlen(DELETED_PREFIX), migrate_record,
                              &m) == STEEP_STORE_OK
                 ? 0
                 : -1;
    if (rc == 0)
        rc = add_op(&m, (struct steep_store_op){.key = copy(INDEX_MARKER, strlen(INDEX_MARKER)),
                                                .key_len = strlen(INDEX_MARKER),
                                                .value = copy("hmac-sha256", 11),
                                                .value_len = 11});
    if (rc == 0 && (!m.ops[m.n - 1].key || !m.ops[m.n - 1].value))
        rc = steep_error_set("out of memory");
    /* One batch: a crash leaves the old store or the new one, never a mix. */
    if (rc == 0)
        rc = steep_store_batch(db->store, m.ops, m.n) == STEEP_STORE_OK ? 0 : -1;
    if (rc == 0 && m.n > 1)
        steep_store_compact(db->store); /* the old keys' bytes off the disk */
    if (rc == 0 && m.n > 1)
        log_info("user database of an older version migrated: %zu users and %zu tombstones now "
                 "under keyed-hash keys",
                 users, (m.n - 1) / 2 - users);
    free_migration(&m);
    return rc < 0 ? steep_error_wrap("migrating the user database to keyed-hash keys") : 0;
}
