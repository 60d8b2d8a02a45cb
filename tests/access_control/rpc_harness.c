/* In-process RPC server and client for tests; see rpc_harness.h. */
#include "rpc_harness.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct identity {
    X509 *cert;
    EVP_PKEY *key;
};

static int credentials(void *arg, X509 **cert, EVP_PKEY **key)
{
    struct identity *id = arg;
    X509_up_ref(id->cert);
    EVP_PKEY_up_ref(id->key);
    *cert = id->cert;
    *key = id->key;
    return 0;
}

static struct identity *identity_new(void)
{
    struct identity *id = calloc(1, sizeof *id);
    if (!id)
        return NULL;
    id->key = EVP_EC_gen("P-256");
    id->cert = X509_new();
    if (!id->key || !id->cert)
        return NULL;
    X509_set_version(id->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(id->cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(id->cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(id->cert), 3600);
    X509_NAME *name = X509_get_subject_name(id->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(id->cert, name);
    X509_set_pubkey(id->cert, id->key);
    if (X509_sign(id->cert, id->key, EVP_sha256()) <= 0)
        return NULL;
    return id;
}

int test_server_start(struct test_server *t, test_register_fn add, void *arg)
{
    memset(t, 0, sizeof *t);
    struct identity *id = identity_new();
    if (!id)
        return -1;
    t->tls.credentials = credentials;
    t->tls.credentials_arg = id;
    struct steep_rpc_server_config config = {
        .listen = "127.0.0.1:0", .tls = t->tls, .workers = 4, .name = "test"};
    t->server = steep_rpc_server_new(&config);
    if (!t->server || add(t->server, arg) < 0 || steep_rpc_server_start(t->server) < 0)
        return -1;
    t->port = steep_rpc_server_port(t->server);
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", t->port);
    struct steep_rpc_client_config client_config = {.address = address, .server_name = "localhost"};
    t->client = steep_rpc_client_new(&client_config);
    return t->client ? 0 : -1;
}

void test_server_stop(struct test_server *t)
{
    if (t->client)
        steep_rpc_client_free(t->client);
    if (t->server) {
        steep_rpc_server_stop(t->server, 1000);
        steep_rpc_server_free(t->server);
    }
    struct identity *id = t->tls.credentials_arg;
    if (id) {
        X509_free(id->cert);
        EVP_PKEY_free(id->key);
        free(id);
    }
    memset(t, 0, sizeof *t);
}
