/*
 * Sealing with the sim back-end: signer-bound keys survive a changed binary
 * (another mr_enclave), measurement-bound keys do not; tampered blobs,
 * other labels, another master key and a world-readable master key are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "tee/keys.h"
#include "tee_test_util.h"

static struct tee_fixture fixture;
static char binary_a[400], binary_b[400];

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
    tee_fixture_path(&fixture, "service-v1", binary_a, sizeof(binary_a));
    tee_fixture_path(&fixture, "service-v2", binary_b, sizeof(binary_b));
    write_file(binary_a, "version 1 of the service executable");
    write_file(binary_b, "version 2 of the service executable");
    return 0;
}

static int teardown(void **state)
{
    tee_fixture_free(&fixture);
    return 0;
}

static const char secret[] = "the storage engine's database key";

static void seal(struct steep_tee *tee, enum steep_tee_seal_policy policy, const char *label,
                 struct steep_buf *blob)
{
    assert_int_equal(steep_tee_seal(tee, policy, label, secret, sizeof(secret), blob), 0);
}

static int unseal(struct steep_tee *tee, const char *label, const struct steep_buf *blob,
                  struct steep_buf *out)
{
    steep_buf_reset(out);
    return steep_tee_unseal(tee, label, blob->data, blob->len, out);
}

static void test_round_trip_and_upgrade(void **state)
{
    struct steep_tee *v1 = tee_fixture_open(&fixture, binary_a);
    struct steep_tee *v2 = tee_fixture_open(&fixture, binary_b);
    struct steep_tee_identity id1, id2;
    steep_tee_measure(v1, &id1);
    steep_tee_measure(v2, &id2);
    assert_memory_not_equal(id1.mr_enclave, id2.mr_enclave, 32);
    assert_memory_equal(id1.mr_signer, id2.mr_signer, 32);

    struct steep_buf signer_blob = STEEP_BUF_INIT, enclave_blob = STEEP_BUF_INIT;
    struct steep_buf out = STEEP_BUF_INIT;
    seal(v1, STEEP_TEE_SEAL_SIGNER, "storage-db", &signer_blob);
    seal(v1, STEEP_TEE_SEAL_MEASUREMENT, "storage-db", &enclave_blob);
    assert_int_equal(signer_blob.len, 6 + 12 + sizeof(secret) + 16);
    assert_memory_not_equal(signer_blob.data + 18, secret, sizeof(secret));

    assert_int_equal(unseal(v1, "storage-db", &signer_blob, &out), 0);
    assert_memory_equal(out.data, secret, sizeof(secret));
    assert_int_equal(unseal(v1, "storage-db", &enclave_blob, &out), 0);
    assert_memory_equal(out.data, secret, sizeof(secret));

    /* The upgraded binary reads signer-bound state, not measurement-bound. */
    assert_int_equal(unseal(v2, "storage-db", &signer_blob, &out), 0);
    assert_int_equal(out.len, sizeof(secret));
    assert_memory_equal(out.data, secret, sizeof(secret));
    assert_int_equal(unseal(v2, "storage-db", &enclave_blob, &out), -1);
    assert_non_null(strstr(steep_error_get(), "does not authenticate"));

    /* Keys: same for the signer policy across versions, different per label. */
    uint8_t k1[32], k2[32], k3[32];
    steep_tee_seal_key(v1, STEEP_TEE_SEAL_SIGNER, "a", k1);
    steep_tee_seal_key(v2, STEEP_TEE_SEAL_SIGNER, "a", k2);
    steep_tee_seal_key(v1, STEEP_TEE_SEAL_SIGNER, "b", k3);
    assert_memory_equal(k1, k2, 32);
    assert_memory_not_equal(k1, k3, 32);
    steep_tee_seal_key(v1, STEEP_TEE_SEAL_MEASUREMENT, "a", k2);
    assert_memory_not_equal(k1, k2, 32);

    /* Two seals of the same data differ (fresh nonce). */
    struct steep_buf again = STEEP_BUF_INIT;
    seal(v1, STEEP_TEE_SEAL_SIGNER, "storage-db", &again);
    assert_memory_not_equal(again.data + 6, signer_blob.data + 6, 12);
    steep_buf_free(&again);
    steep_buf_free(&signer_blob);
    steep_buf_free(&enclave_blob);
    steep_buf_free(&out);
    steep_tee_free(v1);
    steep_tee_free(v2);
}

static void test_tampering_refused(void **state)
{
    struct steep_tee *tee = tee_fixture_open(&fixture, binary_a);
    struct steep_buf blob = STEEP_BUF_INIT, out = STEEP_BUF_INIT;
    seal(tee, STEEP_TEE_SEAL_SIGNER, "label", &blob);
    for (size_t i = 0; i < blob.len; i++) {
        blob.data[i] ^= 0x01;
        assert_int_equal(unseal(tee, "label", &blob, &out), -1);
        blob.data[i] ^= 0x01;
    }
    assert_int_equal(unseal(tee, "other-label", &blob, &out), -1);
    struct steep_buf truncated = blob;
    truncated.len = 20;
    assert_int_equal(unseal(tee, "label", &truncated, &out), -1);
    assert_non_null(strstr(steep_error_get(), "too short"));
    /* The policy byte is authenticated: flipping signer to measurement fails. */
    blob.data[5] = STEEP_TEE_SEAL_MEASUREMENT;
    assert_int_equal(unseal(tee, "label", &blob, &out), -1);
    blob.data[5] = 9;
    assert_int_equal(unseal(tee, "label", &blob, &out), -1);
    assert_non_null(strstr(steep_error_get(), "unknown sealing policy"));
    blob.data[5] = STEEP_TEE_SEAL_SIGNER;
    assert_int_equal(unseal(tee, "label", &blob, &out), 0);
    steep_buf_free(&blob);
    steep_buf_free(&out);
    steep_tee_free(tee);
}

static void test_master_key(void **state)
{
    struct steep_tee *tee = tee_fixture_open(&fixture, binary_a);
    struct steep_buf blob = STEEP_BUF_INIT, out = STEEP_BUF_INIT;
    seal(tee, STEEP_TEE_SEAL_SIGNER, "label", &blob);

    char other_master[400];
    tee_fixture_path(&fixture, "other.key", other_master, sizeof(other_master));
    assert_int_equal(steep_tee_master_key_create(other_master), 0);
    assert_int_equal(steep_tee_master_key_create(other_master), -1); /* never overwritten */
    struct steep_tee_sim_options options = {
        .exe_path = binary_a,
        .platform_pub_path = fixture.platform_pub,
        .master_key_path = other_master,
    };
    struct steep_tee *other = steep_tee_open_sim(&options);
    assert_non_null(other);
    assert_int_equal(unseal(other, "label", &blob, &out), -1);
    steep_tee_free(other);

    chmod(other_master, 0644);
    assert_null(steep_tee_open_sim(&options));
    assert_non_null(strstr(steep_error_get(), "readable by others"));
    options.master_key_path = fixture.platform_pub; /* wrong size */
    chmod(fixture.platform_pub, 0600);
    assert_null(steep_tee_open_sim(&options));
    assert_non_null(strstr(steep_error_get(), "exactly 32 bytes"));
    chmod(fixture.platform_pub, 0644);
    steep_buf_free(&blob);
    steep_buf_free(&out);
    steep_tee_free(tee);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_upgrade),
        cmocka_unit_test(test_tampering_refused),
        cmocka_unit_test(test_master_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
