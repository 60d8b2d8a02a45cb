/*
 * Every committed encrypted fixture of Teaclave decrypts to its plaintext
 * twin and shows the documented cmac (teaclave-functions.md §3.4), through
 * the reader API and the path helpers; the generated aes-gcm files of the
 * fusion test and the inline password reproduce their documented tags.
 */
#include "crypto/file_crypto.h"
#include "test_util.h"

#include "core/buf.h"
#include "core/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct fixture {
    const char *enc;
    const char *plain;
    const char *cmac;
};

static const struct fixture tf128_fixtures[] = {
    {"gbdt_training/train.enc", "gbdt_training/train.txt", "860030495909b84864b991865e9ad94f"},
    {"ordered_set_intersect/psi0.txt.enc", "ordered_set_intersect/psi0.txt",
     "92f686d4ac2ba6b4ffd93bc7ac5dbf58"},
    {"ordered_set_intersect/psi1.txt.enc", "ordered_set_intersect/psi1.txt",
     "8b3104972a6f0de949315e0b45d5dd66"},
    {"ordered_set_join/join0.csv.enc", "ordered_set_join/join0.csv",
     "3f91d2744763445d265ea469debb74f0"},
    {"ordered_set_join/join1.csv.enc", "ordered_set_join/join1.csv",
     "d1e5a520489c93d0254c8c22cdefab89"},
    {"password_check/exposed_passwords.txt.enc", "password_check/exposed_passwords.txt",
     "a31dd0b7de0b6cc7e0dec1dcf7a46479"},
    {"private_join_and_compute/three_party_data/bank_a.enc",
     "private_join_and_compute/three_party_data/bank_a.txt", "f6a4585a4903f8dea0ee90ac84a50dba"},
    {"private_join_and_compute/three_party_data/bank_b.enc",
     "private_join_and_compute/three_party_data/bank_b.txt", "ab6065314fcbacd6971ff55d3821b51e"},
    {"private_join_and_compute/three_party_data/bank_c.enc",
     "private_join_and_compute/three_party_data/bank_c.txt", "9d7dbe465806731a43008ab094c97688"},
    {"py_logistic_reg/train.enc", "py_logistic_reg/train.txt", "00780510adc603725ec240ab979681f0"},
    {"py_logistic_reg/predict.enc", "py_logistic_reg/predict.txt",
     "3397954d135f47bcc4ffbb90a0bb51c9"},
    {"rsa_sign/rsakey.enc", "rsa_sign/key.der", "620c16ab588ca638f3b0a2692ab078cf"},
    {"wamr_rust_psi/psi0.txt.enc", "wamr_rust_psi/psi0.txt", "fd9b319ae0fc595a98ee4135667ac0ac"},
    {"wamr_rust_psi/psi1.txt.enc", "wamr_rust_psi/psi1.txt", "93cc677d7bac5910cd7199f7d6b9ac15"},
    {"wamr_tvm_mnist/img_10.jpg.enc", "wamr_tvm_mnist/img_10.jpg",
     "818fc6295fcd6816c0549dd29f32ed9e"},
};

static void check_decrypts(const char *enc_rel, const char *plain_rel,
                           const struct steep_file_crypto *crypto, const char *cmac_hex)
{
    char enc[4096], plain[4096];
    test_fixture_path(enc, sizeof(enc), enc_rel);
    test_fixture_path(plain, sizeof(plain), plain_rel);
    uint8_t expected_cmac[16], cmac[16];
    assert_int_equal(steep_hex_decode(cmac_hex, expected_cmac, 16), 0);

    struct steep_buf want = STEEP_BUF_INIT, got = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(plain, 1 << 20, &want), 0);

    struct steep_reader *r = steep_file_reader_open(enc, crypto, expected_cmac, cmac);
    if (!r)
        fail_msg("%s: %s", enc_rel, steep_error_get());
    assert_memory_equal(cmac, expected_cmac, 16);
    assert_int_equal(test_read_all(r, &got), 0);
    assert_int_equal(steep_reader_close(r), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);

    /* Path helpers: cmac and decrypt-to-file. */
    memset(cmac, 0, 16);
    assert_int_equal(steep_file_cmac(enc, crypto, cmac), 0);
    assert_memory_equal(cmac, expected_cmac, 16);
    char out[4096];
    test_temp_path(out, sizeof(out), "plain.out");
    assert_int_equal(steep_file_decrypt(enc, out, crypto, NULL, NULL, cmac), 0);
    assert_memory_equal(cmac, expected_cmac, 16);
    steep_buf_reset(&got);
    assert_int_equal(steep_read_file(out, 1 << 20, &got), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    unlink(out);

    /* A wrong expected cmac is refused. */
    expected_cmac[0] ^= 1;
    assert_null(steep_file_reader_open(enc, crypto, expected_cmac, NULL));
    steep_buf_free(&want);
    steep_buf_free(&got);
}

static void test_tf128_fixtures(void **state)
{
    struct steep_file_crypto crypto;
    uint8_t zero[16] = {0};
    assert_int_equal(steep_file_crypto_init(&crypto, "teaclave-file-128", zero, 16, NULL, 0), 0);
    for (size_t i = 0; i < sizeof(tf128_fixtures) / sizeof(tf128_fixtures[0]); i++)
        check_decrypts(tf128_fixtures[i].enc, tf128_fixtures[i].plain, &crypto,
                       tf128_fixtures[i].cmac);
}

