/*
 * The key broker's positive path end to end (issue 16, item 5): a real
 * steep-attestation-authority process (its steep.toml, enclave_info signed
 * by an auditor, a broker master key, collateral from a directory) and a
 * TDX service starting the way services start (steep_attested_open_from_config
 * with [tee] backend = "tdx" over a fake configfs-tsm tree).
 *
 * Real quotes bind a fixed report data, not a fresh key, so the fake
 * kernel answers with hw_synth.h quotes: the real TDX vector with the
 * report data written, signed through a test-made chain whose root this
 * test build of the authority pins (insecure_test_intel_root_pin, read only
 * with STEEP_TEST_PAYLOADS). Then:
 *   - the service's certificate carries the authority's IAS-v4 report
 *     (Endorse), which Steep's verifier accepts for the certificate's key;
 *   - its sealing key comes from ReleaseKey, wrapped to an ephemeral P-256
 *     key named in fresh evidence; data sealed with it;
 *   - the service and the authority restart: the key is released again
 *     (to another ephemeral key), is the same, and the data unseals;
 *   - a guest with another MRTD is endorsed (measurements are the relying
 *     parties' to pin) but gets no key: PERMISSION_DENIED naming its MRTD;
 *   - an authority without the test pin refuses the same evidence as
 *     rooted in a look-alike of Intel's root;
 *   - the same for an SEV-SNP guest ([tee] backend = "snp"; its VCEK in the
 *     certificate table of configfs-tsm's auxblob, the test ARK pinned by
 *     insecure_test_amd_ark_pin): endorsed, key released, service
 *     restarted, same key, data unsealed; another measurement denied,
 *     naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "fake_tsm.h"
#include "hw_synth.h"
#include "hw_test_util.h"
#include "tee/attested.h"
#include "tee/enclave_info.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"
#include "tee/ratls.h"
#include "tee_test_util.h"

#define VECTOR     "tdx_v4_dcapqvl"
#define SNP_VECTOR "snp_milan_virtee"
#define SERVICE    "teaclave_storage_service"

static struct {
    struct tee_fixture fixture;
    struct hw_synth synth;
    struct hw_synth_snp snp;
    const char *backend; /* of the service's config */
    char config[400], log[400];
    pid_t authority;
    int port;
} w;

/* The platform's steep.toml: the authority's part, and the service's when
 * the authority's port is known (tsm_root: the fake tree). with_pin: the
 * test root pinned. */
static void write_config(const char *tsm_root, bool with_pin)
{
    char pin[65], amd_pin[65], when[32], text[8192];
    steep_hex_encode(w.synth.root_pin, 32, pin);
    steep_hex_encode(w.snp.ark_pin, 32, amd_pin);
    steep_hw_format_time(w.synth.now, when);
    int n = snprintf(
        text, sizeof(text),
        "%s[audit]\nenclave_info = { path = \"enclave_info.toml\" }\n"
        "auditor_signatures = [ { path = \"auditor.sign.sha256\" } ]\n"
        "[attestation]\nalgorithm = \"sim\"\n"
        "[tee]\nas_root_ca_cert = \"%s\"\nauthority_key = \"%s\"\nauthority_cert = \"%s\"\n"
        "auditor_public_keys = [\"auditor.public.pem\"]\ncollateral_dir = \"collateral\"\n"
        "max_report_age = 3000000000\n",
        tee_fixture_endpoints, w.fixture.root_cert, w.fixture.signing_key, w.fixture.signing_cert);
    if (tsm_root)
        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "backend = \"%s\"\ntsm_root = \"%s\"\n"
                      "authority_address = \"localhost:%d\"\n",
                      w.backend, tsm_root, w.port);
    n += snprintf(text + n, sizeof(text) - (size_t)n,
                  "[attestation_authority]\nlisten_address = \"127.0.0.1:0\"\n"
                  "insecure_verification_time = \"%s\"\nbroker_master_key = \"broker.key\"\n",
                  when);
    if (with_pin)
        snprintf(text + n, sizeof(text) - (size_t)n,
                 "insecure_test_intel_root_pin = \"%s\"\ninsecure_test_amd_ark_pin = \"%s\"\n", pin,
                 amd_pin);
    assert_int_equal(steep_write_file_atomic(w.config, text, strlen(text), 0644), 0);
}

