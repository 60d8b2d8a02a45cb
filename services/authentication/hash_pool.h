/*
 * The bounded pool that runs every argon2 hash of steep-authentication
 * (issue 14, item 8). A login costs m_cost KiB and a core for tens of
 * milliseconds; run on the caller's RPC thread, a flood of 2 000 logins
 * (or 1 000 the client had already cancelled) ran them all at once: a
 * thousand threads, hundreds of MiB, real logins waiting seconds.
 *
 * Here `threads` hashes run at a time, so the memory of hashing is bounded
 * by threads x m_cost. At most `queue` calls wait, and at most
 * `per_source` calls (waiting or running) come from one source address
 * (an IPv4 address, or an IPv6 /64); beyond either the call is refused at
 * once (STEEP_AUTH_POOL_BUSY, which the handlers answer RESOURCE_EXHAUSTED)
 * instead of queueing work nobody will wait for. Free threads serve the
 * sources in turn (round-robin, oldest call first within a source), and one
 * source runs at most half the threads at once (one of one), so a source
 * flooding the pool leaves threads free for the others: their logins wait
 * for no hash of the flood's, not for the whole queue. A call whose client went away
 * (steep_rpc_call_cancelled) leaves the queue within 50 ms and is never hashed.
 */
#ifndef STEEP_AUTHENTICATION_HASH_POOL_H
#define STEEP_AUTHENTICATION_HASH_POOL_H

#include <stdbool.h>
#include <stdint.h>

#define STEEP_AUTH_SOURCE_LEN 16

struct steep_auth_pool_config {
    int threads;    /* 0: online CPUs, at most 8 */
    int queue;      /* 0: 128 */
    int per_source; /* 0: 64 */
};

enum steep_auth_pool_result {
    STEEP_AUTH_POOL_DONE = 0,      /* fn ran */
    STEEP_AUTH_POOL_BUSY = 1,      /* refused: the queue or the source's share is full */
    STEEP_AUTH_POOL_CANCELLED = 2, /* the caller went away (or the pool stops) before fn ran */
};

struct steep_auth_pool;

struct steep_auth_pool *steep_auth_pool_new(const struct steep_auth_pool_config *config);
/* Stops the threads; calls still waiting get STEEP_AUTH_POOL_CANCELLED. */
void steep_auth_pool_free(struct steep_auth_pool *pool);

/*
 * Runs fn(arg) on a pool thread for source and waits until it ran.
 * cancelled(call) (may be NULL) is polled while the call waits.
 */
enum steep_auth_pool_result steep_auth_pool_run(struct steep_auth_pool *pool,
                                                const uint8_t source[STEEP_AUTH_SOURCE_LEN],
                                                bool (*cancelled)(const void *call),
                                                const void *call, void (*fn)(void *arg), void *arg);

/* Counters since the pool started (for tests and logs). */
struct steep_auth_pool_stats {
    uint64_t ran, busy, cancelled;
    int peak_waiting;
};
void steep_auth_pool_stats(struct steep_auth_pool *pool, struct steep_auth_pool_stats *out);

#endif
