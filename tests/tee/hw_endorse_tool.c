/*
 * Test helper for test_tee_hw_endorse.py: the authority step of
 * lib/tee/hw/endorse.h on one saved piece of evidence.
 *   hw_endorse_tool AUTHORITY_DIR COLLATERAL_DIR EVIDENCE RFC3339 OUT_DIR [STATUS ADVISORY...]
 * Creates the authority's keys in AUTHORITY_DIR when absent; writes
 * OUT_DIR/report.json, report.sig and signer.der. Exit 0 endorsed, 1
 * refused (the reason on stderr), 2 usage.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/authority.h"
#include "tee/hw/endorse.h"
#include "tee/hw/hw_config.h"

static int write_out(const char *dir, const char *name, const struct steep_buf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return steep_write_file_atomic(path, b->data, b->len, 0644);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: hw_endorse_tool AUTHORITY_DIR COLLATERAL_DIR EVIDENCE TIME OUT_DIR "
                        "[STATUS ADVISORY...]\n");
        return 2;
    }
    char key[4096], cert[4096];
    snprintf(key, sizeof(key), "%s/%s", argv[1], STEEP_AUTHORITY_SIGNING_KEY);
    snprintf(cert, sizeof(cert), "%s/%s", argv[1], STEEP_AUTHORITY_SIGNING_CERT);
    struct stat st;
    if (stat(key, &st) != 0 && steep_authority_init_bits(argv[1], 2048) < 0) {
        fprintf(stderr, "authority: %s\n", steep_error_get());
        return 2;
    }
    struct steep_authority *authority = steep_authority_open(key, cert);
    struct steep_hw_collateral collateral;
    struct steep_buf evidence = STEEP_BUF_INIT;
    struct tm tm = {0};
    if (!authority || steep_hw_collateral_load_dir(argv[2], &collateral) < 0 ||
        steep_read_file(argv[3], 1 << 20, &evidence) < 0 ||
        !strptime(argv[4], "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        fprintf(stderr, "set-up: %s\n", steep_error_get());
        return 2;
    }
    enum steep_hw_tcb_status statuses[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n_statuses = 0;
    const char *status = argc > 6 ? argv[6] : NULL;
    if (status && steep_tee_hw_statuses_parse(&status, 1, statuses, &n_statuses) < 0) {
        fprintf(stderr, "status: %s\n", steep_error_get());
        return 2;
    }
    struct steep_hw_policy policy = {
        .accepted_statuses = statuses,
        .n_accepted_statuses = n_statuses,
        .accepted_advisories = (const char *const *)(argv + 7),
        .n_accepted_advisories = argc > 7 ? (size_t)(argc - 7) : 0,
        .allow_debug = false,
    };
    struct steep_tee_evidence out;
    int rc = steep_hw_endorse(authority, evidence.data, evidence.len, &collateral, &policy,
                              timegm(&tm), &out);
    if (rc < 0)
        fprintf(stderr, "refused: %s\n", steep_error_get());
    else if (write_out(argv[5], "report.json", &out.report) < 0 ||
             write_out(argv[5], "report.sig", &out.signature) < 0 ||
             write_out(argv[5], "signer.der", &out.certs[0]) < 0) {
        fprintf(stderr, "output: %s\n", steep_error_get());
        rc = -1;
    }
    steep_tee_evidence_free(&out);
    steep_buf_free(&evidence);
    steep_hw_collateral_free(&collateral);
    steep_authority_free(authority);
    return rc < 0 ? 1 : 0;
}
