/*
 * Queues on etcd: the layout of records.h (head and tail counters, the
 * elements at [head, tail)), every change one transaction.
 *
 * Enqueue writes the element at index tail and tail + 1, guarded by the
 * tail counter's mod_revision; dequeue reads the counters and the element
 * at head, then deletes the element and writes head + 1, guarded by the
 * head counter's mod_revision. Two dequeuers that read the same head cannot
 * both commit, so each element is handed out once. Unlike LevelDB's, the
 * counters of a drained queue stay (two small records per queue name): an
 * index is never used twice, so an element written back after its dequeue
 * is never read, and the counters keep their version chain.
 */
#include <string.h>

#include "core/error.h"
#include "store/etcd_store.h"

#define ETCD(store) ((struct steep_store_etcd *)(store))

static pthread_mutex_t *queue_lock(struct steep_store_etcd *store, const void *queue,
                                   size_t queue_len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < queue_len; i++)
        h = (h ^ ((const uint8_t *)queue)[i]) * 16777619u;
    return &store->queue_locks[h % ETCD_QUEUE_STRIPES];
}

struct counter {
    struct steep_buf ikey, key, sealed;
    uint64_t value;
    int64_t mod_revision;
    uint64_t next_version;
};

static void counter_free(struct counter *c)
{
    steep_buf_free(&c->ikey);
    steep_buf_free(&c->key);
    steep_buf_free(&c->sealed);
}

static int counter_init(struct steep_store_etcd *store, struct counter *c, const void *queue,
                        size_t queue_len, char part)
{
    GUARD(steep_store_queue_key(&c->ikey, queue, queue_len, part, 0));
    return etcd_key(store, &c->ikey, &c->key);
}

static int counter_read(struct steep_store_etcd *store, struct counter *c)
{
    struct etcd_record record = {.data = STEEP_BUF_INIT};
    int64_t revision;
    int rc = etcd_read_record(store, &c->ikey, true, &record, &revision);
    c->value = 0;
    c->mod_revision = record.mod_revision;
    if (rc == 0 && record.present) {
        struct steep_cursor cursor = steep_cursor_make(record.data.data, record.data.len);
        rc =
            steep_cursor_read_u64le(&cursor, &c->value) == 0 && steep_cursor_remaining(&cursor) == 0
                ? 0
                : steep_error_set("corrupt queue counter");
    }
    etcd_record_free(&record);
    return rc;
}

/* Seals value + 1 as the counter's next record. */
static int counter_seal(struct steep_store_etcd *store, struct counter *c, uint64_t value)
{
    uint8_t encoded[8];
    for (int i = 0; i < 8; i++)
        encoded[i] = (uint8_t)(value >> (8 * i));
    c->next_version = etcd_next_version(store, &c->ikey, c->mod_revision);
    return etcd_seal_record(store, &c->ikey, c->next_version, RECORD_VALUE, encoded, sizeof encoded,
                            &c->sealed);
}

static int element_key(struct steep_store_etcd *store, const void *queue, size_t queue_len,
                       uint64_t index, struct steep_buf *ikey, struct steep_buf *key)
{
    GUARD(steep_store_queue_key(ikey, queue, queue_len, 'e', index));
    return etcd_key(store, ikey, key);
}

/* Commits txn; on success notes the counter's new version. 1 done, 0 lost a race. */
static int commit(struct steep_store_etcd *store, struct etcd_txn *txn, struct counter *counter)
{
    Etcdserverpb__TxnResponse *response = NULL;
    GUARD(etcd_txn_commit(store, txn, &response));
    bool succeeded = response->succeeded;
    if (succeeded)
        etcd_note_written(store, &counter->ikey, counter->next_version, response->header->revision);
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return succeeded ? 1 : 0;
}

static int enqueue_attempt(struct steep_store_etcd *store, const void *queue, size_t queue_len,
                           const void *value, size_t value_len, struct counter *tail)
{
    struct steep_buf ikey = STEEP_BUF_INIT, key = STEEP_BUF_INIT, sealed = STEEP_BUF_INIT;
    struct etcd_txn txn = {0};
    int rc = counter_read(store, tail);
    if (rc == 0)
        rc = element_key(store, queue, queue_len, tail->value, &ikey, &key);
    /* an element's index is written once: version 1, not tracked */
    if (rc == 0)
        rc = etcd_seal_record(store, &ikey, 1, RECORD_VALUE, value, value_len, &sealed);
    if (rc == 0)
        rc = counter_seal(store, tail, tail->value + 1);
    if (rc == 0)
        rc = etcd_txn_init(&txn, 2);
    if (rc == 0) {
        etcd_txn_compare_mod(&txn, &tail->key, tail->mod_revision);
        etcd_txn_put(&txn, &key, &sealed);
        etcd_txn_put(&txn, &tail->key, &tail->sealed);
        rc = commit(store, &txn, tail);
    }
    etcd_txn_free(&txn);
    steep_buf_free(&ikey);
    steep_buf_free(&key);
    steep_buf_free(&sealed);
    return rc;
}

