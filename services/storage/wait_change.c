/*
 * WaitChange (steep_storage_proto.SteepStorage): a long poll on one record,
 * answered changed=true once the record differs from what the caller knows,
 * changed=false when the wait's time (at most WAIT_CHANGE_MAX_MS and the
 * call's deadline) passes or the caller leaves.
 *
 * A wait holds no worker (issue 14, item 7): the call is held
 * (steep_rpc_call_hold_until) with a store watch on its key; the commit
 * that writes the key wakes it, a worker reads and compares, and either
 * answers or holds again. The RPC server ends the hold by itself at the
 * wait's time or when the caller resets the stream or goes, so a gone
 * caller's watch is dropped at once. Each peer service may hold at most
 * STEEP_STORAGE_MAX_WAITS_PER_PEER waits (STEEP_STORAGE_MAX_WAITS in all);
 * one more is refused RESOURCE_EXHAUSTED. An engine without watches would
 * wait on the worker, in slices (both engines have them: LevelDB's commit
 * leader, etcd's watch thread, lib/store/etcd_watch.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/quota.h"
#include "services/storage/service.h"
#include "steep_storage.pb-c.h"

#define WAIT_CHANGE_MAX_MS   30000
#define WAIT_CHANGE_SLICE_MS 200

/* Process-wide: one storage service per process; entries exist only while held. */
static struct steep_quota waits = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                   .max_total = STEEP_STORAGE_MAX_WAITS,
                                   .max_per_name = STEEP_STORAGE_MAX_WAITS_PER_PEER};

struct held_wait {
    struct steep_storage_service *service;
    struct steep_rpc_call *call;
    struct steep_store_watch *watch;
    struct steep_buf key, known;
    bool known_absent;
    int64_t deadline_ms;
    char peer[];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(struct steep_rpc_call *call, bool changed)
{
    SteepStorageProto__WaitChangeResponse response =
        STEEP_STORAGE_PROTO__WAIT_CHANGE_RESPONSE__INIT;
    response.changed = changed;
    steep_rpc_reply(call, &response.base);
}

/* 1 when the record differs from what the caller knows, 0 when not, -1 on failure. */
static int differs(struct steep_store *store, const void *key, size_t key_len, bool known_absent,
                   const void *known, size_t known_len)
{
    struct steep_buf current = STEEP_BUF_INIT;
    int rc = steep_store_get(store, key, key_len, &current);
    int result = steep_store_differs(rc, &current, known_absent, known, known_len);
    steep_buf_free(&current);
    return result;
}

/* The engine has no watch: wait on this worker, in slices, so a caller that
 * left or a stopping server ends the wait within WAIT_CHANGE_SLICE_MS. */
static void wait_on_worker(struct steep_rpc_call *call, struct steep_storage_service *service,
                           const SteepStorageProto__WaitChangeRequest *request, int timeout_ms)
{
    bool changed = false;
    int64_t deadline = now_ms() + timeout_ms;
    for (int64_t left = timeout_ms; !changed && left > 0 && !steep_rpc_call_cancelled(call);
         left = deadline - now_ms()) {
        if (steep_store_wait_change(service->store, request->key.data, request->key.len,
                                    request->known_absent, request->known.data, request->known.len,
                                    left > WAIT_CHANGE_SLICE_MS ? WAIT_CHANGE_SLICE_MS : (int)left,
                                    &changed) < 0) {
            steep_storage_fail_internal(call, "WaitChange");
            return;
        }
    }
    reply(call, changed);
}

/* The commit leader saw a write of the key (under the store's watch lock). */
static void wake_held(void *arg)
{
    struct held_wait *wait = arg;
    steep_rpc_call_wake(wait->call);
}

static void held_free(struct held_wait *wait)
{
    steep_store_unwatch(wait->service->store, wait->watch);
    steep_quota_release(&waits, wait->peer);
    steep_buf_free(&wait->key);
    steep_buf_free(&wait->known);
    free(wait);
}

/* On a worker: first check, and after every wake (a write, the time, the
 * caller gone): answer once the record differs or the wait is over. */
static void check_held(struct steep_rpc_call *call, void *arg)
{
    struct held_wait *wait = arg;
    int d = differs(wait->service->store, wait->key.data, wait->key.len, wait->known_absent,
                    wait->known.data, wait->known.len);
    int64_t left = wait->deadline_ms - now_ms();
    if (d == 0 && left > 0 && !steep_rpc_call_cancelled(call)) {
        steep_rpc_call_hold_until(call, (int)left, check_held, wait);
        return;
    }
    held_free(wait); /* no wake runs after this: the call may be answered */
    if (d < 0)
        steep_storage_fail_internal(call, "WaitChange");
    else
        reply(call, d > 0);
}

static struct held_wait *held_new(struct steep_storage_service *service,
                                  struct steep_rpc_call *call, const char *peer,
                                  const SteepStorageProto__WaitChangeRequest *request,
                                  int timeout_ms)
{
    size_t peer_len = strlen(peer) + 1;
    struct held_wait *wait = calloc(1, sizeof(*wait) + peer_len);
    if (!wait)
        return NULL;
    memcpy(wait->peer, peer, peer_len);
    wait->service = service;
    wait->call = call;
    wait->key = (struct steep_buf)STEEP_BUF_INIT;
    wait->known = (struct steep_buf)STEEP_BUF_INIT;
    wait->known_absent = request->known_absent;
    wait->deadline_ms = now_ms() + timeout_ms;
    if (steep_buf_append(&wait->key, request->key.data, request->key.len) < 0 ||
        steep_buf_append(&wait->known, request->known.data, request->known.len) < 0) {
        steep_buf_free(&wait->key);
        steep_buf_free(&wait->known);
        free(wait);
        return NULL;
    }
    return wait;
}

void steep_storage_wait_change(struct steep_rpc_call *call, const ProtobufCMessage *message,
                               void *arg)
{
    struct steep_storage_service *service = arg;
    const SteepStorageProto__WaitChangeRequest *request = (const void *)message;
    if (steep_storage_check_key(call, service, "key", &request->key) < 0)
        return;
    int timeout_ms =
        request->timeout_ms > WAIT_CHANGE_MAX_MS ? WAIT_CHANGE_MAX_MS : (int)request->timeout_ms;
    int64_t remaining = steep_rpc_call_remaining_ms(call);
    if (remaining >= 0 && remaining < timeout_ms)
        timeout_ms = (int)remaining;
    const char *peer = steep_rpc_call_peer_name(call);
    if (!peer)
        peer = "";
    if (!steep_quota_acquire(&waits, peer)) {
        log_warn("storage: WaitChange of %s refused: %d waits held by it (at most %d per peer, "
                 "%d in all)",
                 peer[0] ? peer : "a peer", steep_quota_count(&waits, peer),
                 STEEP_STORAGE_MAX_WAITS_PER_PEER, STEEP_STORAGE_MAX_WAITS);
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "too many waits held");
        return;
    }
    struct held_wait *wait = held_new(service, call, peer, request, timeout_ms);
    if (wait)
        wait->watch =
            steep_store_watch(service->store, request->key.data, request->key.len, wake_held, wait);
    if (!wait || !wait->watch) {
        /* no watch on this engine (or memory short): the worker waits */
        if (wait)
            held_free(wait);
        else
            steep_quota_release(&waits, peer);
        wait_on_worker(call, service, request, timeout_ms);
        return;
    }
    /* Held at once and checked by the continuation, so a write between the
     * watch and the first read wakes it rather than being missed. */
    steep_rpc_call_hold_until(call, 0, check_held, wait);
}
