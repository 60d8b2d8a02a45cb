/*
 * The group committer: every write goes through here.
 *
 * Callers append a request to one queue. The caller at the front becomes
 * the leader: it takes the requests waiting behind it (up to a bound),
 * applies them in order into one LevelDB WriteBatch, writes it with
 * sync=true, and wakes their callers; the next caller at the front then
 * leads the next group. So N concurrent writers cost about one fsync per
 * group, not one each, and read-modify-write requests (CAS, enqueue,
 * dequeue) are serialized.
 *
 * Within a group, a request must see the writes of the requests before it,
 * which are not in LevelDB yet: the group keeps an overlay (a hash table of
 * internal key -> plaintext or absent) consulted before LevelDB. Nothing in
 * the overlay is visible to readers; they only see LevelDB after the synced
 * write. If that write fails, every request of the group fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "store/internal.h"

#define GROUP_MAX_REQUESTS 1024
#define GROUP_MAX_BYTES    (16u << 20)

struct overlay_entry {
    uint8_t *key; /* NULL: free slot */
    size_t key_len;
    bool absent;
    struct steep_buf value;
};

struct steep_store_group {
    struct steep_store_leveldb *store;
    leveldb_writebatch_t *batch;
    struct overlay_entry *slots;
    size_t capacity; /* power of two */
    size_t count;
    bool broken;             /* a write failed half-way: the batch is unusable */
    struct steep_buf sealed; /* scratch */
};

static struct overlay_entry *overlay_slot(struct overlay_entry *slots, size_t capacity,
                                          const uint8_t *key, size_t len)
{
    size_t i = steep_store_hash_key(key, len) & (capacity - 1);
    while (slots[i].key && !(slots[i].key_len == len && memcmp(slots[i].key, key, len) == 0))
        i = (i + 1) & (capacity - 1);
    return &slots[i];
}

static int overlay_grow(struct steep_store_group *group)
{
    size_t capacity = group->capacity ? group->capacity * 2 : 64;
    struct overlay_entry *slots = calloc(capacity, sizeof *slots);
    ENSURE(slots, "out of memory");
    for (size_t i = 0; i < group->capacity; i++) {
        struct overlay_entry *old = &group->slots[i];
        if (old->key)
            *overlay_slot(slots, capacity, old->key, old->key_len) = *old;
    }
    free(group->slots);
    group->slots = slots;
    group->capacity = capacity;
    return 0;
}

static int overlay_set(struct steep_store_group *group, const struct steep_buf *ikey,
                       const void *plain, size_t plain_len, bool absent)
{
    if ((group->count + 1) * 2 > group->capacity)
        GUARD(overlay_grow(group));
    struct overlay_entry *entry =
        overlay_slot(group->slots, group->capacity, ikey->data, ikey->len);
    if (!entry->key) {
        entry->key = malloc(ikey->len ? ikey->len : 1);
        ENSURE(entry->key, "out of memory");
        memcpy(entry->key, ikey->data, ikey->len);
        entry->key_len = ikey->len;
        steep_buf_wipe(&entry->value);
        group->count++;
    }
    entry->absent = absent;
    steep_buf_reset(&entry->value);
    return absent ? 0 : steep_buf_append(&entry->value, plain, plain_len);
}

int steep_store_group_read(struct steep_store_group *group, const struct steep_buf *ikey,
                           struct steep_buf *plain)
{
    if (group->capacity) {
        struct overlay_entry *entry =
            overlay_slot(group->slots, group->capacity, ikey->data, ikey->len);
        if (entry->key) {
            if (entry->absent)
                return STEEP_STORE_NOT_FOUND;
            steep_buf_reset(plain);
            steep_buf_wipe(plain);
            GUARD(steep_buf_append(plain, entry->value.data, entry->value.len));
            return STEEP_STORE_OK;
        }
    }
    return steep_store_read_record(group->store, ikey->data, ikey->len, plain);
}

