/*
 * Key and certificate files: thin, checked wrappers over OpenSSL's PEM
 * functions. Private keys are created with O_EXCL and mode 0600 so an
 * operator's key is never silently replaced.
 */
#include "tee/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/error.h"

int steep_tee_path_must_not_exist(const char *path)
{
    struct stat st;
    ENSURE(stat(path, &st) != 0, "%s already exists (refusing to overwrite a key)", path);
    return 0;
}

int steep_tee_make_dir(const char *path)
{
    ENSURE(mkdir(path, 0700) == 0 || errno == EEXIST, "cannot create %s: %s", path,
           strerror(errno));
    return 0;
}

EVP_PKEY *steep_tee_key_generate_rsa(int bits)
{
    EVP_PKEY *key = EVP_RSA_gen((unsigned)bits);
    if (!key)
        steep_error_set("RSA key generation failed");
    return key;
}

EVP_PKEY *steep_tee_key_generate_p256(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        steep_error_set("P-256 key generation failed");
    return key;
}

static FILE *open_new(const char *path, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        steep_error_set("cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        steep_error_set("cannot open %s: %s", path, strerror(errno));
    }
    return f;
}

static int close_checked(FILE *f, int ok, const char *path)
{
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        ok = 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        unlink(path);
        return steep_error_set("cannot write %s", path);
    }
    return 0;
}

int steep_tee_key_write_private(const char *path, EVP_PKEY *key)
{
    FILE *f = open_new(path, 0600);
    if (!f)
        return -1;
    int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return close_checked(f, ok, path);
}

int steep_tee_key_write_public(const char *path, EVP_PKEY *key)
{
    FILE *f = open_new(path, 0644);
    if (!f)
        return -1;
    int ok = PEM_write_PUBKEY(f, key);
    return close_checked(f, ok, path);
}

int steep_tee_cert_write(const char *path, X509 *cert)
{
    FILE *f = open_new(path, 0644);
    if (!f)
        return -1;
    int ok = PEM_write_X509(f, cert);
    return close_checked(f, ok, path);
}

static FILE *open_read(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        steep_error_set("cannot open %s: %s", path, strerror(errno));
    return f;
}

EVP_PKEY *steep_tee_key_read_private(const char *path)
{
    FILE *f = open_read(path);
    if (!f)
        return NULL;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key)
        steep_error_set("%s: not a PEM private key", path);
    return key;
}

EVP_PKEY *steep_tee_key_read_public(const char *path)
{
    FILE *f = open_read(path);
    if (!f)
        return NULL;
    EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    if (!key) {
        rewind(f);
        X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
        if (cert) {
            key = X509_get_pubkey(cert);
            X509_free(cert);
        }
    }
    fclose(f);
    if (!key)
        steep_error_set("%s: not a PEM public key or certificate", path);
    return key;
}

X509 *steep_tee_cert_read(const char *path)
{
    FILE *f = open_read(path);
    if (!f)
        return NULL;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert)
        steep_error_set("%s: not a PEM certificate", path);
    return cert;
}

int steep_tee_key_spki_sha256(EVP_PKEY *key, uint8_t out[32])
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    ENSURE(len > 0, "cannot encode public key");
    int ok = EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    ENSURE(ok, "SHA-256 failed");
    return 0;
}

int steep_tee_key_p256_xy(EVP_PKEY *key, uint8_t out[64])
{
    char group[32] = "";
    ENSURE(EVP_PKEY_get_base_id(key) == EVP_PKEY_EC, "key is not an EC key");
    ENSURE(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          NULL) &&
               strcmp(group, "prime256v1") == 0,
           "key is not on P-256");
    uint8_t point[65];
    size_t len = 0;
    ENSURE(
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len),
        "cannot read the public point");
    ENSURE(len == 65 && point[0] == 0x04, "public key point is not uncompressed");
    memcpy(out, point + 1, 64);
    return 0;
}

int steep_tee_file_sha256(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "cannot open %s to measure it: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    uint8_t chunk[65536];
    ssize_t n;
    while (ok && (n = read(fd, chunk, sizeof(chunk))) > 0)
        ok = EVP_DigestUpdate(ctx, chunk, (size_t)n);
    ok = ok && n == 0 && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    close(fd);
    ENSURE(ok, "cannot measure %s", path);
    return 0;
}

int steep_tee_sign_sha256(EVP_PKEY *key, const void *data, size_t len, struct steep_buf *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = 0;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, NULL, &sig_len, data, len) == 1 &&
             steep_buf_reserve(out, sig_len) == 0 &&
             EVP_DigestSign(ctx, out->data + out->len, &sig_len, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    ENSURE(ok, "signing failed");
    out->len += sig_len;
    return 0;
}

bool steep_tee_verify_sha256(EVP_PKEY *key, const uint8_t *signature, size_t signature_len,
                             const void *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(ctx, signature, signature_len, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}
