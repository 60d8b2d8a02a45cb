/*
 * The etcd client (etcd.h): one lib/rpc client per member, created when the
 * client opens, and failover by gRPC status. Certificates and keys are read
 * once at open and handed to every handshake by the credentials callback.
 */
#include <openssl/pem.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "store/etcd.h"

#define KV_PATH    "/etcdserverpb.KV/"
#define LEASE_PATH "/etcdserverpb.Lease/"
#define WATCH_PATH "/etcdserverpb.Watch/Watch"
/* Responses carry at most a page of records (etcd_store.c pages scans). */
#define MAX_RESPONSE (256u << 20)

struct steep_etcd {
    struct steep_rpc_client *members[STEEP_ETCD_MAX_ENDPOINTS];
    char *addresses[STEEP_ETCD_MAX_ENDPOINTS];
    size_t n_members;
    atomic_size_t current; /* the member that answered last */
    /* Monotonic ms until which a member that let an attempt hang (a dead
     * host: its packets are dropped, nothing refuses) is tried only after
     * the others: each try of it costs a whole attempt. */
    _Atomic int64_t silent_until[STEEP_ETCD_MAX_ENDPOINTS];
    int timeout_ms; /* a request's budget, over all its attempts */
    int attempt_ms; /* one attempt's: a proposal lost with a dead leader hangs until then */
    X509 *cert;
    EVP_PKEY *key;
};

static _Thread_local bool last_unavailable, last_retried;

bool steep_etcd_last_unavailable(void)
{
    return last_unavailable;
}

bool steep_etcd_last_retried(void)
{
    return last_retried;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct steep_etcd *etcd = arg;
    if (!etcd->cert)
        return -1;
    X509_up_ref(etcd->cert);
    EVP_PKEY_up_ref(etcd->key);
    *cert = etcd->cert;
    *key = etcd->key;
    return 0;
}

static int load_client_certificate(struct steep_etcd *etcd, const char *cert_file,
                                   const char *key_file)
{
    ENSURE(!cert_file == !key_file, "etcd: a client certificate needs both a cert and a key file");
    if (!cert_file)
        return 0;
    FILE *f = fopen(cert_file, "r");
    ENSURE(f, "etcd: cannot read the client certificate %s", cert_file);
    etcd->cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ENSURE(etcd->cert, "etcd: %s holds no PEM certificate", cert_file);
    f = fopen(key_file, "r");
    ENSURE(f, "etcd: cannot read the client key %s", key_file);
    etcd->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ENSURE(etcd->key, "etcd: %s holds no PEM private key", key_file);
    return 0;
}

/* "https://host:port" or "host:port" -> "host:port"; server name = host. */
static int parse_endpoint(const char *endpoint, char **address, char **host)
{
    const char *rest = endpoint;
    ENSURE(strncmp(endpoint, "http://", 7) != 0,
           "etcd endpoint %s: Steep talks to etcd over TLS only (https://)", endpoint);
    if (strncmp(rest, "https://", 8) == 0)
        rest += 8;
    size_t len = strcspn(rest, "/");
    const char *colon = memrchr(rest, ':', len);
    ENSURE(len > 0 && colon && colon > rest && colon < rest + len - 1,
           "etcd endpoint '%s' is not [https://]host:port", endpoint);
    *address = strndup(rest, len);
    const char *h = rest;
    size_t hlen = (size_t)(colon - rest);
    if (h[0] == '[' && hlen >= 2) {
        h++;
        hlen -= 2;
    }
    *host = strndup(h, hlen);
    ENSURE(*address && *host, "out of memory");
    return 0;
}

static int add_member(struct steep_etcd *etcd, const struct steep_etcd_config *config,
                      const char *endpoint)
{
    char *address = NULL, *host = NULL;
    if (parse_endpoint(endpoint, &address, &host) < 0) {
        free(address);
        free(host);
        return -1;
    }
    struct steep_rpc_client_config client_config = {
        .address = address,
        .server_name = host,
        .tls = {.ca_file = config->ca_file,
                .credentials = etcd->cert ? credentials : NULL,
                .credentials_arg = etcd},
        .max_message = MAX_RESPONSE,
        .connect_timeout_ms = etcd->timeout_ms,
    };
    struct steep_rpc_client *client = steep_rpc_client_new(&client_config);
    free(host);
    if (!client) {
        free(address);
        return steep_error_wrap("etcd endpoint %s", endpoint);
    }
    etcd->addresses[etcd->n_members] = address;
    etcd->members[etcd->n_members++] = client;
    return 0;
}

