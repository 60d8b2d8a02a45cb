/*
 * The back-end services on hardware run behind: a hardware back-end
 * (backend.h) whose evidence is sent to the attestation authority
 * (steep-attestation-authority, Endorse) for the IAS-v4-format report
 * Teaclave's clients verify. The evidence handed back holds both: the
 * endorsed report (Teaclave's RA-TLS extension) and the raw evidence
 * (Steep's own extension, ratls.h). Called at start and on every renewal
 * (attested.c), so each new key gets its own endorsement. Measuring is the
 * hardware back-end's; sealing too for SGX (Gramine's keys), while TDX and
 * SNP guests, which have no sealing primitive, get their sealing keys from
 * the authority's key broker (broker.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rpc/rpc.h"
#include "steep_attestation.pb-c.h"
#include "tee/hw/backend.h"
#include "tee/hw/broker.h"
#include "tee/keys.h"

#define ENDORSE_PATH       "/steep_attestation_proto.SteepAttestation/Endorse"
#define RELEASE_KEY_PATH   "/steep_attestation_proto.SteepKeyBroker/ReleaseKey"
#define ENDORSE_TIMEOUT_MS 15000

struct endorsed_state {
    struct steep_tee *hw;
    struct steep_rpc_client *client;
    char address[256];
};

static struct endorsed_state *state_of(struct steep_tee *tee)
{
    return tee->state;
}

static int endorsed_measure(struct steep_tee *tee, struct steep_tee_identity *identity)
{
    return steep_tee_measure(state_of(tee)->hw, identity);
}

/* TDX and SNP: the sealing key from the authority's key broker, wrapped to
 * an ephemeral key whose X||Y is the fresh evidence's report data. */
static int broker_seal_key(struct endorsed_state *s, enum steep_tee_seal_policy policy,
                           const char *label, uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    uint8_t xy[64];
    EVP_PKEY *ephemeral = steep_tee_key_generate_p256();
    ENSURE(ephemeral, "key broker: no ephemeral key");
    struct steep_tee_evidence evidence = {0};
    int rc = steep_tee_key_p256_xy(ephemeral, xy);
    if (rc == 0)
        rc = steep_tee_evidence(s->hw, xy, &evidence);
    ProtobufCMessage *response = NULL;
    if (rc == 0) {
        SteepAttestationProto__ReleaseKeyRequest request =
            STEEP_ATTESTATION_PROTO__RELEASE_KEY_REQUEST__INIT;
        request.evidence = (ProtobufCBinaryData){evidence.hardware.len, evidence.hardware.data};
        request.evidence_aux =
            (ProtobufCBinaryData){evidence.hardware_aux.len, evidence.hardware_aux.data};
        request.label = (char *)label;
        request.policy = (uint32_t)policy;
        struct steep_rpc_status status;
        if (steep_rpc_call(s->client, RELEASE_KEY_PATH, &request.base,
                           &steep_attestation_proto__release_key_response__descriptor, &response,
                           NULL, 0, ENDORSE_TIMEOUT_MS, &status) < 0)
            rc = steep_error_set("the key broker at %s released no key '%s': %s: %s", s->address,
                                 label, steep_grpc_code_name(status.code), status.message);
    }
    if (rc == 0) {
        const SteepAttestationProto__ReleaseKeyResponse *reply = (const void *)response;
        if (reply->ephemeral_public.len != 64 || reply->nonce.len != STEEP_BROKER_NONCE_LEN ||
            reply->wrapped.len != STEEP_BROKER_WRAPPED_LEN)
            rc = steep_error_set("the key broker's answer is malformed");
        else
            rc = steep_broker_unwrap(ephemeral, label, reply->ephemeral_public.data,
                                     reply->nonce.data, reply->wrapped.data, key);
    }
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    steep_tee_evidence_free(&evidence);
    EVP_PKEY_free(ephemeral);
    return rc;
}

static int endorsed_seal_key(struct steep_tee *tee, enum steep_tee_seal_policy policy,
                             const char *label, uint8_t key[STEEP_TEE_SEAL_KEY_LEN])
{
    struct endorsed_state *s = state_of(tee);
    if (strcmp(steep_tee_backend_name(s->hw), "sgx") == 0)
        return steep_tee_seal_key(s->hw, policy, label, key); /* Gramine's sealing keys */
    return broker_seal_key(s, policy, label, key);
}

