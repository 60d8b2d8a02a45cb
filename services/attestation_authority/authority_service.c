/* The attestation authority's Endorse method; see authority_service.h. */
#include "authority_service.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "steep_attestation.pb-c.h"
#include "tee/authority.h"
#include "tee/enclave_info.h"
#include "tee/hw/broker.h"
#include "tee/hw/endorse.h"
#include "tee/hw/hw_config.h"
#include "tee/hw/hw_internal.h"
#include "tee/keys.h"

struct steep_aa {
    struct steep_authority *authority;
    EVP_PKEY *tls_key;
    X509 *tls_cert;
    bool have_collateral;
    struct steep_hw_collateral collateral;
    struct steep_pccs *pccs;
    enum steep_hw_tcb_status statuses[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n_statuses;
    char **advisories;
    size_t n_advisories;
    bool allow_debug;
    time_t fixed_now;
    bool have_broker;
    uint8_t broker_master[STEEP_BROKER_MASTER_LEN];
    struct steep_tee_enclave_attr *services;
    size_t n_services;
    /* NULL: Intel's and AMD's real roots; only test builds set it. */
    const struct steep_hw_trust *trust;
#ifdef STEEP_TEST_PAYLOADS
    struct steep_hw_trust test_trust;
    uint8_t test_intel_pin[32], test_amd_pin[32];
#endif
};

void steep_aa_free(struct steep_aa *aa)
{
    if (!aa)
        return;
    steep_authority_free(aa->authority);
    EVP_PKEY_free(aa->tls_key);
    X509_free(aa->tls_cert);
    if (aa->have_collateral)
        steep_hw_collateral_free(&aa->collateral);
    steep_pccs_free(aa->pccs);
    for (size_t i = 0; i < aa->n_advisories; i++)
        free(aa->advisories[i]);
    free(aa->advisories);
    free(aa->services);
    OPENSSL_cleanse(aa->broker_master, sizeof(aa->broker_master));
    free(aa);
}

static int open_broker(struct steep_aa *aa, const struct steep_aa_options *o)
{
    struct steep_buf master = STEEP_BUF_INIT;
    steep_buf_wipe(&master);
    if (steep_read_file(o->broker_master_key, 64, &master) < 0)
        return steep_error_wrap("[attestation_authority] broker_master_key");
    int rc = master.len == STEEP_BROKER_MASTER_LEN
                 ? 0
                 : steep_error_set("[attestation_authority] broker_master_key %s is %zu bytes, "
                                   "expected %d",
                                   o->broker_master_key, master.len, STEEP_BROKER_MASTER_LEN);
    if (rc == 0)
        memcpy(aa->broker_master, master.data, STEEP_BROKER_MASTER_LEN);
    steep_buf_free(&master);
    GUARD(rc);
    ENSURE(o->n_services > 0, "the key broker needs enclave_info entries to release keys to");
    ENSURE(aa->services = calloc(o->n_services, sizeof(*aa->services)), "out of memory");
    memcpy(aa->services, o->services, o->n_services * sizeof(*aa->services));
    aa->n_services = o->n_services;
    aa->have_broker = true;
    return 0;
}

#ifdef STEEP_TEST_PAYLOADS
/* Test builds: the test roots, loudly. */
static void test_roots(struct steep_aa *aa, const struct steep_hw_trust *t)
{
    if (!t->intel_root_spki_sha256 && !t->amd_ark_spki_sha256)
        return;
    if (t->intel_root_spki_sha256) {
        memcpy(aa->test_intel_pin, t->intel_root_spki_sha256, 32);
        aa->test_trust.intel_root_spki_sha256 = aa->test_intel_pin;
    }
    if (t->amd_ark_spki_sha256) {
        memcpy(aa->test_amd_pin, t->amd_ark_spki_sha256, 32);
        aa->test_trust.amd_ark_spki_sha256 = aa->test_amd_pin;
    }
    aa->trust = &aa->test_trust;
    log_warn("attestation authority: TEST roots of trust pinned instead of %s%s%s "
             "(insecure_test_*_pin, test builds only): evidence from test-made chains is "
             "endorsed",
             t->intel_root_spki_sha256 ? "Intel's SGX Root CA" : "",
             t->intel_root_spki_sha256 && t->amd_ark_spki_sha256 ? " and " : "",
             t->amd_ark_spki_sha256 ? "AMD's ARKs" : "");
}

/* [attestation_authority] insecure_test_intel_root_pin / insecure_test_amd_ark_pin:
 * 64 hex digits, the SHA-256 of the test root's SubjectPublicKeyInfo. */
static int test_pin(const struct steep_config *config, const char *key, uint8_t pin[32],
                    const uint8_t **out)
{
    const char *text = steep_config_get_string(config, key, NULL);
    if (!text)
        return 0;
    ENSURE(strlen(text) == 64 && steep_hw_hex(text, pin, 32) == 0,
           "%s must be 64 hex digits (the SHA-256 of the root's SubjectPublicKeyInfo)", key);
    *out = pin;
    return 0;
}
#endif

static int open_parts(struct steep_aa *aa, const struct steep_aa_options *o)
{
    ENSURE(o->signing_key && o->signing_cert,
           "no report-signing key and certificate ([attestation_authority] signing_key, "
           "signing_cert)");
    if (!(aa->authority = steep_authority_open(o->signing_key, o->signing_cert)))
        return -1;
    if (!(aa->tls_key = steep_tee_key_read_private(o->signing_key)) ||
        !(aa->tls_cert = steep_tee_cert_read(o->signing_cert)))
        return -1;
    if (o->collateral_dir) {
        if (steep_hw_collateral_load_dir(o->collateral_dir, &aa->collateral) < 0)
            return steep_error_wrap("[tee] collateral_dir %s", o->collateral_dir);
        aa->have_collateral = true;
    }
    if (o->pccs && !(aa->pccs = steep_pccs_new(o->pccs)))
        return -1;
    ENSURE(aa->have_collateral || aa->pccs,
           "no collateral: set [tee] collateral_dir, [tee] pccs_url or both");
    ENSURE(o->n_accepted_statuses <= STEEP_HW_MAX_ACCEPTED_STATUSES, "too many accepted statuses");
    for (size_t i = 0; i < o->n_accepted_statuses; i++) {
        ENSURE(o->accepted_statuses[i] != STEEP_HW_TCB_REVOKED &&
                   o->accepted_statuses[i] != STEEP_HW_TCB_NOT_SUPPORTED,
               "status %s can never be accepted",
               steep_hw_tcb_status_name(o->accepted_statuses[i]));
        aa->statuses[aa->n_statuses++] = o->accepted_statuses[i];
    }
    if (o->n_accepted_advisories) {
        ENSURE(aa->advisories = calloc(o->n_accepted_advisories, sizeof(char *)), "out of memory");
        for (size_t i = 0; i < o->n_accepted_advisories; i++) {
            ENSURE(aa->advisories[i] = strdup(o->accepted_advisories[i]), "out of memory");
            aa->n_advisories++;
        }
    }
    aa->allow_debug = o->insecure_allow_debug;
    aa->fixed_now = o->insecure_verification_time;
#ifdef STEEP_TEST_PAYLOADS
    test_roots(aa, &o->insecure_test_trust);
#endif
    return o->broker_master_key ? open_broker(aa, o) : 0;
}

struct steep_aa *steep_aa_open(const struct steep_aa_options *options)
{
    struct steep_aa *aa = calloc(1, sizeof(*aa));
    if (!aa) {
        steep_error_set("out of memory");
        return NULL;
    }
    if (open_parts(aa, options) < 0) {
        steep_error_wrap("attestation authority");
        steep_aa_free(aa);
        return NULL;
    }
    if (aa->fixed_now) {
        char when[32];
        steep_hw_format_time(aa->fixed_now, when);
        log_warn("attestation authority: evidence is verified at the FIXED time %s "
                 "(insecure_verification_time), not the clock: replays and tests only",
                 when);
    }
    if (aa->allow_debug)
        log_warn("attestation authority: DEBUG enclaves and guests are endorsed "
                 "(insecure_allow_debug): their memory is readable by the host");
    return aa;
}

/* enclave_info, with every auditor's signature checked as services do. */
static int broker_services(const struct steep_config *config, struct steep_enclave_info *info)
{
    const char *const *paths = NULL;
    size_t n_keys = steep_config_get_string_array(config, "tee.auditor_public_keys", &paths);
    size_t n_sigs = config->auditor_signature_count;
    EVP_PKEY **keys = calloc(n_keys + 1, sizeof(*keys));
    struct steep_enclave_info_signature *sigs = calloc(n_sigs + 1, sizeof(*sigs));
    int rc = keys && sigs ? 0 : steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < n_keys; i++) {
        char *path = steep_config_resolve(config, paths[i]);
        if (!path || !(keys[i] = steep_tee_key_read_public(path)))
            rc = -1;
        free(path);
    }
    for (size_t i = 0; rc == 0 && i < n_sigs; i++)
        sigs[i] = (struct steep_enclave_info_signature){config->auditor_signatures[i].data,
                                                        config->auditor_signatures[i].len,
                                                        config->auditor_signatures[i].path};
    if (rc == 0)
        rc = steep_enclave_info_verify(config->enclave_info.data, config->enclave_info.len, sigs,
                                       n_sigs, keys, n_keys);
    if (rc == 0)
        rc = steep_enclave_info_parse("enclave_info", config->enclave_info.data,
                                      config->enclave_info.len, info);
    for (size_t i = 0; keys && i < n_keys; i++)
        EVP_PKEY_free(keys[i]);
    free(keys);
    free(sigs);
    return rc < 0 ? steep_error_wrap("key broker: enclave_info") : 0;
}

