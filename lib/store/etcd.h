/*
 * A client of an etcd v3 cluster, on Steep's own gRPC client (lib/rpc) and
 * the messages of proto/etcd_rpc.proto. It knows the cluster's members
 * (endpoints) and sends each request to the member that answered last; a
 * member that cannot be reached or has no quorum-backed answer (gRPC
 * UNAVAILABLE: connection lost, "etcdserver: no leader", "request timed
 * out") makes the request move on to the next member, round the list until the
 * request's time budget is spent (an election takes a moment).
 * A request that times out everywhere fails with the last member's error;
 * steep_etcd_last_unavailable() then tells a caller that etcd (its quorum)
 * is out of reach rather than refusing the request.
 *
 * TLS is always on (etcd started with --cert-file/--key-file): the members'
 * certificates are verified against ca_file and their address (an IP
 * literal in an endpoint must be in the certificate's IP SANs); a client
 * certificate (cert_file, key_file) is presented to a cluster started with
 * --client-cert-auth.
 *
 * Reads are linearizable (Range without serializable), so any member's
 * answer includes every write acknowledged before it was sent.
 * All functions are thread-safe; results are enum-free 0 / -1 with
 * steep_error_get() set.
 */
#ifndef STEEP_STORE_ETCD_H
#define STEEP_STORE_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd_rpc.pb-c.h"

#define STEEP_ETCD_MAX_ENDPOINTS 16

struct steep_etcd_config {
    const char *const *endpoints; /* "host:port" or "https://host:port" */
    size_t n_endpoints;
    const char *ca_file;   /* required */
    const char *cert_file; /* client certificate and key: both or neither */
    const char *key_file;
    /* A request's budget over all its attempts (0: 4000); each attempt gets
     * a third of it, at least 1000 ms. */
    int timeout_ms;
};

struct steep_etcd;

int steep_etcd_open(const struct steep_etcd_config *config, struct steep_etcd **out);
void steep_etcd_close(struct steep_etcd *etcd);

/* Unary requests; free the response with protobuf_c_message_free_unpacked. */
int steep_etcd_range(struct steep_etcd *etcd, const Etcdserverpb__RangeRequest *request,
                     Etcdserverpb__RangeResponse **response);
int steep_etcd_txn(struct steep_etcd *etcd, const Etcdserverpb__TxnRequest *request,
                   Etcdserverpb__TxnResponse **response);
/* True when the last failure of this thread's request was etcd out of reach
 * (no member answered, or none had quorum). */
bool steep_etcd_last_unavailable(void);
/* True when this thread's last request succeeded only after an attempt that
 * failed: an earlier copy of it may have been applied. */
bool steep_etcd_last_retried(void);

/* Leases (TTL in seconds): grant, renew once (*ttl 0: expired), revoke. */
int steep_etcd_lease_grant(struct steep_etcd *etcd, int64_t ttl, int64_t *id);
int steep_etcd_lease_keep_alive(struct steep_etcd *etcd, int64_t id, int64_t *ttl);
int steep_etcd_lease_revoke(struct steep_etcd *etcd, int64_t id);

/*
 * A watch on [key, range_end) (range_end NULL: key alone) from
 * start_revision, for at most timeout_ms. next waits up to wait_ms: 1 with
 * *response (events, or the creation notice), 0 when nothing came, -1 on
 * failure (the stream ended, was cancelled or compacted).
 */
struct steep_etcd_watch;
int steep_etcd_watch_open(struct steep_etcd *etcd, const uint8_t *key, size_t key_len,
                          const uint8_t *range_end, size_t range_end_len, int64_t start_revision,
                          int timeout_ms, struct steep_etcd_watch **out);
int steep_etcd_watch_next(struct steep_etcd_watch *watch, int wait_ms,
                          Etcdserverpb__WatchResponse **response);
void steep_etcd_watch_close(struct steep_etcd_watch *watch);

#endif
