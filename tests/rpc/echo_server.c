/*
 * rpc-echo-server: the Echo service on our server, for the interop tests
 * and the benchmark. Prints "PORT <n>" once listening; stops gracefully when
 * stdin closes or on SIGTERM/SIGINT.
 *
 *   rpc-echo-server --cert F --key F [--listen host:port] [--require-client-cert]
 *                   [--allow CN]... [--max-message N] [--workers N] [--inline]
 *                   [--max-buffered N] [--max-connection-buffered N]
 *                   [--receive-timeout-ms N] [--idle-timeout-ms N]
 *                   [--handshake-timeout-ms N] [--max-connections N]
 *                   [--max-connections-per-source N] [--max-unsent N]
 *                   [--max-connection-unsent N] [--send-timeout-ms N]
 *
 * --inline registers Say with steep_rpc_server_add_inline (handler on the
 * event loop; for the benchmark, never with sleep_ms).
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "support.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number)
{
    stop_requested = 1;
}

int main(int argc, char **argv)
{
    steep_log_init("rpc-echo-server");
    const char *cert = NULL, *key = NULL;
    struct test_verifier verifier = {0};
    int allowed = 0;
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "echo"};
    bool on_loop = false;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--cert") && value)
            cert = argv[++i];
        else if (!strcmp(argv[i], "--key") && value)
            key = argv[++i];
        else if (!strcmp(argv[i], "--listen") && value)
            config.listen = argv[++i];
        else if (!strcmp(argv[i], "--require-client-cert"))
            config.tls.require_peer_cert = true;
        else if (!strcmp(argv[i], "--allow") && value && allowed < 7)
            verifier.names[allowed++] = argv[++i];
        else if (!strcmp(argv[i], "--max-message") && value)
            config.max_message = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--workers") && value)
            config.workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-buffered") && value)
            config.max_buffered = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-connection-buffered") && value)
            config.max_connection_buffered = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--receive-timeout-ms") && value)
            config.receive_timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--idle-timeout-ms") && value)
            config.idle_timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--handshake-timeout-ms") && value)
            config.handshake_timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-connections") && value)
            config.max_connections = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-connections-per-source") && value)
            config.max_connections_per_source = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-unsent") && value)
            config.max_unsent = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-connection-unsent") && value)
            config.max_connection_unsent = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--send-timeout-ms") && value)
            config.send_timeout_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--inline"))
            on_loop = true;
        else {
            fprintf(stderr, "rpc-echo-server: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    struct test_identity identity;
    if (!cert || !key || test_identity_load(&identity, cert, key) < 0) {
        fprintf(stderr, "rpc-echo-server: cannot load --cert/--key\n");
        return 2;
    }
    config.tls.credentials = test_identity_credentials;
    config.tls.credentials_arg = &identity;
    if (allowed) {
        config.tls.verify_peer = test_verifier_check;
        config.tls.verify_arg = &verifier;
    }
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    if (!server ||
        (on_loop ? steep_rpc_server_add_inline : steep_rpc_server_add)(
            server, ECHO_SAY, &steep_test__echo_request__descriptor, test_echo_say, NULL) < 0 ||
        steep_rpc_server_start(server) < 0) {
        fprintf(stderr, "rpc-echo-server: %s\n", steep_error_get());
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("PORT %d\n", steep_rpc_server_port(server));
    fflush(stdout);
    while (!stop_requested) {
        struct pollfd input = {.fd = 0, .events = POLLIN};
        if (poll(&input, 1, 200) > 0) {
            char buffer[64];
            if (read(0, buffer, sizeof(buffer)) <= 0)
                break;
        }
    }
    steep_rpc_server_stop(server, 2000);
    steep_rpc_server_free(server);
    test_identity_free(&identity);
    return 0;
}
