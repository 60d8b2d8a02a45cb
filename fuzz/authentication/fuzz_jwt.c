/*
 * libFuzzer target for JWT decoding (services/authentication/token.c).
 * First byte selects the mode:
 *  0: the rest is a token as a client sends it (Authorization metadata).
 *  1: the rest is "header JSON \n claims JSON", signed here with the
 *     platform's secret, so the fuzzer gets past the signature into the
 *     claim checks (types, lengths, issuer, expiry, algorithm confusion).
 * A token that decodes must have the claims the checks promise; a token
 * issued from the decoded claims must decode to the same claims.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authentication/token.h"
#include "core/text.h"

#define NOW 1700000000

static const uint8_t secret[STEEP_AUTH_SECRET_LEN] = {7, 1, 2, 3};

/* base64url without padding, as JWS wants. */
static int append_base64url(struct steep_buf *out, const uint8_t *data, size_t len)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    int rc = steep_base64_encode(data, len, &plain);
    for (size_t i = 0; rc == 0 && i < plain.len && plain.data[i] != '='; i++) {
        uint8_t c = plain.data[i] == '+' ? '-' : plain.data[i] == '/' ? '_' : plain.data[i];
        rc = steep_buf_append_u8(out, c);
    }
    steep_buf_free(&plain);
    return rc;
}

static void check_decoded(const char *token)
{
    struct steep_auth_claims claims;
    if (steep_auth_token_decode(secret, token, NOW, &claims) < 0)
        return;
    if (strcmp(claims.iss, STEEP_AUTH_ISSUER) != 0 || claims.exp <= NOW ||
        strnlen(claims.sub, sizeof claims.sub) == sizeof claims.sub ||
        strnlen(claims.role, sizeof claims.role) == sizeof claims.role)
        abort();
    char *again = NULL;
    if (steep_auth_token_issue(secret, &claims, &again) < 0)
        return;
    struct steep_auth_claims round;
    if (steep_auth_token_decode(secret, again, NOW, &round) < 0 ||
        strcmp(round.sub, claims.sub) != 0 || strcmp(round.role, claims.role) != 0 ||
        round.exp != claims.exp || round.iat != claims.iat || round.version != claims.version)
        abort();
    free(again);
}

static void fuzz_signed(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    size_t header_len = newline ? (size_t)(newline - data) : size;
    const uint8_t *claims = newline ? newline + 1 : data + size;
    size_t claims_len = size - header_len - (newline ? 1 : 0);
    struct steep_buf token = STEEP_BUF_INIT;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (append_base64url(&token, data, header_len) == 0 && steep_buf_append_u8(&token, '.') == 0 &&
        append_base64url(&token, claims, claims_len) == 0 &&
        HMAC(EVP_sha512(), secret, sizeof secret, token.data, token.len, mac, &mac_len) &&
        steep_buf_append_u8(&token, '.') == 0 && append_base64url(&token, mac, mac_len) == 0 &&
        steep_buf_terminate(&token) == 0)
        check_decoded((const char *)token.data);
    steep_buf_free(&token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        fuzz_signed(data + 1, size - 1);
        return 0;
    }
    char *token = malloc(size);
    if (!token)
        return 0;
    memcpy(token, data + 1, size - 1);
    token[size - 1] = '\0';
    check_decoded(token);
    free(token);
    return 0;
}