static int copy_reply(const SteepAttestationProto__EndorseResponse *reply,
                      struct steep_tee_evidence *evidence)
{
    ENSURE(reply->report.len > 0 && reply->signature.len > 0 && reply->n_certs >= 1 &&
               reply->n_certs <= STEEP_TEE_MAX_CERTS,
           "the attestation authority's answer has no report, signature or certificate");
    GUARD(steep_buf_append(&evidence->report, reply->report.data, reply->report.len));
    GUARD(steep_buf_append(&evidence->signature, reply->signature.data, reply->signature.len));
    for (size_t i = 0; i < reply->n_certs; i++)
        GUARD(steep_buf_append(&evidence->certs[i], reply->certs[i].data, reply->certs[i].len));
    evidence->n_certs = reply->n_certs;
    return 0;
}

static int endorsed_evidence(struct steep_tee *tee,
                             const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                             struct steep_tee_evidence *evidence)
{
    struct endorsed_state *s = state_of(tee);
    GUARD(steep_tee_evidence(s->hw, report_data, evidence));
    SteepAttestationProto__EndorseRequest request = STEEP_ATTESTATION_PROTO__ENDORSE_REQUEST__INIT;
    request.evidence = (ProtobufCBinaryData){evidence->hardware.len, evidence->hardware.data};
    request.evidence_aux =
        (ProtobufCBinaryData){evidence->hardware_aux.len, evidence->hardware_aux.data};
    ProtobufCMessage *response = NULL;
    struct steep_rpc_status status;
    int rc = steep_rpc_call(s->client, ENDORSE_PATH, &request.base,
                            &steep_attestation_proto__endorse_response__descriptor, &response, NULL,
                            0, ENDORSE_TIMEOUT_MS, &status);
    if (rc < 0)
        rc = steep_error_set("the attestation authority at %s did not endorse our %s evidence: "
                             "%s: %s",
                             s->address, steep_tee_backend_name(s->hw),
                             steep_grpc_code_name(status.code), status.message);
    else
        rc = copy_reply((const void *)response, evidence);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (rc < 0)
        steep_tee_evidence_free(evidence);
    return rc;
}

static void endorsed_free(struct steep_tee *tee)
{
    struct endorsed_state *s = state_of(tee);
    steep_rpc_client_free(s->client);
    steep_tee_free(s->hw);
    free(s);
    free(tee);
}

static const struct steep_tee_backend endorsed_sgx = {"sgx", endorsed_measure, endorsed_evidence,
                                                      endorsed_seal_key, endorsed_free};
static const struct steep_tee_backend endorsed_tdx = {"tdx", endorsed_measure, endorsed_evidence,
                                                      endorsed_seal_key, endorsed_free};
static const struct steep_tee_backend endorsed_snp = {"snp", endorsed_measure, endorsed_evidence,
                                                      endorsed_seal_key, endorsed_free};

struct steep_tee *steep_tee_open_endorsed(struct steep_tee *hw, const char *address,
                                          const char *root_ca)
{
    const char *name = hw ? steep_tee_backend_name(hw) : "";
    const struct steep_tee_backend *backend = strcmp(name, "sgx") == 0   ? &endorsed_sgx
                                              : strcmp(name, "tdx") == 0 ? &endorsed_tdx
                                              : strcmp(name, "snp") == 0 ? &endorsed_snp
                                                                         : NULL;
    struct steep_tee *tee = NULL;
    struct endorsed_state *s = NULL;
    if (!backend)
        steep_error_set("the attestation authority endorses only hardware evidence (sgx, tdx, "
                        "snp), not '%s'",
                        name);
    else if (!address || !*address)
        steep_error_set("[tee] backend '%s' needs [tee] authority_address, the attestation "
                        "authority that endorses its evidence",
                        name);
    else if (!root_ca)
        steep_error_set("no as_root_ca_cert to authenticate the attestation authority");
    else if (!(tee = calloc(1, sizeof(*tee))) || !(s = calloc(1, sizeof(*s))))
        steep_error_set("out of memory");
    else {
        snprintf(s->address, sizeof(s->address), "%s", address);
        struct steep_rpc_client_config config = {.address = address, .tls = {.ca_file = root_ca}};
        s->client = steep_rpc_client_new(&config);
    }
    if (!s || !s->client) {
        free(s);
        free(tee);
        steep_tee_free(hw);
        return NULL;
    }
    s->hw = hw;
    tee->backend = backend;
    tee->state = s;
    return tee;
}
