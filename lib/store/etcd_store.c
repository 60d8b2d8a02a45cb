/*
 * The etcd back-end (backend.h): a store kept in an etcd cluster under a
 * key prefix. Layout, sealing and versions: etcd_store.h.
 *
 * Every write is one etcd transaction guarded by compares on the
 * mod_revision of the keys it replaces, so a batch applies whole or not at
 * all, a compare-and-swap decides on the value it read, and two replicas
 * writing the same key never both win. A transaction whose compares fail
 * (another writer came first, or this process guessed a key's revision
 * wrong) reads the keys' current revisions in its failure branch and is
 * tried again. Durability is etcd's: a write is acknowledged once a quorum
 * of members has it in its log. Reads are linearizable; a scan pages
 * through the range at one revision, so it sees one snapshot.
 *
 * WaitChange reads the record, and if it still equals what the caller
 * knows, watches the key from the next revision: any event on it wakes the
 * waiter, which reads and compares again.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "store/etcd_store.h"

#define MARKER_VALUE "steep-store v1"
#define SCAN_PAGE    64 /* records per page, fewer when their values are large */

#define ETCD(store) ((struct steep_store_etcd *)(store))

/* ---- get ---- */

static int etcd_get(struct steep_store *base, const void *key, size_t key_len,
                    struct steep_buf *value)
{
    struct steep_store_etcd *store = ETCD(base);
    struct steep_buf ikey = STEEP_BUF_INIT;
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int64_t revision;
    int rc = steep_store_user_key(&ikey, key, key_len);
    if (rc == 0)
        rc = etcd_read_record(store, &ikey, true, &record, &revision);
    if (rc == 0 && record.present) {
        steep_buf_reset(value);
        steep_buf_wipe(value);
        rc = steep_buf_append(value, record.data.data, record.data.len);
    }
    int result = rc < 0           ? STEEP_STORE_ERROR
                 : record.present ? STEEP_STORE_OK
                                  : STEEP_STORE_NOT_FOUND;
    etcd_record_free(&record);
    steep_buf_free(&ikey);
    return result;
}

/* ---- scan ---- */

/* The smallest key above every key starting with prefix ("\0": none, the
 * end of the key space in etcd's terms). */
int etcd_range_end(const struct steep_buf *prefix, struct steep_buf *end)
{
    steep_buf_reset(end);
    GUARD(steep_buf_append(end, prefix->data, prefix->len));
    while (end->len > 0 && end->data[end->len - 1] == 0xff)
        end->len--;
    if (end->len == 0)
        return steep_buf_append_u8(end, 0);
    end->data[end->len - 1]++;
    return 0;
}

static int scan_page(struct steep_store_etcd *store, const Etcdserverpb__RangeResponse *response,
                     int64_t revision, steep_store_scan_fn fn, void *arg, bool *stop)
{
    struct steep_buf ikey = STEEP_BUF_INIT;
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int rc = 0;
    for (size_t i = 0; rc == 0 && !*stop && i < response->n_kvs; i++) {
        const Etcdserverpb__KeyValue *kv = response->kvs[i];
        ENSURE(kv->key.len > store->prefix.len + 1 &&
                   memcmp(kv->key.data, store->prefix.data, store->prefix.len) == 0,
               "etcd returned a key outside the range scanned");
        steep_buf_reset(&ikey);
        rc = steep_buf_append(&ikey, kv->key.data + store->prefix.len,
                              kv->key.len - store->prefix.len);
        if (rc == 0)
            rc = etcd_open_record(store, &ikey, kv, revision, true, &record);
        if (rc < 0 || !record.present)
            continue;
        steep_error_clear();
        rc = fn(arg, ikey.data + 1, ikey.len - 1, record.data.data, record.data.len);
        if (rc < 0 && steep_error_get()[0] == '\0')
            steep_error_set("scan callback failed");
        if (rc == 1) {
            *stop = true;
            rc = 0;
        }
    }
    etcd_record_free(&record);
    steep_buf_free(&ikey);
    return rc;
}

