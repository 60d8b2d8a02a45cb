/*
 * The attestation authority end to end (issue 16, item 4), at the
 * fixtures' pinned instant 2025-07-01T00:00:00Z:
 *  - the authority (services/attestation_authority) serves Endorse over
 *    TLS on loopback with Intel collateral from a PCCS-compatible test
 *    server and AMD collateral from a directory;
 *  - the tdx and snp back-ends, over a fake configfs-tsm tree that hands out
 *    the real quote / report, get their evidence endorsed through the
 *    endorsed back-end (the path a service takes at start and on renewal),
 *    and Steep's IAS-report verifier accepts the answer with the expected
 *    status, the authority's chain and the evidence's report data;
 *  - the real SGX quote is endorsed with its two advisories listed;
 *  - a mutated quote, a non-quote, an empty request, SNP evidence without
 *    its certificate table (configfs-tsm auxblob, where the guest's VCEK
 *    comes from), a malformed table and another chip's VCEK are each
 *    refused with their own reason;
 *  - an RA-TLS certificate built from that evidence carries the raw quote
 *    in Steep's extension; a verifier holding collateral checks the raw
 *    evidence itself (authentic, accepted status, then refused only at the
 *    key binding, since the real quote binds another key), and a duplicated
 *    extension is refused;
 *  - the key broker: an authentic, pinned TDX quote is refused only because
 *    its report data names no key to wrap to; an altered quote, an empty
 *    label and a measurement enclave_info does not pin are refused with
 *    their reasons; a TDX back-end's seal_key goes to the broker with fresh
 *    evidence for an ephemeral P-256 key; SGX keeps Gramine's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "authority_service.h"
#include "core/error.h"
#include "fake_tsm.h"
#include "hw_test_util.h"
#include "pccs_process.h"
#include "rpc/rpc.h"
#include "steep_attestation.pb-c.h"
#include "tee/hw/backend.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"
#include "tee/ratls.h"
#include "tee_test_util.h"

struct world {
    struct tee_fixture fixture;
    struct pccs_process pccs;
    struct steep_aa *aa;
    struct steep_rpc_server *server;
    char address[64];
    struct steep_rpc_client *client;
};

static struct world w;

static int setup(void **state)
{
    (void)state;
    tee_fixture_init(&w.fixture);
    static const char *const intel[] = {"sgx_v3_dcapqvl", "tdx_v4_dcapqvl", NULL};
    pccs_start(&w.pccs, intel);
    /* AMD: only the ASK/ARK; each guest's VCEK comes in its certificate table */
    char amd[512], chain[512], command[1200];
    tee_fixture_path(&w.fixture, "amd", amd, sizeof(amd));
    snprintf(command, sizeof(command), "mkdir '%s' && cp '%s' '%s'/", amd,
             hw_fixture("snp_milan_virtee/ask_ark_milan.pem", chain, sizeof(chain)), amd);
    assert_int_equal(system(command), 0);
    struct steep_pccs_options pccs = {.url = w.pccs.url};
    static const enum steep_hw_tcb_status statuses[] = {
        STEEP_HW_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED};
    static const char *const advisories[] = {"INTEL-SA-00289", "INTEL-SA-00615"};
    /* the key broker: a master key, and the TDX vector's MRTD pinned */
    char master[512];
    tee_fixture_path(&w.fixture, "broker.key", master, sizeof(master));
    assert_int_equal(steep_tee_master_key_create(master), 0);
    static struct steep_tee_enclave_attr pinned;
    memset(&pinned, 0, sizeof(pinned));
    snprintf(pinned.name, sizeof(pinned.name), "teaclave_storage_service");
    pinned.no_sgx_pair = true;
    pinned.hw.have_mr_td = true;
    size_t tdx_len;
    uint8_t *tdx = hw_evidence("tdx_v4_dcapqvl", &tdx_len);
    memcpy(pinned.hw.mr_td, tdx + 184, 48);
    free(tdx);
    struct steep_aa_options options = {
        .signing_key = w.fixture.signing_key,
        .signing_cert = w.fixture.signing_cert,
        .collateral_dir = amd,
        .pccs = &pccs,
        .accepted_statuses = statuses,
        .n_accepted_statuses = 1,
        .accepted_advisories = advisories,
        .n_accepted_advisories = 2,
        .insecure_verification_time = hw_pinned("tdx_v4_dcapqvl"),
        .broker_master_key = master,
        .services = &pinned,
        .n_services = 1,
    };
    w.aa = steep_aa_open(&options);
    if (!w.aa)
        fail_msg("authority: %s", steep_error_get());
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "authority"};
    steep_aa_server_tls(w.aa, &config.tls);
    w.server = steep_rpc_server_new(&config);
    assert_non_null(w.server);
    assert_int_equal(steep_aa_register(w.server, w.aa), 0);
    assert_int_equal(steep_rpc_server_start(w.server), 0);
    snprintf(w.address, sizeof(w.address), "127.0.0.1:%d", steep_rpc_server_port(w.server));
    struct steep_rpc_client_config client = {.address = w.address,
                                             .tls = {.ca_file = w.fixture.root_cert}};
    w.client = steep_rpc_client_new(&client);
    assert_non_null(w.client);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    steep_rpc_client_free(w.client);
    steep_rpc_server_stop(w.server, 1000);
    steep_rpc_server_free(w.server);
    steep_aa_free(w.aa);
    pccs_stop(&w.pccs);
    tee_fixture_free(&w.fixture);
    return 0;
}

