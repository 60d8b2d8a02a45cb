/*
 * Leader election through an etcd lease (design in etcd_election.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "store/etcd_election.h"

struct steep_etcd_election {
    struct steep_etcd *etcd;
    char *key, *id;
    int ttl_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping, resign;
    /* guarded by lock */
    int64_t lease;
    int64_t renewed_ms; /* last renewal (or grant) seen to succeed */
    bool leader;
    int64_t term;
    char holder[128];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt to take the key; updates leader / holder. */
static int campaign(struct steep_etcd_election *e, int64_t lease)
{
    Etcdserverpb__Compare compare = ETCDSERVERPB__COMPARE__INIT;
    Etcdserverpb__Compare *compares[] = {&compare};
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    Etcdserverpb__RangeRequest range = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RequestOp put_op = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp range_op = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp *success[] = {&put_op}, *failure[] = {&range_op};
    Etcdserverpb__TxnRequest request = ETCDSERVERPB__TXN_REQUEST__INIT;
    ProtobufCBinaryData key = {strlen(e->key), (uint8_t *)e->key};
    compare.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    compare.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    compare.key = key;
    compare.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
    compare.create_revision = 0;
    put.key = key;
    put.value = (ProtobufCBinaryData){strlen(e->id), (uint8_t *)e->id};
    put.lease = lease;
    put_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    put_op.request_put = &put;
    range.key = key;
    range_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    range_op.request_range = &range;
    request.compare = compares;
    request.n_compare = 1;
    request.success = success;
    request.n_success = 1;
    request.failure = failure;
    request.n_failure = 1;
    Etcdserverpb__TxnResponse *response = NULL;
    GUARD(steep_etcd_txn(e->etcd, &request, &response));
    pthread_mutex_lock(&e->lock);
    if (response->succeeded) {
        e->leader = true;
        e->term = response->header ? response->header->revision : 0;
        snprintf(e->holder, sizeof e->holder, "%s", e->id);
        log_info("election %s: %s leads (term %lld)", e->key, e->id, (long long)e->term);
    } else if (response->n_responses == 1 && response->responses[0]->response_range &&
               response->responses[0]->response_range->n_kvs == 1) {
        const Etcdserverpb__KeyValue *kv = response->responses[0]->response_range->kvs[0];
        /* our own key from before (a lost answer): we lead */
        e->leader = kv->lease == lease;
        e->term = e->leader ? kv->create_revision : 0;
        snprintf(e->holder, sizeof e->holder, "%.*s", (int)kv->value.len,
                 (const char *)kv->value.data);
    }
    pthread_mutex_unlock(&e->lock);
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return 0;
}

static void lose(struct steep_etcd_election *e, const char *why)
{
    pthread_mutex_lock(&e->lock);
    if (e->leader)
        log_warn("election %s: %s no longer leads: %s", e->key, e->id, why);
    e->leader = false;
    e->term = 0;
    e->lease = 0;
    pthread_mutex_unlock(&e->lock);
}

/* Renews or grants the lease; false when there is none now. */
static bool keep_lease(struct steep_etcd_election *e, int64_t *lease)
{
    int64_t ttl = 0;
    if (*lease && steep_etcd_lease_keep_alive(e->etcd, *lease, &ttl) == 0 && ttl > 0) {
        pthread_mutex_lock(&e->lock);
        e->renewed_ms = now_ms();
        pthread_mutex_unlock(&e->lock);
        return true;
    }
    if (*lease)
        lose(e, ttl == 0 && steep_error_get()[0] == '\0' ? "its lease expired"
                                                         : "its lease could not be renewed");
    int64_t granted = 0, started = now_ms();
    if (steep_etcd_lease_grant(e->etcd, e->ttl_ms / 1000, &granted) < 0) {
        *lease = 0;
        return false;
    }
    pthread_mutex_lock(&e->lock);
    e->lease = *lease = granted;
    e->renewed_ms = started;
    pthread_mutex_unlock(&e->lock);
    return true;
}

static void *run(void *arg)
{
    struct steep_etcd_election *e = arg;
    int64_t lease = 0;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        pthread_mutex_unlock(&e->lock);
        steep_error_clear();
        if (keep_lease(e, &lease)) {
            pthread_mutex_lock(&e->lock);
            bool leader = e->leader;
            pthread_mutex_unlock(&e->lock);
            if (!leader && campaign(e, lease) < 0)
                log_warn("election %s: %s", e->key, steep_error_get());
        } else {
            log_warn("election %s: no lease: %s", e->key, steep_error_get());
        }
        pthread_mutex_lock(&e->lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + (int64_t)(e->ttl_ms / 3) * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        if (!e->stopping)
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
    }
    bool resign = e->resign;
    pthread_mutex_unlock(&e->lock);
    if (resign && lease)
        steep_etcd_lease_revoke(e->etcd, lease);
    return NULL;
}

int steep_etcd_election_start(const struct steep_etcd_config *config, const char *key,
                              const char *id, int ttl_seconds, struct steep_etcd_election **out)
{
    *out = NULL;
    ENSURE(ttl_seconds >= 2, "an election lease needs a TTL of at least 2 s");
    struct steep_etcd_election *e = calloc(1, sizeof *e);
    ENSURE(e, "out of memory");
    e->key = strdup(key);
    e->id = strdup(id);
    e->ttl_ms = ttl_seconds * 1000;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = e->key && e->id ? steep_etcd_open(config, &e->etcd) : steep_error_set("out of memory");
    if (rc == 0 && pthread_create(&e->thread, NULL, run, e) != 0)
        rc = steep_error_set("cannot start the election thread");
    if (rc < 0) {
        steep_etcd_close(e->etcd);
        free(e->key);
        free(e->id);
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

bool steep_etcd_election_is_leader(struct steep_etcd_election *e)
{
    pthread_mutex_lock(&e->lock);
    /* Step down before etcd may expire the lease: a margin of a third. */
    bool leader = e->leader && now_ms() - e->renewed_ms < e->ttl_ms * 2 / 3;
    pthread_mutex_unlock(&e->lock);
    return leader;
}

int64_t steep_etcd_election_term(struct steep_etcd_election *e)
{
    return steep_etcd_election_is_leader(e) ? e->term : 0;
}

const char *steep_etcd_election_leader(struct steep_etcd_election *e, char *out, size_t len)
{
    pthread_mutex_lock(&e->lock);
    snprintf(out, len, "%s", e->holder);
    pthread_mutex_unlock(&e->lock);
    return out;
}

static void finish(struct steep_etcd_election *e, bool resign)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    e->resign = resign;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    steep_etcd_close(e->etcd);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e->key);
    free(e->id);
    free(e);
}

void steep_etcd_election_stop(struct steep_etcd_election *e)
{
    finish(e, true);
}

void steep_etcd_election_abandon(struct steep_etcd_election *e)
{
    finish(e, false);
}