static int etcd_scan(struct steep_store *base, const void *prefix, size_t prefix_len,
                     steep_store_scan_fn fn, void *arg)
{
    struct steep_store_etcd *store = ETCD(base);
    struct steep_buf iprefix = STEEP_BUF_INIT, from = STEEP_BUF_INIT, end = STEEP_BUF_INIT;
    int rc = steep_store_user_key(&iprefix, prefix, prefix_len);
    if (rc == 0)
        rc = etcd_key(store, &iprefix, &from);
    if (rc == 0)
        rc = etcd_range_end(&from, &end);
    int64_t revision = 0, page = SCAN_PAGE;
    bool stop = false, more = true;
    while (rc == 0 && more && !stop) {
        Etcdserverpb__RangeRequest request = ETCDSERVERPB__RANGE_REQUEST__INIT;
        Etcdserverpb__RangeResponse *response = NULL;
        request.key = (ProtobufCBinaryData){from.len, from.data};
        request.range_end = (ProtobufCBinaryData){end.len, end.data};
        request.limit = page;
        request.revision = revision; /* the first page's, for one snapshot */
        int64_t floor = etcd_revision_floor(store);
        rc = steep_etcd_range(store->etcd, &request, &response);
        if (rc < 0 && page > 1 && strstr(steep_error_get(), "larger than the limit")) {
            page /= 4; /* large records: smaller pages, down to one record */
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        rc = etcd_check_revision(store, response->header, floor);
        if (rc == 0) {
            if (revision == 0)
                revision = response->header->revision;
            rc = scan_page(store, response, revision, fn, arg, &stop);
            more = response->more && response->n_kvs > 0;
            if (rc == 0 && more) {
                /* the next page starts just above the last key */
                const Etcdserverpb__KeyValue *last = response->kvs[response->n_kvs - 1];
                steep_buf_reset(&from);
                rc = steep_buf_append(&from, last->key.data, last->key.len);
                if (rc == 0)
                    rc = steep_buf_append_u8(&from, 0);
            }
        }
        protobuf_c_message_free_unpacked(&response->base, NULL);
    }
    steep_buf_free(&iprefix);
    steep_buf_free(&from);
    steep_buf_free(&end);
    return rc < 0 ? -1 : 0;
}

/* ---- batch ---- */

struct batch_key {
    const struct steep_store_op *op; /* the last op on this key wins */
    struct steep_buf ikey, key, sealed;
    uint64_t version;
};

/* After failed compares: what the failure branch read tells each key's
 * revision (and checks its version). */
static int learn_revisions(struct steep_store_etcd *store, struct batch_key *keys, size_t n,
                           const Etcdserverpb__TxnResponse *response, int64_t *guesses)
{
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int rc = 0;
    ENSURE(response->n_responses == n, "etcd answered a transaction with %zu results for %zu",
           response->n_responses, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const Etcdserverpb__ResponseOp *op = response->responses[i];
        ENSURE(op->response_case == ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE,
               "etcd answered a read with something else");
        const Etcdserverpb__RangeResponse *range = op->response_range;
        rc = etcd_open_record(store, &keys[i].ikey, range->n_kvs ? range->kvs[0] : NULL,
                              response->header->revision, true, &record);
        guesses[i] = record.mod_revision;
    }
    etcd_record_free(&record);
    return rc;
}

static int batch_attempt(struct steep_store_etcd *store, struct batch_key *keys, size_t n,
                         int64_t *guesses, bool *done)
{
    struct etcd_txn txn;
    GUARD(etcd_txn_init(&txn, n));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct steep_store_op *op = keys[i].op;
        keys[i].version = etcd_next_version(store, &keys[i].ikey, guesses[i]);
        rc = etcd_seal_record(store, &keys[i].ikey, keys[i].version,
                              op->is_delete ? RECORD_TOMBSTONE : RECORD_VALUE, op->value,
                              op->is_delete ? 0 : op->value_len, &keys[i].sealed);
        etcd_txn_compare_mod(&txn, &keys[i].key, guesses[i]);
        etcd_txn_put(&txn, &keys[i].key, &keys[i].sealed);
        etcd_txn_failure_range(&txn, &keys[i].key);
    }
    Etcdserverpb__TxnResponse *response = NULL;
    if (rc == 0)
        rc = etcd_txn_commit(store, &txn, &response);
    etcd_txn_free(&txn);
    if (rc < 0)
        return -1;
    *done = response->succeeded;
    if (response->succeeded) {
        for (size_t i = 0; i < n; i++)
            etcd_note_written(store, &keys[i].ikey, keys[i].version, response->header->revision);
    } else {
        rc = learn_revisions(store, keys, n, response, guesses);
    }
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return rc;
}