struct steep_aa *steep_aa_open_from_config(const struct steep_config *config)
{
    const char *const *names = NULL, *const *advisories = NULL;
    size_t n_names = steep_config_get_string_array(config, "tee.hw_accepted_statuses", &names);
    enum steep_hw_tcb_status statuses[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n_statuses = 0;
    if (steep_tee_hw_statuses_parse(names, n_names, statuses, &n_statuses) < 0) {
        steep_error_wrap("[tee] hw_accepted_statuses");
        return NULL;
    }
    time_t fixed = 0;
    const char *at =
        steep_config_get_string(config, "attestation_authority.insecure_verification_time", NULL);
    if (at && steep_hw_parse_time(at, &fixed) < 0) {
        steep_error_wrap("[attestation_authority] insecure_verification_time");
        return NULL;
    }
    struct steep_pccs_options pccs = {
        .url = steep_config_get_string(config, "tee.pccs_url", NULL),
        .ca_file = steep_config_get_path(config, "tee.pccs_ca_file", NULL),
        .refresh_margin = (int)steep_config_get_int(config, "tee.pccs_refresh_margin", 0),
    };
    struct steep_aa_options options = {
        .signing_key =
            steep_config_get_path(config, "attestation_authority.signing_key",
                                  steep_config_get_path(config, "tee.authority_key", NULL)),
        .signing_cert =
            steep_config_get_path(config, "attestation_authority.signing_cert",
                                  steep_config_get_path(config, "tee.authority_cert", NULL)),
        .collateral_dir = steep_config_get_path(config, "tee.collateral_dir", NULL),
        .pccs = pccs.url ? &pccs : NULL,
        .accepted_statuses = statuses,
        .n_accepted_statuses = n_statuses,
        .n_accepted_advisories =
            steep_config_get_string_array(config, "tee.hw_accepted_advisories", &advisories),
        .insecure_allow_debug = steep_config_get_bool(config, "tee.insecure_allow_debug", false),
        .insecure_verification_time = fixed,
    };
    options.accepted_advisories = advisories;
    options.broker_master_key =
        steep_config_get_path(config, "attestation_authority.broker_master_key", NULL);
    struct steep_enclave_info info = {0};
    if (options.broker_master_key && broker_services(config, &info) < 0)
        return NULL;
    options.services = info.attrs;
    options.n_services = info.count;
#ifdef STEEP_TEST_PAYLOADS
    uint8_t intel_pin[32], amd_pin[32];
    if (test_pin(config, "attestation_authority.insecure_test_intel_root_pin", intel_pin,
                 &options.insecure_test_trust.intel_root_spki_sha256) < 0 ||
        test_pin(config, "attestation_authority.insecure_test_amd_ark_pin", amd_pin,
                 &options.insecure_test_trust.amd_ark_spki_sha256) < 0) {
        steep_enclave_info_free(&info);
        return NULL;
    }
#endif
    struct steep_aa *aa = steep_aa_open(&options);
    steep_enclave_info_free(&info);
    return aa;
}

static int credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct steep_aa *aa = arg;
    X509_up_ref(aa->tls_cert);
    EVP_PKEY_up_ref(aa->tls_key);
    *cert = aa->tls_cert;
    *key = aa->tls_key;
    return 0;
}

