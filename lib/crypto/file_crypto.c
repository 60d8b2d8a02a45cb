/*
 * Scheme dispatch and whole-file helpers; see file_crypto.h.
 */
#include "crypto/file_crypto.h"

#include "crypto/aes_gcm.h"
#include "crypto/aes_gcm_stream.h"
#include "crypto/tf128.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK 65536

static const char *const scheme_names[] = {
    [STEEP_SCHEME_AES_GCM_128] = "aes-gcm-128",
    [STEEP_SCHEME_AES_GCM_256] = "aes-gcm-256",
    [STEEP_SCHEME_TEACLAVE_FILE_128] = "teaclave-file-128",
    [STEEP_SCHEME_RAW] = "raw",
};

int steep_file_scheme_parse(const char *name, enum steep_file_scheme *out)
{
    for (size_t i = 0; i < sizeof(scheme_names) / sizeof(scheme_names[0]); i++) {
        if (strcmp(name, scheme_names[i]) == 0) {
            *out = (enum steep_file_scheme)i;
            return 0;
        }
    }
    return steep_error_set("Invalid crypto schema: %s", name);
}

const char *steep_file_scheme_name(enum steep_file_scheme scheme)
{
    return (size_t)scheme < sizeof(scheme_names) / sizeof(scheme_names[0]) ? scheme_names[scheme]
                                                                           : "unknown";
}

int steep_file_crypto_init(struct steep_file_crypto *crypto, const char *schema, const uint8_t *key,
                           size_t key_len, const uint8_t *iv, size_t iv_len)
{
    memset(crypto, 0, sizeof(*crypto));
    GUARD(steep_file_scheme_parse(schema, &crypto->scheme));
    switch (crypto->scheme) {
    case STEEP_SCHEME_AES_GCM_128:
    case STEEP_SCHEME_AES_GCM_256: {
        size_t want = crypto->scheme == STEEP_SCHEME_AES_GCM_128 ? 16 : 32;
        ENSURE(key_len == want, "Invalid key length for %s: %zu (expected %zu)", schema, key_len,
               want);
        ENSURE(iv_len == 12, "Invalid iv length for %s: %zu (expected 12)", schema, iv_len);
        memcpy(crypto->iv, iv, 12);
        crypto->iv_len = 12;
        break;
    }
    case STEEP_SCHEME_TEACLAVE_FILE_128:
        ENSURE(key_len == 16, "Invalid key length for %s: %zu (expected 16)", schema, key_len);
        ENSURE(iv_len == 0, "IV is not empty for teaclave_file_128");
        break;
    case STEEP_SCHEME_RAW:
        return 0;
    }
    memcpy(crypto->key, key, key_len);
    crypto->key_len = key_len;
    return 0;
}

int steep_file_crypto_random_tf128(struct steep_file_crypto *crypto)
{
    memset(crypto, 0, sizeof(*crypto));
    crypto->scheme = STEEP_SCHEME_TEACLAVE_FILE_128;
    crypto->key_len = 16;
    ENSURE(RAND_bytes(crypto->key, 16) == 1, "random generator failed");
    return 0;
}

