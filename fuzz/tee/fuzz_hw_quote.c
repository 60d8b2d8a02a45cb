/*
 * libFuzzer target for the DCAP quote parser and verifier (SGX v3, TDX
 * v4/v5): the input as a quote, verified against each real vector's
 * collateral at its pinned instant (nothing made up may be accepted), and
 * in patch mode (fuzz_hw_common.h) near the real quotes. Nothing may crash,
 * leak or read out of bounds.
 */
#include "fuzz_hw_common.h"

static struct fuzz_vector vectors[] = {
    {"sgx_v3_dcapqvl", "quote.bin", 1751328000, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v4_dcapqvl", "quote.bin", 1751328000, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v5_gotdx", "quote.bin", 1772323200, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v5_dcapqvl", "quote.bin", 1772323200, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v4_gotdx", "quote.bin", 1688173200, STEEP_BUF_INIT, {0}, 0},
};
#define N_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void near_real(const struct fuzz_vector *v, const uint8_t *data, size_t len)
{
    struct steep_dcap_quote quote;
    struct steep_hw_report report;
    steep_dcap_quote_parse(data, len, &quote);
    steep_hw_verify(data, len, &v->collateral, NULL, v->pinned, &report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_once(vectors, N_VECTORS);
    struct steep_dcap_quote quote;
    steep_dcap_quote_parse(data, size, &quote);
    steep_hw_detect(data, size);
    struct steep_hw_report report;
    for (size_t i = 0; i < N_VECTORS; i++) {
        struct fuzz_vector *v = &vectors[i];
        /* Arbitrary bytes that are not the real quote (up to its ignored
         * trailing bytes) must be refused. */
        if (v->loaded &&
            steep_hw_verify(data, size, &v->collateral, NULL, v->pinned, &report) == 0 &&
            (size < v->bytes.len - 70 || memcmp(data, v->bytes.data, 632) != 0))
            abort();
    }
    fuzz_near(vectors, N_VECTORS, data, size, near_real);
    return 0;
}