void steep_aa_server_tls(struct steep_aa *aa, struct steep_tls_config *tls)
{
    *tls = (struct steep_tls_config){.credentials = credentials, .credentials_arg = aa};
}

void steep_aa_pccs_stats(struct steep_aa *aa, struct steep_pccs_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (aa->pccs)
        steep_pccs_get_stats(aa->pccs, stats);
}

/* Collateral made for one request: an SNP guest's own VCEK (and ASK/ARK)
 * from its configfs-tsm certificate table. */
struct request_collateral {
    struct steep_hw_collateral local; /* borrows the directory's ASK/ARK when needed */
    X509 *vcek;
    STACK_OF(X509) * ask_ark;
};

static void request_collateral_free(struct request_collateral *r)
{
    X509_free(r->vcek);
    sk_X509_pop_free(r->ask_ark, X509_free);
    memset(r, 0, sizeof(*r));
}

/* The collateral for this evidence: PCCS for Intel quotes when configured,
 * else the directory; for SNP the guest's certificate table (auxblob) when
 * it sent one, chained with the directory's ASK/ARK when the table has
 * none. 0, or -1 with *code set. */
static int collateral_for(struct steep_aa *aa, const uint8_t *evidence, size_t len,
                          const ProtobufCBinaryData *aux, enum steep_hw_kind kind, time_t now,
                          struct request_collateral *scratch,
                          const struct steep_hw_collateral **out, int *code)
{
    memset(scratch, 0, sizeof(*scratch));
    *code = STEEP_GRPC_UNAVAILABLE;
    if (kind != STEEP_HW_SNP && aa->pccs)
        return steep_pccs_collateral(aa->pccs, evidence, len, now, out);
    if (kind == STEEP_HW_SNP && aux->len > 0) {
        *code = STEEP_GRPC_INVALID_ARGUMENT;
        GUARD(steep_snp_cert_table_parse(aux->data, aux->len, &scratch->vcek, &scratch->ask_ark));
        *code = STEEP_GRPC_UNAVAILABLE;
        scratch->local.vcek = scratch->vcek;
        scratch->local.ask_ark = scratch->ask_ark      ? scratch->ask_ark
                                 : aa->have_collateral ? aa->collateral.ask_ark
                                                       : NULL;
        ENSURE(scratch->local.ask_ark, "no AMD ASK/ARK for the SEV-SNP evidence: neither its "
                                       "certificate table nor the collateral directory has them");
        *out = &scratch->local;
        return 0;
    }
    if (!aa->have_collateral)
        return steep_error_set("no collateral for %s evidence: the authority has no "
                               "collateral directory",
                               steep_hw_kind_name(kind));
    *out = &aa->collateral;
    return 0;
}

