/*
 * SGX DCAP quotes through Gramine's /dev/attestation pseudo-files (see
 * backend.h): the attestation type must be "dcap" (EPID is end-of-life and
 * "none" means no SGX), the 64 bytes of report data are written to
 * user_report_data, and the quote read back must be a DCAP v3 quote whose
 * REPORTDATA is exactly those bytes, so a stale or foreign quote is never
 * handed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/error.h"
#include "tee/hw/backend.h"

static int path_of(char *out, size_t size, const char *root, const char *file)
{
    int n = snprintf(out, size, "%s/%s", root, file);
    ENSURE(n > 0 && (size_t)n < size, "Gramine attestation: path too long");
    return 0;
}

int steep_gramine_get_quote(const char *root, const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                            struct steep_buf *quote)
{
    root = root ? root : STEEP_GRAMINE_DEFAULT_ROOT;
    char path[4096];
    struct steep_buf type = STEEP_BUF_INIT;
    GUARD(path_of(path, sizeof(path), root, "attestation_type"));
    if (steep_read_file(path, 64, &type) < 0)
        return steep_error_wrap("Gramine attestation (is this running inside Gramine-SGX?)");
    while (type.len && (type.data[type.len - 1] == '\n' || type.data[type.len - 1] == '\0'))
        type.len--;
    bool dcap = type.len == 4 && memcmp(type.data, "dcap", 4) == 0;
    steep_buf_free(&type);
    ENSURE(dcap, "Gramine attestation type is not \"dcap\" (set sgx.remote_attestation = "
                 "\"dcap\" in the manifest)");

    GUARD(path_of(path, sizeof(path), root, "user_report_data"));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "Gramine attestation: cannot open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, report_data, STEEP_TEE_REPORT_DATA_LEN);
    int saved = errno;
    close(fd);
    ENSURE(n == STEEP_TEE_REPORT_DATA_LEN, "Gramine attestation: writing %s: %s", path,
           n < 0 ? strerror(saved) : "short write");

    GUARD(path_of(path, sizeof(path), root, "quote"));
    steep_buf_reset(quote);
    if (steep_read_file(path, 1 << 20, quote) < 0)
        return steep_error_wrap("Gramine attestation quote");
    struct steep_dcap_quote parsed;
    if (steep_dcap_quote_parse(quote->data, quote->len, &parsed) < 0)
        return steep_error_wrap("Gramine attestation gave a quote that");
    ENSURE(parsed.version == 3 && parsed.body_type == 1,
           "Gramine attestation gave a v%u quote, not an SGX v3 quote", parsed.version);
    ENSURE(CRYPTO_memcmp(parsed.sgx.report_data, report_data, 64) == 0,
           "Gramine attestation gave a quote for other report data (stale or another "
           "writer's)");
    return 0;
}
