/*
 * The client side of test_rpc_stream.py: server-streaming calls of lib/rpc
 * (steep_rpc_stream_*) against a grpcio server playing etcd's Watch. One
 * case per run; prints "ok CASE" or "FAIL CASE: why".
 *   rpc_stream_client ADDRESS CA_FILE many N    N messages in order, then END
 *   rpc_stream_client ADDRESS CA_FILE error     2 messages, then NOT_FOUND "gone"
 *   rpc_stream_client ADDRESS CA_FILE close     3 messages of an endless stream, close
 *   rpc_stream_client ADDRESS CA_FILE slow      a reader that falls behind: RESOURCE_EXHAUSTED
 *   rpc_stream_client ADDRESS CA_FILE deadline  no message: WAITING, then DEADLINE_EXCEEDED
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd_rpc.pb-c.h"
#include "rpc/rpc.h"

#define WATCH "/etcdserverpb.Watch/Watch"

static int failed(const char *name, const char *why)
{
    printf("FAIL %s: %s\n", name, why);
    return 1;
}

/* Next message's watch_id, -1 END, -2 failure (status), -3 waiting. */
static long next(struct steep_rpc_stream *stream, int wait_ms, struct steep_rpc_status *status)
{
    ProtobufCMessage *message = NULL;
    int rc = steep_rpc_stream_next(stream, &etcdserverpb__watch_response__descriptor, &message,
                                   wait_ms, status);
    if (rc == STEEP_RPC_STREAM_MESSAGE) {
        long id = (long)((Etcdserverpb__WatchResponse *)message)->watch_id;
        protobuf_c_message_free_unpacked(message, NULL);
        return id;
    }
    return rc == STEEP_RPC_STREAM_END ? -1 : rc == STEEP_RPC_STREAM_WAITING ? -3 : -2;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    const char *name = argv[3];
    struct steep_rpc_client *client = steep_rpc_client_new(&(struct steep_rpc_client_config){
        .address = argv[1], .server_name = "localhost", .tls = {.ca_file = argv[2]}});
    if (!client)
        return failed(name, "no client");
    Etcdserverpb__WatchCreateRequest create = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    Etcdserverpb__WatchRequest request = ETCDSERVERPB__WATCH_REQUEST__INIT;
    create.key = (ProtobufCBinaryData){strlen(name), (uint8_t *)name};
    request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    request.create_request = &create;
    struct steep_rpc_stream *stream = NULL;
    struct steep_rpc_status status = {0};
    int timeout = strcmp(name, "deadline") == 0 ? 800 : 20000;
    if (steep_rpc_stream_open(client, WATCH, &request.base, timeout, &stream, &status) < 0)
        return failed(name, status.message);
    int rc = 0;
    char why[600];
    if (strcmp(name, "many") == 0) {
        long n = argc > 4 ? atol(argv[4]) : 100, got;
        for (long i = 0; rc == 0 && i < n; i++) {
            if ((got = next(stream, 5000, &status)) != i) {
                snprintf(why, sizeof why, "message %ld: got %ld (%s)", i, got, status.message);
                rc = failed(name, why);
            }
        }
        if (rc == 0 && (got = next(stream, 5000, &status)) != -1)
            rc = failed(name, "no END after the last message");
    } else if (strcmp(name, "error") == 0) {
        long a = next(stream, 5000, &status), b = next(stream, 5000, &status);
        long c = next(stream, 5000, &status);
        if (a != 0 || b != 1 || c != -2 || status.code != STEEP_GRPC_NOT_FOUND ||
            strcmp(status.message, "gone") != 0) {
            snprintf(why, sizeof why, "%ld %ld %ld, status %d '%s'", a, b, c, status.code,
                     status.message);
            rc = failed(name, why);
        }
    } else if (strcmp(name, "close") == 0) {
        for (long i = 0; rc == 0 && i < 3; i++)
            if (next(stream, 5000, &status) != i)
                rc = failed(name, "the first messages did not come");
    } else if (strcmp(name, "slow") == 0) {
        sleep(2); /* the server sends 64 MiB meanwhile; the bound is 16 MiB */
        long got;
        int messages = 0;
        while ((got = next(stream, 5000, &status)) >= 0)
            messages++;
        if (got != -2 || status.code != STEEP_GRPC_RESOURCE_EXHAUSTED) {
            snprintf(why, sizeof why, "after %d messages: %ld, status %d '%s'", messages, got,
                     status.code, status.message);
            rc = failed(name, why);
        }
    } else if (strcmp(name, "deadline") == 0) {
        long first = next(stream, 100, &status), second = next(stream, 3000, &status);
        if (first != -3 || second != -2 || status.code != STEEP_GRPC_DEADLINE_EXCEEDED) {
            snprintf(why, sizeof why, "%ld %ld, status %d '%s'", first, second, status.code,
                     status.message);
            rc = failed(name, why);
        }
    } else {
        rc = failed(name, "unknown case");
    }
    steep_rpc_stream_close(stream);
    steep_rpc_client_free(client);
    if (rc == 0)
        printf("ok %s\n", name);
    return rc;
}
