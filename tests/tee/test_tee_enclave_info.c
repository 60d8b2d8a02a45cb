/*
 * enclave_info.toml: generation from executables, parsing (strict), and the
 * auditors' signatures (each must verify, every auditor must have signed,
 * zero signatures is an error, one changed byte is refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tee/enclave_info.h"
#include "tee/keys.h"
#include "tee_test_util.h"

static struct tee_fixture fixture;
static char auditor_a[400], auditor_b[400], stranger[400];
static EVP_PKEY *keys[3];
static char exe_a[400], exe_b[400];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    tee_fixture_init(&fixture);
    char *paths[] = {auditor_a, auditor_b, stranger};
    const char *names[] = {"auditor-a.private.pem", "auditor-b.private.pem", "stranger.pem"};
    for (int i = 0; i < 3; i++) {
        tee_fixture_path(&fixture, names[i], paths[i], 400);
        keys[i] = steep_tee_key_generate_rsa(2048);
        if (!keys[i] || steep_tee_key_write_private(paths[i], keys[i]) < 0)
            return -1;
    }
    tee_fixture_path(&fixture, "steep-frontend", exe_a, sizeof(exe_a));
    tee_fixture_path(&fixture, "steep-storage", exe_b, sizeof(exe_b));
    write_file(exe_a, "frontend executable");
    write_file(exe_b, "storage executable");
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < 3; i++)
        EVP_PKEY_free(keys[i]);
    tee_fixture_free(&fixture);
    return 0;
}

static void generate(struct steep_buf *out)
{
    const char *names[] = {"teaclave_frontend_service", "teaclave_storage_service"};
    const char *paths[] = {exe_a, exe_b};
    assert_int_equal(
        steep_enclave_info_generate_entries(names, paths, 2, fixture.platform_pub, out), 0);
}

static void test_generate_and_parse(void **state)
{
    struct steep_buf text = STEEP_BUF_INIT;
    generate(&text);
    steep_buf_terminate(&text);
    assert_non_null(strstr((char *)text.data, "[teaclave_frontend_service]\nmr_enclave = \""));
    struct steep_enclave_info info;
    assert_int_equal(steep_enclave_info_parse("enclave_info.toml", text.data, text.len, &info), 0);
    assert_int_equal(info.count, 2);
    const struct steep_tee_enclave_attr *storage =
        steep_enclave_info_find(&info, "teaclave_storage_service");
    assert_non_null(storage);
    assert_null(steep_enclave_info_find(&info, "teaclave_execution_service"));
    /* The values are what the sim back-end measures for those executables. */
    struct steep_tee *tee = tee_fixture_open(&fixture, exe_b);
    struct steep_tee_identity identity;
    steep_tee_measure(tee, &identity);
    assert_memory_equal(storage->mr_enclave, identity.mr_enclave, 32);
    assert_memory_equal(storage->mr_signer, identity.mr_signer, 32);
    steep_tee_free(tee);
    steep_enclave_info_free(&info);
    steep_buf_free(&text);

    /* The whole-bin-dir form: the seven names, missing executables refused. */
    struct steep_buf all = STEEP_BUF_INIT;
    assert_int_equal(steep_enclave_info_generate(fixture.dir, fixture.platform_pub, false, &all),
                     -1);
    assert_non_null(strstr(steep_error_get(), "steep-authentication: no such executable"));
    assert_int_equal(steep_enclave_info_generate(fixture.dir, fixture.platform_pub, true, &all), 0);
    steep_buf_terminate(&all);
    assert_non_null(strstr((char *)all.data, "[teaclave_storage_service]"));
    assert_null(strstr((char *)all.data, "[teaclave_management_service]"));
    steep_buf_free(&all);
}

static void expect_parse_error(const char *text, const char *reason)
{
    struct steep_enclave_info info;
    assert_int_equal(steep_enclave_info_parse("ei.toml", text, strlen(text), &info), -1);
    if (!strstr(steep_error_get(), reason))
        fail_msg("'%s' does not contain '%s'", steep_error_get(), reason);
}

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX32 "00112233445566778899aabbccddeeff"

/* Entries for hardware kinds: TDX (MRTD, RTMRs) and SNP pin only those. */
static void test_parse_hardware_kinds(void **state)
{
    (void)state;
    const char *text = "[tdx_service]\ntdx_mrtd = \"" HEX64 HEX32 "\"\ntdx_rtmr1 = \"" HEX32 HEX64
                       "\"\n[snp_service]\nsnp_measurement = \"" HEX64 HEX32 "\"\n"
                       "[both]\nmr_enclave = \"" HEX64 "\"\nmr_signer = \"" HEX64 "\"\n"
                       "snp_measurement = \"" HEX64 HEX32 "\"\n";
    struct steep_enclave_info info;
    if (steep_enclave_info_parse("ei.toml", text, strlen(text), &info) != 0)
        fail_msg("%s", steep_error_get());
    const struct steep_tee_enclave_attr *tdx = steep_enclave_info_find(&info, "tdx_service");
    assert_non_null(tdx);
    assert_true(tdx->no_sgx_pair && tdx->hw.have_mr_td && tdx->hw.have_rtmr[1]);
    assert_false(tdx->hw.have_rtmr[0] || tdx->hw.have_snp_measurement);
    assert_int_equal(tdx->hw.mr_td[1], 0x11);
    assert_int_equal(tdx->hw.rtmr[1][16], 0x00);
    const struct steep_tee_enclave_attr *snp = steep_enclave_info_find(&info, "snp_service");
    assert_true(snp->no_sgx_pair && snp->hw.have_snp_measurement && !snp->hw.have_mr_td);
    const struct steep_tee_enclave_attr *both = steep_enclave_info_find(&info, "both");
    assert_true(!both->no_sgx_pair && both->hw.have_snp_measurement);
    steep_enclave_info_free(&info);
}