static bool same_key(const struct steep_store_op *a, const struct steep_store_op *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* The keys of ops, each once: etcd refuses a transaction that writes a key
 * twice, so the last op on a key wins. Each gets its internal and etcd key
 * and the revision last seen for it as its first guess. */
static int collect_keys(struct steep_store_etcd *store, const struct steep_store_op *ops, size_t n,
                        struct batch_key *keys, int64_t *guesses, size_t *count)
{
    int rc = 0;
    *count = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = same_key(&ops[i], &ops[j]);
        if (later)
            continue;
        struct batch_key *k = &keys[(*count)++];
        k->op = &ops[i];
        rc = steep_store_user_key(&k->ikey, ops[i].key, ops[i].key_len);
        if (rc == 0)
            rc = etcd_key(store, &k->ikey, &k->key);
        guesses[*count - 1] = etcd_known_revision(store, &k->ikey);
    }
    return rc;
}

static int etcd_batch(struct steep_store *base, const struct steep_store_op *ops, size_t n)
{
    struct steep_store_etcd *store = ETCD(base);
    struct batch_key *keys = calloc(n, sizeof *keys);
    int64_t *guesses = calloc(n, sizeof *guesses);
    size_t count = 0;
    int rc = keys && guesses ? 0 : steep_error_set("out of memory");
    if (rc == 0)
        rc = collect_keys(store, ops, n, keys, guesses, &count);
    bool done = false;
    for (int attempt = 0; rc == 0 && !done && attempt < ETCD_MAX_ATTEMPTS; attempt++)
        rc = batch_attempt(store, keys, count, guesses, &done);
    if (rc == 0 && !done)
        rc = steep_error_set("a storage write kept losing races on etcd; giving up");
    for (size_t i = 0; keys && i < count; i++) {
        steep_buf_free(&keys[i].ikey);
        steep_buf_free(&keys[i].key);
        steep_buf_free(&keys[i].sealed);
    }
    free(keys);
    free(guesses);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}

/* ---- compare-and-swap ---- */

static bool cas_matches(const struct steep_store_cas *cas, const struct etcd_record *record)
{
    if (cas->expect_absent)
        return !record->present;
    return record->present && record->data.len == cas->expected_len &&
           (cas->expected_len == 0 ||
            memcmp(record->data.data, cas->expected, cas->expected_len) == 0);
}

/*
 * One read and, when it matches, one guarded write: 1 when done, 0 to retry.
 * The swap's follow-up writes on other keys (cas->then) go in the same
 * transaction, each guarded by the revision last seen for its key like a
 * batch's; when one of those guards fails, what the failure branch read
 * tells the next attempt their revisions.
 */
