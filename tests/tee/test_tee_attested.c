/*
 * The service glue (lib/tee/attested.h) in one process: opening from
 * options and from the platform config file, server/client verification
 * hooks (names, refusals with reasons, the verdict cache), renewal, the
 * persistent sealing key, and refusing to start on bad auditor input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "tee/hw/backend.h"
#include "core/error.h"
#include "tee/attested.h"
#include "tee/keys.h"
#include "tee/ratls.h"
#include "tee_test_util.h"

static struct tee_fixture fixture;
static char info_path[400], sig_path[400], auditor_pub[400], auditor_key[400];

static int setup(void **state)
{
    tee_fixture_init(&fixture);
    tee_fixture_path(&fixture, "enclave_info.toml", info_path, sizeof(info_path));
    tee_fixture_path(&fixture, "auditor.sign.sha256", sig_path, sizeof(sig_path));
    tee_fixture_path(&fixture, "auditor.public.pem", auditor_pub, sizeof(auditor_pub));
    tee_fixture_path(&fixture, "auditor.private.pem", auditor_key, sizeof(auditor_key));
    EVP_PKEY *auditor = steep_tee_key_generate_rsa(2048);
    if (!auditor || steep_tee_key_write_private(auditor_key, auditor) < 0 ||
        steep_tee_key_write_public(auditor_pub, auditor) < 0)
        return -1;
    EVP_PKEY_free(auditor);
    /* This test executable is both services; a third name has another binary. */
    const char *names[] = {"teaclave_frontend_service", "teaclave_storage_service",
                           "teaclave_management_service"};
    const char *exes[] = {"/proc/self/exe", "/proc/self/exe", fixture.root_cert};
    struct steep_buf info = STEEP_BUF_INIT, sig = STEEP_BUF_INIT;
    int rc = steep_enclave_info_generate_entries(names, exes, 3, fixture.platform_pub, &info);
    if (rc == 0)
        rc = steep_write_file_atomic(info_path, info.data, info.len, 0644);
    if (rc == 0)
        rc = steep_enclave_info_sign(auditor_key, info.data, info.len, &sig);
    if (rc == 0)
        rc = steep_write_file_atomic(sig_path, sig.data, sig.len, 0644);
    steep_buf_free(&info);
    steep_buf_free(&sig);
    return rc;
}

static int teardown(void **state)
{
    tee_fixture_free(&fixture);
    return 0;
}

static const char *signatures[] = {sig_path};
static const char *auditors[] = {auditor_pub};

static struct steep_attested_options options(void)
{
    struct steep_attested_options o = {
        .service_name = "test",
        .authority_key = fixture.signing_key,
        .authority_cert = fixture.signing_cert,
        .platform_public_key = fixture.platform_pub,
        .master_key = fixture.master_key,
        .root_ca = fixture.root_cert,
        .enclave_info_path = info_path,
        .signature_paths = signatures,
        .n_signature_paths = 1,
        .auditor_public_keys = auditors,
        .n_auditor_public_keys = 1,
        .insecure_allow_simulation = true,
    };
    return o;
}

static X509 *current_cert(const struct steep_tls_config *tls)
{
    X509 *cert;
    EVP_PKEY *key;
    assert_int_equal(tls->credentials(tls->credentials_arg, &cert, &key), 0);
    EVP_PKEY_free(key);
    return cert;
}

static int verify(const struct steep_tls_config *tls, X509 *cert, char *name, char *reason)
{
    return tls->verify_peer(tls->verify_arg, cert, NULL, name, 64, reason, 512);
}