/* An SEV-SNP certificate table holding the vector's VCEK (as the host
 * hands it to the guest through configfs-tsm's auxblob); free() it. */
static uint8_t *cert_table(const char *vector, size_t *len)
{
    static const uint8_t vcek_guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                          0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
    char rel[256], path[512];
    snprintf(rel, sizeof(rel), "%s/vcek.der", vector);
    size_t der_len;
    uint8_t *der = hw_read(hw_fixture(rel, path, sizeof(path)), &der_len);
    *len = 48 + der_len;
    uint8_t *table = calloc(1, *len);
    memcpy(table, vcek_guid, 16);
    uint32_t offset = 48, size = (uint32_t)der_len;
    memcpy(table + 16, &offset, 4); /* little-endian on this machine */
    memcpy(table + 20, &size, 4);
    memcpy(table + 48, der, der_len); /* the zero entry at 24..48 ends the table */
    free(der);
    return table;
}

/* Endorse over RPC: 0 with *reply, or the gRPC code with the message. */
static int endorse_aux(const uint8_t *evidence, size_t len, const uint8_t *aux, size_t aux_len,
                       SteepAttestationProto__EndorseResponse **reply, char *message, size_t size)
{
    SteepAttestationProto__EndorseRequest request = STEEP_ATTESTATION_PROTO__ENDORSE_REQUEST__INIT;
    request.evidence = (ProtobufCBinaryData){len, (uint8_t *)evidence};
    request.evidence_aux = (ProtobufCBinaryData){aux_len, (uint8_t *)aux};
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(w.client, STEEP_AA_ENDORSE_PATH, &request.base,
                       &steep_attestation_proto__endorse_response__descriptor, &response, NULL, 0,
                       10000, &status) < 0) {
        snprintf(message, size, "%s", status.message);
        return status.code;
    }
    *reply = (void *)response;
    return 0;
}

static int endorse(const uint8_t *evidence, size_t len,
                   SteepAttestationProto__EndorseResponse **reply, char *message, size_t size)
{
    return endorse_aux(evidence, len, NULL, 0, reply, message, size);
}

/* Steep's IAS-report verifier on an endorsement of `kind` evidence. */
static void expect_report_accepted(const struct steep_tee_evidence *evidence, const char *vector,
                                   const char *ias_status)
{
    struct steep_tee_identity identity;
    size_t len;
    uint8_t *raw = hw_evidence(vector, &len);
    struct steep_dcap_quote q;
    struct steep_snp_report snp;
    enum steep_hw_kind kind = steep_hw_detect(raw, len);
    if (kind == STEEP_HW_SNP)
        assert_int_equal(steep_snp_report_parse(raw, len, &snp), 0);
    else
        assert_int_equal(steep_dcap_quote_parse(raw, len, &q), 0);
    assert_int_equal(steep_hw_identity(kind, &q.sgx, &q.tdx, &snp, &identity), 0);
    const uint8_t *report_data = kind == STEEP_HW_SNP   ? snp.report_data
                                 : kind == STEEP_HW_TDX ? q.tdx.report_data
                                                        : q.sgx.report_data;
    struct steep_tee_policy policy;
    struct steep_tee_enclave_attr attr;
    tee_fixture_policy(&w.fixture, &policy, &attr, "teaclave_storage_service", &identity);
    /* the authority's certificate is from today, the report from the
     * pinned instant it verified the evidence at: verify now, and accept
     * that age */
    policy.now = 0;
    policy.max_report_age = time(NULL) - hw_pinned(vector) + 3600;
    static const char *const statuses[] = {"CONFIGURATION_AND_SW_HARDENING_NEEDED"};
    policy.accepted_statuses = statuses;
    policy.n_accepted_statuses = 1;
    struct steep_tee_verdict verdict;
    if (steep_tee_verify_evidence(evidence, report_data, &policy, &verdict) != 0)
        fail_msg("%s: %s", vector, steep_error_get());
    assert_string_equal(verdict.name, "teaclave_storage_service");
    assert_string_equal(verdict.status, ias_status);
    assert_false(verdict.simulated);
    free(raw);
}