static void test_parse_strict(void **state)
{
    expect_parse_error("", "lists no service");
    expect_parse_error("[a]\nmr_enclave = \"" HEX64 "\"\n", "no string mr_signer");
    expect_parse_error("[a]\n", "must hold mr_enclave and mr_signer, or tdx_mrtd");
    expect_parse_error("[a]\nmr_enclave = \"" HEX64 "\"\nmr_signer = \"" HEX64 "\"\nx = 1\n",
                       "holds a key other than");
    expect_parse_error("[a]\ntdx_rtmr0 = \"" HEX64 HEX32 "\"\n", "tdx_rtmr0 needs tdx_mrtd");
    expect_parse_error("[a]\ntdx_mrtd = \"" HEX64 "\"\n", "96 lowercase hex");
    expect_parse_error("[a]\nsnp_measurement = 1\n", "must be a string");
    expect_parse_error("[a]\nmr_enclave = \"" HEX64 "\"\nmr_signr = \"" HEX64 "\"\n",
                       "no string mr_signer");
    expect_parse_error("[a]\nmr_enclave = \"mr_enclave_teaclave_authentication_service\"\n"
                       "mr_signer = \"" HEX64 "\"\n",
                       "64 lowercase hex");
    expect_parse_error("[a]\nmr_enclave = \"" HEX64 "\"\nmr_signer = \"00112233445566778899AABBCC"
                       "DDEEFF00112233445566778899aabbccddeeff\"\n",
                       "64 lowercase hex");
    expect_parse_error("a = 1\n", "is not a [service] table");
    expect_parse_error("[a\n", "ei.toml");
}

static void sign(const char *key, const struct steep_buf *text, struct steep_buf *sig)
{
    assert_int_equal(steep_enclave_info_sign(key, text->data, text->len, sig), 0);
}

static void test_signatures(void **state)
{
    struct steep_buf text = STEEP_BUF_INIT, sig_a = STEEP_BUF_INIT, sig_b = STEEP_BUF_INIT,
                     sig_x = STEEP_BUF_INIT;
    generate(&text);
    sign(auditor_a, &text, &sig_a);
    sign(auditor_b, &text, &sig_b);
    sign(stranger, &text, &sig_x);
    struct steep_enclave_info_signature sigs[] = {
        {sig_a.data, sig_a.len, "a.sign.sha256"},
        {sig_b.data, sig_b.len, "b.sign.sha256"},
        {sig_x.data, sig_x.len, "x.sign.sha256"},
    };
    EVP_PKEY *auditors[] = {keys[0], keys[1]};

    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 2, auditors, 2), 0);
    /* Order does not matter. */
    struct steep_enclave_info_signature swapped[] = {sigs[1], sigs[0]};
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, swapped, 2, auditors, 2), 0);

    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 0, auditors, 2), -1);
    assert_non_null(strstr(steep_error_get(), "no auditor signature"));
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 1, auditors, 2), -1);
    assert_non_null(strstr(steep_error_get(), "missing the signature of auditor key 2"));
    struct steep_enclave_info_signature with_stranger[] = {sigs[0], sigs[1], sigs[2]};
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, with_stranger, 3, auditors, 2),
                     -1);
    assert_non_null(strstr(steep_error_get(), "x.sign.sha256 does not verify"));
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 2, auditors, 0), -1);
    assert_non_null(strstr(steep_error_get(), "no auditor public keys"));

    /* One changed byte anywhere in the file is refused. */
    text.data[text.len / 2] ^= 0x01;
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 2, auditors, 2), -1);
    assert_non_null(strstr(steep_error_get(), "a.sign.sha256 does not verify"));
    text.data[text.len / 2] ^= 0x01;
    /* A corrupted signature is refused. */
    sig_b.data[0] ^= 0x80;
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, sigs, 2, auditors, 2), -1);
    assert_non_null(strstr(steep_error_get(), "b.sign.sha256 does not verify"));
    /* Teaclave's placeholder signature files (their own file name) are refused. */
    struct steep_enclave_info_signature placeholder[] = {
        {(const uint8_t *)"auditors/godzilla/godzilla.sign.sha256", 38, "godzilla"}, sigs[1]};
    sig_b.data[0] ^= 0x80;
    assert_int_equal(steep_enclave_info_verify(text.data, text.len, placeholder, 2, auditors, 2),
                     -1);
    steep_buf_free(&text);
    steep_buf_free(&sig_a);
    steep_buf_free(&sig_b);
    steep_buf_free(&sig_x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_and_parse),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_parse_hardware_kinds),
        cmocka_unit_test(test_signatures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