static int cas_attempt(struct steep_store_etcd *store, struct steep_store_cas *cas,
                       const struct steep_buf *ikey, const struct steep_buf *key,
                       struct batch_key *then, size_t n_then, int64_t *guesses,
                       struct etcd_record *record)
{
    int64_t revision;
    GUARD(etcd_read_record(store, ikey, true, record, &revision));
    cas->current_absent = !record->present;
    if (cas->current) {
        steep_buf_reset(cas->current);
        steep_buf_wipe(cas->current);
        GUARD(steep_buf_append(cas->current, record->data.data, record->data.len));
    }
    if (!cas_matches(cas, record))
        return 1;
    struct steep_buf sealed = STEEP_BUF_INIT;
    struct etcd_txn txn;
    uint64_t version = etcd_next_version(store, ikey, record->mod_revision);
    if (etcd_seal_record(store, ikey, version, RECORD_VALUE, cas->value, cas->value_len, &sealed) <
            0 ||
        etcd_txn_init(&txn, 1 + n_then) < 0) {
        steep_buf_free(&sealed);
        return -1;
    }
    etcd_txn_compare_mod(&txn, key, record->mod_revision);
    etcd_txn_put(&txn, key, &sealed);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_then; i++) {
        const struct steep_store_op *op = then[i].op;
        then[i].version = etcd_next_version(store, &then[i].ikey, guesses[i]);
        steep_buf_reset(&then[i].sealed);
        rc = etcd_seal_record(store, &then[i].ikey, then[i].version,
                              op->is_delete ? RECORD_TOMBSTONE : RECORD_VALUE, op->value,
                              op->is_delete ? 0 : op->value_len, &then[i].sealed);
        etcd_txn_compare_mod(&txn, &then[i].key, guesses[i]);
        etcd_txn_put(&txn, &then[i].key, &then[i].sealed);
        etcd_txn_failure_range(&txn, &then[i].key);
    }
    Etcdserverpb__TxnResponse *response = NULL;
    if (rc == 0)
        rc = etcd_txn_commit(store, &txn, &response);
    etcd_txn_free(&txn);
    steep_buf_free(&sealed);
    GUARD(rc);
    bool succeeded = response->succeeded;
    if (succeeded) {
        etcd_note_written(store, ikey, version, response->header->revision);
        for (size_t i = 0; i < n_then; i++)
            etcd_note_written(store, &then[i].ikey, then[i].version, response->header->revision);
    } else if (n_then > 0) {
        rc = learn_revisions(store, then, n_then, response, guesses);
    }
    protobuf_c_message_free_unpacked(&response->base, NULL);
    GUARD(rc);
    cas->swapped = succeeded;
    return succeeded ? 1 : 0;
}

static int etcd_compare_and_swap(struct steep_store *base, struct steep_store_cas *cas)
{
    struct steep_store_etcd *store = ETCD(base);
    struct steep_buf ikey = STEEP_BUF_INIT, key = STEEP_BUF_INIT;
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    size_t n_then = 0;
    struct batch_key *then = calloc(cas->n_then ? cas->n_then : 1, sizeof *then);
    int64_t *guesses = calloc(cas->n_then ? cas->n_then : 1, sizeof *guesses);
    int rc = then && guesses ? 0 : steep_error_set("out of memory");
    if (rc == 0)
        rc = steep_store_user_key(&ikey, cas->key, cas->key_len);
    if (rc == 0)
        rc = etcd_key(store, &ikey, &key);
    /* none may write the swapped key itself (etcd: one write per key) */
    for (size_t i = 0; rc == 0 && i < cas->n_then; i++)
        if (cas->then[i].key_len == cas->key_len &&
            memcmp(cas->then[i].key, cas->key, cas->key_len) == 0)
            rc = steep_error_set("a compare-and-swap's follow-up write names the swapped key");
    if (rc == 0)
        rc = collect_keys(store, cas->then, cas->n_then, then, guesses, &n_then);
    int done = 0;
    for (int attempt = 0; rc == 0 && !done && attempt < ETCD_MAX_ATTEMPTS; attempt++) {
        done = cas_attempt(store, cas, &ikey, &key, then, n_then, guesses, &record);
        rc = done < 0 ? -1 : 0;
    }
    if (rc == 0 && !done)
        rc = steep_error_set("a compare-and-swap kept losing races on etcd; giving up");
    for (size_t i = 0; then && i < n_then; i++) {
        steep_buf_free(&then[i].ikey);
        steep_buf_free(&then[i].key);
        steep_buf_free(&then[i].sealed);
    }
    free(then);
    free(guesses);
    etcd_record_free(&record);
    steep_buf_free(&ikey);
    steep_buf_free(&key);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}