static void test_backends_endorsed(void **state)
{
    (void)state;
    const struct {
        const char *backend, *provider, *vector;
        size_t offset;
    } cases[] = {
        {"tdx", "tdx_guest", "tdx_v4_dcapqvl", 568},
        {"snp", "sev_guest", "snp_milan_virtee", 0x50},
    };
    for (size_t i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof(name), "steep-%ld", (long)getpid());
        struct fake f;
        fake_tsm_start(&f, name, cases[i].provider, cases[i].vector, cases[i].offset);
        size_t table_len = 0;
        uint8_t *table = NULL;
        if (strcmp(cases[i].backend, "snp") == 0) {
            table = cert_table(cases[i].vector, &table_len);
            f.aux = table; /* before the first write of inblob */
            f.aux_len = table_len;
        }
        struct steep_tee_hw_options options = {.backend = cases[i].backend, .root = f.root};
        struct steep_tee *tee =
            steep_tee_open_endorsed(steep_tee_open_hw(&options), w.address, w.fixture.root_cert);
        assert_non_null(tee);
        assert_string_equal(steep_tee_backend_name(tee), cases[i].backend);
        /* the fixture's own report data leaves the real evidence intact */
        uint8_t report_data[64];
        memcpy(report_data, f.template_bytes + cases[i].offset, 64);
        struct steep_tee_evidence evidence;
        if (steep_tee_evidence(tee, report_data, &evidence) != 0)
            fail_msg("%s: %s", cases[i].backend, steep_error_get());
        assert_int_equal(evidence.hardware.len, f.template_len);
        assert_true(evidence.n_certs == 1 && evidence.report.len > 0);
        assert_non_null(strstr((const char *)evidence.report.data, "\"steepEvidenceKind\""));
        expect_report_accepted(&evidence, cases[i].vector, "OK");

        /* Steep's extension carries the raw evidence; a verifier with
         * collateral checks it itself. The real quote binds another key, so
         * everything passes up to the key binding. */
        EVP_PKEY *key = steep_tee_key_generate_p256();
        X509 *cert = steep_ratls_build(key, &evidence);
        assert_non_null(cert);
        struct steep_tee_evidence parsed = {0};
        assert_int_equal(steep_ratls_parse_hw(cert, &parsed), 1);
        assert_int_equal(parsed.hardware.len, evidence.hardware.len);
        assert_memory_equal(parsed.hardware.data, evidence.hardware.data, parsed.hardware.len);
        assert_int_equal(parsed.hardware_aux.len, table ? table_len : 17);
        steep_tee_evidence_free(&parsed);
        struct steep_hw_collateral collateral;
        hw_collateral(cases[i].vector, &collateral);
        struct steep_tee_policy policy;
        struct steep_tee_enclave_attr attr;
        struct steep_tee_identity identity;
        assert_int_equal(steep_tee_measure(tee, &identity), 0);
        tee_fixture_policy(&w.fixture, &policy, &attr, "teaclave_storage_service", &identity);
        policy.now = hw_pinned(cases[i].vector);
        policy.collateral = &collateral;
        struct steep_tee_verdict verdict;
        assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
        assert_non_null(strstr(steep_error_get(), "hardware evidence extension"));
        assert_non_null(strstr(steep_error_get(), "key binding failed"));
        assert_true(verdict.have_hw); /* authentic: verified up to the binding */
        /* a certificate carrying the evidence twice is refused */
        ASN1_OBJECT *oid = OBJ_txt2obj(STEEP_RATLS_HW_EVIDENCE_OID, 1);
        ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(value, evidence.hardware.data, (int)evidence.hardware.len);
        X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
        assert_true(X509_add_ext(cert, ext, -1));
        assert_int_equal(steep_tee_verify_cert(cert, &policy, &verdict), -1);
        assert_non_null(strstr(steep_error_get(), "hardware evidence extension twice"));
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(value);
        ASN1_OBJECT_free(oid);
        steep_hw_collateral_free(&collateral);
        X509_free(cert);
        EVP_PKEY_free(key);
        steep_tee_evidence_free(&evidence);
        steep_tee_free(tee);
        fake_stop(&f);
        free(table);
    }
}

