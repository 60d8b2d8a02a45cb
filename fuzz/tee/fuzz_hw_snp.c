/*
 * libFuzzer target for the SEV-SNP report parser and verifier: the input as
 * a report under each real VCEK chain (nothing made up may be accepted),
 * and in patch mode near the real reports (fuzz_hw_common.h).
 */
#include "fuzz_hw_common.h"

static struct fuzz_vector vectors[] = {
    {"snp_milan_gosev", "report.bin", 1751328000, STEEP_BUF_INIT, {0}, 0},
    {"snp_milan_virtee", "report.bin", 1751328000, STEEP_BUF_INIT, {0}, 0},
};
#define N_VECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void near_real(const struct fuzz_vector *v, const uint8_t *data, size_t len)
{
    struct steep_snp_report parsed;
    struct steep_hw_report report;
    steep_snp_report_parse(data, len, &parsed);
    steep_hw_verify(data, len, &v->collateral, NULL, v->pinned, &report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_once(vectors, N_VECTORS);
    struct steep_snp_report parsed;
    steep_snp_report_parse(data, size, &parsed);
    struct steep_hw_report report;
    for (size_t i = 0; i < N_VECTORS; i++) {
        struct fuzz_vector *v = &vectors[i];
        if (v->loaded &&
            steep_hw_verify(data, size, &v->collateral, NULL, v->pinned, &report) == 0 &&
            (size != v->bytes.len || memcmp(data, v->bytes.data, size) != 0))
            abort();
    }
    fuzz_near(vectors, N_VECTORS, data, size, near_real);
    return 0;
}
