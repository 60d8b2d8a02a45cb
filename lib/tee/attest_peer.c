/*
 * steep_tee_attest_peer(): what `steep-tee attest` and `steep attest` run.
 * It completes a TLS handshake (ALPN h2) without judging the certificate,
 * then verifies the RA-TLS certificate against every service listed in
 * enclave_info, so it can print what the peer claims even when refusing it.
 */
#include "tee/attested.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/error.h"
#include "tee/keys.h"

static int split_host_port(const char *host_port, char *host, size_t host_len, char *port,
                           size_t port_len)
{
    const char *colon = strrchr(host_port, ':');
    ENSURE(colon && colon[1], "'%s' is not HOST:PORT", host_port);
    const char *start = host_port, *end = colon;
    if (*start == '[' && end > start && end[-1] == ']') {
        start++;
        end--;
    }
    ENSURE((size_t)(end - start) < host_len && strlen(colon + 1) < port_len, "'%s' is too long",
           host_port);
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    snprintf(port, port_len, "%s", colon + 1);
    return 0;
}

static int connect_with_timeout(const char *host, const char *port, int timeout_ms)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list = NULL;
    int rc = getaddrinfo(host, port, &hints, &list);
    ENSURE(rc == 0, "cannot resolve %s: %s", host, gai_strerror(rc));
    int fd = -1;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof(err);
        if (errno == EINPROGRESS && poll(&pfd, 1, timeout_ms) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            break;
        steep_error_set("cannot connect to %s:%s: %s", host, port,
                        strerror(err     ? err
                                 : errno ? errno
                                         : ETIMEDOUT));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int accept_any(int preverify, X509_STORE_CTX *ctx)
{
    return 1; /* judged after the handshake, by the attestation verifier */
}

static X509 *fetch_peer_cert(const char *host_port, int timeout_ms,
                             struct steep_tee_attest_result *result)
{
    char host[256], port[16];
    if (split_host_port(host_port, host, sizeof(host), port, sizeof(port)) < 0)
        return NULL;
    int fd = connect_with_timeout(host, port, timeout_ms);
    if (fd < 0)
        return NULL;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    static const unsigned char alpn[] = "\x02h2";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    X509 *peer = NULL;
    if (ssl && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, accept_any);
        SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) == 1) {
            peer = SSL_get1_peer_certificate(ssl);
            const unsigned char *chosen = NULL;
            unsigned chosen_len = 0;
            SSL_get0_alpn_selected(ssl, &chosen, &chosen_len);
            snprintf(result->alpn, sizeof(result->alpn), "%.*s", (int)chosen_len,
                     chosen_len ? (const char *)chosen : "");
            snprintf(result->tls_version, sizeof(result->tls_version), "%s", SSL_get_version(ssl));
            SSL_shutdown(ssl);
            if (!peer)
                steep_error_set("%s presented no certificate", host_port);
        } else {
            steep_error_set("TLS handshake with %s failed", host_port);
        }
    } else {
        steep_error_set("cannot set up TLS");
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return peer;
}

static int load_policy_inputs(const struct steep_tee_attest_options *options, X509_STORE **roots,
                              struct steep_enclave_info *info)
{
    struct steep_buf file = STEEP_BUF_INIT;
    ENSURE(options->root_ca && options->enclave_info, "a root certificate and enclave_info are "
                                                      "required");
    if (!(*roots = steep_tee_roots_load(options->root_ca)))
        return -1;
    int rc = steep_read_file(options->enclave_info, 1 << 20, &file);
    if (rc == 0)
        rc = steep_enclave_info_parse(options->enclave_info, file.data, file.len, info);
    steep_buf_free(&file);
    return rc;
}

static void name_measurement(const struct steep_enclave_info *info,
                             struct steep_tee_attest_result *result)
{
    for (size_t i = 0; i < info->count && result->verdict.have_quote && !result->known_as[0]; i++)
        if (memcmp(info->attrs[i].mr_enclave, result->verdict.mr_enclave, 32) == 0 &&
            memcmp(info->attrs[i].mr_signer, result->verdict.mr_signer, 32) == 0)
            snprintf(result->known_as, sizeof(result->known_as), "%s", info->attrs[i].name);
}

int steep_tee_attest_peer(const char *host_port, const struct steep_tee_attest_options *options,
                          struct steep_tee_attest_result *result)
{
    memset(result, 0, sizeof(*result));
    X509_STORE *roots = NULL;
    struct steep_enclave_info info = {0};
    if (load_policy_inputs(options, &roots, &info) < 0) {
        X509_STORE_free(roots);
        return -1;
    }
    X509 *peer =
        fetch_peer_cert(host_port, options->timeout_ms > 0 ? options->timeout_ms : 5000, result);
    int rc = peer ? 0 : -1;
    if (peer) {
        struct steep_tee_policy policy = {
            .roots = roots,
            .max_report_age = options->max_report_age,
            .accepted = info.attrs,
            .n_accepted = info.count,
            .insecure_allow_simulated_evidence = options->insecure_allow_simulation,
        };
        result->accepted = steep_tee_verify_cert(peer, &policy, &result->verdict) == 0;
        if (!result->accepted)
            snprintf(result->reason, sizeof(result->reason), "%s", steep_error_get());
        result->have_evidence = result->verdict.have_report;
        name_measurement(&info, result);
        X509_free(peer);
    }
    steep_enclave_info_free(&info);
    X509_STORE_free(roots);
    return rc;
}

void steep_tee_attest_print(FILE *out, const char *host_port,
                            const struct steep_tee_attest_result *result)
{
    const struct steep_tee_verdict *verdict = &result->verdict;
    fprintf(out, "peer:        %s (%s, ALPN %s)\n", host_port, result->tls_version,
            result->alpn[0] ? result->alpn : "none");
    if (result->have_evidence) {
        char enclave[65] = "-", signer[65] = "-";
        if (verdict->have_quote) {
            steep_hex_encode(verdict->mr_enclave, 32, enclave);
            steep_hex_encode(verdict->mr_signer, 32, signer);
        }
        fprintf(out, "service:     %s\n",
                result->known_as[0] ? result->known_as : "(not in enclave_info)");
        fprintf(out, "mr_enclave:  %s\nmr_signer:   %s\n", enclave, signer);
        fprintf(out, "status:      %s\n", verdict->status);
        fprintf(out, "report age:  %lld s\n", (long long)(time(NULL) - verdict->report_time));
        fprintf(out, "evidence:    %s\n",
                verdict->simulated ? "SIMULATED (sim back-end: proves nothing about hardware)"
                                   : "hardware attestation report");
    }
    if (result->accepted)
        fprintf(out, "verdict:     ACCEPTED as %s%s\n", verdict->name,
                verdict->simulated ? " (SIMULATED evidence)" : "");
    else
        fprintf(out, "verdict:     REFUSED: %s\n", result->reason);
}