static void endorse(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_aa *aa = arg;
    const SteepAttestationProto__EndorseRequest *request = (const void *)message;
    const uint8_t *evidence = request->evidence.data;
    size_t len = request->evidence.len;
    if (len == 0) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT, "no evidence in the request");
        return;
    }
    enum steep_hw_kind kind = steep_hw_detect(evidence, len);
    if (kind == STEEP_HW_UNKNOWN) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT,
                       "the evidence is no SGX DCAP quote, TDX quote or SEV-SNP report");
        return;
    }
    time_t now = aa->fixed_now ? aa->fixed_now : time(NULL);
    const struct steep_hw_collateral *collateral = NULL;
    struct request_collateral scratch;
    int code;
    if (collateral_for(aa, evidence, len, &request->evidence_aux, kind, now, &scratch, &collateral,
                       &code) < 0) {
        log_warn("endorse: %s", steep_error_get());
        steep_rpc_fail(call, code, "%s", steep_error_get());
        request_collateral_free(&scratch);
        return;
    }
    struct steep_hw_policy policy = {
        .accepted_statuses = aa->statuses,
        .n_accepted_statuses = aa->n_statuses,
        .accepted_advisories = (const char *const *)aa->advisories,
        .n_accepted_advisories = aa->n_advisories,
        .allow_debug = aa->allow_debug,
    };
    struct steep_tee_evidence out;
    struct steep_hw_report r;
    int rc = steep_hw_endorse_report(aa->authority, evidence, len, collateral, aa->trust, &policy,
                                     now, &out, &r);
    request_collateral_free(&scratch);
    if (rc < 0) {
        log_warn("endorse: %s evidence refused: %s", steep_hw_kind_name(kind), steep_error_get());
        steep_rpc_fail(call, STEEP_GRPC_PERMISSION_DENIED, "%s", steep_error_get());
        steep_tee_evidence_free(&out);
        return;
    }
    SteepAttestationProto__EndorseResponse reply = STEEP_ATTESTATION_PROTO__ENDORSE_RESPONSE__INIT;
    ProtobufCBinaryData certs[STEEP_TEE_MAX_CERTS];
    char *advisories[STEEP_HW_MAX_ADVISORIES];
    reply.report = (ProtobufCBinaryData){out.report.len, out.report.data};
    reply.signature = (ProtobufCBinaryData){out.signature.len, out.signature.data};
    for (size_t i = 0; i < out.n_certs; i++)
        certs[i] = (ProtobufCBinaryData){out.certs[i].len, out.certs[i].data};
    reply.certs = certs;
    reply.n_certs = out.n_certs;
    reply.kind = (char *)steep_hw_kind_name(r.kind);
    reply.tcb_status = (char *)steep_hw_tcb_status_name(r.status);
    for (size_t i = 0; i < r.n_advisories; i++)
        advisories[i] = r.advisories[i];
    reply.advisories = advisories;
    reply.n_advisories = r.n_advisories;
    reply.valid_until = (int64_t)r.valid_until;
    log_info("endorsed %s evidence: %s, %zu advisories", reply.kind, reply.tcb_status,
             r.n_advisories);
    steep_rpc_reply(call, &reply.base);
    steep_tee_evidence_free(&out);
}

