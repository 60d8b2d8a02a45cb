/*
 * Streaming AES-GCM file scheme over OpenSSL EVP; see aes_gcm_stream.h.
 * Data moves in 64 KiB chunks; the EVP context holds the key schedule and
 * is freed (and so wiped) at close.
 */
#include "crypto/aes_gcm_stream.h"

#include "crypto/aes_gcm.h"
#include "crypto/fd_util.h"

#include "core/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

static const uint8_t file_aad[8];

static EVP_CIPHER_CTX *gcm_begin(int encrypt, const uint8_t *key, size_t key_len,
                                 const uint8_t iv[12])
{
    const EVP_CIPHER *cipher = steep_aes_gcm_cipher(key_len);
    if (!cipher)
        return NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl;
    if (!ctx || !EVP_CipherInit_ex(ctx, cipher, NULL, key, iv, encrypt) ||
        !EVP_CipherUpdate(ctx, NULL, &outl, file_aad, sizeof(file_aad))) {
        EVP_CIPHER_CTX_free(ctx);
        steep_error_set("AES-GCM initialisation failed");
        return NULL;
    }
    return ctx;
}

/* Sets the expected tag and finishes a decryption: 0 when it verifies. */
static int gcm_verify(EVP_CIPHER_CTX *ctx, const uint8_t tag[16])
{
    uint8_t final_block[16];
    int outl = 0;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) ||
        EVP_DecryptFinal_ex(ctx, final_block, &outl) <= 0)
        return steep_error_set("aes-gcm: authentication tag mismatch (wrong key/iv or tampered "
                               "file)");
    return 0;
}

static int ciphertext_length(int fd, uint64_t *len)
{
    struct stat st;
    ENSURE(fstat(fd, &st) == 0, "aes-gcm: fstat failed: %s", strerror(errno));
    ENSURE(S_ISREG(st.st_mode), "aes-gcm: not a regular file");
    ENSURE(st.st_size >= 16, "aes-gcm: file too short (%lld bytes; the tag alone is 16)",
           (long long)st.st_size);
    *len = (uint64_t)st.st_size - 16;
    return 0;
}

static int read_tag(int fd, uint64_t offset, uint8_t tag[16])
{
    ssize_t n = steep_fd_pread_full(fd, tag, 16, (off_t)offset);
    ENSURE(n == 16, "aes-gcm: cannot read tag");
    return 0;
}