/* Starts steep-attestation-authority on the config; its port from its log. */
static void authority_start(void)
{
    int fd = open(w.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execl(STEEP_AA_BINARY, STEEP_AA_BINARY, "--config", w.config, (char *)NULL);
        _exit(127);
    }
    close(fd);
    w.authority = pid;
    w.port = 0;
    for (int i = 0; i < 200 && w.port == 0; i++) {
        size_t len;
        char *text = (char *)tee_read_all(w.log, &len);
        char *at = memmem(text, len, "(port ", 6);
        if (at && memchr(at, ')', len - (size_t)(at - text)))
            w.port = atoi(at + 6);
        int status;
        if (w.port == 0 && waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("the authority exited: %.*s", (int)len, text);
        free(text);
        if (w.port == 0)
            usleep(50 * 1000);
    }
    assert_true(w.port > 0);
}

static void authority_stop(void)
{
    kill(w.authority, SIGTERM);
    int status;
    assert_int_equal(waitpid(w.authority, &status, 0), w.authority);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool log_has(const char *words)
{
    size_t len;
    char *text = (char *)tee_read_all(w.log, &len);
    bool found = memmem(text, len, words, strlen(words)) != NULL;
    free(text);
    return found;
}

static void write_enclave_info(const uint8_t mr_td[48], const uint8_t snp_measurement[48])
{
    char key[400], pub[400], info_path[400], sig_path[400], hex[97], snp_hex[97], text[512];
    tee_fixture_path(&w.fixture, "auditor.private.pem", key, sizeof(key));
    tee_fixture_path(&w.fixture, "auditor.public.pem", pub, sizeof(pub));
    tee_fixture_path(&w.fixture, "enclave_info.toml", info_path, sizeof(info_path));
    tee_fixture_path(&w.fixture, "auditor.sign.sha256", sig_path, sizeof(sig_path));
    EVP_PKEY *auditor = steep_tee_key_generate_rsa(2048);
    assert_non_null(auditor);
    assert_int_equal(steep_tee_key_write_private(key, auditor), 0);
    assert_int_equal(steep_tee_key_write_public(pub, auditor), 0);
    EVP_PKEY_free(auditor);
    steep_hex_encode(mr_td, 48, hex);
    steep_hex_encode(snp_measurement, 48, snp_hex);
    snprintf(text, sizeof(text), "[%s]\ntdx_mrtd = \"%s\"\nsnp_measurement = \"%s\"\n", SERVICE,
             hex, snp_hex);
    assert_int_equal(steep_write_file_atomic(info_path, text, strlen(text), 0644), 0);
    struct steep_buf sig = STEEP_BUF_INIT;
    assert_int_equal(steep_enclave_info_sign(key, text, strlen(text), &sig), 0);
    assert_int_equal(steep_write_file_atomic(sig_path, sig.data, sig.len, 0644), 0);
    steep_buf_free(&sig);
}

static int setup(void **state)
{
    (void)state;
    tee_fixture_init(&w.fixture);
    hw_synth_init(&w.synth, VECTOR);
    hw_synth_snp_init(&w.snp, SNP_VECTOR);
    w.backend = "tdx";
    char dir[400];
    tee_fixture_path(&w.fixture, "collateral", dir, sizeof(dir));
    assert_int_equal(mkdir(dir, 0700), 0);
    hw_synth_write_collateral(&w.synth, dir);
    hw_synth_snp_write_ask_ark(&w.snp, dir);
    tee_fixture_path(&w.fixture, "broker.key", dir, sizeof(dir));
    assert_int_equal(steep_tee_master_key_create(dir), 0);
    size_t len;
    uint8_t *real = hw_evidence(VECTOR, &len);
    uint8_t *snp = hw_evidence(SNP_VECTOR, &len);
    write_enclave_info(real + hw_synth_mr_td_offset(real, len), snp + 0x90);
    free(real);
    free(snp);
    tee_fixture_path(&w.fixture, "steep.toml", w.config, sizeof(w.config));
    tee_fixture_path(&w.fixture, "authority.log", w.log, sizeof(w.log));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hw_synth_free(&w.synth);
    hw_synth_snp_free(&w.snp);
    tee_fixture_free(&w.fixture);
    return 0;
}

/* The fake kernel's answer: a synthetic quote for the report data written. */
struct guest {
    const struct hw_synth *synth;
    const struct hw_synth_snp *snp; /* set: an SEV-SNP guest */
    const uint8_t *measurement;     /* MRTD / SNP measurement; NULL: the pinned one */
    int quotes;
    uint8_t *table; /* SNP: the certificate table handed out as auxblob */
};

static uint8_t *make_quote(void *arg, const uint8_t report_data[64], size_t *len)
{
    struct guest *g = arg;
    __atomic_add_fetch(&g->quotes, 1, __ATOMIC_SEQ_CST);
    if (g->snp)
        return hw_synth_snp_report(g->snp, report_data, g->measurement, len);
    return hw_synth_quote(g->synth, report_data, g->measurement, len);
}

static void fake_guest_start(struct fake *f, struct guest *g)
{
    char name[64];
    snprintf(name, sizeof(name), "steep-%ld", (long)getpid());
    if (g->snp) {
        fake_tsm_start(f, name, "sev_guest", SNP_VECTOR, 0x50);
        g->table = hw_synth_snp_cert_table(g->snp, &f->aux_len);
        f->aux = g->table;
    } else
        fake_tsm_start(f, name, "tdx_guest", VECTOR, 568);
    f->make = make_quote;
    f->make_arg = g;
}

static void fake_guest_stop(struct fake *f, struct guest *g)
{
    fake_stop(f);
    free(g->table);
}

static struct steep_attested *service_start(const char *tsm_root)
{
    write_config(tsm_root, true);
    struct steep_config *config = NULL;
    if (steep_config_load(w.config, &config) < 0)
        fail_msg("config: %s", steep_error_get());
    struct steep_attested *attested = steep_attested_open_from_config(config, SERVICE);
    if (!attested)
        fail_msg("the TDX service did not start: %s", steep_error_get());
    steep_config_free(config);
    return attested;
}

/* The service's certificate carries the authority's report for its key. */
static void expect_endorsed_cert(struct steep_attested *attested)
{
    struct steep_tls_config tls;
    assert_int_equal(steep_attested_server_tls(attested, NULL, 0, &tls), 0);
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    assert_int_equal(tls.credentials(tls.credentials_arg, &cert, &key), 0);
    struct steep_tee_identity identity;
    assert_int_equal(steep_tee_measure(steep_attested_tee(attested), &identity), 0);
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&w.fixture, &policy, &attr, SERVICE, &identity);
    policy.insecure_allow_simulated_evidence = false;
    policy.max_report_age = time(NULL) - w.synth.now + 3600; /* dated at the fixed instant */
    struct steep_tee_verdict verdict;
    if (steep_tee_verify_cert(cert, &policy, &verdict) != 0)
        fail_msg("the service's certificate: %s", steep_error_get());
    assert_string_equal(verdict.name, SERVICE);
    assert_string_equal(verdict.status, "OK");
    assert_false(verdict.simulated);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void test_release_seal_restart_unseal(void **state)
{
    (void)state;
    struct guest g = {.synth = &w.synth};
    struct fake f;
    fake_guest_start(&f, &g);
    write_config(NULL, true);
    authority_start();
    assert_true(log_has("TEST roots of trust pinned instead of Intel's SGX Root CA"));

    struct steep_attested *attested = service_start(f.root);
    assert_true(__atomic_load_n(&g.quotes, __ATOMIC_SEQ_CST) >= 1);
    expect_endorsed_cert(attested); /* measuring takes a quote too */
    int before = __atomic_load_n(&g.quotes, __ATOMIC_SEQ_CST);
    uint8_t key1[32], key2[32], ephemeral1[64];
    if (steep_attested_seal_key(attested, "storage-db", key1) != 0)
        fail_msg("no key released: %s", steep_error_get());
    /* fresh evidence for the release */
    assert_int_equal(__atomic_load_n(&g.quotes, __ATOMIC_SEQ_CST), before + 1);
    memcpy(ephemeral1, f.last_in, 64);
    EVP_PKEY *probe = steep_hw_p256_key(ephemeral1); /* its report data: a P-256 key */
    assert_non_null(probe);
    EVP_PKEY_free(probe);
    assert_true(log_has("key broker: key 'storage-db' released to " SERVICE " (tdx evidence)"));
    static const char secret[] = "rows of the storage service";
    struct steep_buf blob = STEEP_BUF_INIT, opened = STEEP_BUF_INIT;
    assert_int_equal(steep_tee_seal(steep_attested_tee(attested), STEEP_TEE_SEAL_SIGNER,
                                    "storage-db", secret, sizeof(secret), &blob),
                     0);
    steep_attested_free(attested);

    /* both restart; the key is released again, to another ephemeral key */
    authority_stop();
    authority_start();
    attested = service_start(f.root);
    if (steep_attested_seal_key(attested, "storage-db", key2) != 0)
        fail_msg("no key released after the restart: %s", steep_error_get());
    assert_memory_not_equal(f.last_in, ephemeral1, 64);
    assert_memory_equal(key1, key2, 32);
    if (steep_tee_unseal(steep_attested_tee(attested), "storage-db", blob.data, blob.len,
                         &opened) != 0)
        fail_msg("unseal after the restart: %s", steep_error_get());
    assert_int_equal(opened.len, sizeof(secret));
    assert_memory_equal(opened.data, secret, sizeof(secret));
    /* another label, another key */
    assert_int_equal(steep_attested_seal_key(attested, "storage-index", key2), 0);
    assert_memory_not_equal(key1, key2, 32);
    steep_attested_free(attested);
    steep_buf_free(&blob);
    steep_buf_free(&opened);
    authority_stop();
    fake_guest_stop(&f, &g);
}

static void test_other_measurement_denied(void **state)
{
    (void)state;
    uint8_t mr_td[48];
    char hex[97], want[200];
    memset(mr_td, 0x5a, sizeof(mr_td));
    steep_hex_encode(mr_td, 48, hex);
    struct guest g = {.synth = &w.synth, .measurement = mr_td};
    struct fake f;
    fake_guest_start(&f, &g);
    write_config(NULL, true);
    authority_start();
    /* endorsed: authentic, and relying parties pin measurements */
    struct steep_attested *attested = service_start(f.root);
    uint8_t key[32];
    assert_int_equal(steep_attested_seal_key(attested, "storage-db", key), -1);
    const char *error = steep_error_get();
    snprintf(want, sizeof(want), "measurement not accepted: MRTD %s", hex);
    if (!strstr(error, "PERMISSION_DENIED") || !strstr(error, want))
        fail_msg("expected PERMISSION_DENIED naming MRTD %s, got: %s", hex, error);
    steep_attested_free(attested);
    authority_stop();
    fake_guest_stop(&f, &g);
}

static void test_real_roots_refuse(void **state)
{
    (void)state;
    struct guest g = {.synth = &w.synth};
    struct fake f;
    fake_guest_start(&f, &g);
    write_config(NULL, false);
    authority_start();
    assert_false(log_has("TEST roots of trust"));
    write_config(f.root, false);
    struct steep_config *config = NULL;
    assert_int_equal(steep_config_load(w.config, &config), 0);
    struct steep_attested *attested = steep_attested_open_from_config(config, SERVICE);
    const char *error = steep_error_get();
    if (attested || !strstr(error, "PERMISSION_DENIED") ||
        !strstr(error, "the root 'Intel SGX Root CA' is not the pinned root of trust"))
        fail_msg("expected the look-alike root refused, got: %s", attested ? "started" : error);
    steep_config_free(config);
    authority_stop();
    fake_guest_stop(&f, &g);
}

/* An SEV-SNP guest: the same path, its VCEK from its certificate table. */
static void test_snp(void **state)
{
    (void)state;
    w.backend = "snp";
    struct guest g = {.snp = &w.snp};
    struct fake f;
    fake_guest_start(&f, &g);
    write_config(NULL, true);
    authority_start();
    assert_true(
        log_has("TEST roots of trust pinned instead of Intel's SGX Root CA and AMD's ARKs"));
    struct steep_attested *attested = service_start(f.root);
    expect_endorsed_cert(attested);
    uint8_t key1[32], key2[32], ephemeral1[64];
    if (steep_attested_seal_key(attested, "storage-db", key1) != 0)
        fail_msg("no key released to the SNP guest: %s", steep_error_get());
    memcpy(ephemeral1, f.last_in, 64);
    assert_true(log_has("key broker: key 'storage-db' released to " SERVICE " (snp evidence)"));
    struct steep_buf blob = STEEP_BUF_INIT, opened = STEEP_BUF_INIT;
    assert_int_equal(steep_tee_seal(steep_attested_tee(attested), STEEP_TEE_SEAL_MEASUREMENT,
                                    "storage-db", "snp rows", 8, &blob),
                     0);
    steep_attested_free(attested);
    attested = service_start(f.root); /* the service restarts */
    assert_int_equal(steep_attested_seal_key(attested, "storage-db", key2), 0);
    assert_memory_not_equal(f.last_in, ephemeral1, 64);
    assert_memory_equal(key1, key2, 32);
    if (steep_tee_unseal(steep_attested_tee(attested), "storage-db", blob.data, blob.len,
                         &opened) != 0)
        fail_msg("unseal after the restart: %s", steep_error_get());
    assert_int_equal(opened.len, 8);
    assert_memory_equal(opened.data, "snp rows", 8);
    steep_attested_free(attested);
    steep_buf_free(&blob);
    steep_buf_free(&opened);
    fake_guest_stop(&f, &g);

    /* another measurement: endorsed, but no key */
    uint8_t other[48];
    char hex[97], want[200];
    memset(other, 0x77, sizeof(other));
    steep_hex_encode(other, 48, hex);
    struct guest bad = {.snp = &w.snp, .measurement = other};
    fake_guest_start(&f, &bad);
    attested = service_start(f.root);
    assert_int_equal(steep_attested_seal_key(attested, "storage-db", key2), -1);
    snprintf(want, sizeof(want), "measurement not accepted: SNP MEASUREMENT %s", hex);
    if (!strstr(steep_error_get(), "PERMISSION_DENIED") || !strstr(steep_error_get(), want))
        fail_msg("expected PERMISSION_DENIED naming %s, got: %s", hex, steep_error_get());
    steep_attested_free(attested);
    fake_guest_stop(&f, &bad);
    authority_stop();
    w.backend = "tdx";
}

/* A pin that is no SHA-256 stops the authority at start, naming the key. */
static void test_bad_pin(void **state)
{
    (void)state;
    write_config(NULL, false);
    char command[1200];
    snprintf(command, sizeof(command),
             "echo 'insecure_test_intel_root_pin = \"00ff\"' >> '%s' && '%s' --config '%s' "
             ">'%s' 2>&1",
             w.config, STEEP_AA_BINARY, w.config, w.log);
    int status = system(command);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_true(log_has("attestation_authority.insecure_test_intel_root_pin must be 64 hex "
                        "digits"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_seal_restart_unseal),
        cmocka_unit_test(test_other_measurement_denied),
        cmocka_unit_test(test_real_roots_refuse),
        cmocka_unit_test(test_snp),
        cmocka_unit_test(test_bad_pin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