/* Authentic, accepted by the policy and pinned for a service: 0 with the
 * service's index, else -1 with *code. */
static int release_check(struct steep_aa *aa, const uint8_t *evidence, size_t len,
                         const ProtobufCBinaryData *aux, struct steep_hw_report *r, size_t *index,
                         int *code)
{
    enum steep_hw_kind kind = steep_hw_detect(evidence, len);
    *code = STEEP_GRPC_INVALID_ARGUMENT;
    ENSURE(len > 0, "no evidence in the request");
    ENSURE(kind != STEEP_HW_UNKNOWN,
           "the evidence is no SGX DCAP quote, TDX quote or SEV-SNP report");
    time_t now = aa->fixed_now ? aa->fixed_now : time(NULL);
    const struct steep_hw_collateral *collateral = NULL;
    struct request_collateral scratch;
    int verified = collateral_for(aa, evidence, len, aux, kind, now, &scratch, &collateral, code);
    if (verified == 0) {
        *code = STEEP_GRPC_PERMISSION_DENIED;
        verified = steep_hw_verify(evidence, len, collateral, aa->trust, now, r);
    }
    request_collateral_free(&scratch);
    GUARD(verified);
    struct steep_hw_measurements *pinned =
        steep_tee_pinned_measurements(aa->services, aa->n_services);
    ENSURE(pinned, "out of memory");
    struct steep_hw_policy policy = {
        .accepted_statuses = aa->statuses,
        .n_accepted_statuses = aa->n_statuses,
        .accepted_advisories = (const char *const *)aa->advisories,
        .n_accepted_advisories = aa->n_advisories,
        .allow_debug = aa->allow_debug,
        .measurements = pinned,
        .n_measurements = aa->n_services,
    };
    int rc = steep_hw_policy_check(&policy, r, index);
    free(pinned);
    return rc;
}

