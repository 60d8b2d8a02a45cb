/*
 * The attestation authority's two calls, per call over TLS on loopback
 * (one kept connection, so no handshake per call), against the
 * verification they are built on, in the same run and the same loop:
 *   - verification only: steep_hw_verify of a TDX quote (collateral
 *     cached) or an SEV-SNP report (its VCEK chain from the certificate
 *     table, as the authority takes it), what every call does first;
 *   - Endorse: verification, policy, an IAS-v4 report signed with the
 *     authority's RSA-2048 key, the RPC;
 *   - ReleaseKey: verification, policy with the pinned MRTD, HKDF, the
 *     ECDH P-256 + AES-256-GCM wrap, the RPC, and the service's unwrap.
 * The evidence is tests/tee/hw_synth.h's (the real TDX and Milan vectors
 * with a fresh ephemeral key as report data, signed through test-made
 * chains that this test build's authority pins): real evidence binds a
 * fixed report data and no key could be released to it. Wall-clock p50/p99 per call, and each
 * call's p50 as a multiple of the verification's p50.
 *
 *   bench_attest_broker [CALLS]   (default 400 of each; fixtures from
 *                                  $STEEP_SHARED_DIR, default ../shared)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "authority_service.h"
#include "core/error.h"
#include "core/log.h"
#include "hw_synth.h"
#include "hw_test_util.h"
#include "rpc/rpc.h"
#include "steep_attestation.pb-c.h"
#include "tee/hw/broker.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"
#include "tee_test_util.h"

#define VECTOR     "tdx_v4_dcapqvl"
#define SNP_VECTOR "snp_milan_virtee"

static void die(const char *what)
{
    fprintf(stderr, "bench_attest_broker: %s: %s\n", what, steep_error_get());
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *samples, size_t n, double p)
{
    qsort(samples, n, sizeof(*samples), by_value);
    size_t i = (size_t)((double)n * p);
    return samples[i < n ? i : n - 1];
}

struct bench {
    struct steep_rpc_client *client;
    const uint8_t *quote;
    size_t quote_len;
    const uint8_t *aux; /* SNP: the certificate table */
    size_t aux_len;
    EVP_PKEY *ephemeral; /* the key the quote's report data names */
    struct steep_hw_collateral collateral;
    time_t now;
};

static void endorse_once(struct bench *b)
{
    SteepAttestationProto__EndorseRequest request = STEEP_ATTESTATION_PROTO__ENDORSE_REQUEST__INIT;
    request.evidence = (ProtobufCBinaryData){b->quote_len, (uint8_t *)b->quote};
    request.evidence_aux = (ProtobufCBinaryData){b->aux_len, (uint8_t *)b->aux};
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(b->client, STEEP_AA_ENDORSE_PATH, &request.base,
                       &steep_attestation_proto__endorse_response__descriptor, &response, NULL, 0,
                       10000, &status) < 0) {
        steep_error_set("%s", status.message);
        die("Endorse");
    }
    protobuf_c_message_free_unpacked(response, NULL);
}

static void release_once(struct bench *b)
{
    SteepAttestationProto__ReleaseKeyRequest request =
        STEEP_ATTESTATION_PROTO__RELEASE_KEY_REQUEST__INIT;
    request.evidence = (ProtobufCBinaryData){b->quote_len, (uint8_t *)b->quote};
    request.evidence_aux = (ProtobufCBinaryData){b->aux_len, (uint8_t *)b->aux};
    request.label = "storage-db";
    request.policy = STEEP_TEE_SEAL_SIGNER;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(b->client, STEEP_AA_RELEASE_KEY_PATH, &request.base,
                       &steep_attestation_proto__release_key_response__descriptor, &response, NULL,
                       0, 10000, &status) < 0) {
        steep_error_set("%s", status.message);
        die("ReleaseKey");
    }
    const SteepAttestationProto__ReleaseKeyResponse *reply = (const void *)response;
    uint8_t key[STEEP_TEE_SEAL_KEY_LEN];
    if (reply->ephemeral_public.len != 64 || reply->nonce.len != STEEP_BROKER_NONCE_LEN ||
        reply->wrapped.len != STEEP_BROKER_WRAPPED_LEN ||
        steep_broker_unwrap(b->ephemeral, "storage-db", reply->ephemeral_public.data,
                            reply->nonce.data, reply->wrapped.data, key) < 0)
        die("unwrap");
    OPENSSL_cleanse(key, sizeof(key));
    protobuf_c_message_free_unpacked(response, NULL);
}

