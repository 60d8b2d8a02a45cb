/*
 * Shared by the hardware-evidence fuzz targets: the real vectors of
 * $STEEP_SHARED_DIR/fixtures/hw-attestation (default ../shared, relative to
 * the repository root the fuzzers run from), loaded once, and "patch mode":
 * the input's first byte picks a vector and the rest is a list of
 * (u16 offset, u8 xor) patches applied to a copy of it, so the fuzzer
 * explores near real evidence without any of it being copied into the
 * repository's corpus.
 */
#ifndef STEEP_FUZZ_HW_COMMON_H
#define STEEP_FUZZ_HW_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "tee/hw/hw.h"

struct fuzz_vector {
    const char *name;
    const char *file;
    time_t pinned;
    struct steep_buf bytes;
    struct steep_hw_collateral collateral;
    int loaded;
};

static void fuzz_load(struct fuzz_vector *v)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    char dir[1024], path[1100];
    snprintf(dir, sizeof(dir), "%s/fixtures/hw-attestation/%s", shared ? shared : "../shared",
             v->name);
    snprintf(path, sizeof(path), "%s/%s", dir, v->file);
    v->loaded = steep_read_file(path, 1 << 20, &v->bytes) == 0 &&
                steep_hw_collateral_load_dir(dir, &v->collateral) == 0;
}

/* A copy of v's bytes with the patches of data[0..size) applied; free() it. */
static uint8_t *fuzz_patch(const struct fuzz_vector *v, const uint8_t *data, size_t size,
                           size_t *len)
{
    *len = v->bytes.len;
    uint8_t *copy = malloc(*len ? *len : 1);
    if (!copy)
        return NULL;
    memcpy(copy, v->bytes.data, *len);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        size_t at = (size_t)(data[i] | data[i + 1] << 8);
        if (*len)
            copy[at % *len] ^= data[i + 2];
    }
    /* An odd tail truncates: lengths and bounds get exercised too. */
    if (size % 3 == 2 && *len > data[size - 1])
        *len -= data[size - 1];
    return copy;
}

/* Loads the vectors on the first call. */
static void fuzz_load_once(struct fuzz_vector *vectors, size_t n)
{
    static int loaded;
    if (loaded)
        return;
    loaded = 1;
    for (size_t i = 0; i < n; i++)
        fuzz_load(&vectors[i]);
}

/* Patch mode: data[0] picks the vector, the rest patches a copy of it, and
 * check() gets the patched bytes. */
static void fuzz_near(const struct fuzz_vector *vectors, size_t n, const uint8_t *data, size_t size,
                      void (*check)(const struct fuzz_vector *, const uint8_t *, size_t))
{
    if (size < 1 || !vectors[data[0] % n].loaded)
        return;
    const struct fuzz_vector *v = &vectors[data[0] % n];
    size_t len;
    uint8_t *patched = fuzz_patch(v, data + 1, size - 1, &len);
    if (patched) {
        check(v, patched, len);
        free(patched);
    }
}

#endif
