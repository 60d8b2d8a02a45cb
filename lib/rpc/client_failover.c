/*
 * A client of a replicated peer (issue 17 item 3): config->address lists
 * several "host:port" separated by commas, one plain client (one
 * connection) per address, all sharing the rest of the configuration.
 *
 * Calls go to the member that answered last. A unary call answered
 * UNAVAILABLE (the connection could not be made or was lost, or the replica
 * says it cannot serve now: a scheduler that is not the leader, a draining
 * service) is sent again to the next member, round the list once, within
 * the call's deadline; the first member that answers anything else becomes
 * the current one. Callers already treat UNAVAILABLE as "may be retried",
 * so moving such a call to another replica adds no new duplicate: a
 * request whose connection was lost after it went out may have been
 * applied, exactly as when the caller retries it itself.
 *
 * A call that gets no answer before its deadline (DEADLINE_EXCEEDED: a
 * host that died without closing its connections looks like this until
 * TCP gives up) is not sent again, but the next call starts at the next
 * member, and that member's connection is dropped, so that the calls
 * still waiting on it fail UNAVAILABLE and move on instead of waiting for
 * their own deadlines (an execution slot's long poll: seconds).
 *
 * Asynchronous calls and streams go to the current member without a
 * second attempt; an asynchronous call answered UNAVAILABLE (or
 * DEADLINE_EXCEEDED) moves the current member on, so the caller's retry (or the next call) goes to
 * another replica.
 *
 * Members whose host is gone cost a connect timeout on their first call:
 * unless configured, members connect within 1000 ms rather than 5000, and
 * a member whose call failed UNAVAILABLE in the last RECENT_FAILURE_MS is
 * tried after the others (a dead host's timeout is paid once, not by every
 * call that goes round the list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/client_internal.h"

#define MEMBER_CONNECT_TIMEOUT_MS 1000
#define RECENT_FAILURE_MS         3000
#define MAX_MEMBERS               16

struct steep_rpc_client *steep_rpc_failover_new(const struct steep_rpc_client_config *config)
{
    struct steep_rpc_client *client = calloc(1, sizeof *client);
    char *list = strdup(config->address);
    if (!client || !list) {
        free(client);
        free(list);
        steep_error_set("out of memory");
        return NULL;
    }
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    if (n > MAX_MEMBERS) {
        free(client);
        free(list);
        steep_error_set("client address '%.200s' lists more than %d replicas", config->address,
                        MAX_MEMBERS);
        return NULL;
    }
    client->members = calloc(n, sizeof *client->members);
    client->member_failed_ms = calloc(n, sizeof *client->member_failed_ms);
    client->config = *config;
    client->config.address = NULL;
    struct steep_rpc_client_config member = *config;
    if (member.connect_timeout_ms <= 0)
        member.connect_timeout_ms = MEMBER_CONNECT_TIMEOUT_MS;
    bool ok = client->members && client->member_failed_ms;
    char *save = NULL;
    for (char *address = strtok_r(list, ",", &save); ok && address;
         address = strtok_r(NULL, ",", &save)) {
        while (*address == ' ')
            address++;
        member.address = address;
        struct steep_rpc_client *one = steep_rpc_client_new(&member);
        if (!one) {
            steep_error_wrap("replica %zu of '%s'", client->n_members + 1, config->address);
            ok = false;
            break;
        }
        client->members[client->n_members++] = one;
    }
    if (ok && client->n_members == 0) {
        steep_error_set("client address '%s' lists no host:port", config->address);
        ok = false;
    }
    free(list);
    if (!ok) {
        steep_rpc_failover_free(client);
        return NULL;
    }
    atomic_init(&client->current, 0);
    return client;
}

void steep_rpc_failover_free(struct steep_rpc_client *client)
{
    for (size_t i = 0; i < client->n_members; i++)
        steep_rpc_client_free(client->members[i]);
    free(client->members);
    free((void *)client->member_failed_ms);
    free(client);
}

struct steep_rpc_client *steep_rpc_failover_member(struct steep_rpc_client *client)
{
    return client->members[atomic_load(&client->current) % client->n_members];
}

/* member failed UNAVAILABLE: the next call starts at the following one
 * (unless another thread already moved on). */
void steep_rpc_failover_unavailable(struct steep_rpc_client *client,
                                    struct steep_rpc_client *member)
{
    size_t seen = atomic_load(&client->current);
    if (client->members[seen % client->n_members] == member)
        atomic_compare_exchange_strong(&client->current, &seen, (seen + 1) % client->n_members);
}

