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
 *                   [--max-workers N] [--max-queued N] [--park]
 *
 * --inline registers Say with steep_rpc_server_add_inline (handler on the
 * event loop; for the benchmark, never with sleep_ms).
 * --park: a Say with sleep_ms is held (steep_rpc_call_hold) instead of
 * sleeping on its worker, and a timer thread resumes it when due (or at
 * once when cancelled): a long poll that occupies no worker.
 * On exit prints "STATS handled=N dropped_cancelled=N refused_busy=N
 * started_cancel_me=N", the last counting handlers started for calls whose
 * message is "cancel-me" (rpc-attack cancel: they must never start).
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"
#include "support.h"

static volatile sig_atomic_t stop_requested;
static atomic_int started_cancel_me;

/* ---- --park: held calls and the timer that resumes them ---- */

struct parked {
    struct parked *next;
    struct steep_rpc_call *call;
    int64_t due_ms;
    char message[64];
};

static pthread_mutex_t parked_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_changed = PTHREAD_COND_INITIALIZER;
static struct parked *parked_calls;
static bool timer_stopping;

static void answer_parked(struct steep_rpc_call *call, void *arg)
{
    struct parked *parked = arg;
    if (steep_rpc_call_cancelled(call)) {
        steep_rpc_fail(call, STEEP_GRPC_CANCELLED, "cancelled while held");
    } else {
        SteepTest__EchoReply reply = STEEP_TEST__ECHO_REPLY__INIT;
        reply.message = parked->message;
        steep_rpc_reply(call, &reply.base);
    }
    free(parked);
}

/* Resumes the held calls that are due or cancelled, every 20 ms. */
static void *timer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&parked_lock);
    while (!timer_stopping || parked_calls) {
        int64_t now = steep_rpc_now_ms();
        for (struct parked **link = &parked_calls; *link;) {
            struct parked *parked = *link;
            if (parked->due_ms <= now || steep_rpc_call_cancelled(parked->call)) {
                *link = parked->next;
                steep_rpc_call_resume(parked->call, answer_parked, parked);
            } else {
                link = &parked->next;
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&parked_changed, &parked_lock, &until);
    }
    pthread_mutex_unlock(&parked_lock);
    return NULL;
}

static void say(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const SteepTest__EchoRequest *request = (const SteepTest__EchoRequest *)message;
    bool park = arg != NULL;
    if (request->message && strcmp(request->message, "cancel-me") == 0)
        atomic_fetch_add(&started_cancel_me, 1);
    if (!park || request->sleep_ms <= 0) {
        test_echo_say(call, message, NULL);
        return;
    }
    struct parked *parked = calloc(1, sizeof(*parked));
    if (!parked) {
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    parked->call = call;
    parked->due_ms = steep_rpc_now_ms() + request->sleep_ms;
    snprintf(parked->message, sizeof(parked->message), "%s", request->message);
    steep_rpc_call_hold(call);
    pthread_mutex_lock(&parked_lock);
    parked->next = parked_calls;
    parked_calls = parked;
    pthread_mutex_unlock(&parked_lock);
}

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
    bool on_loop = false, park = false;
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
        else if (!strcmp(argv[i], "--max-workers") && value)
            config.max_workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-queued") && value)
            config.max_queued = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--park"))
            park = true;
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
        (on_loop ? steep_rpc_server_add_inline
                 : steep_rpc_server_add)(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                         say, park ? &park : NULL) < 0 ||
        steep_rpc_server_start(server) < 0) {
        fprintf(stderr, "rpc-echo-server: %s\n", steep_error_get());
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    pthread_t timer_thread;
    if (park && pthread_create(&timer_thread, NULL, timer, NULL) != 0) {
        fprintf(stderr, "rpc-echo-server: cannot start the timer\n");
        return 1;
    }
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
    struct steep_rpc_server_stats stats;
    steep_rpc_server_stats(server, &stats);
    if (park) { /* the held calls are resumed (cancelled by the stop) before the free */
        pthread_mutex_lock(&parked_lock);
        timer_stopping = true;
        pthread_cond_signal(&parked_changed);
        pthread_mutex_unlock(&parked_lock);
    }
    steep_rpc_server_free(server);
    if (park)
        pthread_join(timer_thread, NULL);
    printf("STATS handled=%llu dropped_cancelled=%llu refused_busy=%llu started_cancel_me=%d\n",
           (unsigned long long)stats.handled, (unsigned long long)stats.dropped_cancelled,
           (unsigned long long)stats.refused_busy, atomic_load(&started_cancel_me));
    fflush(stdout);
    test_identity_free(&identity);
    return 0;
}