static void release_key(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    struct steep_aa *aa = arg;
    const SteepAttestationProto__ReleaseKeyRequest *request = (const void *)message;
    if (!aa->have_broker) {
        steep_rpc_fail(call, STEEP_GRPC_FAILED_PRECONDITION,
                       "this attestation authority has no key broker "
                       "([attestation_authority] broker_master_key)");
        return;
    }
    const char *label = request->label ? request->label : "";
    size_t label_len = strlen(label);
    enum steep_tee_seal_policy seal =
        request->policy ? (enum steep_tee_seal_policy)request->policy : STEEP_TEE_SEAL_SIGNER;
    if (label_len == 0 || label_len > STEEP_BROKER_LABEL_MAX ||
        (seal != STEEP_TEE_SEAL_SIGNER && seal != STEEP_TEE_SEAL_MEASUREMENT)) {
        steep_rpc_fail(call, STEEP_GRPC_INVALID_ARGUMENT,
                       "a key needs a label of 1 to %d bytes and policy 1 (signer) or 2 "
                       "(measurement)",
                       STEEP_BROKER_LABEL_MAX);
        return;
    }
    struct steep_hw_report r;
    size_t index = 0;
    int code;
    if (release_check(aa, request->evidence.data, request->evidence.len, &request->evidence_aux, &r,
                      &index, &code) < 0) {
        steep_error_wrap("no key released");
        log_warn("key broker: %s", steep_error_get());
        steep_rpc_fail(call, code, "%s", steep_error_get());
        return;
    }
    const char *service = aa->services[index].name;
    struct steep_tee_identity identity;
    uint8_t key[STEEP_TEE_SEAL_KEY_LEN], ephemeral[64], nonce[STEEP_BROKER_NONCE_LEN],
        wrapped[STEEP_BROKER_WRAPPED_LEN];
    int rc = steep_hw_identity(r.kind, &r.sgx, &r.tdx, &r.snp, &identity);
    if (rc == 0)
        rc = steep_broker_derive(aa->broker_master, service, seal, identity.mr_enclave, label, key);
    if (rc == 0)
        rc = steep_broker_wrap(r.report_data, label, key, ephemeral, nonce, wrapped);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0) {
        steep_error_wrap("no key released");
        log_warn("key broker: %s", steep_error_get());
        steep_rpc_fail(call, STEEP_GRPC_FAILED_PRECONDITION, "%s", steep_error_get());
        return;
    }
    SteepAttestationProto__ReleaseKeyResponse reply =
        STEEP_ATTESTATION_PROTO__RELEASE_KEY_RESPONSE__INIT;
    reply.ephemeral_public = (ProtobufCBinaryData){64, ephemeral};
    reply.nonce = (ProtobufCBinaryData){sizeof(nonce), nonce};
    reply.wrapped = (ProtobufCBinaryData){sizeof(wrapped), wrapped};
    reply.service = (char *)service;
    log_info("key broker: key '%s' released to %s (%s evidence)", label, service,
             steep_hw_kind_name(r.kind));
    steep_rpc_reply(call, &reply.base);
}

int steep_aa_register(struct steep_rpc_server *server, struct steep_aa *aa)
{
    GUARD(steep_rpc_server_add(server, STEEP_AA_ENDORSE_PATH,
                               &steep_attestation_proto__endorse_request__descriptor, endorse, aa));
    return steep_rpc_server_add(server, STEEP_AA_RELEASE_KEY_PATH,
                                &steep_attestation_proto__release_key_request__descriptor,
                                release_key, aa);
}
