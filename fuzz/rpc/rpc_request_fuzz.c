/*
 * Fuzzes the server's request path: the input is the client side of one
 * HTTP/2 connection (preface, frames) in cleartext, fed in chunks into the
 * same nghttp2 session + gRPC request handling the server runs over TLS.
 * Handlers run inline and answer according to the request, so responses,
 * metadata, errors and deadlines are exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "rpc/internal.h"
#include "echo.pb-c.h"

#define ECHO_SAY "/steep_test.Echo/Say"

static int no_credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    return -1;
}

static void fuzz_say(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const SteepTest__EchoRequest *request = (const SteepTest__EchoRequest *)message;
    steep_rpc_call_metadata(call, "id");
    if (request->echo_metadata[0] && steep_rpc_call_metadata(call, request->echo_metadata))
        steep_rpc_call_add_metadata(call, "x-echo",
                                    steep_rpc_call_metadata(call, request->echo_metadata));
    if (request->error_code) {
        steep_rpc_fail(call, request->error_code, "%s", request->error_message);
        return;
    }
    if (request->sleep_ms == 1) /* returns without answering: INTERNAL */
        return;
    SteepTest__EchoReply reply = STEEP_TEST__ECHO_REPLY__INIT;
    reply.message = request->message;
    reply.remaining_ms = steep_rpc_call_remaining_ms(call);
    steep_rpc_reply(call, &reply.base);
}

static struct steep_rpc_server *server;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    steep_log_set_level(STEEP_LOG_ERROR);
    struct steep_rpc_server_config config = {
        .tls = {.credentials = no_credentials}, .max_message = 4096, .name = "fuzz"};
    server = steep_rpc_server_new(&config);
    if (!server || steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                        fuzz_say, NULL) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steep_rpc_conn *conn = steep_rpc_memory_conn_new(server);
    if (!conn)
        return 0;
    /* The first byte chooses the chunk size, so frame boundaries vary. */
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    for (size_t offset = size ? 1 : 0; offset < size; offset += chunk) {
        size_t length = size - offset < chunk ? size - offset : chunk;
        if (steep_rpc_memory_conn_feed(conn, data + offset, length) < 0)
            break;
    }
    steep_rpc_memory_conn_free(conn);
    return 0;
}
