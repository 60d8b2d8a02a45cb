/*
 * Pending audit entries (audit.h): the record a request's own write
 * carries, the queue of acknowledged ones waiting for the next append, the
 * recovery of those an earlier process left, and the flusher thread.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_internal.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"

#define PENDING_PREFIX "audit-pending"

static const uint8_t zero_hash[AUDIT_HASH_LEN];

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pending_mac(const struct steep_audit *audit, const char *key, const uint8_t *body,
                        size_t len, uint8_t mac[AUDIT_HASH_LEN])
{
    if (!audit->keyed) {
        memset(mac, 0, AUDIT_HASH_LEN);
        return;
    }
    size_t key_len = strlen(key);
    uint8_t *message = malloc(key_len + 1 + len);
    if (!message) {
        memset(mac, 0xff, AUDIT_HASH_LEN); /* never matches a real MAC check below */
        return;
    }
    memcpy(message, key, key_len);
    message[key_len] = '|';
    memcpy(message + key_len + 1, body, len);
    unsigned int mac_len = AUDIT_HASH_LEN;
    HMAC(EVP_sha256(), audit->mac_key, STEEP_AUDIT_MAC_KEY_LEN, message, key_len + 1 + len, mac,
         &mac_len);
    free(message);
}

int steep_audit_pending_make(const struct steep_audit *audit,
                             const TeaclaveCommonProto__Entry *entry,
                             struct steep_audit_pending *pending)
{
    memset(pending, 0, sizeof *pending);
    if (!entry || entry->ip.len != AUDIT_IP_LEN)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error");
    uint64_t nonce = 0;
    if (RAND_bytes((uint8_t *)&nonce, sizeof nonce) != 1)
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    snprintf(pending->key, sizeof pending->key, PENDING_PREFIX "-%016llx-%016llx",
             (unsigned long long)entry->microsecond, (unsigned long long)nonce);
    struct steep_buf body = STEEP_BUF_INIT;
    uint8_t hash[AUDIT_HASH_LEN], mac[AUDIT_HASH_LEN];
    if (audit_record_encode(0, zero_hash, entry, &body, hash) < 0) {
        steep_buf_free(&body);
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: %s", steep_error_get());
    }
    pending_mac(audit, pending->key, body.data, body.len, mac);
    int rc = steep_buf_append(&pending->value, mac, sizeof mac) == 0 &&
                     steep_buf_append(&pending->value, body.data, body.len) == 0
                 ? 0
                 : -1;
    steep_buf_free(&body);
    pending->entry = rc == 0 ? audit_entry_copy(entry) : NULL;
    if (!pending->entry) {
        steep_audit_pending_free(pending);
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    return 0;
}

struct steep_store_op steep_audit_pending_op(const struct steep_audit_pending *pending)
{
    return (struct steep_store_op){.key = pending->key,
                                   .key_len = strlen(pending->key),
                                   .value = pending->value.data,
                                   .value_len = pending->value.len};
}

void steep_audit_pending_free(struct steep_audit_pending *pending)
{
    steep_buf_free(&pending->value);
    audit_entry_free(pending->entry);
    pending->entry = NULL;
}

/* Under the lock. */
static int queue_push(struct audit_pending_queue *q, const char *key,
                      TeaclaveCommonProto__Entry *entry)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        struct audit_pending_item *grown = realloc(q->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        q->items = grown;
        q->cap = cap;
    }
    struct audit_pending_item *item = &q->items[q->n++];
    snprintf(item->key, sizeof item->key, "%s", key);
    item->entry = entry;
    item->queued_ms = monotonic_ms();
    return 0;
}

static bool queued(const struct audit_pending_queue *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].key, key) == 0)
            return true;
    return false;
}

void steep_audit_pending_written(struct steep_audit *audit, struct steep_audit_pending *pending)
{
    pthread_mutex_lock(&audit->lock);
    if (queue_push(&audit->pending, pending->key, pending->entry) == 0)
        pending->entry = NULL;
    else /* left in storage: the next process chains it */
        log_error("audit: out of memory queueing %s", pending->key);
    if (audit->flushing)
        pthread_cond_signal(&audit->flusher_wake);
    pthread_mutex_unlock(&audit->lock);
}

void audit_pending_drop(struct audit_pending_queue *q, size_t n)
{
    if (n > q->n)
        n = q->n;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        audit_entry_free(q->items[i].entry);
    memmove(q->items, q->items + n, (q->n - n) * sizeof *q->items);
    q->n -= n;
}

void audit_pending_queue_free(struct audit_pending_queue *q)
{
    audit_pending_drop(q, q->n);
    free(q->items);
    memset(q, 0, sizeof *q);
}

/* ---- recovery --------------------------------------------------------------- */

struct key_list {
    char (*keys)[STEEP_AUDIT_PENDING_KEY_MAX];
    size_t n, cap;
};

