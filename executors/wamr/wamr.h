/*
 * The WebAssembly executor ("wamr", Teaclave's WAMicroRuntime pair).
 *
 * Teaclave interpreted payloads with WAMR; Steep translates them ahead of
 * time with Debian's wasm2c (wabt 1.0.32) and the node's C compiler into a
 * shared object, cached per node, and runs that inside the per-task
 * process sandbox. Measured on one compute-bound program: wabt's
 * interpreter 185x native, wasm2c + gcc -O2 1.25x (bench/wasm).
 *
 * Node side (this header; module.c, compile.c, cache.c):
 *   payload --check imports/exports/names (module.c)--> cache lookup by
 *   SHA-256(payload || toolchain || engine settings) (cache.c) --miss-->
 *   confined compile job: wasm2c, then cc, as an unprivileged process in
 *   its own namespaces under rlimits and a deadline (compile.c) --> entry
 *   written with a keyed MAC beside it --> the verified bytes go into a
 *   sealed memfd that the runner receives as a descriptor (a resource).
 * Runner side (run.c, teaclave_imports.c, wasi.c): the runner dlopens the
 *   memfd before it confines itself (no code of the module runs then: the
 *   translated code has no constructors, see module.h on names), then
 *   instantiates and calls entrypoint(argc, argv) or _start confined.
 *
 * Engine settings. Debian's libwasm-rt-impl.a was built for guard pages
 * (WASM_RT_MEMCHECK_SIGNAL_HANDLER=1): it reserves 8 GiB of address space
 * per linear memory, which no RLIMIT_AS of a task allows, and turns every
 * SIGSEGV into a trap through its own handler, which would replace the
 * runner's crash and violation reporting (the seccomp filter keeps those
 * fixed). So the generated code is compiled with explicit bounds checks
 * (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0) and a call-depth limit
 * (WASM_RT_USE_STACK_DEPTH_COUNT), and the module's memory calls are
 * redirected (ld --wrap) to the runner's own reservation at the configured
 * cap (run.c). From Debian's library the runner uses traps (longjmp),
 * function types, tables and exceptions.
 */
#ifndef STEEP_EXECUTORS_WAMR_WAMR_H
#define STEEP_EXECUTORS_WAMR_WAMR_H

#include <stddef.h>
#include <stdint.h>

/* Name of the runner resource (runner_protocol.h) that carries the compiled
 * module (never visible to the function: the runner removes it first). */
#define STEEP_WAMR_MODULE_RESOURCE "wasm_module"
/* wasm call depth before "call stack exhausted"; the runner's stack for
 * the module is sized for it (run.c). */
#define STEEP_WAMR_MAX_CALL_DEPTH 20000

struct steep_wamr_config {
    const char *cache_dir;         /* compiled modules; survives restarts */
    uint32_t memory_mb;            /* linear memory cap (default 256) */
    uint32_t max_module_mb;        /* largest payload accepted (default 16) */
    uint32_t compile_timeout_secs; /* wall clock of one compile job (default 300) */
    const char *cc;                /* C compiler (default "cc") */
    const char *wasm2c;            /* default "wasm2c" */
};

void steep_wamr_config_default(struct steep_wamr_config *config);

/* Node side: checks, compiles (or finds in the cache) the payload and
 * returns in *fd a sealed memfd holding the verified shared object. -1
 * with the task's failure reason. Thread-safe. */
int steep_wamr_prepare(const struct steep_wamr_config *config, const uint8_t *payload,
                       size_t payload_len, int *fd);

#endif
