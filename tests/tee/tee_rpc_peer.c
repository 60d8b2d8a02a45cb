/*
 * A test process that is "a service" for the attested-handshake tests:
 * its measurement is its own executable, so copies of this program with
 * different trailing bytes are different services in enclave_info.
 *
 *   tee_rpc_peer server KEYS NAME INBOUND[,INBOUND...] [VALIDITY]
 *       serves /teaclave_storage_service_proto.TeaclaveStorage/Get over
 *       lib/rpc; the reply value is the peer name the verify hook gave.
 *       Prints "port N". INBOUND "-" means one-way (no client certificate).
 *   tee_rpc_peer client KEYS ADDRESS PEER_NAME CALLS PAUSE_MS [plain|nocert]
 *       calls Get CALLS times on one client with pauses; prints each reply,
 *       how many times the verify hook ran and the server certificates seen.
 *
 * KEYS holds authority/, platform_signing.pub.pem, master.key, enclave_info.toml,
 * auditor.public.pem and auditor.sign.sha256 (made by steep-tee).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "rpc/rpc.h"
#include "tee/attested.h"
#include "tee/keys.h"
#include "teaclave_storage_service.pb-c.h"

#define GET_PATH "/teaclave_storage_service_proto.TeaclaveStorage/Get"

static char paths[8][600];

static struct steep_attested *open_identity(const char *keys, const char *name, int validity)
{
    static const char *files[] = {"authority/authority_signing.key.pem",
                                  "authority/authority_signing.cert.pem",
                                  "platform_signing.pub.pem",
                                  "master.key",
                                  "authority/as_root_ca_cert.pem",
                                  "enclave_info.toml",
                                  "auditor.sign.sha256",
                                  "auditor.public.pem"};
    for (int i = 0; i < 8; i++)
        snprintf(paths[i], sizeof(paths[i]), "%s/%s", keys, files[i]);
    const char *signatures[] = {paths[6]};
    const char *auditors[] = {paths[7]};
    struct steep_attested_options options = {
        .service_name = name,
        .authority_key = paths[0],
        .authority_cert = paths[1],
        .platform_public_key = paths[2],
        .master_key = paths[3],
        .root_ca = paths[4],
        .enclave_info_path = paths[5],
        .signature_paths = signatures,
        .n_signature_paths = 1,
        .auditor_public_keys = auditors,
        .n_auditor_public_keys = 1,
        .insecure_allow_simulation = true,
        .evidence_validity = validity,
    };
    struct steep_attested *attested = steep_attested_open(&options);
    if (!attested)
        fprintf(stderr, "open: %s\n", steep_error_get());
    return attested;
}

static void on_get(struct steep_rpc_call *call, const ProtobufCMessage *request, void *arg)
{
    TeaclaveStorageServiceProto__GetResponse response =
        TEACLAVE_STORAGE_SERVICE_PROTO__GET_RESPONSE__INIT;
    const char *peer = steep_rpc_call_peer_name(call);
    response.value.data = (uint8_t *)peer;
    response.value.len = strlen(peer);
    steep_rpc_reply(call, &response.base);
}

static int run_server(char **argv, int argc)
{
    int validity = argc > 4 ? atoi(argv[4]) : 0;
    struct steep_attested *attested = open_identity(argv[1], argv[2], validity);
    if (!attested)
        return 2;
    const char *inbound[8];
    size_t n_inbound = 0;
    char *list = strdup(argv[3]);
    for (char *save, *item = strtok_r(list, ",", &save); item && n_inbound < 8;
         item = strtok_r(NULL, ",", &save))
        if (strcmp(item, "-") != 0)
            inbound[n_inbound++] = item;
    struct steep_rpc_server_config config = {.listen = "127.0.0.1:0", .name = "test"};
    struct steep_rpc_server *server = NULL;
    if (steep_attested_server_tls(attested, inbound, n_inbound, &config.tls) == 0)
        server = steep_rpc_server_new(&config);
    if (!server ||
        steep_rpc_server_add(server, GET_PATH,
                             &teaclave_storage_service_proto__get_request__descriptor, on_get,
                             NULL) < 0 ||
        steep_rpc_server_start(server) < 0) {
        fprintf(stderr, "server: %s\n", steep_error_get());
        return 2;
    }
    printf("port %d\n", steep_rpc_server_port(server));
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig;
    sigwait(&set, &sig);
    printf("generation %u\n", steep_attested_generation(attested));
    steep_rpc_server_stop(server, 1000);
    steep_rpc_server_free(server);
    steep_attested_free(attested);
    free(list);
    return 0;
}

/* The client's verify hook, wrapped to count runs and record certificates. */
static steep_tls_verify_fn real_verify;
static void *real_verify_arg;
static int verify_runs;
static char seen[8][65];

