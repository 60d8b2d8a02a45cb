/*
 * Versioned, sealed records on etcd, the versions a process has seen, and
 * the transactions that write them (design in etcd_store.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "store/etcd_store.h"

void etcd_record_free(struct etcd_record *record)
{
    steep_buf_free(&record->data);
}

int etcd_key(const struct steep_store_etcd *store, const struct steep_buf *ikey,
             struct steep_buf *out)
{
    steep_buf_reset(out);
    GUARD(steep_buf_append(out, store->prefix.data, store->prefix.len));
    return steep_buf_append(out, ikey->data, ikey->len);
}

/* ---- etcd's revision never goes back ---- */

int64_t etcd_revision_floor(struct steep_store_etcd *store)
{
    return atomic_load(&store->highest_revision);
}

int etcd_check_revision(struct steep_store_etcd *store, const Etcdserverpb__ResponseHeader *header,
                        int64_t floor)
{
    ENSURE(header, "etcd sent a response without a header");
    if (header->revision < floor) {
        log_error("store: etcd answered at revision %" PRId64 " after revision %" PRId64
                  " was seen: it went back in time (restored from an older backup, or forked)",
                  header->revision, floor);
        return steep_error_set("etcd went back from revision %" PRId64 " to %" PRId64
                               " (rolled back): refusing its answers",
                               floor, header->revision);
    }
    int64_t known = atomic_load(&store->highest_revision);
    while (header->revision > known &&
           !atomic_compare_exchange_weak(&store->highest_revision, &known, header->revision)) {
    }
    return 0;
}

/* ---- versions seen, per internal key ---- */

