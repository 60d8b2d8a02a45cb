/*
 * Attested TLS handshake benchmark.
 *
 * Full mutually attested TLS 1.3 handshakes (RA-TLS certificates from the
 * sim back-end, lib/tee/attested.h credentials and verify hooks wired into
 * OpenSSL exactly as lib/rpc does: a certificate callback per handshake and
 * a custom chain verifier) against plain OpenSSL TLS 1.3 mutual handshakes
 * with ordinary self-signed P-256 certificates, in the same process and
 * run, over in-memory BIO pairs. Prints handshakes per second, the ratio,
 * evidence generation time and uncached verification time.
 *
 *   bench_attest [SECONDS]   (default 3 per measurement)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "tee/attested.h"
#include "tee/authority.h"
#include "tee/enclave_info.h"
#include "tee/keys.h"
#include "tee/ratls.h"

/* CPU time of this process: the handshakes run on one thread, and CPU time
 * is not distorted by other load on the machine. */
static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_attest: %s: %s\n", what, steep_error_get());
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---- the lib/rpc way of using a steep_tls_config ---------------------- */

static int credentials_cb(SSL *ssl, void *arg)
{
    const struct steep_tls_config *config = arg;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    if (config->credentials(config->credentials_arg, &cert, &key) < 0)
        return 0;
    int ok = SSL_use_certificate(ssl, cert) == 1 && SSL_use_PrivateKey(ssl, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

static int verify_cb(X509_STORE_CTX *store, void *arg)
{
    const struct steep_tls_config *config = arg;
    char name[256], reason[256];
    if (config->verify_peer(config->verify_arg, X509_STORE_CTX_get0_cert(store),
                            X509_STORE_CTX_get0_untrusted(store), name, sizeof(name), reason,
                            sizeof(reason)) == 0)
        return 1;
    fprintf(stderr, "refused: %s\n", reason);
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

static SSL_CTX *attested_ctx(const struct steep_tls_config *config, bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_cert_cb(ctx, credentials_cb, (void *)config);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cb, (void *)config);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

/* ---- plain OpenSSL reference ------------------------------------------ */

static X509 *self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_set_pubkey(cert, key);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:TRUE");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(cert, key, EVP_sha256());
    return cert;
}

static SSL_CTX *plain_ctx(X509 *own, EVP_PKEY *key, X509 *peer, bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_use_certificate(ctx, own);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), peer);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

/* ---- one handshake over a BIO pair ------------------------------------ */

static int handshake(SSL_CTX *client_ctx, SSL_CTX *server_ctx)
{
    SSL *client = SSL_new(client_ctx), *server = SSL_new(server_ctx);
    BIO *client_bio, *server_bio;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    int client_done = 0, server_done = 0, rounds = 0;
    while ((!client_done || !server_done) && rounds++ < 100) {
        if (!client_done) {
            int rc = SSL_do_handshake(client);
            if (rc == 1)
                client_done = 1;
            else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ)
                break;
        }
        if (!server_done) {
            int rc = SSL_do_handshake(server);
            if (rc == 1)
                server_done = 1;
            else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ)
                break;
        }
    }
    /* TLS 1.3: the client finishes first; let the server read its Finished. */
    int ok = client_done && server_done && SSL_get_verify_result(client) == X509_V_OK &&
             SSL_get_verify_result(server) == X509_V_OK && SSL_get0_peer_certificate(server);
    SSL_free(client);
    SSL_free(server);
    return ok ? 0 : -1;
}

struct tally {
    long count;
    double seconds;
};

static void run_slice(SSL_CTX *client, SSL_CTX *server, double seconds, struct tally *tally)
{
    double start = now_seconds(), elapsed;
    do {
        if (handshake(client, server) < 0)
            die("handshake");
        tally->count++;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    tally->seconds += elapsed;
}

/* ---- platform set-up in a temporary directory ------------------------- */

static char dir[] = "/tmp/steep-bench-attest-XXXXXX";
static char paths[8][512];

static const char *path(int i, const char *name)
{
    snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, name);
    return paths[i];
}

static void make_platform(void)
{
    if (!mkdtemp(dir))
        die("mkdtemp");
    if (steep_authority_init(path(0, "authority")) < 0)
        die("authority");
    EVP_PKEY *platform = steep_tee_key_generate_p256();
    EVP_PKEY *auditor = steep_tee_key_generate_rsa(2048);
    if (steep_tee_key_write_public(path(1, "platform.pub.pem"), platform) < 0 ||
        steep_tee_key_write_private(path(2, "auditor.private.pem"), auditor) < 0 ||
        steep_tee_key_write_public(path(3, "auditor.public.pem"), auditor) < 0 ||
        steep_tee_master_key_create(path(4, "master.key")) < 0)
        die("keys");
    EVP_PKEY_free(platform);
    EVP_PKEY_free(auditor);
    /* Both ends are this executable: two names, one measurement. */
    const char *names[] = {"teaclave_frontend_service", "teaclave_storage_service"};
    const char *exes[] = {"/proc/self/exe", "/proc/self/exe"};
    struct steep_buf info = STEEP_BUF_INIT, sig = STEEP_BUF_INIT;
    if (steep_enclave_info_generate_entries(names, exes, 2, paths[1], &info) < 0 ||
        steep_write_file_atomic(path(5, "enclave_info.toml"), info.data, info.len, 0644) < 0 ||
        steep_enclave_info_sign(paths[2], info.data, info.len, &sig) < 0 ||
        steep_write_file_atomic(path(6, "auditor.sign.sha256"), sig.data, sig.len, 0644) < 0)
        die("enclave_info");
    steep_buf_free(&info);
    steep_buf_free(&sig);
}

