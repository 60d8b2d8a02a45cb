/*
 * Result codes, the batch operation and the compare-and-swap types shared by the storage engine
 * (store.h, in-process) and the storage client (store_client.h, over RPC),
 * so code written against one reads the same against the other.
 *
 * Every storage call returns one of these. STEEP_STORE_ERROR (-1) always
 * comes with a message in steep_error_get() (lib/core/error.h), so GUARD()
 * propagates it; NOT_FOUND and EMPTY are ordinary outcomes, not errors.
 */
#ifndef STEEP_STORE_RESULT_H
#define STEEP_STORE_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct steep_buf;

enum steep_store_result {
    STEEP_STORE_ERROR = -1,    /* failure; message in steep_error_get() */
    STEEP_STORE_OK = 0,        /* done */
    STEEP_STORE_NOT_FOUND = 1, /* get: no such key */
    STEEP_STORE_EMPTY = 2,     /* dequeue: the queue holds no element */
};

/* One element of an atomic batch: a put (is_delete false) or a delete. */
struct steep_store_op {
    bool is_delete;
    const void *key;
    size_t key_len;
    const void *value; /* ignored for deletes */
    size_t value_len;
};

/*
 * Called once per key of a prefix scan, in ascending byte order of the keys.
 * value is the record's plaintext (NULL from the RPC client, which returns
 * keys only). Return 0 to continue, 1 to stop early, -1 to fail the scan.
 */
typedef int (*steep_store_scan_fn)(void *arg, const uint8_t *key, size_t key_len,
                                   const uint8_t *value, size_t value_len);

/*
 * Compare-and-swap on one key: if the current state matches (absent when
 * expect_absent, else equal to expected), writes value and sets swapped.
 * Either way reports the state found before the write in current_absent /
 * current (current may be NULL when the caller does not want it).
 */
struct steep_store_cas {
    const void *key;
    size_t key_len;
    bool expect_absent;
    const void *expected;
    size_t expected_len;
    const void *value;
    size_t value_len;
    /* Optional: puts and deletes on other keys applied in the same atomic
     * write, only when the swap happens (none when n_then is 0). */
    const struct steep_store_op *then;
    size_t n_then;
    /* results */
    bool swapped;
    bool current_absent;
    struct steep_buf *current;
};

/* Limits the service applies by default (configurable: [storage] max_key_bytes,
 * max_value_bytes). The value limit leaves room for gRPC/protobuf framing in a
 * 4 MiB message. */
#define STEEP_STORE_DEFAULT_MAX_KEY   4096u
#define STEEP_STORE_DEFAULT_MAX_VALUE (4u * 1024 * 1024 - 64 * 1024)

#endif