void steep_file_crypto_wipe(struct steep_file_crypto *crypto)
{
    OPENSSL_cleanse(crypto, sizeof(*crypto));
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int is_gcm(const struct steep_file_crypto *crypto)
{
    return crypto->scheme == STEEP_SCHEME_AES_GCM_128 || crypto->scheme == STEEP_SCHEME_AES_GCM_256;
}

struct steep_reader *steep_file_reader_open(const char *path,
                                            const struct steep_file_crypto *crypto,
                                            const uint8_t *expected_cmac, uint8_t *cmac_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        steep_error_set("cannot open %s: %s", base_name(path), strerror(errno));
        return NULL;
    }
    uint8_t cmac[16] = {0};
    struct steep_reader *r = NULL;
    switch (crypto->scheme) {
    case STEEP_SCHEME_RAW:
        r = steep_plain_reader_new(fd);
        break;
    case STEEP_SCHEME_TEACLAVE_FILE_128:
        r = steep_tf128_reader_open(fd, base_name(path), crypto->key, cmac);
        break;
    case STEEP_SCHEME_AES_GCM_128:
    case STEEP_SCHEME_AES_GCM_256:
        if (steep_aes_gcm_verify_fd(fd, crypto->key, crypto->key_len, crypto->iv, cmac) < 0) {
            close(fd);
            return NULL;
        }
        r = steep_aes_gcm_reader_open(fd, crypto->key, crypto->key_len, crypto->iv, cmac);
        break;
    }
    if (!r)
        return NULL;
    if (expected_cmac && crypto->scheme != STEEP_SCHEME_RAW &&
        !steep_tag_equal(expected_cmac, cmac)) {
        steep_reader_close(r);
        steep_error_set("Corrupted input file: cmac mismatch");
        return NULL;
    }
    if (cmac_out)
        memcpy(cmac_out, cmac, 16);
    return r;
}

struct steep_writer *steep_file_writer_create(const char *path,
                                              const struct steep_file_crypto *crypto, int allow_raw)
{
    if (crypto->scheme == STEEP_SCHEME_RAW && !allow_raw) {
        steep_error_set("OutputFile: unsupported type");
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        steep_error_set("cannot create %s: %s", base_name(path), strerror(errno));
        return NULL;
    }
    switch (crypto->scheme) {
    case STEEP_SCHEME_RAW:
        return steep_plain_writer_new(fd);
    case STEEP_SCHEME_TEACLAVE_FILE_128:
        return steep_tf128_writer_new(fd, base_name(path), crypto->key);
    case STEEP_SCHEME_AES_GCM_128:
    case STEEP_SCHEME_AES_GCM_256:
        return steep_aes_gcm_writer_new(fd, crypto->key, crypto->key_len, crypto->iv);
    }
    close(fd);
    steep_error_set("unknown scheme");
    return NULL;
}