int etcd_enqueue(struct steep_store *base, const void *queue, size_t queue_len, const void *value,
                 size_t value_len)
{
    struct steep_store_etcd *store = ETCD(base);
    struct counter tail = {0};
    int rc = counter_init(store, &tail, queue, queue_len, 't');
    pthread_mutex_t *lock = queue_lock(store, queue, queue_len);
    pthread_mutex_lock(lock);
    for (int attempt = 0; rc == 0 && attempt < ETCD_MAX_ATTEMPTS; attempt++)
        rc = enqueue_attempt(store, queue, queue_len, value, value_len, &tail);
    pthread_mutex_unlock(lock);
    if (rc == 0)
        rc = steep_error_set("an enqueue kept losing races on etcd; giving up");
    counter_free(&tail);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}

/* 1 dequeued into out, 2 empty, 0 lost a race. */
static int dequeue_attempt(struct steep_store_etcd *store, const void *queue, size_t queue_len,
                           struct counter *head, struct counter *tail, struct steep_buf *out)
{
    struct steep_buf ikey = STEEP_BUF_INIT, key = STEEP_BUF_INIT;
    struct etcd_record element = {.data = STEEP_BUF_INIT};
    struct etcd_txn txn = {0};
    int64_t revision;
    int rc = counter_read(store, head);
    if (rc == 0)
        rc = counter_read(store, tail);
    if (rc == 0 && head->value == tail->value) {
        rc = 2;
        goto done;
    }
    if (rc == 0 && head->value > tail->value)
        rc = steep_error_set("corrupt queue counters");
    if (rc == 0)
        rc = element_key(store, queue, queue_len, head->value, &ikey, &key);
    if (rc == 0)
        rc = etcd_read_record(store, &ikey, false, &element, &revision);
    if (rc == 0 && !element.present) {
        /* another dequeuer may have taken it since the counters were read */
        if (etcd_known_revision(store, &head->ikey) > head->mod_revision)
            goto done;
        struct counter again = {.ikey = head->ikey};
        rc = counter_read(store, &again);
        if (rc == 0 && again.mod_revision == head->mod_revision)
            rc = steep_error_set("corrupt queue: element missing");
        goto done;
    }
    if (rc == 0)
        rc = counter_seal(store, head, head->value + 1);
    if (rc == 0)
        rc = etcd_txn_init(&txn, 2);
    if (rc == 0) {
        etcd_txn_compare_mod(&txn, &head->key, head->mod_revision);
        etcd_txn_delete(&txn, &key);
        etcd_txn_put(&txn, &head->key, &head->sealed);
        rc = commit(store, &txn, head);
    }
    if (rc == 1) {
        steep_buf_reset(out);
        steep_buf_wipe(out);
        if (steep_buf_append(out, element.data.data, element.data.len) < 0)
            rc = -1;
    }
done:
    etcd_txn_free(&txn);
    etcd_record_free(&element);
    steep_buf_free(&ikey);
    steep_buf_free(&key);
    return rc;
}

int etcd_dequeue(struct steep_store *base, const void *queue, size_t queue_len,
                 struct steep_buf *value)
{
    struct steep_store_etcd *store = ETCD(base);
    struct counter head = {0}, tail = {0};
    int rc = counter_init(store, &head, queue, queue_len, 'h');
    if (rc == 0)
        rc = counter_init(store, &tail, queue, queue_len, 't');
    pthread_mutex_t *lock = queue_lock(store, queue, queue_len);
    pthread_mutex_lock(lock);
    for (int attempt = 0; rc == 0 && attempt < ETCD_MAX_ATTEMPTS; attempt++)
        rc = dequeue_attempt(store, queue, queue_len, &head, &tail, value);
    pthread_mutex_unlock(lock);
    if (rc == 0)
        rc = steep_error_set("a dequeue kept losing races on etcd; giving up");
    counter_free(&head);
    counter_free(&tail);
    if (rc < 0)
        return STEEP_STORE_ERROR;
    return rc == 2 ? STEEP_STORE_EMPTY : STEEP_STORE_OK;
}