/* ---- wait_change ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool differs(const struct etcd_record *record, bool known_absent, const void *known,
                    size_t known_len)
{
    if (known_absent || !record->present)
        return known_absent != !record->present;
    return record->data.len != known_len ||
           (known_len && memcmp(record->data.data, known, known_len) != 0);
}

/* Waits for an event on key after revision, up to wait_ms: 1 event, 0 none. */
static int watch_for_event(struct steep_store_etcd *store, const struct steep_buf *key,
                           int64_t revision, int wait_ms)
{
    struct steep_etcd_watch *watch = NULL;
    GUARD(steep_etcd_watch_open(store->etcd, key->data, key->len, NULL, 0, revision + 1,
                                wait_ms + 1000, &watch));
    int64_t deadline = now_ms() + wait_ms;
    int rc = 0;
    for (int64_t left = wait_ms; rc == 0 && left > 0; left = deadline - now_ms()) {
        Etcdserverpb__WatchResponse *response = NULL;
        rc = steep_etcd_watch_next(watch, (int)left, &response);
        if (rc == 1) {
            bool event = response->n_events > 0;
            protobuf_c_message_free_unpacked(&response->base, NULL);
            rc = event ? 1 : 0;
        }
    }
    steep_etcd_watch_close(watch);
    if (rc < 0) {
        /* The watch's member failed or left: read again (the read fails over
         * to a live member, and the next watch goes there), after a pause so
         * a member that refuses at once does not make this spin. */
        log_debug("store: etcd watch ended (%s); reading again", steep_error_get());
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
        rc = 1;
    }
    return rc;
}

static int etcd_wait_change(struct steep_store *base, const void *key, size_t key_len,
                            bool known_absent, const void *known, size_t known_len, int timeout_ms,
                            bool *changed)
{
    struct steep_store_etcd *store = ETCD(base);
    struct steep_buf ikey = STEEP_BUF_INIT, ekey = STEEP_BUF_INIT;
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int rc = steep_store_user_key(&ikey, key, key_len);
    if (rc == 0)
        rc = etcd_key(store, &ikey, &ekey);
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (rc == 0) {
        int64_t revision;
        rc = etcd_read_record(store, &ikey, true, &record, &revision);
        if (rc < 0)
            break;
        *changed = differs(&record, known_absent, known, known_len);
        int64_t left = deadline - now_ms();
        if (*changed || left <= 0)
            break;
        rc = watch_for_event(store, &ekey, revision, (int)left);
        if (rc == 1)
            rc = 0; /* something happened to the key: read and compare again */
        else if (rc == 0)
            break; /* timed out */
    }
    etcd_record_free(&record);
    steep_buf_free(&ikey);
    steep_buf_free(&ekey);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}

/* ---- open and close ---- */

static void etcd_close(struct steep_store *base)
{
    struct steep_store_etcd *store = ETCD(base);
    etcd_watch_stop(store);
    steep_etcd_close(store->etcd);
    steep_store_sealer_free(&store->sealer);
    steep_buf_free(&store->prefix);
    etcd_versions_free(store);
    pthread_mutex_destroy(&store->lock);
    for (int i = 0; i < ETCD_QUEUE_STRIPES; i++)
        pthread_mutex_destroy(&store->queue_locks[i]);
    free(store);
}

