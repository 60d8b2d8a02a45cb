/*
 * Node side: the per-node cache of compiled modules (wamr.h).
 *
 * <cache_dir>/<key>.so holds a compiled module and <key>.mac the hex
 * HMAC-SHA256 over key || the .so bytes under the cache's own key
 * (<cache_dir>/mac.key, 32 random bytes, mode 0600), where key =
 * SHA-256(payload || toolchain id) in hex. An entry whose MAC does not
 * match (truncated, tampered, half-written) is never loaded: it is logged,
 * rebuilt and replaced. Entries survive node restarts. Verified modules
 * are also kept in this process as sealed memfds (immutable), so a cached
 * task costs a dup(), not a read and a MAC.
 */
#ifndef STEEP_EXECUTORS_WAMR_CACHE_H
#define STEEP_EXECUTORS_WAMR_CACHE_H

#include <stdbool.h>

#include "wamr.h"

/* Drops the in-process memfds (tests that corrupt entries on disk). */
void steep_wamr_cache_forget(void);

#endif