static void mark_failed(struct steep_rpc_client *client, size_t index)
{
    int64_t now = steep_rpc_now_ms();
    atomic_store(&client->member_failed_ms[index], now ? now : 1);
}

int steep_rpc_failover_call(struct steep_rpc_client *client, const char *path,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *response_type,
                            ProtobufCMessage **response, const struct steep_rpc_metadata *metadata,
                            size_t n_metadata, int timeout_ms, struct steep_rpc_status *status,
                            struct steep_rpc_received_metadata *received)
{
    int64_t deadline = timeout_ms > 0 ? steep_rpc_now_ms() + timeout_ms : 0;
    size_t start = atomic_load(&client->current) % client->n_members;
    struct steep_rpc_status local;
    if (!status)
        status = &local;
    int rc = -1;
    /* From the current member on: first those that did not fail lately. */
    size_t order[MAX_MEMBERS], n = 0;
    int64_t now = steep_rpc_now_ms();
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < client->n_members; k++) {
            size_t index = (start + k) % client->n_members;
            int64_t failed = atomic_load(&client->member_failed_ms[index]);
            bool recent = failed != 0 && now - failed < RECENT_FAILURE_MS;
            if (recent == (pass == 1))
                order[n++] = index;
        }
    for (size_t attempt = 0; attempt < n; attempt++) {
        size_t index = order[attempt];
        int left = timeout_ms;
        if (deadline) {
            int64_t remaining = deadline - steep_rpc_now_ms();
            if (remaining <= 0)
                break; /* status: the last member's failure */
            left = (int)remaining;
        }
        if (received && attempt > 0)
            steep_rpc_received_metadata_free(received);
        rc = steep_rpc_call_with_metadata(client->members[index], path, request, response_type,
                                          response, metadata, n_metadata, left, status, received);
        if (rc < 0 && status->code == STEEP_GRPC_DEADLINE_EXCEEDED && timeout_ms > 0) {
            /* No answer in time: a host that died silently (its connection
             * is not known to be lost) or one too slow to be the current
             * member. No time is left for this call; the next one starts
             * at the following member. */
            mark_failed(client, index);
            steep_rpc_failover_unavailable(client, client->members[index]);
            /* Its other calls (long polls) would wait for their deadlines
             * too: they fail UNAVAILABLE now and move on. */
            steep_rpc_client_reset_connection(client->members[index]);
            return rc;
        }
        if (rc == 0 || status->code != STEEP_GRPC_UNAVAILABLE) {
            atomic_store(&client->member_failed_ms[index], 0);
            size_t seen = start;
            if (index != start && atomic_compare_exchange_strong(&client->current, &seen, index))
                log_info("rpc: %s now served by %s", path, client->members[index]->address);
            return rc;
        }
        mark_failed(client, index);
        log_debug("rpc: %s on %s: %s", path, client->members[index]->address, status->message);
    }
    /* Nobody served it: the next call starts at the next member. */
    steep_rpc_failover_unavailable(client, client->members[start]);
    return rc;
}

struct failover_async {
    struct steep_rpc_client *client, *member;
    steep_rpc_done_fn done;
    void *arg;
};

static void async_done(void *arg, ProtobufCMessage *response, const struct steep_rpc_status *status)
{
    struct failover_async *async = arg;
    if (status->code == STEEP_GRPC_UNAVAILABLE || status->code == STEEP_GRPC_DEADLINE_EXCEEDED)
        steep_rpc_failover_unavailable(async->client, async->member);
    steep_rpc_done_fn done = async->done;
    void *done_arg = async->arg;
    free(async);
    done(done_arg, response, status);
}

int steep_rpc_failover_call_async(struct steep_rpc_client *client, const char *path,
                                  const ProtobufCMessage *request,
                                  const ProtobufCMessageDescriptor *response_type,
                                  const struct steep_rpc_metadata *metadata, size_t n_metadata,
                                  int timeout_ms, steep_rpc_done_fn done, void *arg)
{
    struct failover_async *async = malloc(sizeof *async);
    ENSURE(async, "out of memory");
    *async = (struct failover_async){client, steep_rpc_failover_member(client), done, arg};
    if (steep_rpc_call_async(async->member, path, request, response_type, metadata, n_metadata,
                             timeout_ms, async_done, async) < 0) {
        free(async);
        return -1;
    }
    return 0;
}