/* Copies reader to writer, closes both; 0 or -1. */
static int pump(struct steep_reader *r, struct steep_writer *w, uint64_t total,
                steep_file_progress_fn progress, void *progress_arg, uint8_t cmac[16])
{
    uint8_t *buf = malloc(COPY_CHUNK);
    int rc = buf ? 0 : steep_error_set("out of memory");
    uint64_t done = 0;
    while (rc == 0) {
        ssize_t n = steep_reader_read(r, buf, COPY_CHUNK);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (steep_writer_write_all(w, buf, (size_t)n) < 0) {
            rc = -1;
            break;
        }
        done += (uint64_t)n;
        if (progress)
            progress(progress_arg, done, total);
    }
    if (buf) {
        OPENSSL_cleanse(buf, COPY_CHUNK);
        free(buf);
    }
    steep_reader_close(r);
    /* Keep the first error message: a failed close after a failed read is noise. */
    if (rc < 0) {
        char saved[STEEP_ERROR_MAX];
        snprintf(saved, sizeof(saved), "%s", steep_error_get());
        steep_writer_close(w, NULL);
        steep_error_set("%s", saved);
        return -1;
    }
    return steep_writer_close(w, cmac);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Opens a reader on in_path that streams the input scheme; aes-gcm inputs
 * are not pre-verified here: the caller deletes its output if the final
 * read fails. */
static struct steep_reader *open_streaming(const char *path, const struct steep_file_crypto *crypto,
                                           const uint8_t *expected_cmac)
{
    if (!is_gcm(crypto))
        return steep_file_reader_open(path, crypto, expected_cmac, NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        steep_error_set("cannot open %s: %s", base_name(path), strerror(errno));
        return NULL;
    }
    uint8_t tag[16];
    struct steep_reader *r =
        steep_aes_gcm_reader_open(fd, crypto->key, crypto->key_len, crypto->iv, tag);
    if (r && expected_cmac && !steep_tag_equal(expected_cmac, tag)) {
        steep_reader_close(r);
        steep_error_set("invalid tag");
        return NULL;
    }
    return r;
}

int steep_file_convert(const char *in_path, const struct steep_file_crypto *in_crypto,
                       const uint8_t *expected_cmac, const char *out_path,
                       const struct steep_file_crypto *out_crypto, uint8_t out_cmac[16])
{
    struct steep_reader *r = open_streaming(in_path, in_crypto, expected_cmac);
    if (!r)
        return -1;
    struct steep_writer *w = steep_file_writer_create(out_path, out_crypto, 0);
    if (!w) {
        steep_reader_close(r);
        return -1;
    }
    if (pump(r, w, file_size(in_path), NULL, NULL, out_cmac) < 0) {
        unlink(out_path);
        return -1;
    }
    return 0;
}

int steep_file_encrypt(const char *in_path, const char *out_path,
                       const struct steep_file_crypto *crypto, steep_file_progress_fn progress,
                       void *progress_arg, uint8_t cmac[16])
{
    ENSURE(crypto->scheme != STEEP_SCHEME_RAW, "OutputFile: unsupported type");
    int fd = open(in_path, O_RDONLY | O_CLOEXEC);
    ENSURE(fd >= 0, "cannot open %s: %s", in_path, strerror(errno));
    struct steep_reader *r = steep_plain_reader_new(fd);
    if (!r)
        return -1;
    struct steep_writer *w = steep_file_writer_create(out_path, crypto, 0);
    if (!w) {
        steep_reader_close(r);
        return -1;
    }
    if (pump(r, w, file_size(in_path), progress, progress_arg, cmac) < 0) {
        unlink(out_path);
        return -1;
    }
    return 0;
}

int steep_file_decrypt(const char *in_path, const char *out_path,
                       const struct steep_file_crypto *crypto, steep_file_progress_fn progress,
                       void *progress_arg, uint8_t cmac[16])
{
    uint8_t tag[16] = {0};
    struct steep_reader *r;
    if (is_gcm(crypto)) {
        int fd = open(in_path, O_RDONLY | O_CLOEXEC);
        ENSURE(fd >= 0, "cannot open %s: %s", in_path, strerror(errno));
        r = steep_aes_gcm_reader_open(fd, crypto->key, crypto->key_len, crypto->iv, tag);
    } else {
        r = steep_file_reader_open(in_path, crypto, NULL, tag);
    }
    if (!r)
        return -1;
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        steep_reader_close(r);
        return steep_error_set("cannot create %s: %s", out_path, strerror(errno));
    }
    struct steep_writer *w = steep_plain_writer_new(fd);
    if (!w) {
        steep_reader_close(r);
        unlink(out_path);
        return -1;
    }
    if (pump(r, w, file_size(in_path), progress, progress_arg, NULL) < 0) {
        unlink(out_path);
        return -1;
    }
    if (cmac)
        memcpy(cmac, tag, 16);
    return 0;
}

int steep_file_cmac(const char *path, const struct steep_file_crypto *crypto, uint8_t cmac[16])
{
    ENSURE(crypto->scheme != STEEP_SCHEME_RAW, "raw files have no cmac");
    struct steep_reader *r = steep_file_reader_open(path, crypto, NULL, cmac);
    if (!r)
        return -1;
    if (crypto->scheme == STEEP_SCHEME_TEACLAVE_FILE_128) {
        /* Authenticate every node, not only the metadata. */
        uint8_t buf[4096];
        ssize_t n;
        while ((n = steep_reader_read(r, buf, sizeof(buf))) > 0)
            ;
        OPENSSL_cleanse(buf, sizeof(buf));
        if (n < 0) {
            steep_reader_close(r);
            return -1;
        }
    }
    return steep_reader_close(r);
}