static struct steep_attested *open_identity(const char *name)
{
    char key[600], cert[600], root[600];
    snprintf(key, sizeof(key), "%s/authority/%s", dir, STEEP_AUTHORITY_SIGNING_KEY);
    snprintf(cert, sizeof(cert), "%s/authority/%s", dir, STEEP_AUTHORITY_SIGNING_CERT);
    snprintf(root, sizeof(root), "%s/authority/%s", dir, STEEP_AUTHORITY_ROOT_CERT);
    const char *sigs[] = {paths[6]}, *auditors[] = {paths[3]};
    struct steep_attested_options options = {
        .service_name = name,
        .authority_key = key,
        .authority_cert = cert,
        .platform_public_key = paths[1],
        .master_key = paths[4],
        .root_ca = root,
        .enclave_info_path = paths[5],
        .signature_paths = sigs,
        .n_signature_paths = 1,
        .auditor_public_keys = auditors,
        .n_auditor_public_keys = 1,
        .insecure_allow_simulation = true,
    };
    struct steep_attested *attested = steep_attested_open(&options);
    if (!attested)
        die("attested open");
    return attested;
}

static void remove_platform(void)
{
    char command[600];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "bench_attest: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    make_platform();
    struct steep_attested *server_id = open_identity("teaclave_storage_service");
    struct steep_attested *client_id = open_identity("teaclave_frontend_service");

    /* Evidence generation: key + quote + simulated report + certificate. */
    int n = 50;
    double start = now_seconds();
    for (int i = 0; i < n; i++)
        if (steep_attested_renew(server_id) < 0)
            die("renew");
    double evidence_ms = (now_seconds() - start) * 1000 / n;

    const char *inbound[] = {"teaclave_frontend_service"};
    struct steep_tls_config server_tls, client_tls;
    if (steep_attested_server_tls(server_id, inbound, 1, &server_tls) < 0 ||
        steep_attested_client_tls(client_id, "teaclave_storage_service", &client_tls) < 0)
        die("tls config");

    /* Uncached verification of one RA-TLS certificate. */
    X509 *cert;
    EVP_PKEY *key;
    if (server_tls.credentials(server_tls.credentials_arg, &cert, &key) < 0)
        die("credentials");
    char root[600];
    snprintf(root, sizeof(root), "%s/authority/%s", dir, STEEP_AUTHORITY_ROOT_CERT);
    X509_STORE *roots = steep_tee_roots_load(root);
    struct steep_tee_identity identity;
    steep_tee_measure(steep_attested_tee(server_id), &identity);
    struct steep_tee_enclave_attr attr = {.name = "teaclave_storage_service"};
    memcpy(attr.mr_enclave, identity.mr_enclave, 32);
    memcpy(attr.mr_signer, identity.mr_signer, 32);
    struct steep_tee_policy policy = {.roots = roots,
                                      .accepted = &attr,
                                      .n_accepted = 1,
                                      .insecure_allow_simulated_evidence = true};
    struct steep_tee_verdict verdict;
    start = now_seconds();
    for (int i = 0; i < n; i++)
        if (steep_tee_verify_cert(cert, &policy, &verdict) < 0)
            die("verify");
    double verify_ms = (now_seconds() - start) * 1000 / n;
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_STORE_free(roots);

    SSL_CTX *attested_server = attested_ctx(&server_tls, true);
    SSL_CTX *attested_client = attested_ctx(&client_tls, false);
    EVP_PKEY *server_key = steep_tee_key_generate_p256(),
             *client_key = steep_tee_key_generate_p256();
    X509 *server_cert = self_signed(server_key, "server"),
         *client_cert = self_signed(client_key, "client");
    SSL_CTX *plain_server = plain_ctx(server_cert, server_key, client_cert, true);
    SSL_CTX *plain_client = plain_ctx(client_cert, client_key, server_cert, false);

    /* Warm up (fills the verdict caches), then alternate short slices so
     * both kinds see the same machine conditions. */
    struct tally plain_tally = {0}, attested_tally = {0}, warm = {0};
    run_slice(attested_client, attested_server, 0.05, &warm);
    run_slice(plain_client, plain_server, 0.05, &warm);
    for (int slice = 0; slice < 10; slice++) {
        run_slice(plain_client, plain_server, seconds / 10, &plain_tally);
        run_slice(attested_client, attested_server, seconds / 10, &attested_tally);
    }
    double reference = (double)plain_tally.count / plain_tally.seconds;
    double attested = (double)attested_tally.count / attested_tally.seconds;

    printf("evidence generation (P-256 key, quote, SIMULATED report, RA-TLS cert): %.2f ms\n",
           evidence_ms);
    printf("RA-TLS certificate verification, uncached: %.3f ms\n", verify_ms);
    printf("plain OpenSSL TLS 1.3 mutual handshakes (P-256):      %.0f /s of CPU\n", reference);
    printf("mutually attested TLS 1.3 handshakes (cached verdicts): %.0f /s of CPU\n", attested);
    unsigned long hits, misses, client_hits, client_misses;
    steep_attested_verdict_cache_stats(server_id, &hits, &misses);
    steep_attested_verdict_cache_stats(client_id, &client_hits, &client_misses);
    printf("verdict cache: %lu hits, %lu full verifications\n", hits + client_hits,
           misses + client_misses);
    printf("ratio attested/plain: %.2f (budget >= 0.50)\n", attested / reference);

    SSL_CTX_free(attested_server);
    SSL_CTX_free(attested_client);
    SSL_CTX_free(plain_server);
    SSL_CTX_free(plain_client);
    X509_free(server_cert);
    X509_free(client_cert);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
    steep_attested_free(server_id);
    steep_attested_free(client_id);
    remove_platform();
    return 0;
}
