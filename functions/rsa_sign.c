/*
 * builtin-rsa-sign: RSASSA-PKCS1-v1_5 with SHA-256 of the "data" argument
 * using the DER PKCS#1 RSAPrivateKey of input "rsa_key" (as ring's
 * RsaKeyPair::from_der); returns the signature in standard base64.
 */
#include "functions/args.h"
#include "core/text.h"
#include "functions/builtins.h"

#include "core/error.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#define KEY_MAX (64 * 1024)

static int read_key(struct steep_fn_io *io, struct steep_buf *der)
{
    struct steep_reader *r = steep_fn_open_input(io, "rsa_key");
    if (!r)
        return -1;
    uint8_t chunk[4096];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = steep_reader_read(r, chunk, sizeof(chunk))) != 0) {
        if (n < 0 || der->len + (size_t)n > KEY_MAX)
            rc = n < 0 ? -1 : steep_error_set("rsa_key is larger than %d bytes", KEY_MAX);
        else
            rc = steep_buf_append(der, chunk, (size_t)n);
    }
    steep_reader_close(r);
    return rc;
}

static int sign(EVP_PKEY *pkey, const char *data, struct steep_buf *summary)
{
    ENSURE(EVP_PKEY_get_bits(pkey) >= 2048 && EVP_PKEY_get_bits(pkey) <= 8192, "TooSmall");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t sig[1024];
    size_t sig_len = sizeof(sig);
    int ok = ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)data, strlen(data)) == 1;
    EVP_MD_CTX_free(ctx);
    ENSURE(ok, "Unspecified");
    return steep_base64_encode(sig, sig_len, summary);
}

STEEP_FN(steep_fn_rsa_sign)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    const char *data;
    struct steep_buf der = STEEP_BUF_INIT;
    steep_buf_wipe(&der);
    EVP_PKEY *pkey = NULL;
    int rc = 0;
    GUARD_GOTO(steep_args_string(args, "data", &data), out);
    GUARD_GOTO(read_key(io, &der), out);
    const uint8_t *p = der.data;
    pkey = der.len ? d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)der.len) : NULL;
    ENSURE_GOTO(pkey && p == der.data + der.len, out, "InvalidEncoding");
    rc = sign(pkey, data, summary);
out:
    EVP_PKEY_free(pkey);
    steep_buf_free(&der);
    json_decref(args);
    return rc;
}