int steep_etcd_open(const struct steep_etcd_config *config, struct steep_etcd **out)
{
    *out = NULL;
    ENSURE(config->n_endpoints > 0, "etcd: no endpoints");
    ENSURE(config->n_endpoints <= STEEP_ETCD_MAX_ENDPOINTS, "etcd: more than %d endpoints",
           STEEP_ETCD_MAX_ENDPOINTS);
    ENSURE(config->ca_file && *config->ca_file,
           "etcd: a CA file is required to verify the members' certificates");
    struct steep_etcd *etcd = calloc(1, sizeof *etcd);
    ENSURE(etcd, "out of memory");
    etcd->timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : 4000;
    etcd->attempt_ms = etcd->timeout_ms / 3 > 1000 ? etcd->timeout_ms / 3 : 1000;
    int rc = load_client_certificate(etcd, config->cert_file, config->key_file);
    for (size_t i = 0; rc == 0 && i < config->n_endpoints; i++)
        rc = add_member(etcd, config, config->endpoints[i]);
    if (rc < 0) {
        steep_etcd_close(etcd);
        return -1;
    }
    *out = etcd;
    return 0;
}

void steep_etcd_close(struct steep_etcd *etcd)
{
    if (!etcd)
        return;
    for (size_t i = 0; i < etcd->n_members; i++) {
        steep_rpc_client_free(etcd->members[i]);
        free(etcd->addresses[i]);
    }
    X509_free(etcd->cert);
    EVP_PKEY_free(etcd->key);
    free(etcd);
}

/* A member that let an attempt run out is tried after the others for this long. */
#define SILENT_MS 3000

/* The order of one round: members not silent lately first, from the one
 * that answered last; then the silent ones. */
static size_t round_order(struct steep_etcd *etcd, size_t first, size_t order[])
{
    int64_t now = now_ms();
    size_t n = 0;
    for (int silent = 0; silent < 2; silent++)
        for (size_t k = 0; k < etcd->n_members; k++) {
            size_t member = (first + k) % etcd->n_members;
            if ((atomic_load(&etcd->silent_until[member]) > now) == (silent == 1))
                order[n++] = member;
        }
    return n;
}

/* One request, member after member while they are out of reach, in rounds
 * for up to the request timeout (an election takes a moment). Sending a
 * request again is safe for Steep's: reads, and transactions guarded by
 * compares that at most one copy can pass (etcd_store.h). */
static int call(struct steep_etcd *etcd, const char *path, const ProtobufCMessage *request,
                const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **response)
{
    struct steep_rpc_status status = {0};
    size_t first = atomic_load(&etcd->current);
    int64_t deadline = now_ms() + etcd->timeout_ms;
    last_unavailable = last_retried = false;
    bool tried = false;
    for (int round = 0;; round++) {
        if (round > 0) {
            if (now_ms() >= deadline)
                break;
            struct timespec pause = {0, 100 * 1000000L};
            nanosleep(&pause, NULL);
        }
        size_t order[STEEP_ETCD_MAX_ENDPOINTS];
        size_t n = round_order(etcd, first, order);
        for (size_t k = 0; k < n; k++) {
            size_t member = order[k];
            int64_t start = now_ms(), left = deadline - start;
            if (tried && left <= 0)
                break;
            last_retried = tried;
            tried = true;
            int attempt_ms =
                etcd->attempt_ms < left ? etcd->attempt_ms : (int)(left > 100 ? left : 100);
            if (steep_rpc_call(etcd->members[member], path, request, response_type, response, NULL,
                               0, attempt_ms, &status) == 0) {
                atomic_store(&etcd->silent_until[member], 0);
                if (member != first)
                    atomic_store(&etcd->current, member);
                return 0;
            }
            /* etcd answers a request whose deadline passed inside it (no
             * quorum to commit it) UNKNOWN "context deadline exceeded" */
            bool unreachable = status.code == STEEP_GRPC_UNAVAILABLE ||
                               status.code == STEEP_GRPC_DEADLINE_EXCEEDED ||
                               status.code == STEEP_GRPC_UNKNOWN;
            if (!unreachable)
                return steep_error_set("etcd %s: %s: %s", etcd->addresses[member],
                                       steep_grpc_code_name(status.code), status.message);
            if (status.code == STEEP_GRPC_DEADLINE_EXCEEDED &&
                now_ms() - start >= attempt_ms - attempt_ms / 10)
                atomic_store(&etcd->silent_until[member], now_ms() + SILENT_MS);
            log_warn("etcd: %s: %s: %s; trying %s", etcd->addresses[member],
                     steep_grpc_code_name(status.code), status.message,
                     etcd->n_members > 1 ? "the next member" : "again");
        }
    }
    last_unavailable = true;
    return steep_error_set("etcd is unavailable (no member of %zu answered; last: %s)",
                           etcd->n_members, status.message);
}

int steep_etcd_range(struct steep_etcd *etcd, const Etcdserverpb__RangeRequest *request,
                     Etcdserverpb__RangeResponse **response)
{
    return call(etcd, KV_PATH "Range", &request->base, &etcdserverpb__range_response__descriptor,
                (ProtobufCMessage **)response);
}

