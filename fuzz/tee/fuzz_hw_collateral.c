/*
 * libFuzzer target for Intel's collateral JSON (jansson): the input as TCB
 * info and as QE identity; whatever parses is then used to evaluate the TCB
 * of each real quote (tcb.c), which must not crash on any level list. In
 * patch mode the real tcb_info.json / qe_identity.json are mutated.
 */
#include "fuzz_hw_common.h"
#include "tee/hw/hw_internal.h"

static struct fuzz_vector tcb_infos[] = {
    {"sgx_v3_dcapqvl", "tcb_info.json", 0, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v4_dcapqvl", "tcb_info.json", 0, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v5_gotdx", "qe_identity.json", 0, STEEP_BUF_INIT, {0}, 0},
};
static struct fuzz_vector quotes[] = {
    {"sgx_v3_dcapqvl", "quote.bin", 0, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v4_dcapqvl", "quote.bin", 0, STEEP_BUF_INIT, {0}, 0},
    {"tdx_v5_gotdx", "quote.bin", 0, STEEP_BUF_INIT, {0}, 0},
};
#define N_VECTORS (sizeof(quotes) / sizeof(quotes[0]))

static void evaluate(const struct steep_hw_collateral_item *tcb_info,
                     const struct steep_hw_collateral_item *qe_identity)
{
    for (size_t i = 0; i < N_VECTORS; i++) {
        struct steep_dcap_quote q;
        if (!quotes[i].loaded ||
            steep_dcap_quote_parse(quotes[i].bytes.data, quotes[i].bytes.len, &q) < 0)
            continue;
        static const uint8_t svn[16] = {11, 11, 2, 2, 255, 1, 0, 5};
        struct steep_hw_report r;
        memset(&r, 0, sizeof(r));
        steep_hw_tcb_evaluate(&q, svn, 13, tcb_info, qe_identity, &r);
        if (r.n_advisories > STEEP_HW_MAX_ADVISORIES)
            abort();
    }
}

static void as_collateral(const uint8_t *data, size_t size)
{
    static struct steep_hw_collateral_item tcb, qe, real_qe;
    static int have_real_qe;
    if (!have_real_qe && quotes[0].loaded && quotes[0].collateral.qe_identity) {
        real_qe = *quotes[0].collateral.qe_identity;
        have_real_qe = 1;
    }
    if (steep_hw_tcb_info_parse(data, size, &tcb) == 0 && have_real_qe)
        evaluate(&tcb, &real_qe);
    if (steep_hw_qe_identity_parse(data, size, &qe) == 0 && quotes[0].collateral.tcb_info)
        evaluate(quotes[0].collateral.tcb_info, &qe);
}

static void near_real(const struct fuzz_vector *v, const uint8_t *data, size_t len)
{
    (void)v;
    as_collateral(data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_once(tcb_infos, N_VECTORS);
    static int quotes_loaded;
    if (!quotes_loaded) {
        quotes_loaded = 1;
        for (size_t i = 0; i < N_VECTORS; i++)
            fuzz_load(&quotes[i]);
    }
    as_collateral(data, size);
    fuzz_near(tcb_infos, N_VECTORS, data, size, near_real);
    return 0;
}