static struct version_entry *slot(struct version_entry *slots, size_t capacity, const uint8_t *key,
                                  size_t len)
{
    size_t i = steep_store_hash_key(key, len) & (capacity - 1);
    while (slots[i].key && !(slots[i].key_len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static int grow(struct steep_store_etcd *store)
{
    size_t capacity = store->capacity ? store->capacity * 2 : 256;
    struct version_entry *slots = calloc(capacity, sizeof *slots);
    ENSURE(slots, "out of memory");
    for (size_t i = 0; i < store->capacity; i++) {
        struct version_entry *old = &store->versions[i];
        if (old->key)
            *slot(slots, capacity, old->key, old->key_len) = *old;
    }
    free(store->versions);
    store->versions = slots;
    store->capacity = capacity;
    return 0;
}

/* With the lock held: the entry of ikey, NULL when absent (create: added). */
static struct version_entry *entry_of(struct steep_store_etcd *store, const struct steep_buf *ikey,
                                      bool create)
{
    if (!store->capacity && !create)
        return NULL;
    if (create && (store->count + 1) * 2 > store->capacity && grow(store) < 0)
        return NULL;
    struct version_entry *entry = slot(store->versions, store->capacity, ikey->data, ikey->len);
    if (entry->key || !create)
        return entry->key ? entry : NULL;
    entry->key = malloc(ikey->len ? ikey->len : 1);
    if (!entry->key) {
        steep_error_set("out of memory");
        return NULL;
    }
    memcpy(entry->key, ikey->data, ikey->len);
    entry->key_len = ikey->len;
    entry->version = 0;
    entry->mod_revision = 0;
    store->count++;
    return entry;
}

void etcd_versions_free(struct steep_store_etcd *store)
{
    for (size_t i = 0; i < store->capacity; i++)
        free(store->versions[i].key);
    free(store->versions);
    store->versions = NULL;
    store->capacity = store->count = 0;
}

static void raise_entry(struct steep_store_etcd *store, const struct steep_buf *ikey,
                        uint64_t version, int64_t mod_revision)
{
    pthread_mutex_lock(&store->lock);
    struct version_entry *entry = entry_of(store, ikey, true);
    if (entry && version > entry->version) {
        entry->version = version;
        entry->mod_revision = mod_revision;
    }
    pthread_mutex_unlock(&store->lock);
}

void etcd_note_written(struct steep_store_etcd *store, const struct steep_buf *ikey,
                       uint64_t version, int64_t revision)
{
    raise_entry(store, ikey, version, revision);
}

int64_t etcd_known_revision(struct steep_store_etcd *store, const struct steep_buf *ikey)
{
    pthread_mutex_lock(&store->lock);
    struct version_entry *entry = entry_of(store, ikey, false);
    int64_t known = entry ? entry->mod_revision : 0;
    pthread_mutex_unlock(&store->lock);
    return known;
}

uint64_t etcd_next_version(struct steep_store_etcd *store, const struct steep_buf *ikey,
                           int64_t mod_revision)
{
    pthread_mutex_lock(&store->lock);
    struct version_entry *entry = entry_of(store, ikey, false);
    uint64_t seen = entry ? entry->version : 0;
    pthread_mutex_unlock(&store->lock);
    uint64_t version = mod_revision > 0 ? (uint64_t)mod_revision : 1;
    return version > seen ? version : seen + 1;
}

/* ---- sealing and opening ---- */

int etcd_seal_record(struct steep_store_etcd *store, const struct steep_buf *ikey, uint64_t version,
                     int kind, const void *data, size_t len, struct steep_buf *sealed)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    steep_buf_wipe(&plain);
    int rc = steep_buf_append_u64le(&plain, version);
    if (rc == 0)
        rc = steep_buf_append_u8(&plain, (uint8_t)kind);
    if (rc == 0 && len)
        rc = steep_buf_append(&plain, data, len);
    if (rc == 0)
        rc = steep_store_seal(&store->sealer, ikey->data, ikey->len, plain.data, plain.len, sealed);
    steep_buf_free(&plain);
    return rc;
}

static int refuse(const struct steep_buf *ikey, const char *why)
{
    char name[160];
    steep_store_describe_key(ikey->data, ikey->len, name, sizeof name);
    log_error("store: etcd record '%s' %s", name, why);
    return steep_error_set("stored record '%s' %s", name, why);
}

/* Against the versions seen: a record at revision that is older than one
 * seen current at or before it is a rollback. */
static int check_version(struct steep_store_etcd *store, const struct steep_buf *ikey, bool in_etcd,
                         uint64_t version, int64_t revision)
{
    pthread_mutex_lock(&store->lock);
    struct version_entry *entry = entry_of(store, ikey, false);
    uint64_t seen = entry ? entry->version : 0;
    int64_t seen_from = entry ? entry->mod_revision : 0;
    pthread_mutex_unlock(&store->lock);
    if (seen == 0 || revision < seen_from)
        return 0; /* nothing known, or this answer predates what is known */
    char why[160];
    if (!in_etcd) {
        snprintf(why, sizeof why,
                 "vanished from etcd after version %" PRIu64 " was seen (rolled back)", seen);
        return refuse(ikey, why);
    }
    if (version < seen) {
        snprintf(why, sizeof why,
                 "was rolled back: etcd holds version %" PRIu64 " but version %" PRIu64
                 " was seen; refusing it",
                 version, seen);
        return refuse(ikey, why);
    }
    return 0;
}

int etcd_open_record(struct steep_store_etcd *store, const struct steep_buf *ikey,
                     const Etcdserverpb__KeyValue *kv, int64_t revision, bool track,
                     struct etcd_record *out)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    out->present = out->in_etcd = false;
    out->mod_revision = 0;
    out->version = 0;
    steep_buf_reset(&out->data);
    steep_buf_wipe(&out->data);
    if (!kv)
        return track ? check_version(store, ikey, false, 0, revision) : 0;
    ENSURE(kv->mod_revision > 0 && kv->mod_revision <= revision,
           "etcd sent a record modified at revision %lld in an answer at revision %lld",
           (long long)kv->mod_revision, (long long)revision);
    steep_buf_wipe(&plain);
    if (steep_store_unseal(&store->sealer, ikey->data, ikey->len, kv->value.data, kv->value.len,
                           &plain) < 0) {
        steep_buf_free(&plain);
        return refuse(ikey, "failed authentication (tampered or moved)");
    }
    struct steep_cursor cursor = steep_cursor_make(plain.data, plain.len);
    uint8_t kind = 0;
    int rc = steep_cursor_read_u64le(&cursor, &out->version);
    if (rc == 0)
        rc = steep_cursor_read_u8(&cursor, &kind);
    if (rc == 0 && kind != RECORD_VALUE && kind != RECORD_TOMBSTONE)
        rc = -1;
    if (rc == 0 && kind == RECORD_VALUE)
        rc = steep_buf_append(&out->data, plain.data + 9, plain.len - 9);
    steep_buf_free(&plain);
    if (rc < 0)
        return refuse(ikey, "is not a Steep record");
    out->in_etcd = true;
    out->present = kind == RECORD_VALUE;
    out->mod_revision = kv->mod_revision;
    if (track) {
        GUARD(check_version(store, ikey, true, out->version, revision));
        raise_entry(store, ikey, out->version, kv->mod_revision);
    }
    return 0;
}

int etcd_read_record(struct steep_store_etcd *store, const struct steep_buf *ikey, bool track,
                     struct etcd_record *out, int64_t *revision)
{
    struct steep_buf key = STEEP_BUF_INIT;
    GUARD(etcd_key(store, ikey, &key));
    Etcdserverpb__RangeRequest request = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse *response = NULL;
    request.key = (ProtobufCBinaryData){key.len, key.data};
    int64_t floor = etcd_revision_floor(store);
    int rc = steep_etcd_range(store->etcd, &request, &response);
    steep_buf_free(&key);
    GUARD(rc);
    rc = etcd_check_revision(store, response->header, floor);
    if (rc == 0) {
        *revision = response->header->revision;
        rc = etcd_open_record(store, ikey, response->n_kvs ? response->kvs[0] : NULL, *revision,
                              track, out);
    }
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return rc;
}

/* ---- transactions ---- */

int etcd_txn_init(struct etcd_txn *txn, size_t capacity)
{
    memset(txn, 0, sizeof *txn);
    etcdserverpb__txn_request__init(&txn->request);
    txn->capacity = capacity ? capacity : 1;
    size_t n = txn->capacity;
    txn->compares = calloc(n, sizeof *txn->compares);
    txn->compare_list = calloc(n, sizeof *txn->compare_list);
    txn->success = calloc(n, sizeof *txn->success);
    txn->success_list = calloc(n, sizeof *txn->success_list);
    txn->puts = calloc(n, sizeof *txn->puts);
    txn->deletes = calloc(n, sizeof *txn->deletes);
    txn->failure = calloc(n, sizeof *txn->failure);
    txn->failure_list = calloc(n, sizeof *txn->failure_list);
    txn->ranges = calloc(n, sizeof *txn->ranges);
    bool ok = txn->compares && txn->compare_list && txn->success && txn->success_list &&
              txn->puts && txn->deletes && txn->failure && txn->failure_list && txn->ranges;
    if (!ok) {
        etcd_txn_free(txn);
        return steep_error_set("out of memory");
    }
    txn->request.compare = txn->compare_list;
    txn->request.success = txn->success_list;
    txn->request.failure = txn->failure_list;
    return 0;
}

void etcd_txn_free(struct etcd_txn *txn)
{
    free(txn->compares);
    free(txn->compare_list);
    free(txn->success);
    free(txn->success_list);
    free(txn->puts);
    free(txn->deletes);
    free(txn->failure);
    free(txn->failure_list);
    free(txn->ranges);
    memset(txn, 0, sizeof *txn);
}

static ProtobufCBinaryData bytes_of(const struct steep_buf *b)
{
    return (ProtobufCBinaryData){b->len, b->data};
}

void etcd_txn_compare_mod(struct etcd_txn *txn, const struct steep_buf *key, int64_t mod_revision)
{
    size_t i = txn->request.n_compare++;
    Etcdserverpb__Compare *compare = &txn->compares[i];
    etcdserverpb__compare__init(compare);
    compare->result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    compare->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
    compare->key = bytes_of(key);
    compare->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
    compare->mod_revision = mod_revision;
    txn->compare_list[i] = compare;
}

static Etcdserverpb__RequestOp *next_success(struct etcd_txn *txn)
{
    size_t i = txn->request.n_success++;
    Etcdserverpb__RequestOp *op = &txn->success[i];
    etcdserverpb__request_op__init(op);
    txn->success_list[i] = op;
    return op;
}

void etcd_txn_put(struct etcd_txn *txn, const struct steep_buf *key, const struct steep_buf *value)
{
    size_t i = txn->request.n_success;
    Etcdserverpb__PutRequest *put = &txn->puts[i];
    etcdserverpb__put_request__init(put);
    put->key = bytes_of(key);
    put->value = bytes_of(value);
    Etcdserverpb__RequestOp *op = next_success(txn);
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op->request_put = put;
}

void etcd_txn_delete(struct etcd_txn *txn, const struct steep_buf *key)
{
    size_t i = txn->request.n_success;
    Etcdserverpb__DeleteRangeRequest *del = &txn->deletes[i];
    etcdserverpb__delete_range_request__init(del);
    del->key = bytes_of(key);
    Etcdserverpb__RequestOp *op = next_success(txn);
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
    op->request_delete_range = del;
}

void etcd_txn_failure_range(struct etcd_txn *txn, const struct steep_buf *key)
{
    size_t i = txn->request.n_failure++;
    Etcdserverpb__RangeRequest *range = &txn->ranges[i];
    etcdserverpb__range_request__init(range);
    range->key = bytes_of(key);
    Etcdserverpb__RequestOp *op = &txn->failure[i];
    etcdserverpb__request_op__init(op);
    op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    op->request_range = range;
    txn->failure_list[i] = op;
}

/* A transaction sent again (a member failed under the first copy) may find
 * its compares broken by that first copy, applied after all: then its first
 * put's key holds exactly the sealed bytes it wrote (a fresh nonce in every
 * seal makes them unique), and the transaction did succeed. */
static int applied_before(struct steep_store_etcd *store, const struct etcd_txn *txn,
                          Etcdserverpb__TxnResponse *response)
{
    const Etcdserverpb__PutRequest *put = NULL;
    for (size_t i = 0; !put && i < txn->request.n_success; i++)
        if (txn->success[i].request_case == ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT)
            put = txn->success[i].request_put;
    if (!put)
        return 0;
    Etcdserverpb__RangeRequest request = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse *range = NULL;
    request.key = put->key;
    GUARD(steep_etcd_range(store->etcd, &request, &range));
    const Etcdserverpb__KeyValue *kv = range->n_kvs ? range->kvs[0] : NULL;
    if (kv && kv->value.len == put->value.len &&
        memcmp(kv->value.data, put->value.data, put->value.len) == 0) {
        response->succeeded = true;
        response->header->revision = kv->mod_revision;
        log_info("store: a transaction sent again had been applied the first time");
    }
    protobuf_c_message_free_unpacked(&range->base, NULL);
    return 0;
}

int etcd_txn_commit(struct steep_store_etcd *store, struct etcd_txn *txn,
                    Etcdserverpb__TxnResponse **response)
{
    int64_t floor = etcd_revision_floor(store);
    GUARD(steep_etcd_txn(store->etcd, &txn->request, response));
    int rc = etcd_check_revision(store, (*response)->header, floor);
    if (rc == 0 && !(*response)->succeeded && steep_etcd_last_retried())
        rc = applied_before(store, txn, *response);
    if (rc < 0) {
        protobuf_c_message_free_unpacked(&(*response)->base, NULL);
        *response = NULL;
        return -1;
    }
    return 0;
}