static void test_hooks_and_cache(void **state)
{
    struct steep_attested_options o = options();
    struct steep_attested *server = steep_attested_open(&o);
    struct steep_attested *client = steep_attested_open(&o);
    assert_non_null(server);
    assert_non_null(client);
    const char *inbound[] = {"teaclave_frontend_service"};
    struct steep_tls_config server_tls, client_tls, public_tls;
    assert_int_equal(steep_attested_server_tls(server, inbound, 1, &server_tls), 0);
    assert_true(server_tls.require_peer_cert);
    assert_int_equal(steep_attested_server_tls(server, NULL, 0, &public_tls), 0);
    assert_false(public_tls.require_peer_cert);
    assert_null(public_tls.verify_peer);
    assert_non_null(public_tls.credentials);
    assert_int_equal(steep_attested_client_tls(client, "teaclave_storage_service", &client_tls), 0);

    char name[64], reason[512];
    X509 *client_cert = current_cert(&client_tls);
    assert_int_equal(verify(&server_tls, client_cert, name, reason), 0);
    assert_string_equal(name, "teaclave_frontend_service");
    assert_int_equal(verify(&server_tls, client_cert, name, reason), 0);
    assert_string_equal(name, "teaclave_frontend_service");
    unsigned long hits, misses;
    steep_attested_verdict_cache_stats(server, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);

    /* A certificate that is not attested is refused, with the reason. */
    EVP_PKEY *key = steep_tee_key_generate_p256();
    struct steep_tee_evidence empty = {0};
    X509 *bogus = steep_ratls_build(key, &empty);
    assert_int_equal(verify(&server_tls, bogus, name, reason), -1);
    assert_non_null(
        strstr(reason, "peer attestation refused: RA-TLS extension: \"certs\" holds 0"));
    assert_int_equal(verify(&server_tls, bogus, name, reason), -1); /* refusals not cached */
    steep_attested_verdict_cache_stats(server, &hits, &misses);
    assert_int_equal(misses, 3);

    /* Renewal: a new certificate, which verifies too. */
    X509 *server_cert = current_cert(&server_tls);
    assert_int_equal(steep_attested_generation(server), 1);
    assert_int_equal(steep_attested_renew(server), 0);
    assert_int_equal(steep_attested_generation(server), 2);
    X509 *renewed = current_cert(&server_tls);
    assert_int_not_equal(X509_cmp(server_cert, renewed), 0);
    assert_int_equal(verify(&client_tls, renewed, name, reason), 0);
    assert_string_equal(name, "teaclave_storage_service");

    /* A client pinned to another service refuses this one. */
    struct steep_tls_config pinned;
    assert_int_equal(steep_attested_client_tls(client, "teaclave_management_service", &pinned), 0);
    assert_int_equal(verify(&pinned, renewed, name, reason), -1);
    assert_non_null(strstr(reason, "measurement not accepted"));
    assert_int_equal(steep_attested_client_tls(client, "teaclave_unknown_service", &pinned), -1);
    assert_non_null(strstr(steep_error_get(), "no entry for peer service 'teaclave_unknown"));

    /* The persistent sealing key: the same for every open, per label. */
    uint8_t k1[32], k2[32], k3[32];
    assert_int_equal(steep_attested_seal_key(server, "storage-db", k1), 0);
    assert_int_equal(steep_attested_seal_key(client, "storage-db", k2), 0);
    assert_int_equal(steep_attested_seal_key(client, "other", k3), 0);
    assert_memory_equal(k1, k2, 32);
    assert_memory_not_equal(k1, k3, 32);

    X509_free(client_cert);
    X509_free(bogus);
    X509_free(server_cert);
    X509_free(renewed);
    EVP_PKEY_free(key);
    steep_attested_free(server);
    steep_attested_free(client);
}

static void test_background_renewal(void **state)
{
    struct steep_attested_options o = options();
    o.evidence_validity = 1; /* renewed every 0.9 s */
    struct steep_attested *attested = steep_attested_open(&o);
    assert_non_null(attested);
    for (int i = 0; i < 50 && steep_attested_generation(attested) < 3; i++)
        usleep(100 * 1000);
    assert_true(steep_attested_generation(attested) >= 3);
    steep_attested_free(attested);
}

static void test_cache_expiry(void **state)
{
    struct steep_attested_options o = options();
    o.verdict_cache_ttl = 1;
    struct steep_attested *server = steep_attested_open(&o);
    o.verdict_cache_ttl = -1; /* no cache */
    struct steep_attested *client = steep_attested_open(&o);
    assert_non_null(server);
    assert_non_null(client);
    const char *inbound[] = {"teaclave_frontend_service"};
    struct steep_tls_config server_tls, client_tls;
    assert_int_equal(steep_attested_server_tls(server, inbound, 1, &server_tls), 0);
    assert_int_equal(steep_attested_client_tls(client, "teaclave_storage_service", &client_tls), 0);
    char name[64], reason[512];
    X509 *client_cert = current_cert(&client_tls), *server_cert = current_cert(&server_tls);
    assert_int_equal(verify(&server_tls, client_cert, name, reason), 0);
    assert_int_equal(verify(&server_tls, client_cert, name, reason), 0);
    sleep(2);
    assert_int_equal(verify(&server_tls, client_cert, name, reason), 0);
    unsigned long hits, misses;
    steep_attested_verdict_cache_stats(server, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 2); /* the expired entry was verified again */
    assert_int_equal(verify(&client_tls, server_cert, name, reason), 0);
    assert_int_equal(verify(&client_tls, server_cert, name, reason), 0);
    steep_attested_verdict_cache_stats(client, &hits, &misses);
    assert_int_equal(hits + misses, 0); /* cache off: no lookups at all */
    X509_free(client_cert);
    X509_free(server_cert);
    steep_attested_free(server);
    steep_attested_free(client);
}

static void test_refuses_to_start(void **state)
{
    struct steep_attested_options o = options();
    o.n_signature_paths = 0;
    assert_null(steep_attested_open(&o));
    assert_non_null(strstr(steep_error_get(), "no auditor signature"));

    o = options();
    const char *wrong_key[] = {fixture.root_cert}; /* an RSA key that did not sign */
    o.auditor_public_keys = wrong_key;
    assert_null(steep_attested_open(&o));
    assert_non_null(strstr(steep_error_get(), "does not verify under any auditor key"));

    o = options();
    o.root_ca = fixture.platform_pub;
    assert_null(steep_attested_open(&o));
    assert_non_null(strstr(steep_error_get(), "holds no certificate"));

    o = options();
    o.authority_key = fixture.master_key;
    assert_null(steep_attested_open(&o));
    assert_non_null(strstr(steep_error_get(), "not a PEM private key"));
}

