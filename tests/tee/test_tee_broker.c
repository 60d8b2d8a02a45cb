/*
 * The key broker's derivation and wrapping (lib/tee/hw/broker.h): keys are
 * stable per (service, policy, label), differ across each, and only the
 * measurement-bound ones depend on the measurement; a wrapped key opens
 * only with the recipient's private key, its label and unaltered bytes; a
 * report data that is no P-256 point is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/error.h"
#include "tee/hw/broker.h"
#include "tee/keys.h"

static const uint8_t master[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_derive(void **state)
{
    (void)state;
    uint8_t id1[32] = {1}, id2[32] = {2}, a[32], b[32];
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_SIGNER, id1, "db", a), 0);
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_SIGNER, id2, "db", b), 0);
    assert_memory_equal(a, b, 32); /* signer-bound: survives a new measurement */
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_MEASUREMENT, id1, "db", a),
                     0);
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_MEASUREMENT, id2, "db", b),
                     0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_SIGNER, id1, "db", a), 0);
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_SIGNER, id1, "tokens", b),
                     0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(steep_broker_derive(master, "other", STEEP_TEE_SEAL_SIGNER, id1, "db", b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(steep_broker_derive(master, "svc", STEEP_TEE_SEAL_SIGNER, id1, "", b), -1);
    assert_non_null(strstr(steep_error_get(), "label"));
    assert_int_equal(steep_broker_derive(master, "svc", 7, id1, "db", b), -1);
    assert_non_null(strstr(steep_error_get(), "policy"));
}

static void test_wrap(void **state)
{
    (void)state;
    EVP_PKEY *recipient = steep_tee_key_generate_p256(), *other = steep_tee_key_generate_p256();
    uint8_t xy[64], key[32], got[32], eph[64], nonce[12], wrapped[48];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(steep_tee_key_p256_xy(recipient, xy), 0);
    assert_int_equal(steep_broker_wrap(xy, "db", key, eph, nonce, wrapped), 0);
    assert_memory_not_equal(wrapped, key, 32);
    assert_int_equal(steep_broker_unwrap(recipient, "db", eph, nonce, wrapped, got), 0);
    assert_memory_equal(got, key, 32);
    /* another key, another label, altered bytes: nothing opens */
    assert_int_equal(steep_broker_unwrap(other, "db", eph, nonce, wrapped, got), -1);
    assert_non_null(strstr(steep_error_get(), "does not open"));
    assert_int_equal(steep_broker_unwrap(recipient, "tokens", eph, nonce, wrapped, got), -1);
    wrapped[40] ^= 1;
    assert_int_equal(steep_broker_unwrap(recipient, "db", eph, nonce, wrapped, got), -1);
    /* report data that is no P-256 point */
    uint8_t junk[64];
    memset(junk, 0x11, sizeof(junk));
    assert_int_equal(steep_broker_wrap(junk, "db", key, eph, nonce, wrapped), -1);
    assert_non_null(strstr(steep_error_get(), "not the X||Y of a P-256 key"));
    EVP_PKEY_free(recipient);
    EVP_PKEY_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