static int counting_verify(void *arg, X509 *leaf, STACK_OF(X509) * chain, char *peer_name,
                           size_t peer_name_len, char *reason, size_t reason_len)
{
    uint8_t hash[32];
    unsigned len = 32;
    X509_digest(leaf, EVP_sha256(), hash, &len);
    if (verify_runs < 8)
        steep_hex_encode(hash, 32, seen[verify_runs]);
    verify_runs++;
    return real_verify(real_verify_arg, leaf, chain, peer_name, peer_name_len, reason, reason_len);
}

static X509 *plain_cert;
static EVP_PKEY *plain_key;

static int plain_credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    X509_up_ref(plain_cert);
    EVP_PKEY_up_ref(plain_key);
    *cert = plain_cert;
    *key = plain_key;
    return 0;
}

static void make_plain_identity(void)
{
    plain_key = steep_tee_key_generate_p256();
    plain_cert = X509_new();
    X509_set_version(plain_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(plain_cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(plain_cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(plain_cert), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(plain_cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *)"Teaclave", -1, -1, 0);
    X509_set_issuer_name(plain_cert, X509_get_subject_name(plain_cert));
    X509_set_pubkey(plain_cert, plain_key);
    X509_sign(plain_cert, plain_key, EVP_sha256());
}

static int run_client(char **argv, int argc)
{
    const char *mode = argc > 6 ? argv[6] : "attested";
    struct steep_attested *attested = open_identity(argv[1], "client", 0);
    if (!attested)
        return 2;
    struct steep_rpc_client_config config = {.address = argv[2]};
    if (steep_attested_client_tls(attested, argv[3], &config.tls) < 0) {
        fprintf(stderr, "client: %s\n", steep_error_get());
        return 2;
    }
    real_verify = config.tls.verify_peer;
    real_verify_arg = config.tls.verify_arg;
    config.tls.verify_peer = counting_verify;
    if (strcmp(mode, "plain") == 0) {
        make_plain_identity();
        config.tls.credentials = plain_credentials;
    } else if (strcmp(mode, "nocert") == 0) {
        config.tls.credentials = NULL;
    }
    struct steep_rpc_client *client = steep_rpc_client_new(&config);
    int calls = atoi(argv[4]), pause_ms = atoi(argv[5]), failures = 0;
    for (int i = 0; client && i < calls; i++) {
        if (i)
            usleep((useconds_t)pause_ms * 1000);
        TeaclaveStorageServiceProto__GetRequest request =
            TEACLAVE_STORAGE_SERVICE_PROTO__GET_REQUEST__INIT;
        ProtobufCMessage *response = NULL;
        struct steep_rpc_status status;
        if (steep_rpc_call(client, GET_PATH, &request.base,
                           &teaclave_storage_service_proto__get_response__descriptor, &response,
                           NULL, 0, 5000, &status) == 0) {
            TeaclaveStorageServiceProto__GetResponse *get = (void *)response;
            printf("reply %.*s\n", (int)get->value.len, (const char *)get->value.data);
            protobuf_c_message_free_unpacked(response, NULL);
        } else {
            printf("failed %d %s\n", status.code, status.message);
            failures++;
        }
    }
    printf("verify-runs %d\n", verify_runs);
    for (int i = 0; i < verify_runs && i < 8; i++)
        printf("server-cert %s\n", seen[i]);
    steep_rpc_client_free(client);
    steep_attested_free(attested);
    X509_free(plain_cert);
    EVP_PKEY_free(plain_key);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    steep_log_init("tee-test-peer");
    if (argc >= 5 && strcmp(argv[1], "server") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        return run_server(argv + 1, argc - 1);
    }
    if (argc >= 7 && strcmp(argv[1], "client") == 0)
        return run_client(argv + 1, argc - 1);
    fprintf(stderr, "usage: see the comment at the top of tee_rpc_peer.c\n");
    return 2;
}