static void test_open_from_config(void **state)
{
    char config_path[400], text[4096];
    tee_fixture_path(&fixture, "steep.toml", config_path, sizeof(config_path));
    snprintf(text, sizeof(text),
             "%s[audit]\nenclave_info = { path = \"enclave_info.toml\" }\n"
             "auditor_signatures = [ { path = \"auditor.sign.sha256\" } ]\n"
             "[attestation]\nalgorithm = \"sim\"\n[mount]\nfusion_base_dir = \"fusion\"\n"
             "[tee]\nbackend = \"sim\"\nallow_simulation = true\n"
             "as_root_ca_cert = \"authority/as_root_ca_cert.pem\"\n"
             "authority_key = \"authority/authority_signing.key.pem\"\n"
             "authority_cert = \"authority/authority_signing.cert.pem\"\n"
             "platform_public_key = \"platform.pub.pem\"\nmaster_key = \"master.key\"\n"
             "auditor_public_keys = [\"auditor.public.pem\"]\nevidence_validity = 600\n",
             tee_fixture_endpoints);
    assert_int_equal(steep_write_file_atomic(config_path, text, strlen(text), 0644), 0);
    struct steep_config *config = NULL;
    if (steep_config_load(config_path, &config) < 0)
        fail_msg("config: %s", steep_error_get());
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_storage_service");
    if (!attested)
        fail_msg("open_from_config: %s", steep_error_get());
    struct steep_tls_config tls;
    assert_int_equal(steep_attested_client_tls(attested, "teaclave_storage_service", &tls), 0);
    char name[64], reason[512];
    X509 *cert = current_cert(&tls);
    assert_int_equal(verify(&tls, cert, name, reason), 0);
    X509_free(cert);
    steep_attested_free(attested);
    steep_config_free(config);

    /* allow_simulation off: our own simulated evidence is refused. */
    char *p = strstr(text, "allow_simulation = true");
    memcpy(p, "allow_simulation =false", 23);
    assert_int_equal(steep_write_file_atomic(config_path, text, strlen(text), 0644), 0);
    assert_int_equal(steep_config_load(config_path, &config), 0);
    attested = steep_attested_open_from_config(config, "teaclave_storage_service");
    assert_non_null(attested);
    assert_int_equal(steep_attested_client_tls(attested, "teaclave_storage_service", &tls), 0);
    cert = current_cert(&tls);
    assert_int_equal(verify(&tls, cert, name, reason), -1);
    assert_non_null(strstr(reason, "simulated evidence refused"));
    X509_free(cert);
    steep_attested_free(attested);
    steep_config_free(config);

    /* [tee] backend = "tdx": the back-end opens at tsm_root; without an
     * attestation authority to endorse its evidence the service refuses to
     * start, naming the key, and never runs as sim. */
    p = strstr(text, "backend = \"sim\"");
    memcpy(p, "backend = \"tdx\"", 15);
    strcat(text, "tsm_root = \"tsm\"\n");
    assert_int_equal(steep_write_file_atomic(config_path, text, strlen(text), 0644), 0);
    assert_int_equal(steep_config_load(config_path, &config), 0);
    assert_null(steep_attested_open_from_config(config, "teaclave_storage_service"));
    assert_non_null(strstr(steep_error_get(), "authority_address"));
    steep_config_free(config);
    /* with one, the evidence is asked of the configured configfs-tsm root */
    strcat(text, "authority_address = \"127.0.0.1:1\"\n");
    assert_int_equal(steep_write_file_atomic(config_path, text, strlen(text), 0644), 0);
    assert_int_equal(steep_config_load(config_path, &config), 0);
    assert_null(steep_attested_open_from_config(config, "teaclave_storage_service"));
    assert_non_null(strstr(steep_error_get(), "/tsm/steep-"));
    struct steep_tee *tee = steep_tee_open_hw_from_config(config);
    assert_non_null(tee);
    assert_string_equal(steep_tee_backend_name(tee), "tdx");
    uint8_t report_data[64] = {0};
    struct steep_tee_evidence evidence;
    assert_int_equal(steep_tee_evidence(tee, report_data, &evidence), -1);
    assert_non_null(strstr(steep_error_get(), "/tsm/steep-")); /* under the configured root */
    steep_tee_free(tee);
    steep_config_free(config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_and_cache),  cmocka_unit_test(test_background_renewal),
        cmocka_unit_test(test_cache_expiry),     cmocka_unit_test(test_refuses_to_start),
        cmocka_unit_test(test_open_from_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
