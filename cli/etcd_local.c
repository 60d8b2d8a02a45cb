/*
 * `steep up --backend etcd`: a three-member etcd cluster on loopback for
 * development, under DIR/etcd, that the platform's storage keeps its state
 * in ([storage] backend = "etcd").
 *
 * Made once: a CA of its own (DIR/etcd/ca.pem), one certificate for the
 * members (server and peer authentication, IP SAN 127.0.0.1) and one client
 * certificate for the platform; TLS everywhere, client certificates
 * required, as a real deployment would run it. Written every start: each
 * member's YAML configuration (DIR/etcd/etcd-N.yaml), since the ports follow
 * the platform's port base: member N's client port is base + 10008 + 2(N-1),
 * its peer port the next one. The members' data lives in
 * DIR/data/etcd-N; the supervisor runs them first, like the services.
 */
#include "cli.h"
#include "platform.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int platform_etcd_client_port(int port_base, int member)
{
    return port_base + 10008 + 2 * member;
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate for key, signed by issuer_key (issuer NULL: self-signed CA). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    X509_NAME *name = X509_get_subject_name(cert);
    bool ok = X509_set_version(cert, 2) && ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) &&
              X509_set_pubkey(cert, key) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                         -1, 0) &&
              X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer ? issuer : cert;
    if (ok && !issuer)
        ok = add_extension(cert, signer, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_extension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
    if (ok && issuer)
        ok = add_extension(cert, signer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_extension(cert, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") == 0 &&
             add_extension(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth") == 0;
    if (ok)
        ok = X509_sign(cert, issuer_key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static int write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
    char path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/%s.%s", dir, name, cert ? "pem" : "key");
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    if (!cert)
        chmod(path, 0600);
    int ok =
        cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok) {
        cli_error("cannot write %s", path);
        return -1;
    }
    return 0;
}

static int make_certificates(const char *etcd_dir)
{
    EVP_PKEY *ca_key = new_key(), *member_key = new_key(), *client_key = new_key();
    X509 *ca = ca_key ? make_cert(ca_key, "steep local etcd CA", NULL, ca_key, 1) : NULL;
    X509 *member =
        ca && member_key ? make_cert(member_key, "steep-etcd-member", ca, ca_key, 2) : NULL;
    X509 *client = ca && client_key ? make_cert(client_key, "steep-storage", ca, ca_key, 3) : NULL;
    int rc = -1;
    if (!member || !client)
        cli_error("up: cannot make the etcd certificates");
    else if (write_pem(etcd_dir, "ca", ca, NULL) == 0 &&
             write_pem(etcd_dir, "member", member, NULL) == 0 &&
             write_pem(etcd_dir, "member", NULL, member_key) == 0 &&
             write_pem(etcd_dir, "client", client, NULL) == 0 &&
             write_pem(etcd_dir, "client", NULL, client_key) == 0)
        rc = 0;
    X509_free(ca);
    X509_free(member);
    X509_free(client);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(member_key);
    EVP_PKEY_free(client_key);
    return rc;
}

static int write_member_config(const char *dir, int port_base, int member)
{
    char path[PATH_MAX], cluster[512] = "";
    for (int i = 0; i < PLATFORM_ETCD_MEMBERS; i++) {
        size_t used = strlen(cluster);
        snprintf(cluster + used, sizeof(cluster) - used, "%setcd-%d=https://127.0.0.1:%d",
                 i ? "," : "", i + 1, platform_etcd_client_port(port_base, i) + 1);
    }
    int client = platform_etcd_client_port(port_base, member), peer = client + 1;
    platform_pathf(path, sizeof(path), "%s/etcd/etcd-%d.yaml", dir, member + 1);
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# etcd member %d of the local platform, written by `steep up --backend etcd`\n"
            "name: etcd-%d\n"
            "data-dir: %s/data/etcd-%d\n"
            "listen-client-urls: https://127.0.0.1:%d\n"
            "advertise-client-urls: https://127.0.0.1:%d\n"
            "listen-peer-urls: https://127.0.0.1:%d\n"
            "initial-advertise-peer-urls: https://127.0.0.1:%d\n"
            "initial-cluster: %s\n"
            "initial-cluster-state: new\n"
            "initial-cluster-token: steep-local\n"
            "client-transport-security:\n"
            "  cert-file: %s/etcd/member.pem\n"
            "  key-file: %s/etcd/member.key\n"
            "  trusted-ca-file: %s/etcd/ca.pem\n"
            "  client-cert-auth: true\n"
            "peer-transport-security:\n"
            "  cert-file: %s/etcd/member.pem\n"
            "  key-file: %s/etcd/member.key\n"
            "  trusted-ca-file: %s/etcd/ca.pem\n"
            "  client-cert-auth: true\n"
            "max-request-bytes: 33554432\n"
            "heartbeat-interval: 100\n"
            "election-timeout: 1000\n"
            "logger: zap\n"
            "log-level: warn\n",
            member + 1, member + 1, dir, member + 1, client, client, peer, peer, cluster, dir, dir,
            dir, dir, dir, dir);
    return fclose(f) == 0 ? 0 : -1;
}

int provision_etcd(const char *dir, int port_base)
{
    char etcd_dir[PATH_MAX], ca[PATH_MAX];
    platform_pathf(etcd_dir, sizeof(etcd_dir), "%s/etcd", dir);
    platform_pathf(ca, sizeof(ca), "%s/ca.pem", etcd_dir);
    if (access(PLATFORM_ETCD_EXE, X_OK) < 0) {
        cli_error("up: --backend etcd needs %s (Debian: apt-get install etcd-server)",
                  PLATFORM_ETCD_EXE);
        return -1;
    }
    if (platform_make_dir(etcd_dir, 0700) < 0)
        return -1;
    if (!platform_exists(ca) && make_certificates(etcd_dir) < 0)
        return -1;
    for (int i = 0; i < PLATFORM_ETCD_MEMBERS; i++)
        if (write_member_config(dir, port_base, i) < 0)
            return -1;
    return 0;
}

int provision_etcd_storage_config(FILE *f, int port_base)
{
    fprintf(f, "[storage]\n"
               "# The state lives in the local three-member etcd cluster (steep up --backend\n"
               "# etcd); values are sealed before they leave the storage service.\n"
               "backend = \"etcd\"\n"
               "etcd_endpoints = [");
    for (int i = 0; i < PLATFORM_ETCD_MEMBERS; i++)
        fprintf(f, "%s\"https://127.0.0.1:%d\"", i ? ", " : "",
                platform_etcd_client_port(port_base, i));
    return fprintf(f, "]\n"
                      "etcd_ca_file = \"etcd/ca.pem\"\n"
                      "etcd_cert_file = \"etcd/client.pem\"\n"
                      "etcd_key_file = \"etcd/client.key\"\n"
                      "# The members accept requests up to 32 MiB (etcd-N.yaml).\n"
                      "max_value_bytes = 16777216\n\n") < 0
               ? -1
               : 0;
}
