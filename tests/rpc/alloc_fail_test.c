/*
 * Allocation failures in the RPC server's request path (issue 14, item
 * 20), SQLite-style: a census counts the allocations Steep's own code makes
 * to set up a server, accept an in-memory HTTP/2 connection and serve the
 * fuzzer's seed requests (a valid call, two streams, invalid UTF-8, a
 * reset stream); then the same run is repeated failing the 1st, 2nd, ...
 * Nth of them. Every run must end cleanly: set-up returns NULL/-1 with a
 * message, a feed fails or the call is refused, never a crash, a hang or
 * (under ASan's leak check at exit) a leak; and a run after it, with the
 * allocator healthy again, still serves the call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "core/error.h"
#include "fixture.h"

static const char *const seeds[] = {"valid_call", "two_streams", "string_invalid_utf8",
                                    "rst_stream"};
#define SEEDS (sizeof seeds / sizeof seeds[0])

static struct steep_buf seed_bytes[SEEDS];
static int handled;

static void counting_handler(struct steep_rpc_call *call, const ProtobufCMessage *message,
                             void *arg)
{
    handled++;
    test_echo_say(call, message, arg);
}

static void load_seeds(void)
{
    for (size_t i = 0; i < SEEDS; i++) {
        char path[256];
        snprintf(path, sizeof path, "fuzz/corpus/rpc_request/%s", seeds[i]);
        steep_buf_reset(&seed_bytes[i]);
        assert_int_equal(steep_read_file(path, 1 << 20, &seed_bytes[i]), 0);
        assert_true(seed_bytes[i].len > 1);
    }
}

/* One whole run; 0 when everything succeeded, -1 at the first failure
 * (which must carry a message). */
static int serve_seeds(void)
{
    struct steep_rpc_server_config config = {
        .tls = {.credentials = test_identity_credentials, .credentials_arg = &server_identity}};
    int rc = 0;
    struct steep_rpc_conn *conn = NULL;
    struct steep_rpc_server *server = steep_rpc_server_new(&config);
    ENSURE_GOTO(server, out, "%s", steep_error_get());
    GUARD_GOTO(steep_rpc_server_add(server, ECHO_SAY, &steep_test__echo_request__descriptor,
                                    counting_handler, NULL),
               out);
    for (size_t i = 0; i < SEEDS; i++) {
        conn = steep_rpc_memory_conn_new(server);
        ENSURE_GOTO(conn, out, "cannot open an in-memory connection");
        /* The first byte of a seed is the fuzzer's mode byte. */
        GUARD_GOTO(steep_rpc_memory_conn_feed(conn, seed_bytes[i].data + 1, seed_bytes[i].len - 1),
                   out);
        steep_rpc_memory_conn_free(conn);
        conn = NULL;
    }
out:
    if (conn)
        steep_rpc_memory_conn_free(conn);
    steep_rpc_server_free(server);
    return rc;
}

static void test_every_allocation_fails_cleanly(void **state)
{
    (void)state;
    load_seeds();
    handled = 0;
    alloc_fail_arm(0, 0);
    assert_int_equal(serve_seeds(), 0);
    alloc_fail_disarm();
    long census = alloc_fail_calls();
    int handled_healthy = handled;
    assert_true(census > 20);
    assert_true(handled_healthy >= 2);
    long failures = 0;
    for (long at = 1; at <= census; at++) {
        steep_error_clear();
        handled = 0;
        alloc_fail_arm(at, 0);
        int rc = serve_seeds();
        alloc_fail_disarm();
        assert_int_equal(alloc_fail_failed(), 1);
        assert_true(handled <= handled_healthy);
        if (rc < 0) {
            failures++;
            if (!steep_error_get()[0])
                fail_msg("allocation %ld of %ld failed without a message", at, census);
        }
    }
    /* Not every failure must surface (some are absorbed, e.g. a refused
     * call), but a census where none did would mean nothing was injected. */
    assert_true(failures > 0);
    /* and the allocator failing for good from some point on */
    for (long at = 1; at <= census; at += census / 16 + 1) {
        alloc_fail_arm(at, 1);
        serve_seeds();
        alloc_fail_disarm();
    }
    handled = 0;
    assert_int_equal(serve_seeds(), 0);
    assert_int_equal(handled, handled_healthy);
    for (size_t i = 0; i < SEEDS; i++)
        steep_buf_free(&seed_bytes[i]);
    fprintf(stderr, "rpc alloc-fail: %ld allocations, %ld surfaced as errors\n", census, failures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_cleanly),
    };
    return fixture_main("alloc-fail", tests, sizeof(tests) / sizeof(tests[0]));
}