int steep_store_group_put(struct steep_store_group *group, const struct steep_buf *ikey,
                          const void *plain, size_t plain_len)
{
    if (steep_store_seal(&group->store->sealer, ikey->data, ikey->len, plain, plain_len,
                         &group->sealed) < 0 ||
        overlay_set(group, ikey, plain, plain_len, false) < 0) {
        group->broken = true;
        return -1;
    }
    leveldb_writebatch_put(group->batch, (const char *)ikey->data, ikey->len,
                           (const char *)group->sealed.data, group->sealed.len);
    return 0;
}

int steep_store_group_delete(struct steep_store_group *group, const struct steep_buf *ikey)
{
    if (overlay_set(group, ikey, NULL, 0, true) < 0) {
        group->broken = true;
        return -1;
    }
    leveldb_writebatch_delete(group->batch, (const char *)ikey->data, ikey->len);
    return 0;
}

static bool group_touched(void *arg, const struct steep_buf *ikey)
{
    struct steep_store_group *group = arg;
    return group->capacity &&
           overlay_slot(group->slots, group->capacity, ikey->data, ikey->len)->key != NULL;
}

static void group_free(struct steep_store_group *group)
{
    for (size_t i = 0; i < group->capacity; i++) {
        if (group->slots[i].key) {
            free(group->slots[i].key);
            steep_buf_free(&group->slots[i].value);
        }
    }
    free(group->slots);
    steep_buf_free(&group->sealed);
    if (group->batch)
        leveldb_writebatch_destroy(group->batch);
}

static size_t request_bytes(const struct steep_store_request *request)
{
    size_t bytes = request->value_len + request->queue_len;
    for (size_t i = 0; i < request->n_ops; i++)
        bytes += request->ops[i].key_len + request->ops[i].value_len;
    if (request->cas) {
        bytes += request->cas->key_len + request->cas->value_len;
        for (size_t i = 0; i < request->cas->n_then; i++)
            bytes += request->cas->then[i].key_len + request->cas->then[i].value_len;
    }
    return bytes;
}

static int apply(struct steep_store_group *group, struct steep_store_request *request)
{
    switch (request->kind) {
    case STEEP_STORE_REQUEST_BATCH:
        return steep_store_apply_batch(group, request);
    case STEEP_STORE_REQUEST_CAS:
        return steep_store_apply_cas(group, request);
    case STEEP_STORE_REQUEST_ENQUEUE:
        return steep_store_apply_enqueue(group, request);
    case STEEP_STORE_REQUEST_DEQUEUE:
        return steep_store_apply_dequeue(group, request);
    }
    return steep_error_set("unknown storage request");
}

static void fail_request(struct steep_store_request *request)
{
    request->result = STEEP_STORE_ERROR;
    snprintf(request->error, sizeof request->error, "%s", steep_error_get());
}

/*
 * After a failed write: the store stops writing to that handle and, if it
 * can reopen at once (there is room again, or the failure was a background
 * one), writes the same batch again on the fresh log. That is safe whether
 * or not the failed attempt reached the disk: the batch holds absolute puts
 * and deletes computed from the state before it, and no other write ran in
 * between, so applying it twice leaves what applying it once does.
 */
static bool retry_after_reopen(struct steep_store_leveldb *store, leveldb_writebatch_t *batch,
                               const char *error)
{
    steep_store_mark_failed(store, error);
    if (steep_store_begin_write(store) < 0)
        return false;
    char *again = NULL;
    leveldb_write(store->db, store->write_options, batch, &again);
    steep_store_end(store);
    if (!again) {
        log_info("store: the batch that failed (%s) was written on the fresh log", error);
        return true;
    }
    steep_store_mark_failed(store, again);
    leveldb_free(again);
    return false;
}