int steep_aes_gcm_verify_fd(int fd, const uint8_t *key, size_t key_len, const uint8_t iv[12],
                            uint8_t tag[16])
{
    uint64_t len;
    GUARD(ciphertext_length(fd, &len));
    GUARD(read_tag(fd, len, tag));
    EVP_CIPHER_CTX *ctx = gcm_begin(0, key, key_len, iv);
    if (!ctx)
        return -1;
    uint8_t *in = malloc(CHUNK), *out = malloc(CHUNK);
    int rc = (in && out) ? 0 : steep_error_set("out of memory");
    for (uint64_t pos = 0; rc == 0 && pos < len;) {
        size_t want = len - pos < CHUNK ? (size_t)(len - pos) : CHUNK;
        ssize_t n = steep_fd_pread_full(fd, in, want, (off_t)pos);
        int outl;
        if (n != (ssize_t)want)
            rc = steep_error_set("aes-gcm: short read");
        else if (!EVP_DecryptUpdate(ctx, out, &outl, in, (int)want))
            rc = steep_error_set("aes-gcm: decryption failed");
        pos += want;
    }
    if (rc == 0)
        rc = gcm_verify(ctx, tag);
    if (out)
        OPENSSL_cleanse(out, CHUNK);
    free(in);
    free(out);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

struct gcm_reader {
    struct steep_reader base;
    int fd;
    int failed;
    uint64_t len;
    uint64_t pos;
    uint8_t tag[16];
    EVP_CIPHER_CTX *ctx;
    uint8_t in[CHUNK];
};

static ssize_t gcm_read(struct steep_reader *base, void *buf, size_t n)
{
    struct gcm_reader *r = (struct gcm_reader *)base;
    ENSURE(!r->failed, "aes-gcm: stream already failed");
    if (r->pos == r->len || n == 0)
        return 0;
    size_t want = n < CHUNK ? n : CHUNK;
    if (want > r->len - r->pos)
        want = (size_t)(r->len - r->pos);
    ssize_t got = steep_fd_pread_full(r->fd, r->in, want, (off_t)r->pos);
    int outl = 0;
    if (got != (ssize_t)want || !EVP_DecryptUpdate(r->ctx, buf, &outl, r->in, (int)want)) {
        r->failed = 1;
        OPENSSL_cleanse(buf, want);
        return steep_error_set("aes-gcm: read or decryption failed");
    }
    r->pos += want;
    if (r->pos == r->len && gcm_verify(r->ctx, r->tag) < 0) {
        r->failed = 1;
        OPENSSL_cleanse(buf, want);
        return -1;
    }
    return (ssize_t)want;
}

static int gcm_reader_close(struct steep_reader *base)
{
    struct gcm_reader *r = (struct gcm_reader *)base;
    close(r->fd);
    EVP_CIPHER_CTX_free(r->ctx);
    OPENSSL_cleanse(r->in, sizeof(r->in));
    free(r);
    return 0;
}

struct steep_reader *steep_aes_gcm_reader_open(int fd, const uint8_t *key, size_t key_len,
                                               const uint8_t iv[12], uint8_t tag[16])
{
    struct gcm_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    r->base.read = gcm_read;
    r->base.close = gcm_reader_close;
    r->fd = fd;
    if (ciphertext_length(fd, &r->len) < 0 || read_tag(fd, r->len, r->tag) < 0 ||
        !(r->ctx = gcm_begin(0, key, key_len, iv))) {
        gcm_reader_close(&r->base);
        return NULL;
    }
    if (tag)
        memcpy(tag, r->tag, 16);
    /* An empty plaintext: verify now, nothing will be read. */
    if (r->len == 0 && gcm_verify(r->ctx, r->tag) < 0) {
        gcm_reader_close(&r->base);
        return NULL;
    }
    return &r->base;
}

struct gcm_writer {
    struct steep_writer base;
    int fd;
    int failed;
    EVP_CIPHER_CTX *ctx;
    uint8_t out[CHUNK + 16];
};

static ssize_t gcm_write(struct steep_writer *base, const void *buf, size_t n)
{
    struct gcm_writer *w = (struct gcm_writer *)base;
    ENSURE(!w->failed, "aes-gcm writer: an earlier write failed");
    size_t want = n < CHUNK ? n : CHUNK;
    int outl = 0;
    if (!EVP_EncryptUpdate(w->ctx, w->out, &outl, buf, (int)want) ||
        steep_fd_write_all(w->fd, w->out, (size_t)outl) < 0) {
        w->failed = 1;
        return steep_error_set("aes-gcm writer: encryption or write failed");
    }
    return (ssize_t)want;
}

static int gcm_writer_close(struct steep_writer *base, uint8_t cmac[16])
{
    struct gcm_writer *w = (struct gcm_writer *)base;
    uint8_t tag[16];
    int outl = 0;
    int rc = w->failed ? steep_error_set("aes-gcm writer: an earlier write failed") : 0;
    if (rc == 0 && (!EVP_EncryptFinal_ex(w->ctx, w->out, &outl) ||
                    !EVP_CIPHER_CTX_ctrl(w->ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) ||
                    steep_fd_write_all(w->fd, tag, 16) < 0))
        rc = steep_error_set("aes-gcm writer: finishing failed");
    if (close(w->fd) < 0 && rc == 0)
        rc = steep_error_set("aes-gcm writer: close failed: %s", strerror(errno));
    if (rc == 0 && cmac)
        memcpy(cmac, tag, 16);
    EVP_CIPHER_CTX_free(w->ctx);
    OPENSSL_cleanse(w->out, sizeof(w->out));
    free(w);
    return rc;
}

struct steep_writer *steep_aes_gcm_writer_new(int fd, const uint8_t *key, size_t key_len,
                                              const uint8_t iv[12])
{
    struct gcm_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    w->base.write = gcm_write;
    w->base.close = gcm_writer_close;
    w->fd = fd;
    if (!(w->ctx = gcm_begin(1, key, key_len, iv))) {
        close(fd);
        free(w);
        return NULL;
    }
    return &w->base;
}
