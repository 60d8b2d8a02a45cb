/*
 * Test identities, the CN-list verify hook and the Echo handler.
 */
#include "support.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int add_extension(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!extension)
        return -1;
    int ok = X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
    return ok ? 0 : -1;
}

int test_identity_generate(struct test_identity *identity, const char *common_name)
{
    memset(identity, 0, sizeof(*identity));
    pthread_mutex_init(&identity->lock, NULL);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    if (!key || !cert)
        goto fail;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)(time(NULL) ^ getpid()) & 0x7fffffff);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    if (add_extension(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") < 0 ||
        add_extension(cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        !X509_sign(cert, key, EVP_sha256()))
        goto fail;
    identity->cert = cert;
    identity->key = key;
    return 0;
fail:
    X509_free(cert);
    EVP_PKEY_free(key);
    return -1;
}

int test_identity_load(struct test_identity *identity, const char *cert_path, const char *key_path)
{
    memset(identity, 0, sizeof(*identity));
    pthread_mutex_init(&identity->lock, NULL);
    FILE *file = fopen(cert_path, "r");
    if (!file)
        return -1;
    identity->cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    file = fopen(key_path, "r");
    if (!file)
        return -1;
    identity->key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
    fclose(file);
    return identity->cert && identity->key ? 0 : -1;
}

int test_identity_write(const struct test_identity *identity, const char *cert_path,
                        const char *key_path)
{
    FILE *file = fopen(cert_path, "w");
    if (!file)
        return -1;
    int ok = PEM_write_X509(file, identity->cert);
    fclose(file);
    file = fopen(key_path, "w");
    if (!file)
        return -1;
    ok = ok && PEM_write_PrivateKey(file, identity->key, NULL, NULL, 0, NULL, NULL);
    fclose(file);
    return ok ? 0 : -1;
}

void test_identity_free(struct test_identity *identity)
{
    X509_free(identity->cert);
    EVP_PKEY_free(identity->key);
    pthread_mutex_destroy(&identity->lock);
}

int test_identity_credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct test_identity *identity = arg;
    pthread_mutex_lock(&identity->lock);
    X509_up_ref(identity->cert);
    EVP_PKEY_up_ref(identity->key);
    *cert = identity->cert;
    *key = identity->key;
    identity->handshakes++;
    pthread_mutex_unlock(&identity->lock);
    return 0;
}

int test_verifier_check(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                        size_t peer_name_len, char *reason, size_t reason_len)
{
    struct test_verifier *verifier = arg;
    __atomic_add_fetch(&verifier->calls, 1, __ATOMIC_SEQ_CST);
    char common_name[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, common_name,
                              sizeof(common_name));
    for (int i = 0; i < 8 && verifier->names[i]; i++) {
        if (strcmp(verifier->names[i], common_name) == 0) {
            snprintf(peer_name, peer_name_len, "%s", common_name);
            return 0;
        }
    }
    snprintf(reason, reason_len, "common name '%s' is not allowed", common_name);
    return -1;
}

void test_echo_say(struct steep_rpc_call *call, const ProtobufCMessage *message, void *arg)
{
    const SteepTest__EchoRequest *request = (const SteepTest__EchoRequest *)message;
    for (int slept = 0; slept < request->sleep_ms; slept += 5) {
        if (!request->ignore_cancel && steep_rpc_call_cancelled(call)) {
            steep_rpc_fail(call, STEEP_GRPC_CANCELLED, "cancelled while sleeping");
            return;
        }
        usleep(5000);
    }
    if (request->error_code) {
        steep_rpc_fail(call, request->error_code, "%s", request->error_message);
        return;
    }
    SteepTest__EchoReply reply = STEEP_TEST__ECHO_REPLY__INIT;
    reply.message = request->message;
    reply.peer_name = (char *)steep_rpc_call_peer_name(call);
    reply.remaining_ms = steep_rpc_call_remaining_ms(call);
    reply.payload_received = (int32_t)request->payload.len;
    if (request->echo_metadata[0]) {
        const char *value = steep_rpc_call_metadata(call, request->echo_metadata);
        reply.metadata_value = value ? (char *)value : "";
        if (value)
            steep_rpc_call_add_metadata(call, "X-Echo", value); /* sent lowercase */
    }
    uint8_t *payload = NULL;
    if (request->payload_size > 0) {
        payload = malloc((size_t)request->payload_size);
        if (!payload) {
            steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        memset(payload, 'x', (size_t)request->payload_size);
        reply.payload.data = payload;
        reply.payload.len = (size_t)request->payload_size;
    }
    steep_rpc_reply(call, &reply.base);
    free(payload);
}
