/* Self-signed test identity for in-process servers (test_tls.h). */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "test_tls.h"

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

int test_tls_server_identity(struct steep_tls_config *tls)
{
    struct identity *id = calloc(1, sizeof *id);
    if (!id)
        return -1;
    id->key = EVP_EC_gen("P-256");
    id->cert = X509_new();
    if (!id->key || !id->cert)
        return -1;
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
        return -1;
    memset(tls, 0, sizeof *tls);
    tls->credentials = credentials;
    tls->credentials_arg = id;
    return 0;
}

void test_tls_server_identity_free(struct steep_tls_config *tls)
{
    struct identity *id = tls->credentials_arg;
    if (!id)
        return;
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    free(id);
    tls->credentials_arg = NULL;
}