static void test_sgx_and_refusals(void **state)
{
    (void)state;
    SteepAttestationProto__EndorseResponse *reply = NULL;
    char message[512];
    size_t len;
    uint8_t *quote = hw_evidence("sgx_v3_dcapqvl", &len);
    int code = endorse(quote, len, &reply, message, sizeof(message));
    if (code != 0)
        fail_msg("sgx: %s", message);
    assert_string_equal(reply->kind, "sgx");
    assert_string_equal(reply->tcb_status, "ConfigurationAndSWHardeningNeeded");
    assert_int_equal(reply->n_advisories, 2);
    assert_true(reply->valid_until > hw_pinned("sgx_v3_dcapqvl"));
    struct steep_tee_evidence evidence = {0};
    steep_buf_append(&evidence.report, reply->report.data, reply->report.len);
    steep_buf_append(&evidence.signature, reply->signature.data, reply->signature.len);
    steep_buf_append(&evidence.certs[0], reply->certs[0].data, reply->certs[0].len);
    evidence.n_certs = 1;
    expect_report_accepted(&evidence, "sgx_v3_dcapqvl", "CONFIGURATION_AND_SW_HARDENING_NEEDED");
    steep_tee_evidence_free(&evidence);
    protobuf_c_message_free_unpacked(&reply->base, NULL);

    /* a flipped REPORTDATA byte: the quote signature fails */
    quote[368] ^= 1;
    assert_int_equal(endorse(quote, len, &reply, message, sizeof(message)),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_non_null(strstr(message, "not endorsed"));
    assert_non_null(strstr(message, "signature"));
    free(quote);
    /* nothing, or not a quote */
    assert_int_equal(endorse(NULL, 0, &reply, message, sizeof(message)),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_non_null(strstr(message, "no evidence"));
    assert_int_equal(endorse((const uint8_t *)"hello", 5, &reply, message, sizeof(message)),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_non_null(strstr(message, "no SGX DCAP quote"));
    /* TCB level not supported: never endorsed */
    /* SEV-SNP: without its certificate table the authority has no VCEK;
     * a malformed table is the caller's mistake */
    uint8_t *report = hw_evidence("snp_milan_virtee", &len);
    assert_int_equal(endorse(report, len, &reply, message, sizeof(message)),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_non_null(strstr(message, "no VCEK"));
    assert_int_equal(endorse_aux(report, len, (const uint8_t *)"certificate table", 17, &reply,
                                 message, sizeof(message)),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_non_null(strstr(message, "SEV-SNP certificate table"));
    /* another chip's VCEK in the table: the report's signature fails */
    size_t table_len;
    uint8_t *table = cert_table("snp_milan_gosev", &table_len);
    assert_int_equal(endorse_aux(report, len, table, table_len, &reply, message, sizeof(message)),
                     STEEP_GRPC_PERMISSION_DENIED);
    free(table);
    free(report);
    quote = hw_evidence("tdx_v4_gotdx", &len);
    code = endorse(quote, len, &reply, message, sizeof(message));
    assert_true(code == STEEP_GRPC_PERMISSION_DENIED || code == STEEP_GRPC_UNAVAILABLE);
    free(quote);
}

/* ReleaseKey over RPC: the gRPC code, with the message. */
static int release_aux(const uint8_t *evidence, size_t len, const uint8_t *aux, size_t aux_len,
                       const char *label, char *message, size_t size)
{
    SteepAttestationProto__ReleaseKeyRequest request =
        STEEP_ATTESTATION_PROTO__RELEASE_KEY_REQUEST__INIT;
    request.evidence = (ProtobufCBinaryData){len, (uint8_t *)evidence};
    request.evidence_aux = (ProtobufCBinaryData){aux_len, (uint8_t *)aux};
    request.label = (char *)label;
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    if (steep_rpc_call(w.client, STEEP_AA_RELEASE_KEY_PATH, &request.base,
                       &steep_attestation_proto__release_key_response__descriptor, &response, NULL,
                       0, 10000, &status) == 0) {
        protobuf_c_message_free_unpacked(response, NULL);
        return 0;
    }
    snprintf(message, size, "%s", status.message);
    return status.code;
}

static int release(const uint8_t *evidence, size_t len, const char *label, char *message,
                   size_t size)
{
    return release_aux(evidence, len, NULL, 0, label, message, size);
}

static void test_key_broker(void **state)
{
    (void)state;
    char message[512];
    size_t len;
    /* the real TDX quote is authentic, accepted and pinned; its report data
     * binds a key we do not hold, so the broker refuses to wrap to it */
    uint8_t *quote = hw_evidence("tdx_v4_dcapqvl", &len);
    assert_int_equal(release(quote, len, "database", message, sizeof(message)),
                     STEEP_GRPC_FAILED_PRECONDITION);
    assert_non_null(strstr(message, "not the X||Y of a P-256 key"));
    assert_int_equal(release(quote, len, "", message, sizeof(message)),
                     STEEP_GRPC_INVALID_ARGUMENT);
    assert_non_null(strstr(message, "label"));
    quote[600] ^= 1; /* inside REPORTDATA */
    assert_int_equal(release(quote, len, "database", message, sizeof(message)),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_non_null(strstr(message, "no key released"));
    free(quote);
    /* authentic SNP evidence whose measurement enclave_info does not pin */
    uint8_t *report = hw_evidence("snp_milan_virtee", &len);
    size_t table_len;
    uint8_t *table = cert_table("snp_milan_virtee", &table_len);
    assert_int_equal(
        release_aux(report, len, table, table_len, "database", message, sizeof(message)),
        STEEP_GRPC_PERMISSION_DENIED);
    assert_non_null(strstr(message, "measurement not accepted"));
    free(table);
    free(report);

    /* a TDX service asks through its back-end: fresh evidence for an
     * ephemeral key goes to the broker (here the fake tree splices that key
     * into the real quote, which the broker then finds altered) */
    char name[64];
    snprintf(name, sizeof(name), "steep-%ld", (long)getpid());
    struct fake f;
    fake_tsm_start(&f, name, "tdx_guest", "tdx_v4_dcapqvl", 568);
    struct steep_tee_hw_options options = {.backend = "tdx", .root = f.root};
    struct steep_tee *tee =
        steep_tee_open_endorsed(steep_tee_open_hw(&options), w.address, w.fixture.root_cert);
    uint8_t key[32];
    assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_SIGNER, "database", key), -1);
    assert_non_null(strstr(steep_error_get(), "key broker"));
    assert_non_null(strstr(steep_error_get(), "PERMISSION_DENIED"));
    assert_non_null(strstr(steep_error_get(), "signature"));
    uint8_t written[64];
    memcpy(written, f.last_in, 64);
    EVP_PKEY *probe = steep_hw_p256_key(written); /* the report data was a P-256 key */
    assert_non_null(probe);
    EVP_PKEY_free(probe);
    steep_tee_free(tee);
    fake_stop(&f);

    /* SGX keeps Gramine's sealing keys: the same key as the bare back-end */
    char root[512];
    tee_fixture_path(&w.fixture, "gramine", root, sizeof(root));
    char keys[600];
    snprintf(keys, sizeof(keys), "%s/keys", root);
    assert_int_equal(mkdir(root, 0700), 0);
    assert_int_equal(mkdir(keys, 0700), 0);
    put_file(keys, "_sgx_mrsigner", "0123456789abcdef", 16);
    struct steep_tee_hw_options sgx = {.backend = "sgx", .root = root};
    struct steep_tee *bare = steep_tee_open_hw(&sgx);
    tee = steep_tee_open_endorsed(steep_tee_open_hw(&sgx), w.address, w.fixture.root_cert);
    uint8_t want[32];
    assert_int_equal(steep_tee_seal_key(bare, STEEP_TEE_SEAL_SIGNER, "database", want), 0);
    assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_SIGNER, "database", key), 0);
    assert_memory_equal(key, want, 32);
    steep_tee_free(tee);
    steep_tee_free(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backends_endorsed),
        cmocka_unit_test(test_sgx_and_refusals),
        cmocka_unit_test(test_key_broker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
