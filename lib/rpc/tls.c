/*
 * TLS contexts for both ends of a gRPC connection.
 *
 * One policy: TLS 1.3, or TLS 1.2 with ECDHE and an AEAD (AES-GCM or
 * CHACHA20-POLY1305) - what rustls and Python's SSL clients offer. ALPN "h2"
 * is required. Our certificate comes from the credentials callback at each
 * handshake (SSL_CTX_set_cert_cb), so renewed credentials apply to new
 * connections at once. The peer's chain goes to the verify hook, which
 * replaces OpenSSL's chain verification; its verdict (peer name or refusal
 * reason) is kept on the SSL object for the connection.
 */
#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "rpc/internal.h"

#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static const unsigned char alpn_h2[] = {2, 'h', '2'};

static int peer_index = -1;
static int config_index = -1;
static pthread_once_t indexes_once = PTHREAD_ONCE_INIT;

static void indexes_init(void)
{
    peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    config_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void steep_rpc_tls_attach(SSL *ssl, struct steep_rpc_tls_peer *peer)
{
    pthread_once(&indexes_once, indexes_init);
    SSL_set_ex_data(ssl, peer_index, peer);
}

static struct steep_rpc_tls_peer *peer_of(SSL *ssl)
{
    return ssl ? SSL_get_ex_data(ssl, peer_index) : NULL;
}

static int credentials_callback(SSL *ssl, void *arg)
{
    const struct steep_tls_config *config = arg;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (config->credentials(config->credentials_arg, &cert, &key) < 0 || !cert || !key) {
        log_error("TLS: the credentials callback gave no certificate: %s", steep_error_get());
        X509_free(cert);
        EVP_PKEY_free(key);
        return 0;
    }
    int ok = SSL_use_certificate(ssl, cert) == 1 && SSL_use_PrivateKey(ssl, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok)
        log_error("TLS: the credentials callback gave an unusable certificate or key");
    return ok;
}

static int verify_callback(X509_STORE_CTX *store, void *arg)
{
    const struct steep_tls_config *config = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct steep_rpc_tls_peer *peer = peer_of(ssl);
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(store);
    char name[STEEP_RPC_NAME_MAX] = "";
    char reason[STEEP_RPC_NAME_MAX] = "refused by the verify hook";
    if (!config->verify_peer) {
        /* A server that requires a certificate but has no way to judge it. */
        return 1;
    }
    if (config->verify_peer(config->verify_arg, leaf, chain, name, sizeof(name), reason,
                            sizeof(reason)) == 0) {
        if (peer)
            snprintf(peer->name, sizeof(peer->name), "%s", name);
        return 1;
    }
    reason[sizeof(reason) - 1] = '\0';
    log_warn("TLS: peer certificate refused: %s", reason);
    if (peer)
        snprintf(peer->refusal, sizeof(peer->refusal), "%s", reason);
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned int in_len, void *arg)
{
    unsigned char *selected;
    if (SSL_select_next_proto(&selected, out_len, alpn_h2, sizeof(alpn_h2), in, in_len) !=
        OPENSSL_NPN_NEGOTIATED) {
        log_warn("TLS: refusing a peer that does not offer ALPN h2");
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

bool steep_rpc_tls_alpn_ok(SSL *ssl)
{
    const unsigned char *protocol = NULL;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &protocol, &length);
    return length == 2 && memcmp(protocol, "h2", 2) == 0;
}

static int set_policy(SSL_CTX *ctx)
{
    ENSURE(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, "TLS: cannot set min version");
    ENSURE(SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) == 1, "TLS: cannot set TLS 1.2 ciphers");
    ENSURE(SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") == 1, "TLS: cannot set groups");
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return 0;
}

static int set_verification(SSL_CTX *ctx, const struct steep_tls_config *config, bool server)
{
    int mode = SSL_VERIFY_NONE;
    if (config->verify_peer) {
        mode = SSL_VERIFY_PEER;
        SSL_CTX_set_cert_verify_callback(ctx, verify_callback, (void *)config);
    } else if (config->ca_file) {
        mode = SSL_VERIFY_PEER;
        ENSURE(SSL_CTX_load_verify_locations(ctx, config->ca_file, NULL) == 1,
               "TLS: cannot load CA file %s", config->ca_file);
    } else if (server && config->require_peer_cert) {
        mode = SSL_VERIFY_PEER;
        SSL_CTX_set_cert_verify_callback(ctx, verify_callback, (void *)config);
    }
    if (server && config->require_peer_cert)
        mode |= SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return 0;
}

/* config must outlive the context (it is the server's or client's copy). */
SSL_CTX *steep_rpc_tls_context(const struct steep_tls_config *config, bool server)
{
    pthread_once(&indexes_once, indexes_init);
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        steep_error_set("TLS: cannot create a context");
        return NULL;
    }
    if (set_policy(ctx) < 0 || set_verification(ctx, config, server) < 0)
        goto fail;
    if (server && !config->credentials) {
        steep_error_set("TLS: a server needs a credentials callback");
        goto fail;
    }
    if (config->credentials)
        SSL_CTX_set_cert_cb(ctx, credentials_callback, (void *)config);
    if (server) {
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
    } else if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
        steep_error_set("TLS: cannot set ALPN");
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void steep_rpc_tls_describe_error(SSL *ssl, const struct steep_rpc_tls_peer *peer, char *out,
                                  size_t out_len)
{
    if (peer && peer->refusal[0]) {
        snprintf(out, out_len, "peer certificate refused: %s", peer->refusal);
        ERR_clear_error();
        return;
    }
    unsigned long error = ERR_get_error();
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK) {
        snprintf(out, out_len, "certificate verification failed: %s",
                 X509_verify_cert_error_string(verify));
    } else if (error) {
        char text[256];
        ERR_error_string_n(error, text, sizeof(text));
        snprintf(out, out_len, "%s", text);
    } else {
        snprintf(out, out_len, "connection closed during the TLS handshake");
    }
    ERR_clear_error();
}
