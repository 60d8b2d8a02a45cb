/*
 * Runner side: the state one WebAssembly task shares between the engine
 * glue (run.c) and the imports (teaclave_imports.c, wasi.c). The runner
 * runs one module once and is single-threaded, so this is one global.
 *
 * Every pointer and length a module passes to an import is an offset into
 * its linear memory and is checked here before the host touches it.
 */
#ifndef STEEP_EXECUTORS_WAMR_RUNTIME_H
#define STEEP_EXECUTORS_WAMR_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wasm-rt.h>

#include "functions/function.h"

/* Module types of the generated prototypes (instances are not used). */
typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;
struct Z_env_instance_t;
struct Z_wasi_snapshot_preview1_instance_t;

struct steep_wamr_state {
    wasm_rt_memory_t *memory; /* the module's only memory, or NULL */
    struct steep_fn_io *io;
    const char *program; /* WASI argv[0] */
    char **args;         /* the flat sorted [k1, v1, ...] list */
    uint32_t n_args;
    bool exited;
    int32_t exit_code;
};

extern struct steep_wamr_state steep_wamr;

/* The host address of [ptr, ptr + len) in linear memory, or NULL. */
uint8_t *steep_wamr_span(uint32_t ptr, uint32_t len);
/* Copies the NUL-terminated string at ptr; -1 when it leaves memory or
 * is longer than size - 1. */
int steep_wamr_string(uint32_t ptr, char *out, size_t size);
/* proc_exit: ends the module's run with code. */
void steep_wamr_exit(int32_t code) __attribute__((noreturn));

/* Closes whatever the module left open (outputs are finished, as
 * Teaclave dropped them); flushes WASI's stdout/stderr into the log. */
void steep_wamr_teaclave_close_all(void);
void steep_wamr_wasi_close_all(void);

#endif
