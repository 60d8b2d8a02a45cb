/*
 * libFuzzer target for the teaclave-file-128 reader (and the aes-gcm
 * reader). The first byte picks a mode:
 *   0: [name length][name][file bytes] is read as a tf128 file, key zero
 *      (seeds: Teaclave's fixtures, so mutations reach the MHT and data
 *      nodes only as far as authentication allows);
 *   1: [offset u16][rest] rest is written with the tf128 writer, one byte
 *      at offset (mod file size) is flipped, and the reader must reject the
 *      file or return exactly the plaintext when the flip was a no-op;
 *   2: the rest is read as an aes-gcm-128 file (key and IV zero).
 * The reader must never crash, hang or return unauthenticated bytes.
 */
#include "crypto/aes_gcm_stream.h"
#include "crypto/tf128.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const uint8_t zero_key[16];
static const uint8_t zero_iv[12];

static int memfd_with(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (len && write(fd, data, len) != (ssize_t)len)
        abort();
    return fd;
}

static size_t drain(struct steep_reader *r, uint8_t *out, size_t cap)
{
    uint8_t buf[5000];
    size_t total = 0;
    ssize_t n;
    while ((n = steep_reader_read(r, buf, sizeof(buf))) > 0) {
        if (out && total + (size_t)n <= cap)
            memcpy(out + total, buf, (size_t)n);
        total += (size_t)n;
    }
    steep_reader_close(r);
    return n < 0 ? SIZE_MAX : total;
}

static void read_as_file(const uint8_t *data, size_t size)
{
    if (size < 1 || data[0] > size - 1)
        return;
    char name[256];
    memcpy(name, data + 1, data[0]);
    name[data[0]] = 0;
    int fd = memfd_with(data + 1 + data[0], size - 1 - data[0]);
    struct steep_reader *r = steep_tf128_reader_open(fd, name, zero_key, NULL);
    if (r)
        drain(r, NULL, 0);
}

static void write_flip_read(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t offset = (size_t)data[0] | (size_t)data[1] << 8;
    const uint8_t *plain = data + 2;
    size_t len = size - 2;
    int fd = memfd_create("fuzz.enc", MFD_CLOEXEC);
    struct steep_writer *w = steep_tf128_writer_new(dup(fd), "fuzz.enc", zero_key);
    if (!w || steep_writer_write_all(w, plain, len) < 0 || steep_writer_close(w, NULL) < 0)
        abort();
    off_t file_size = lseek(fd, 0, SEEK_END);
    uint8_t byte;
    off_t at = (off_t)(offset * 4099u % (size_t)file_size);
    if (pread(fd, &byte, 1, at) != 1)
        abort();
    byte ^= 0x01;
    if (pwrite(fd, &byte, 1, at) != 1)
        abort();
    struct steep_reader *r = steep_tf128_reader_open(fd, "fuzz.enc", zero_key, NULL);
    if (!r)
        return;
    uint8_t *out = malloc(len + 1);
    size_t got = drain(r, out, len);
    /* Bytes outside the authenticated regions (padding, unused header
     * fields) may be flipped harmlessly; then the plaintext must be intact. */
    if (got != SIZE_MAX && (got != len || memcmp(out, plain, len) != 0))
        abort();
    free(out);
}

static void read_as_gcm(const uint8_t *data, size_t size)
{
    int fd = memfd_with(data, size);
    struct steep_reader *r = steep_aes_gcm_reader_open(fd, zero_key, 16, zero_iv, NULL);
    if (r)
        drain(r, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        read_as_file(data + 1, size - 1);
        break;
    case 1:
        if (size <= 70000)
            write_flip_read(data + 1, size - 1);
        break;
    default:
        read_as_gcm(data + 1, size - 1);
        break;
    }
    return 0;
}
