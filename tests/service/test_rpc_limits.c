/*
 * The [rpc] bounds of steep.toml(5) as lib/service reads them
 * (steep_service_rpc_limits): keys absent keep the RPC layer's defaults
 * (0), values reach the server configuration, byte bounds are raised to
 * twice the message limit, and a value out of range fails with the key
 * named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"
#include "service/service.h"

#define EXAMPLE "tests/core/example.toml"

/* The example config with extra appended (a new [rpc] table). */
static struct steep_config *load_with(const char *extra)
{
    struct steep_buf b = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(EXAMPLE, 1 << 20, &b), 0);
    assert_int_equal(steep_buf_append(&b, extra, strlen(extra)), 0);
    struct steep_config *cfg = NULL;
    if (steep_config_load_buffer(EXAMPLE, b.data, b.len, &cfg) != 0)
        fail_msg("config: %s", steep_error_get());
    steep_buf_free(&b);
    return cfg;
}

static void test_absent_keys_keep_defaults(void **state)
{
    struct steep_config *cfg = load_with("");
    struct steep_rpc_server_config server = {0};
    assert_int_equal(steep_service_rpc_limits(cfg, 4u << 20, &server), 0);
    assert_int_equal(server.max_workers, 0);
    assert_int_equal(server.max_queued, 0);
    assert_int_equal(server.max_buffered, 0);
    assert_int_equal(server.idle_timeout_ms, 0);
    assert_int_equal(server.max_connections_per_source, 0);
    steep_config_free(cfg);
}

static void test_values_reach_the_server(void **state)
{
    struct steep_config *cfg =
        load_with("\n[rpc]\nmax_workers = 32\nmax_queued_calls = 100\n"
                  "max_buffered_bytes = 1073741824\nmax_connection_buffered_bytes = 1024\n"
                  "receive_timeout_ms = 3000\nidle_timeout_ms = 60000\n"
                  "handshake_timeout_ms = 2000\nmax_connections = 500\n"
                  "max_connections_per_source = 20\nmax_unsent_bytes = 536870912\n"
                  "max_connection_unsent_bytes = 134217728\nsend_timeout_ms = 4000\n"
                  "client_max_pending_calls = 77\n");
    struct steep_rpc_server_config server = {0};
    assert_int_equal(steep_service_rpc_limits(cfg, 4u << 20, &server), 0);
    assert_int_equal(server.max_workers, 32);
    assert_int_equal(server.max_queued, 100);
    assert_int_equal(server.max_buffered, 1u << 30);
    assert_int_equal(server.max_connection_buffered, 8u << 20); /* raised: 2 x 4 MiB */
    assert_int_equal(server.receive_timeout_ms, 3000);
    assert_int_equal(server.idle_timeout_ms, 60000);
    assert_int_equal(server.handshake_timeout_ms, 2000);
    assert_int_equal(server.max_connections, 500);
    assert_int_equal(server.max_connections_per_source, 20);
    assert_int_equal(server.max_unsent, 512u << 20);
    assert_int_equal(server.max_connection_unsent, 128u << 20);
    assert_int_equal(server.send_timeout_ms, 4000);
    assert_int_equal(steep_config_check(cfg), 0);
    steep_config_free(cfg);
}

static void test_out_of_range_is_named(void **state)
{
    struct steep_config *cfg = load_with("\n[rpc]\nmax_queued_calls = -1\n");
    struct steep_rpc_server_config server = {0};
    assert_int_equal(steep_service_rpc_limits(cfg, 4u << 20, &server), -1);
    assert_non_null(strstr(steep_error_get(), "max_queued_calls must be 0..1000000, not -1"));
    steep_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_keys_keep_defaults),
        cmocka_unit_test(test_values_reach_the_server),
        cmocka_unit_test(test_out_of_range_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
