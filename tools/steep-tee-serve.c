/*
 * A tiny one-way RA-TLS server for trying `steep-tee attest` and for tests:
 * one connection at a time, handshake with ALPN h2, then close. It is not
 * how services serve (they use lib/rpc with lib/tee/attested.h).
 */
#include "steep-tee-serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "core/error.h"
#include "tee/ratls.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    stopping = 1;
}

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h2[] = "\x02h2";
    return SSL_select_next_proto((unsigned char **)out, outlen, h2, 3, in, inlen) ==
                   OPENSSL_NPN_NEGOTIATED
               ? SSL_TLSEXT_ERR_OK
               : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int bind_listen(const char *listen_address)
{
    char host[256];
    const char *colon = strrchr(listen_address, ':');
    ENSURE(colon && (size_t)(colon - listen_address) < sizeof(host), "bad --listen '%s'",
           listen_address);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_address), listen_address);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    ENSURE(getaddrinfo(host, colon + 1, &hints, &ai) == 0, "cannot resolve %s", listen_address);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int ok = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0;
    freeaddrinfo(ai);
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return steep_error_set("cannot listen on %s: %s", listen_address, strerror(errno));
    }
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    return ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                            : ((struct sockaddr_in *)&addr)->sin_port);
}

static int install_cert(SSL_CTX *ctx, struct steep_tee *tee)
{
    X509 *cert;
    EVP_PKEY *key;
    GUARD(steep_ratls_create(tee, &cert, &key));
    int ok = SSL_CTX_use_certificate(ctx, cert) && SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    ENSURE(ok, "cannot install the RA-TLS certificate");
    return 0;
}

int steep_tee_serve(struct steep_tee *tee, const char *listen_address, int validity)
{
    if (validity <= 0)
        validity = 3600;
    int fd = bind_listen(listen_address);
    if (fd < 0)
        return -1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc = ctx ? install_cert(ctx, tee) : steep_error_set("cannot set up TLS");
    time_t issued = time(NULL);
    if (rc == 0) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
        printf("listening on port %d (SIMULATED evidence)\n", port_of(fd));
        fflush(stdout);
    }
    while (rc == 0 && !stopping) {
        int client = accept(fd, NULL, NULL);
        if (client < 0)
            continue; /* EINTR on a stop signal */
        if (time(NULL) - issued >= validity && install_cert(ctx, tee) == 0)
            issued = time(NULL);
        struct timeval tv = {5, 0};
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        SSL *ssl = SSL_new(ctx);
        if (ssl && SSL_set_fd(ssl, client) && SSL_accept(ssl) == 1)
            SSL_shutdown(ssl);
        SSL_free(ssl);
        close(client);
    }
    SSL_CTX_free(ctx);
    close(fd);
    return rc;
}