static void test_aes_gcm_fixture(void **state)
{
    struct steep_file_crypto crypto;
    uint8_t zero[16] = {0}, iv[12];
    memset(iv, 1, sizeof(iv));
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-128", zero, 16, iv, 12), 0);
    check_decrypts("gbdt_training/train.aes_gcm_128", "gbdt_training/train.txt", &crypto,
                   "592f1e607649d89ff2aa8a2841a57cad");
    /* The wrong IV fails authentication and leaves no output. */
    iv[0] = 2;
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-128", zero, 16, iv, 12), 0);
    char enc[4096], out[4096];
    test_fixture_path(enc, sizeof(enc), "gbdt_training/train.aes_gcm_128");
    test_temp_path(out, sizeof(out), "bad.out");
    assert_int_equal(steep_file_decrypt(enc, out, &crypto, NULL, NULL, NULL), -1);
    assert_non_null(strstr(steep_error_get(), "authentication tag mismatch"));
    assert_int_not_equal(access(out, F_OK), 0);
    assert_null(steep_file_reader_open(enc, &crypto, NULL, NULL));
}

struct progress {
    int calls;
    uint64_t done, total;
};

static void record_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    assert_true(done >= p->done);
    p->calls++;
    p->done = done;
    p->total = total;
}

/* Encrypts text with the scheme and checks the tag, then decrypts it back. */
static void check_generated(const char *schema, const uint8_t *key, size_t key_len,
                            const char *iv_hex, const char *text, const char *tag_hex)
{
    struct steep_file_crypto crypto;
    uint8_t iv[12], tag[16], expected[16];
    assert_int_equal(steep_hex_decode(iv_hex, iv, 12), 0);
    assert_int_equal(steep_hex_decode(tag_hex, expected, 16), 0);
    assert_int_equal(steep_file_crypto_init(&crypto, schema, key, key_len, iv, 12), 0);
    char in[4096], enc[4096], out[4096];
    test_temp_path(in, sizeof(in), "gen.txt");
    test_temp_path(enc, sizeof(enc), "gen.enc");
    test_temp_path(out, sizeof(out), "gen.out");
    assert_int_equal(steep_write_file_atomic(in, text, strlen(text), 0600), 0);
    struct progress progress = {0};
    assert_int_equal(steep_file_encrypt(in, enc, &crypto, record_progress, &progress, tag), 0);
    assert_memory_equal(tag, expected, 16);
    assert_true(progress.calls >= 1);
    assert_int_equal(progress.done, strlen(text));
    assert_int_equal(progress.total, strlen(text));
    assert_int_equal(steep_file_decrypt(enc, out, &crypto, NULL, NULL, tag), 0);
    struct steep_buf got = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(out, 4096, &got), 0);
    assert_int_equal(got.len, strlen(text));
    assert_memory_equal(got.data, text, got.len);
    steep_buf_free(&got);
    unlink(in);
    unlink(enc);
    unlink(out);
}

static void test_generated_aes_gcm(void **state)
{
    uint8_t key1[16] = {0}, key2[32] = {0}, zero[16] = {0};
    key1[15] = 1;
    key2[31] = 2;
    check_generated("aes-gcm-128", key1, 16, "123456781234567812345678", "u1_hello\nu1_teaclave",
                    "e8afd048b339fc835733e16c761a301c");
    check_generated("aes-gcm-256", key2, 32, "012345670123456701234567",
                    "u2_welcome\nu2_to\nu2_teaclave", "75d7cf7a7843dee709e29ba0dcb865d2");
    check_generated("aes-gcm-128", zero, 16, "000000000000000000000000", "password",
                    "e84748f7ad380e183062b9b4b3942b7d");
}

static void test_crypto_info_validation(void **state)
{
    struct steep_file_crypto crypto;
    uint8_t key[32] = {0}, iv[12] = {0};
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-129", key, 16, iv, 12), -1);
    assert_string_equal(steep_error_get(), "Invalid crypto schema: aes-gcm-129");
    assert_int_equal(steep_file_crypto_init(&crypto, "teaclave-file-128", key, 16, iv, 12), -1);
    assert_string_equal(steep_error_get(), "IV is not empty for teaclave_file_128");
    assert_int_equal(steep_file_crypto_init(&crypto, "teaclave-file-128", key, 32, NULL, 0), -1);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-128", key, 32, iv, 12), -1);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-256", key, 16, iv, 12), -1);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-256", key, 32, iv, 11), -1);
    assert_int_equal(steep_file_crypto_init(&crypto, "aes-gcm-256", key, 32, iv, 12), 0);
    assert_int_equal(steep_file_crypto_init(&crypto, "raw", NULL, 0, NULL, 0), 0);
    assert_int_equal(crypto.scheme, STEEP_SCHEME_RAW);
    char out[4096];
    test_temp_path(out, sizeof(out), "raw.out");
    assert_null(steep_file_writer_create(out, &crypto, 0));
    assert_string_equal(steep_error_get(), "OutputFile: unsupported type");
    enum steep_file_scheme s;
    assert_int_equal(steep_file_scheme_parse("teaclave-file-128", &s), 0);
    assert_int_equal(s, STEEP_SCHEME_TEACLAVE_FILE_128);
    assert_string_equal(steep_file_scheme_name(STEEP_SCHEME_AES_GCM_256), "aes-gcm-256");
}

int main(void)
{
    test_temp_dir_init("steep-crypto-fixtures");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf128_fixtures),
        cmocka_unit_test(test_aes_gcm_fixture),
        cmocka_unit_test(test_generated_aes_gcm),
        cmocka_unit_test(test_crypto_info_validation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_temp_dir_cleanup();
    return rc;
}