static const struct steep_store_backend etcd_backend = {
    .name = "etcd",
    .close = etcd_close,
    .get = etcd_get,
    .scan = etcd_scan,
    .batch = etcd_batch,
    .compare_and_swap = etcd_compare_and_swap,
    .wait_change = etcd_wait_change,
    .watch = etcd_watch,
    .unwatch = etcd_unwatch,
    .enqueue = etcd_enqueue,
    .dequeue = etcd_dequeue,
};

/* A fresh prefix gets the sealed marker; an existing one must hold it,
 * sealed under this key. */
static int check_marker(struct steep_store_etcd *store, int flags)
{
    struct steep_buf ikey = STEEP_BUF_INIT, key = STEEP_BUF_INIT, sealed = STEEP_BUF_INIT;
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int64_t revision;
    GUARD(steep_buf_append_u8(&ikey, STEEP_STORE_NS_MARKER));
    int rc = etcd_read_record(store, &ikey, true, &record, &revision);
    if (rc < 0 && strstr(steep_error_get(), "failed authentication"))
        rc = steep_error_set("the etcd store under prefix '%.*s' was sealed under a different key "
                             "(or its marker was tampered with)",
                             (int)store->prefix.len, (const char *)store->prefix.data);
    if (rc == 0 && record.present)
        rc = record.data.len == strlen(MARKER_VALUE) &&
                     memcmp(record.data.data, MARKER_VALUE, record.data.len) == 0
                 ? 0
                 : steep_error_set("the etcd prefix '%.*s' holds no Steep store",
                                   (int)store->prefix.len, (const char *)store->prefix.data);
    if (rc == 0 && !record.present) {
        if (!(flags & STEEP_STORE_CREATE))
            rc = steep_error_set("no store in etcd under prefix '%.*s'", (int)store->prefix.len,
                                 (const char *)store->prefix.data);
        else {
            struct steep_store_op op = {false, NULL, 0, MARKER_VALUE, strlen(MARKER_VALUE)};
            struct batch_key k = {.op = &op, .ikey = ikey};
            int64_t guess = record.mod_revision;
            bool done = false;
            rc = etcd_key(store, &ikey, &k.key);
            for (int attempt = 0; rc == 0 && !done && attempt < 8; attempt++)
                rc = batch_attempt(store, &k, 1, &guess, &done);
            steep_buf_free(&k.key);
            steep_buf_free(&k.sealed);
            if (rc == 0)
                log_info("store: created a new store in etcd under prefix '%.*s'",
                         (int)store->prefix.len, (const char *)store->prefix.data);
        }
    }
    etcd_record_free(&record);
    steep_buf_free(&ikey);
    steep_buf_free(&key);
    steep_buf_free(&sealed);
    return rc;
}

int steep_store_open_etcd(const struct steep_etcd_config *etcd, const char *prefix,
                          const uint8_t key[STEEP_STORE_KEY_BYTES], int flags,
                          struct steep_store **out)
{
    *out = NULL;
    ENSURE(prefix && *prefix, "an etcd store needs a key prefix");
    struct steep_store_etcd *store = calloc(1, sizeof *store);
    ENSURE(store, "out of memory");
    store->base.backend = &etcd_backend;
    pthread_mutex_init(&store->lock, NULL);
    pthread_mutex_init(&store->watch_lock, NULL);
    for (int i = 0; i < ETCD_QUEUE_STRIPES; i++)
        pthread_mutex_init(&store->queue_locks[i], NULL);
    int rc = steep_store_sealer_init(&store->sealer, key);
    if (rc == 0)
        rc = steep_buf_append(&store->prefix, prefix, strlen(prefix));
    if (rc == 0)
        rc = steep_etcd_open(etcd, &store->etcd);
    if (rc == 0)
        rc = check_marker(store, flags);
    if (rc < 0) {
        etcd_close(&store->base);
        return -1;
    }
    *out = &store->base;
    return 0;
}
