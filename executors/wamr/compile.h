/*
 * Node side: the confined compile job that turns a checked wasm payload
 * into a shared object (wamr.h).
 *
 * Two steps, each a child process of the node started with fork and
 * confined before exec: wasm2c (wasm -> C, which also validates the
 * module) and cc (C -> payload.so). A child runs in a fresh private
 * directory below the cache, in new network (and, where permitted, user)
 * namespaces, as the unprivileged user nobody when the node is root (so it
 * cannot read the platform's keys, all mode 0600), with no_new_privs, an
 * empty environment, no inherited descriptors, and rlimits on address
 * space, CPU time, file size and open files; the node kills its process
 * group at the job's deadline. A failure is the task's: "invalid
 * WebAssembly module: <wasm2c's first line>" or "cannot compile the
 * module: <the compiler's first error line>".
 */
#ifndef STEEP_EXECUTORS_WAMR_COMPILE_H
#define STEEP_EXECUTORS_WAMR_COMPILE_H

#include "core/buf.h"
#include "module.h"
#include "wamr.h"

/* Compiles wasm into so (the shared object's bytes). */
int steep_wamr_compile(const struct steep_wamr_config *config,
                       const struct steep_wamr_module_info *info, const uint8_t *wasm, size_t len,
                       struct steep_buf *so);

/* What identifies the toolchain and engine settings in cache keys: the
 * versions wasm2c and cc report, the flags and the memory cap. Computed
 * once per process. */
int steep_wamr_toolchain_id(const struct steep_wamr_config *config, struct steep_buf *id);

#endif