static int list_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len)
{
    (void)value;
    (void)value_len;
    struct key_list *l = arg;
    if (key_len >= STEEP_AUDIT_PENDING_KEY_MAX)
        return 0; /* not one of ours: never chained */
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *grown = realloc(l->keys, cap * sizeof *l->keys);
        if (!grown)
            return -1;
        l->keys = grown;
        l->cap = cap;
    }
    memcpy(l->keys[l->n], key, key_len);
    l->keys[l->n++][key_len] = '\0';
    return 0;
}

/* The entry of a stored pending record, or NULL (logged) when it is not
 * one this log wrote. */
static TeaclaveCommonProto__Entry *pending_decode(const struct steep_audit *audit, const char *key,
                                                  const struct steep_buf *value)
{
    uint8_t mac[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
    TeaclaveCommonProto__Entry *entry = NULL;
    if (value->len <= AUDIT_HASH_LEN)
        goto altered;
    const uint8_t *body = value->data + AUDIT_HASH_LEN;
    size_t len = value->len - AUDIT_HASH_LEN;
    pending_mac(audit, key, body, len, mac);
    if (CRYPTO_memcmp(mac, value->data, AUDIT_HASH_LEN) != 0)
        goto altered;
    SHA256(body, len, hash);
    if (audit_record_decode(body, len, 0, hash, prev, &entry) == 0)
        return entry;
altered:
    log_error("audit: pending record %s was altered or not written by this log: not chained", key);
    return NULL;
}

int audit_pending_recover(struct steep_audit *audit)
{
    struct audit_pending_queue *q = &audit->pending;
    if (q->recovered)
        return 0;
    struct key_list list = {0};
    int rc = audit->store.keys(audit->store.ctx, PENDING_PREFIX, list_key, &list);
    if (rc != STEEP_STORE_OK) {
        free(list.keys);
        return audit_storage_failure("listing pending audit records");
    }
    /* Keys sort by the entry's time: the earlier process's, oldest first,
     * go before what this one queued meanwhile. */
    struct audit_pending_queue found = {0};
    struct steep_buf value = STEEP_BUF_INIT;
    for (size_t i = 0; i < list.n && rc == 0; i++) {
        if (queued(q, list.keys[i]))
            continue;
        int got = audit->store.get(audit->store.ctx, list.keys[i], strlen(list.keys[i]), &value);
        if (got == STEEP_STORE_NOT_FOUND)
            continue;
        if (got != STEEP_STORE_OK) {
            rc = audit_storage_failure("reading a pending audit record");
            break;
        }
        TeaclaveCommonProto__Entry *entry = pending_decode(audit, list.keys[i], &value);
        if (entry && queue_push(&found, list.keys[i], entry) < 0) {
            audit_entry_free(entry);
            rc = audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
        }
    }
    steep_buf_free(&value);
    free(list.keys);
    if (rc == 0) {
        for (size_t i = 0; i < q->n && rc == 0; i++) {
            rc = queue_push(&found, q->items[i].key, q->items[i].entry);
            if (rc == 0)
                q->items[i].entry = NULL;
        }
    }
    if (rc != 0) {
        audit_pending_queue_free(&found);
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    }
    if (found.n > q->n)
        log_info("audit: chaining %zu entries an earlier process left pending", found.n - q->n);
    audit_pending_queue_free(q);
    *q = found;
    q->recovered = true;
    return 0;
}

/* ---- flushing ------------------------------------------------------------------ */

int steep_audit_flush(struct steep_audit *audit)
{
    return steep_audit_append(audit, NULL, 0);
}

static void *flusher(void *arg)
{
    struct steep_audit *audit = arg;
    int64_t not_before = 0; /* after a failure, an interval before the next try */
    pthread_mutex_lock(&audit->lock);
    while (!audit->flusher_stop) {
        int64_t now = monotonic_ms();
        int64_t oldest = audit->pending.n ? audit->pending.items[0].queued_ms : -1;
        int64_t due =
            oldest < 0 ? now + audit->flush_interval_ms : oldest + audit->flush_interval_ms;
        if (due < not_before)
            due = not_before;
        if (oldest >= 0 && due <= now) {
            pthread_mutex_unlock(&audit->lock);
            if (steep_audit_flush(audit) < 0) {
                log_error("audit: chaining pending entries failed: %s", steep_error_get());
                not_before = monotonic_ms() + audit->flush_interval_ms;
            }
            pthread_mutex_lock(&audit->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t wait = due - now;
        until.tv_sec += wait / 1000;
        until.tv_nsec += (wait % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&audit->flusher_wake, &audit->lock, &until);
    }
    pthread_mutex_unlock(&audit->lock);
    return NULL;
}

int steep_audit_set_flush_interval(struct steep_audit *audit, int interval_ms)
{
    pthread_mutex_lock(&audit->lock);
    bool started = audit->flushing;
    audit->flush_interval_ms = interval_ms > 0 ? interval_ms : 1000;
    if (!started)
        audit->flushing = pthread_create(&audit->flusher, NULL, flusher, audit) == 0;
    bool ok = audit->flushing;
    pthread_mutex_unlock(&audit->lock);
    return ok ? 0 : audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
}
