/*
 * Test helper for the script tests: encrypts or decrypts one file with a
 * scheme and a hex key (and hex iv), printing the cmac in hex.
 *   test_tf128_tool encrypt|decrypt SCHEME KEYHEX IVHEX|- IN OUT
 */
#include "crypto/file_crypto.h"

#include "core/buf.h"
#include "core/error.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s encrypt|decrypt SCHEME KEYHEX IVHEX|- IN OUT\n", argv[0]);
        return 2;
    }
    uint8_t key[32], iv[12], cmac[16];
    size_t key_len = strlen(argv[3]) / 2, iv_len = strcmp(argv[4], "-") ? strlen(argv[4]) / 2 : 0;
    if (key_len > sizeof(key) || iv_len > sizeof(iv) ||
        steep_hex_decode(argv[3], key, key_len) < 0 ||
        (iv_len && steep_hex_decode(argv[4], iv, iv_len) < 0)) {
        fprintf(stderr, "bad key or iv\n");
        return 2;
    }
    struct steep_file_crypto crypto;
    int rc = steep_file_crypto_init(&crypto, argv[2], key, key_len, iv, iv_len);
    if (rc == 0 && strcmp(argv[1], "encrypt") == 0)
        rc = steep_file_encrypt(argv[5], argv[6], &crypto, NULL, NULL, cmac);
    else if (rc == 0)
        rc = steep_file_decrypt(argv[5], argv[6], &crypto, NULL, NULL, cmac);
    steep_file_crypto_wipe(&crypto);
    if (rc < 0) {
        fprintf(stderr, "error: %s\n", steep_error_get());
        return 1;
    }
    char hex[33];
    steep_hex_encode(cmac, 16, hex);
    printf("%s\n", hex);
    return 0;
}
