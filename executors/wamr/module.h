/*
 * Node side: what the node checks in a WebAssembly payload before it hands
 * it to wasm2c (teaclave-functions.md §2.7).
 *
 * The binary is decoded just far enough to see its types, imports, memory
 * and exports, through struct steep_cursor: every length is bounded by the
 * section that holds it. Full validation is wasm2c's (its errors become the
 * task's reason); this pass adds what wasm2c does not check for us:
 *  - every import is one the runner provides, with exactly its type
 *    (imports.def): "unknown import env.foo" instead of a silent link;
 *  - no name contains a control character or the two characters * and /: wasm2c 1.0.32
 *    copies import and export names raw into C comments, so such a name
 *    would inject C code into the translated module;
 *  - the module exports `entrypoint` (i32, i32) -> i32 (Teaclave's ABI) or
 *    a WASI `_start` () -> ().
 */
#ifndef STEEP_EXECUTORS_WAMR_MODULE_H
#define STEEP_EXECUTORS_WAMR_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct steep_wamr_module_info {
    bool imports_env;  /* imports from module "env" */
    bool imports_wasi; /* imports from "wasi_snapshot_preview1" */
    bool has_entrypoint;
    bool has_start; /* WASI _start */
};

/* 0, or -1 with the reason ("invalid WebAssembly module: ...",
 * "unknown import env.foo", ...). */
int steep_wamr_module_check(const uint8_t *wasm, size_t len, struct steep_wamr_module_info *info);

#endif