/* Metrics of one group commit (issue 18, item 4): atomics, no lock. */
static void commit_observe(uint64_t batch_size, uint64_t write_us, bool ok)
{
    steep_metrics_count("steep_store_commits_total", "Group commits, by result",
                        ok ? "result=\"ok\"" : "result=\"failed\"", 1);
    steep_metrics_observe("steep_store_commit_batch_size", "Requests per group commit", NULL,
                          STEEP_METRICS_COUNT, batch_size);
    steep_metrics_observe("steep_store_commit_fsync_seconds",
                          "Time of a group commit's synchronous write (fsync included)", NULL,
                          STEEP_METRICS_SECONDS, write_us);
}

/* Runs the group [first, last] outside the lock; fills each request's result. */
static void lead_group(struct steep_store_leveldb *store, struct steep_store_request *first,
                       struct steep_store_request *last)
{
    if (steep_store_begin_write(store) < 0) {
        /* The store failed earlier and could not reopen: refuse, with why. */
        for (struct steep_store_request *r = first;; r = r->next) {
            fail_request(r);
            if (r == last)
                break;
        }
        return;
    }
    struct steep_store_group group = {.store = store, .batch = leveldb_writebatch_create()};
    /* apply() reads before it writes, so a request that fails has written
     * nothing; only a failure inside a write (out of memory, sealing) breaks
     * the batch, and then the whole group fails. */
    uint64_t batch_size = 0;
    for (struct steep_store_request *r = first; !group.broken; r = r->next) {
        batch_size++;
        r->result = apply(&group, r);
        if (r->result == STEEP_STORE_ERROR)
            fail_request(r);
        if (r == last)
            break;
    }
    char *error = NULL;
    uint64_t write_started_us = steep_metrics_now_us();
    if (!group.broken)
        leveldb_write(store->db, store->write_options, group.batch, &error);
    steep_store_end(store);
    commit_observe(batch_size, steep_metrics_now_us() - write_started_us, !group.broken && !error);
    if (error && retry_after_reopen(store, group.batch, error)) {
        leveldb_free(error);
        error = NULL;
    }
    if (group.broken || error) {
        if (error) {
            /* The log may end in a torn record: the store never appends
             * behind it (retry_after_reopen marked it failed). */
            steep_error_set("storage write failed: %s", error);
            leveldb_free(error);
        }
        for (struct steep_store_request *r = first;; r = r->next) {
            fail_request(r);
            if (r == last)
                break;
        }
    } else {
        steep_store_watch_notify(store, group_touched, &group);
    }
    group_free(&group);
}

int steep_store_submit(struct steep_store_leveldb *store, struct steep_store_request *request)
{
    request->done = false;
    request->next = NULL;
    request->error[0] = '\0';
    pthread_cond_init(&request->wake, NULL);
    pthread_mutex_lock(&store->commit_mutex);
    if (store->pending_tail)
        store->pending_tail->next = request;
    else
        store->pending_head = request;
    store->pending_tail = request;
    while (!request->done && store->pending_head != request)
        pthread_cond_wait(&request->wake, &store->commit_mutex);
    if (!request->done) {
        /* Leader: take the group, then write it without the lock held. */
        struct steep_store_request *last = request;
        size_t count = 1, bytes = request_bytes(request);
        while (last->next && count < GROUP_MAX_REQUESTS && bytes < GROUP_MAX_BYTES) {
            last = last->next;
            count++;
            bytes += request_bytes(last);
        }
        pthread_mutex_unlock(&store->commit_mutex);
        lead_group(store, request, last);
        pthread_mutex_lock(&store->commit_mutex);
        struct steep_store_request *r = request;
        for (;;) {
            struct steep_store_request *next = r->next;
            r->done = true;
            if (r != request)
                pthread_cond_signal(&r->wake);
            if (r == last) {
                store->pending_head = next;
                break;
            }
            r = next;
        }
        if (!store->pending_head)
            store->pending_tail = NULL;
        else
            pthread_cond_signal(&store->pending_head->wake);
    }
    pthread_mutex_unlock(&store->commit_mutex);
    pthread_cond_destroy(&request->wake);
    if (request->result == STEEP_STORE_ERROR)
        return steep_error_set("%s", request->error);
    return request->result;
}