/* calls of each, interleaved so that all three see the same load */
static void run(struct bench *b, const struct steep_hw_collateral *collateral,
                const struct steep_hw_trust *trust, long calls, const char *what)
{
    struct steep_hw_report r;
    if (steep_hw_verify(b->quote, b->quote_len, collateral, trust, b->now, &r) < 0)
        die(what);
    double *verify = calloc((size_t)calls, sizeof(double));
    double *endorse = calloc((size_t)calls, sizeof(double));
    double *release = calloc((size_t)calls, sizeof(double));
    if (!verify || !endorse || !release)
        die("out of memory");
    for (int i = 0; i < 20; i++) { /* warm-up: connection, memo, caches */
        endorse_once(b);
        release_once(b);
    }
    for (long i = 0; i < calls; i++) { /* interleaved: the same load for all three */
        double t0 = now_us();
        if (steep_hw_verify(b->quote, b->quote_len, collateral, trust, b->now, &r) < 0)
            die("verify");
        double t1 = now_us();
        endorse_once(b);
        double t2 = now_us();
        release_once(b);
        double t3 = now_us();
        verify[i] = t1 - t0;
        endorse[i] = t2 - t1;
        release[i] = t3 - t2;
    }
    size_t n = (size_t)calls;
    double v50 = percentile(verify, n, 0.5), v99 = percentile(verify, n, 0.99);
    double e50 = percentile(endorse, n, 0.5), e99 = percentile(endorse, n, 0.99);
    double k50 = percentile(release, n, 0.5), k99 = percentile(release, n, 0.99);
    printf("%s: %ld calls each (%s), wall clock per call\n", what, calls,
           steep_hw_tcb_status_name(r.status));
    printf("verification only (steep_hw_verify)       p50 %8.1f us  p99 %8.1f us  (reference)\n",
           v50, v99);
    printf("Endorse    (TLS RPC, RSA-2048 report)       p50 %8.1f us  p99 %8.1f us  %5.1fx the "
           "verification (p50)\n",
           e50, e99, e50 / v50);
    printf("ReleaseKey (TLS RPC, wrap + client unwrap)  p50 %8.1f us  p99 %8.1f us  %5.1fx the "
           "verification (p50)\n",
           k50, k99, k50 / v50);
    free(verify);
    free(endorse);
    free(release);
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 400;
    if (calls < 10)
        calls = 400;
    steep_log_init("bench_attest_broker");
    steep_log_set_level(STEEP_LOG_WARN); /* one line per call otherwise */
    struct tee_fixture fixture;
    tee_fixture_init(&fixture);
    struct hw_synth synth;
    hw_synth_init(&synth, VECTOR);
    char collateral[400], master[400];
    tee_fixture_path(&fixture, "collateral", collateral, sizeof(collateral));
    tee_fixture_path(&fixture, "broker.key", master, sizeof(master));
    if (mkdir(collateral, 0700) < 0 || steep_tee_master_key_create(master) < 0)
        die("set-up");
    hw_synth_write_collateral(&synth, collateral);

    struct bench b = {.now = synth.now};
    uint8_t xy[64];
    b.ephemeral = steep_tee_key_generate_p256();
    if (!b.ephemeral || steep_tee_key_p256_xy(b.ephemeral, xy) < 0)
        die("ephemeral key");
    uint8_t *quote = hw_synth_quote(&synth, xy, NULL, &b.quote_len);
    b.quote = quote;
    struct hw_synth_snp snp;
    hw_synth_snp_init(&snp, SNP_VECTOR);
    hw_synth_snp_write_ask_ark(&snp, collateral);
    size_t snp_len, snp_table_len;
    uint8_t *snp_report = hw_synth_snp_report(&snp, xy, NULL, &snp_len);
    uint8_t *snp_table = hw_synth_snp_cert_table(&snp, &snp_table_len);
    static struct steep_tee_enclave_attr pinned;
    snprintf(pinned.name, sizeof(pinned.name), "teaclave_storage_service");
    pinned.no_sgx_pair = true;
    pinned.hw.have_mr_td = true;
    memcpy(pinned.hw.mr_td, quote + hw_synth_mr_td_offset(quote, b.quote_len), 48);
    pinned.hw.have_snp_measurement = true;
    memcpy(pinned.hw.snp_measurement, snp_report + 0x90, 48);
    struct steep_aa_options options = {
        .signing_key = fixture.signing_key,
        .signing_cert = fixture.signing_cert,
        .collateral_dir = collateral,
        .insecure_verification_time = synth.now,
        .broker_master_key = master,
        .services = &pinned,
        .n_services = 1,
        .insecure_test_trust = {.intel_root_spki_sha256 = synth.root_pin,
                                .amd_ark_spki_sha256 = snp.ark_pin},
    };
    struct steep_aa *aa = steep_aa_open(&options);
    if (!aa)
        die("authority");
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "authority"};
    steep_aa_server_tls(aa, &config.tls);
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    if (!server || steep_aa_register(server, aa) < 0 || steep_rpc_server_start(server) < 0)
        die("server");
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", steep_rpc_server_port(server));
    struct steep_rpc_client_config client = {.address = address,
                                             .tls = {.ca_file = fixture.root_cert}};
    if (!(b.client = steep_rpc_client_new(&client)))
        die("client");
    if (steep_hw_collateral_load_dir(collateral, &b.collateral) < 0)
        die("collateral");
    struct steep_hw_trust trust = {.intel_root_spki_sha256 = synth.root_pin};
    struct steep_hw_report r;
    if (steep_hw_verify(b.quote, b.quote_len, &b.collateral, &trust, b.now, &r) < 0)
        die("the synthetic quote");

    run(&b, &b.collateral, &trust, calls, "TDX v4 quote");
    /* SEV-SNP: the VCEK and chain as the authority builds them per request */
    struct steep_hw_collateral snp_collateral = {.vcek = snp.vcek, .ask_ark = snp.ask_ark};
    struct steep_hw_trust snp_trust = {.amd_ark_spki_sha256 = snp.ark_pin};
    b.quote = snp_report;
    b.quote_len = snp_len;
    b.aux = snp_table;
    b.aux_len = snp_table_len;
    run(&b, &snp_collateral, &snp_trust, calls, "SEV-SNP report");
    free(snp_report);
    free(snp_table);
    hw_synth_snp_free(&snp);
    steep_hw_collateral_free(&b.collateral);
    steep_rpc_client_free(b.client);
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
    steep_aa_free(aa);
    EVP_PKEY_free(b.ephemeral);
    free(quote);
    hw_synth_free(&synth);
    tee_fixture_free(&fixture);
    return 0;
}