int steep_etcd_txn(struct steep_etcd *etcd, const Etcdserverpb__TxnRequest *request,
                   Etcdserverpb__TxnResponse **response)
{
    return call(etcd, KV_PATH "Txn", &request->base, &etcdserverpb__txn_response__descriptor,
                (ProtobufCMessage **)response);
}

int steep_etcd_lease_grant(struct steep_etcd *etcd, int64_t ttl, int64_t *id)
{
    Etcdserverpb__LeaseGrantRequest request = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
    Etcdserverpb__LeaseGrantResponse *response = NULL;
    request.ttl = ttl;
    GUARD(call(etcd, LEASE_PATH "LeaseGrant", &request.base,
               &etcdserverpb__lease_grant_response__descriptor, (ProtobufCMessage **)&response));
    int rc = 0;
    if (response->error && *response->error)
        rc = steep_error_set("etcd refused a lease: %s", response->error);
    *id = response->id;
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return rc;
}

/* KeepAlive is a stream in etcd: one request and a half-close get one
 * answer and the end of the stream, which is all a renewal needs. */
int steep_etcd_lease_keep_alive(struct steep_etcd *etcd, int64_t id, int64_t *ttl)
{
    Etcdserverpb__LeaseKeepAliveRequest request = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    Etcdserverpb__LeaseKeepAliveResponse *response = NULL;
    request.id = id;
    GUARD(call(etcd, LEASE_PATH "LeaseKeepAlive", &request.base,
               &etcdserverpb__lease_keep_alive_response__descriptor,
               (ProtobufCMessage **)&response));
    *ttl = response->ttl;
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return 0;
}

int steep_etcd_lease_revoke(struct steep_etcd *etcd, int64_t id)
{
    Etcdserverpb__LeaseRevokeRequest request = ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
    Etcdserverpb__LeaseRevokeResponse *response = NULL;
    request.id = id;
    GUARD(call(etcd, LEASE_PATH "LeaseRevoke", &request.base,
               &etcdserverpb__lease_revoke_response__descriptor, (ProtobufCMessage **)&response));
    protobuf_c_message_free_unpacked(&response->base, NULL);
    return 0;
}

/* ---- watches ---- */

struct steep_etcd_watch {
    struct steep_rpc_stream *stream;
    const char *address;
};

int steep_etcd_watch_open(struct steep_etcd *etcd, const uint8_t *key, size_t key_len,
                          const uint8_t *range_end, size_t range_end_len, int64_t start_revision,
                          int timeout_ms, struct steep_etcd_watch **out)
{
    *out = NULL;
    Etcdserverpb__WatchCreateRequest create = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    Etcdserverpb__WatchRequest request = ETCDSERVERPB__WATCH_REQUEST__INIT;
    create.key = (ProtobufCBinaryData){key_len, (uint8_t *)key};
    if (range_end)
        create.range_end = (ProtobufCBinaryData){range_end_len, (uint8_t *)range_end};
    create.start_revision = start_revision;
    request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    request.create_request = &create;
    struct steep_etcd_watch *watch = calloc(1, sizeof *watch);
    ENSURE(watch, "out of memory");
    size_t member = atomic_load(&etcd->current);
    struct steep_rpc_status status = {0};
    watch->address = etcd->addresses[member];
    if (steep_rpc_stream_open(etcd->members[member], WATCH_PATH, &request.base, timeout_ms,
                              &watch->stream, &status) < 0) {
        free(watch);
        return steep_error_set("etcd %s: watch: %s", etcd->addresses[member], status.message);
    }
    *out = watch;
    return 0;
}

int steep_etcd_watch_next(struct steep_etcd_watch *watch, int wait_ms,
                          Etcdserverpb__WatchResponse **response)
{
    struct steep_rpc_status status = {0};
    *response = NULL;
    int rc = steep_rpc_stream_next(watch->stream, &etcdserverpb__watch_response__descriptor,
                                   (ProtobufCMessage **)response, wait_ms, &status);
    if (rc == STEEP_RPC_STREAM_WAITING)
        return 0;
    if (rc == STEEP_RPC_STREAM_END)
        return steep_error_set("etcd %s ended the watch", watch->address);
    if (rc < 0) {
        last_unavailable = status.code == STEEP_GRPC_UNAVAILABLE;
        return steep_error_set("etcd %s: watch: %s: %s", watch->address,
                               steep_grpc_code_name(status.code), status.message);
    }
    if ((*response)->canceled || (*response)->compact_revision) {
        int result = steep_error_set("etcd %s cancelled the watch%s%s", watch->address,
                                     (*response)->cancel_reason ? ": " : "",
                                     (*response)->cancel_reason ? (*response)->cancel_reason : "");
        protobuf_c_message_free_unpacked(&(*response)->base, NULL);
        *response = NULL;
        return result;
    }
    return 1;
}

void steep_etcd_watch_close(struct steep_etcd_watch *watch)
{
    if (!watch)
        return;
    steep_rpc_stream_close(watch->stream);
    free(watch);
}
