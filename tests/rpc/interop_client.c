/*
 * rpc-interop-client: our client against another gRPC stack's Echo server
 * (python3-grpcio in interop_test.py). Runs a fixed list of checks, prints
 * "ok <check>" or "FAIL <check>: why" for each, exits 1 if any failed.
 *
 *   rpc-interop-client ADDRESS --ca FILE [--server-name NAME] [--cert F --key F]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"
#include "support.h"

static struct steep_rpc_client *client;
static int failures;

#define CHECK(name, cond, ...)                                                                     \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok %s\n", name);                                                               \
        } else {                                                                                   \
            printf("FAIL %s: ", name);                                                             \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            failures++;                                                                            \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

static int say(const SteepTest__EchoRequest *request, SteepTest__EchoReply **reply, int timeout_ms,
               struct steep_rpc_status *status)
{
    return steep_rpc_call(client, ECHO_SAY, &request->base, &steep_test__echo_reply__descriptor,
                          (ProtobufCMessage **)reply, NULL, 0, timeout_ms, status);
}

static void check_simple(const char *name)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "hello from C";
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = say(&request, &reply, 5000, &status);
    CHECK(name, rc == 0 && !strcmp(reply->message, "hello from C"), "%s %s",
          steep_grpc_code_name(status.code), status.message);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void check_metadata(void)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.echo_metadata = "x-token";
    struct steep_rpc_metadata metadata[] = {{"x-token", "abc.def"}, {"id", "user"}};
    struct steep_rpc_received_metadata received;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = steep_rpc_call_with_metadata(
        client, ECHO_SAY, &request.base, &steep_test__echo_reply__descriptor,
        (ProtobufCMessage **)&reply, metadata, 2, 5000, &status, &received);
    const char *echoed = rc == 0 ? steep_rpc_received_metadata_get(&received, "x-echo") : NULL;
    const char *trailer = rc == 0 ? steep_rpc_received_metadata_get(&received, "x-trailer") : NULL;
    CHECK("metadata both ways",
          rc == 0 && !strcmp(reply->metadata_value, "abc.def") && echoed &&
              !strcmp(echoed, "abc.def") && trailer && !strcmp(trailer, "t"),
          "rc %d %s", rc, status.message);
    steep_rpc_received_metadata_free(&received);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void check_error(void)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.error_code = STEEP_GRPC_PERMISSION_DENIED;
    request.error_message = "permission denied: 100% \xc3\xa9t\xc3\xa9";
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = say(&request, &reply, 5000, &status);
    CHECK("error status and message",
          rc == -1 && status.code == STEEP_GRPC_PERMISSION_DENIED &&
              !strcmp(status.message, request.error_message),
          "rc %d %s '%s'", rc, steep_grpc_code_name(status.code), status.message);
}

static void check_unknown_method(void)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    struct steep_rpc_status status;
    int rc = steep_rpc_call(client, "/steep_test.Echo/Nope", &request.base,
                            &steep_test__echo_reply__descriptor, &reply, NULL, 0, 5000, &status);
    CHECK("unknown method", rc == -1 && status.code == STEEP_GRPC_UNIMPLEMENTED, "%s %s",
          steep_grpc_code_name(status.code), status.message);
}

static void check_deadline(void)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.sleep_ms = 3000;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int64_t start = steep_rpc_now_ms();
    int rc = say(&request, &reply, 300, &status);
    int64_t took = steep_rpc_now_ms() - start;
    CHECK("deadline exceeded",
          rc == -1 && status.code == STEEP_GRPC_DEADLINE_EXCEEDED && took < 2000,
          "%s after %lld ms", steep_grpc_code_name(status.code), (long long)took);
}

static void check_big_messages(void)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    size_t size = STEEP_RPC_DEFAULT_MAX_MESSAGE - 64;
    request.payload.data = calloc(1, size);
    request.payload.len = size;
    request.payload_size = (int32_t)size;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    int rc = say(&request, &reply, 20000, &status);
    CHECK("big messages both ways",
          rc == 0 && reply->payload.len == size && reply->payload_received == (int32_t)size,
          "%s %s", steep_grpc_code_name(status.code), status.message);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    free(request.payload.data);
    SteepTest__EchoRequest small = STEEP_TEST__ECHO_REQUEST__INIT;
    small.payload_size = STEEP_RPC_DEFAULT_MAX_MESSAGE + 100;
    reply = NULL;
    rc = say(&small, &reply, 20000, &status);
    CHECK("oversize response refused", rc == -1 && status.code == STEEP_GRPC_RESOURCE_EXHAUSTED,
          "%s %s", steep_grpc_code_name(status.code), status.message);
    if (reply)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void *concurrent_caller(void *arg)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    request.message = "concurrent";
    request.sleep_ms = 50;
    SteepTest__EchoReply *reply = NULL;
    struct steep_rpc_status status;
    if (say(&request, &reply, 20000, &status) != 0)
        return (void *)1;
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    return NULL;
}

static void check_concurrency(void)
{
    pthread_t threads[100];
    int failed = 0;
    for (int i = 0; i < 100; i++)
        pthread_create(&threads[i], NULL, concurrent_caller, NULL);
    for (int i = 0; i < 100; i++) {
        void *result;
        pthread_join(threads[i], &result);
        failed += result != NULL;
    }
    CHECK("100 concurrent calls", failed == 0, "%d failed", failed);
}

int main(int argc, char **argv)
{
    steep_log_init("rpc-interop-client");
    struct steep_rpc_client_config config = {0};
    struct test_identity identity;
    const char *cert = NULL, *key = NULL;
    if (argc < 2)
        return 2;
    config.address = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ca"))
            config.tls.ca_file = argv[i + 1];
        else if (!strcmp(argv[i], "--server-name"))
            config.server_name = argv[i + 1];
        else if (!strcmp(argv[i], "--cert"))
            cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
    }
    if (cert && key) {
        if (test_identity_load(&identity, cert, key) < 0)
            return 2;
        config.tls.credentials = test_identity_credentials;
        config.tls.credentials_arg = &identity;
    }
    client = steep_rpc_client_new(&config);
    if (!client) {
        fprintf(stderr, "%s\n", steep_error_get());
        return 1;
    }
    check_simple("simple call");
    check_metadata();
    check_error();
    check_simple("call after error");
    check_unknown_method();
    check_simple("call after unknown method");
    check_deadline();
    check_simple("call after deadline");
    check_big_messages();
    check_simple("call after big messages");
    check_concurrency();
    steep_rpc_client_free(client);
    if (cert && key)
        test_identity_free(&identity);
    return failures ? 1 : 0;
}
