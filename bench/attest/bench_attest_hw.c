/*
 * Hardware evidence verification benchmark: microseconds of CPU per full
 * verification of each real vector of fixtures/hw-attestation (quote or
 * report layout, every signature, chain, CRL and window, TCB status), with
 * its collateral loaded and parsed once and its signatures proven once
 * ("cached": lib/tee/hw/memo.c; windows, revocation and the evidence's own
 * signatures are still checked every time), and uncached, against a
 * same-run reference: one bare ECDSA P-256/SHA-256 verification of the
 * same quote. Budget: <= 2 ms per cached verification of each kind.
 *
 *   bench_attest_hw [SECONDS]   (default 2 per vector; fixtures from
 *                                $STEEP_SHARED_DIR, default ../shared)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/hw/hw.h"
#include "tee/hw/hw_internal.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct vector {
    const char *name, *file, *at;
};

static const struct vector vectors[] = {
    {"sgx_v3_dcapqvl", "quote.bin", "2025-07-01T00:00:00Z"},
    {"tdx_v4_dcapqvl", "quote.bin", "2025-07-01T00:00:00Z"},
    {"tdx_v5_gotdx", "quote.bin", "2026-03-01T00:00:00Z"},
    {"snp_milan_virtee", "report.bin", "2025-07-01T00:00:00Z"},
    {"snp_milan_gosev", "report.bin", "2025-07-01T00:00:00Z"},
};

static void die(const char *what)
{
    fprintf(stderr, "bench_attest_hw: %s: %s\n", what, steep_error_get());
    exit(1);
}

/* The same-run reference: one bare P-256 verification (the quote signature). */
static double reference_us(const char *dir, double seconds)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/tdx_v4_dcapqvl/quote.bin", dir);
    struct steep_buf b = STEEP_BUF_INIT;
    struct steep_dcap_quote q;
    if (steep_read_file(path, 1 << 20, &b) < 0 || steep_dcap_quote_parse(b.data, b.len, &q) < 0)
        die(path);
    EVP_PKEY *key = steep_hw_p256_key(q.attestation_key);
    if (!key)
        die("attestation key");
    long n = 0;
    double start = cpu_seconds(), elapsed;
    do {
        if (!steep_hw_ecdsa_p256_verify(key, q.signature, q.signed_region, q.signed_len))
            die("reference signature");
        n++;
    } while ((elapsed = cpu_seconds() - start) < seconds);
    EVP_PKEY_free(key);
    steep_buf_free(&b);
    return elapsed * 1e6 / (double)n;
}

static double per_verification(const struct steep_buf *evidence,
                               const struct steep_hw_collateral *c, time_t at, double seconds,
                               struct steep_hw_report *r, const char *name)
{
    long n = 0;
    double start = cpu_seconds(), elapsed;
    do {
        if (steep_hw_verify(evidence->data, evidence->len, c, NULL, at, r) < 0)
            die(name);
        n++;
    } while ((elapsed = cpu_seconds() - start) < seconds);
    return elapsed * 1e6 / (double)n;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    const char *shared = getenv("STEEP_SHARED_DIR");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/fixtures/hw-attestation", shared ? shared : "../shared");
    double ref = reference_us(dir, seconds / 2);
    printf("reference: one ECDSA P-256/SHA-256 verification: %.1f us of CPU\n", ref);
    int over = 0;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        char vdir[1100], path[1200];
        snprintf(vdir, sizeof(vdir), "%s/%s", dir, v->name);
        snprintf(path, sizeof(path), "%s/%s", vdir, v->file);
        struct steep_buf evidence = STEEP_BUF_INIT;
        struct steep_hw_collateral c;
        time_t at = 0;
        if (steep_read_file(path, 1 << 20, &evidence) < 0 ||
            steep_hw_collateral_load_dir(vdir, &c) < 0 || steep_hw_parse_time(v->at, &at) < 0)
            die(v->name);
        struct steep_hw_report r;
        double cached = per_verification(&evidence, &c, at, seconds, &r, v->name);
        /* The same without remembering anything: every signature every time. */
        steep_hw_memo_free(c.memo);
        c.memo = NULL;
        double uncached = per_verification(&evidence, &c, at, seconds / 2, &r, v->name);
        over += cached > 2000.0;
        printf("%-17s %-4s %-34s %7.1f us cached (%4.1fx the reference; budget <= 2000), "
               "%7.1f us uncached\n",
               v->name, steep_hw_kind_name(r.kind), steep_hw_tcb_status_name(r.status), cached,
               cached / ref, uncached);
        steep_hw_collateral_free(&c);
        steep_buf_free(&evidence);
    }
    printf("%s\n", over ? "OVER BUDGET" : "all within budget");
    return 0;
}
