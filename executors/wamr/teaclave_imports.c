/*
 * Runner side: Teaclave's five env imports (teaclave-functions.md §2.4).
 *
 * Handles come from one sequence 1..1023 shared by reads and writes; a
 * read handle is n, a write handle 0x4000_0000 | n. open_input and
 * create_output return a handle or -1; read_file/write_file one read or
 * write (bytes, 0 at end of input) or -1; close_file 0 or -1 (twice: -1).
 * Files are the runner's struct steep_fn_io streams, so reads check the
 * cmac and writes produce the cmac exactly as for built-in functions. A
 * failed open is logged (the reason Teaclave's -1 does not carry).
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "runtime.h"

#define MAX_HANDLES 1024
#define WRITE_BIT   0x40000000u
#define MAX_FILE_ID 4096

static struct steep_reader *readers[MAX_HANDLES];
static struct steep_writer *writers[MAX_HANDLES];
static uint32_t next_handle = 1;

static void log_failure(const char *call, const char *id)
{
    char line[STEEP_ERROR_MAX + 200];
    snprintf(line, sizeof line, "[WARN teaclave_wasm] %s(%.100s): %s", call, id, steep_error_get());
    if (steep_wamr.io->log)
        steep_wamr.io->log(steep_wamr.io->ctx, line);
}

/* A handle is used up only by a successful open (Teaclave's sequence). */
static bool handles_left(void)
{
    return next_handle < MAX_HANDLES;
}

u32 Z_envZ_teaclave_open_input(struct Z_env_instance_t *env, u32 fid)
{
    char id[MAX_FILE_ID];
    if (steep_wamr_string(fid, id, sizeof id) < 0)
        return (u32)-1;
    if (!handles_left())
        return (u32)-1;
    struct steep_reader *reader = steep_wamr.io->open_input(steep_wamr.io->ctx, id);
    if (!reader) {
        log_failure("teaclave_open_input", id);
        return (u32)-1;
    }
    uint32_t n = next_handle++;
    readers[n] = reader;
    return n;
}

u32 Z_envZ_teaclave_create_output(struct Z_env_instance_t *env, u32 fid)
{
    char id[MAX_FILE_ID];
    if (steep_wamr_string(fid, id, sizeof id) < 0)
        return (u32)-1;
    if (!handles_left())
        return (u32)-1;
    struct steep_writer *writer = steep_wamr.io->create_output(steep_wamr.io->ctx, id);
    if (!writer) {
        log_failure("teaclave_create_output", id);
        return (u32)-1;
    }
    uint32_t n = next_handle++;
    writers[n] = writer;
    return WRITE_BIT | n;
}

u32 Z_envZ_teaclave_read_file(struct Z_env_instance_t *env, u32 handle, u32 buf, u32 len)
{
    if ((handle & WRITE_BIT) || handle >= MAX_HANDLES || !readers[handle] || (int32_t)len < 0)
        return (u32)-1;
    uint8_t *out = steep_wamr_span(buf, len);
    if (!out)
        return (u32)-1;
    ssize_t n = steep_reader_read(readers[handle], out, len);
    return n < 0 ? (u32)-1 : (u32)n;
}

u32 Z_envZ_teaclave_write_file(struct Z_env_instance_t *env, u32 handle, u32 buf, u32 len)
{
    uint32_t n = handle & ~WRITE_BIT;
    if (!(handle & WRITE_BIT) || n >= MAX_HANDLES || !writers[n] || (int32_t)len < 0)
        return (u32)-1;
    const uint8_t *in = steep_wamr_span(buf, len);
    if (!in)
        return (u32)-1;
    return steep_writer_write_all(writers[n], in, len) < 0 ? (u32)-1 : len;
}

u32 Z_envZ_teaclave_close_file(struct Z_env_instance_t *env, u32 handle)
{
    uint32_t n = handle & ~WRITE_BIT;
    if (n >= MAX_HANDLES)
        return (u32)-1;
    if (handle & WRITE_BIT) {
        struct steep_writer *writer = writers[n];
        writers[n] = NULL;
        return writer && steep_writer_close(writer, NULL) == 0 ? 0 : (u32)-1;
    }
    struct steep_reader *reader = readers[n];
    readers[n] = NULL;
    return reader && steep_reader_close(reader) == 0 ? 0 : (u32)-1;
}

void steep_wamr_teaclave_close_all(void)
{
    for (size_t i = 0; i < MAX_HANDLES; i++) {
        if (readers[i])
            steep_reader_close(readers[i]);
        if (writers[i])
            steep_writer_close(writers[i], NULL);
        readers[i] = NULL;
        writers[i] = NULL;
    }
}
