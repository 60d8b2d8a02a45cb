/*
 * Unit tests of the platform config: the example file, Teaclave's
 * validation rules (missing keys, wrong types, addresses, attestation,
 * AS_* override), the typed getters and their remembered type errors,
 * path resolution and the service data directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/error.h"

#define EXAMPLE "tests/core/example.toml"

static char *example_text(void)
{
    struct steep_buf b = STEEP_BUF_INIT;
    assert_int_equal(steep_read_file(EXAMPLE, 1 << 20, &b), 0);
    assert_int_equal(steep_buf_terminate(&b), 0);
    return (char *)steep_buf_detach(&b, NULL);
}

/* The example with the first occurrence of from replaced by to. */
static char *example_with(const char *from, const char *to)
{
    char *text = example_text();
    char *at = strstr(text, from);
    if (!at)
        fail_msg("'%s' not in the example", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

static struct steep_config *load_text(const char *text)
{
    struct steep_config *cfg = NULL;
    if (steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg) != 0)
        fail_msg("unexpected error: %s", steep_error_get());
    return cfg;
}

static void expect_error(const char *from, const char *to, const char *error)
{
    char *text = example_with(from, to);
    struct steep_config *cfg = NULL;
    int rc = steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg);
    free(text);
    if (rc != -1)
        fail_msg("accepted: %s -> %s", from, to);
    assert_null(cfg);
    if (strcmp(steep_error_get(), error) != 0)
        fail_msg("got \"%s\", want \"%s\"", steep_error_get(), error);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_example(void **state)
{
    struct steep_config *cfg = NULL;
    if (steep_config_load(EXAMPLE, &cfg) != 0)
        fail_msg("%s", steep_error_get());
    assert_string_equal(cfg->api_authentication_listen, "0.0.0.0:7776");
    assert_string_equal(cfg->api_frontend_listen, "0.0.0.0:7777");
    assert_string_equal(cfg->internal[STEEP_ENDPOINT_STORAGE].listen_address, "0.0.0.0:17778");
    assert_string_equal(cfg->internal[STEEP_ENDPOINT_STORAGE].advertised_address,
                        "https://localhost:17778");
    assert_string_equal(cfg->internal[STEEP_ENDPOINT_ACCESS_CONTROL].advertised_address,
                        "https://localhost:17779");
    assert_string_equal(cfg->internal[STEEP_ENDPOINT_SCHEDULER].listen_address, "0.0.0.0:17780");
    assert_true(cfg->dir[0] == '/');
    assert_true(ends_with(cfg->dir, "tests/core"));
    assert_true(ends_with(cfg->enclave_info.path, "tests/core/enclave_info.toml"));
    assert_true(cfg->enclave_info.len > 20);
    assert_memory_equal(cfg->enclave_info.data, "# Placeholder", 13);
    assert_int_equal(cfg->auditor_signature_count, 2);
    assert_int_equal(cfg->auditor_signatures[1].len, strlen("signature-optimus"));
    assert_memory_equal(cfg->auditor_signatures[1].data, "signature-optimus", 17);
    assert_string_equal(cfg->attestation_algorithm, "sim");
    assert_string_equal(cfg->attestation_url, "https://api.trustedservices.intel.com:443");
    assert_string_equal(cfg->fusion_base_dir, "/tmp/fusion_data");
    assert_int_equal(steep_config_endpoint_index("scheduler"), STEEP_ENDPOINT_SCHEDULER);
    assert_int_equal(steep_config_endpoint_index("frontend"), -1);
    assert_string_equal(steep_config_endpoint_name(STEEP_ENDPOINT_MANAGEMENT), "management");
    steep_config_free(cfg);
}

static void test_getters(void **state)
{
    char *text = example_text();
    struct steep_config *cfg = load_text(text);
    free(text);
    assert_int_equal(steep_config_get_int(cfg, "execution.slots", 7), 2);
    assert_int_equal(steep_config_get_int(cfg, "execution.heartbeat_ms", 7), 1000);
    assert_int_equal(steep_config_get_int(cfg, "execution.missing", 7), 7);
    assert_int_equal(steep_config_get_int(cfg, "authentication.argon2id.memory_kib", 0), 65536);
    assert_string_equal(steep_config_get_string(cfg, "tee.backend", "x"), "sim");
    assert_string_equal(steep_config_get_string(cfg, "tee.missing", "x"), "x");
    assert_null(steep_config_get_string(cfg, "tee.missing", NULL));
    assert_true(steep_config_get_bool(cfg, "tee.missing", true));
    assert_false(steep_config_get_bool(cfg, "tee.missing", false));
    const char *const *dirs = NULL;
    assert_int_equal(steep_config_get_string_array(cfg, "access_control.policy_dirs", &dirs), 1);
    assert_string_equal(dirs[0], "policies");
    assert_null(dirs[1]);
    assert_int_equal(steep_config_get_string_array(cfg, "access_control.none", &dirs), 0);
    assert_null(dirs);
    const char *data_dir = steep_config_get_path(cfg, "steep.data_dir", "x");
    assert_true(data_dir[0] == '/');
    assert_true(ends_with(data_dir, "tests/core/data"));
    assert_string_equal(steep_config_get_path(cfg, "mount.fusion_base_dir", "x"),
                        "/tmp/fusion_data");
    assert_non_null(steep_config_value(cfg, "authentication.argon2id"));
    assert_int_equal(steep_config_check(cfg), 0);
    steep_config_free(cfg);
}

static void test_getter_type_errors(void **state)
{
    char *text = example_with("policy_dirs = [\"policies\"]", "policy_dirs = [\"a\", 3]");
    struct steep_config *cfg = load_text(text);
    free(text);
    assert_int_equal(steep_config_get_int(cfg, "tee.backend", 5), 5);
    assert_true(steep_config_get_bool(cfg, "execution.slots", true));
    assert_string_equal(steep_config_get_string(cfg, "execution.slots", "d"), "d");
    const char *const *dirs = NULL;
    assert_int_equal(steep_config_get_string_array(cfg, "access_control.policy_dirs", &dirs), 0);
    assert_null(dirs);
    assert_int_equal(steep_config_check(cfg), -1);
    /* the first error is kept */
    assert_string_equal(steep_error_get(),
                        EXAMPLE ":38:11: tee.backend must be an integer, not a string");
    steep_config_free(cfg);

    text = example_with("policy_dirs = [\"policies\"]", "policy_dirs = [\"a\", 3]");
    cfg = load_text(text);
    free(text);
    assert_int_equal(steep_config_get_string_array(cfg, "access_control.policy_dirs", &dirs), 0);
    assert_int_equal(steep_config_check(cfg), -1);
    assert_string_equal(steep_error_get(), EXAMPLE ":45:21: access_control.policy_dirs[1] must "
                                                   "be a string, not an integer");
    steep_config_free(cfg);

    text = example_text();
    cfg = load_text(text);
    free(text);
    assert_true(steep_config_get_bool(cfg, "steep", true));
    assert_int_equal(steep_config_check(cfg), -1);
    assert_string_equal(steep_error_get(), EXAMPLE ":34:2: steep must be a boolean, not a table");
    steep_config_free(cfg);
}

static void test_missing_keys(void **state)
{
    expect_error("storage = { listen_address = \"0.0.0.0:17778\", advertised_address = "
                 "\"https://localhost:17778\" }",
                 "", EXAMPLE ": missing key 'internal_endpoints.storage.listen_address'");
    expect_error(", advertised_address = \"https://localhost:17778\"", "",
                 EXAMPLE ": missing key 'internal_endpoints.storage.advertised_address'");
    expect_error("[api_endpoints]\n", "[api]\n",
                 EXAMPLE ": missing key 'api_endpoints.authentication.listen_address'");
    expect_error("algorithm = \"sim\"", "", EXAMPLE ": missing key 'attestation.algorithm'");
    expect_error("enclave_info = { path = \"enclave_info.toml\" }", "",
                 EXAMPLE ": missing key 'audit.enclave_info'");
    expect_error("auditor_signatures = [", "unused = [",
                 EXAMPLE ": missing key 'audit.auditor_signatures'");
}

static void test_wrong_types_and_values(void **state)
{
    expect_error("frontend = { listen_address = \"0.0.0.0:7777\" }",
                 "frontend = { listen_address = 7777 }",
                 EXAMPLE ":7:31: api_endpoints.frontend.listen_address must be a string, not an "
                         "integer");
    expect_error("\"0.0.0.0:7777\"", "\"0.0.0.0\"",
                 EXAMPLE ":7:31: api_endpoints.frontend.listen_address must be a socket address "
                         "host:port");
    expect_error("\"0.0.0.0:7777\"", "\"0.0.0.0:77777\"",
                 EXAMPLE ":7:31: api_endpoints.frontend.listen_address must be a socket address "
                         "host:port");
    expect_error("\"https://localhost:17778\"", "\"localhost:17778\"",
                 EXAMPLE ":13:68: internal_endpoints.storage.advertised_address must be "
                         "scheme://host:port (e.g. https://localhost:17778)");
    expect_error("enclave_info = { path = \"enclave_info.toml\" }", "enclave_info = \"x\"",
                 EXAMPLE ":18:16: audit.enclave_info must be a table, not a string");
    expect_error("enclave_info = { path = \"enclave_info.toml\" }", "enclave_info = { p = 1 }",
                 EXAMPLE ":18:16: audit.enclave_info needs a 'path' key");
    expect_error("{ path = \"auditors/godzilla.sign.sha256\" }", "\"x\"",
                 EXAMPLE ":20:5: audit.auditor_signatures must be a table, not a string");
    expect_error("algorithm = \"sim\"", "algorithm = 1",
                 EXAMPLE ":25:13: attestation.algorithm must be a string, not an integer");
    expect_error("fusion_base_dir = \"/tmp/fusion_data\"", "fusion_base_dir = false",
                 EXAMPLE ":31:19: mount.fusion_base_dir must be a string, not a boolean");
    expect_error("slots = 2", "slots = 2.5", EXAMPLE ":41:9: floats are not supported");
}

static void test_missing_audit_file(void **state)
{
    char *text = example_with("\"enclave_info.toml\"", "\"no_such_file.toml\"");
    struct steep_config *cfg = NULL;
    assert_int_equal(steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg), -1);
    free(text);
    const char *error = steep_error_get();
    assert_non_null(strstr(error, EXAMPLE ":18:25: audit.enclave_info: "));
    assert_non_null(strstr(error, "tests/core/no_such_file.toml"));
}

static void test_attestation(void **state)
{
    char *text = example_with("algorithm = \"sim\"", "algorithm = \"sgx_epid\"");
    struct steep_config *cfg = load_text(text);
    free(text);
    assert_string_equal(cfg->attestation_algorithm, "sgx_epid");
    assert_string_equal(cfg->attestation_key, "00000000000000000000000000000000");
    steep_config_free(cfg);

    expect_error("algorithm = \"sim\"", "algorithm = \"sgx_foo\"",
                 EXAMPLE ": attestation algorithm 'sgx_foo' is not one of sim, sgx_epid, "
                         "sgx_ecdsa");
    text = example_with("key = \"00000000000000000000000000000000\"", "key = \"0\"");
    char *ecdsa = strstr(text, "algorithm = \"sim\"");
    assert_non_null(ecdsa);
    memcpy(ecdsa, "algorithm = \"sgx\"", 17); /* an unknown algorithm fails first... */
    cfg = NULL;
    assert_int_equal(steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg), -1);
    free(text);
    text = example_with("key = \"00000000000000000000000000000000\"",
                        "key = \"0\"\nalgorithm = \"sgx_ecdsa\"");
    ecdsa = strstr(text, "algorithm = \"sim\"");
    memcpy(ecdsa, "#lgorithm", 9); /* ...a short key fails for SGX */
    assert_int_equal(steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg), -1);
    assert_string_equal(steep_error_get(), EXAMPLE ": attestation key must be 32 characters");
    free(text);

    /* sim needs neither key nor spid */
    text = example_with("key = \"00000000000000000000000000000000\"", "");
    cfg = load_text(text);
    free(text);
    assert_string_equal(cfg->attestation_key, "");
    steep_config_free(cfg);
}

static void test_environment_override(void **state)
{
    setenv("AS_ALGO", "sgx_ecdsa", 1);
    setenv("AS_URL", "https://pccs.example:8081", 1);
    setenv("AS_KEY", "0123456789abcdef0123456789abcdef", 1);
    char *text = example_text();
    /* three of four: ignored */
    struct steep_config *cfg = load_text(text);
    assert_string_equal(cfg->attestation_algorithm, "sim");
    steep_config_free(cfg);

    setenv("AS_SPID", "fedcba9876543210fedcba9876543210", 1);
    cfg = load_text(text);
    assert_string_equal(cfg->attestation_algorithm, "sgx_ecdsa");
    assert_string_equal(cfg->attestation_url, "https://pccs.example:8081");
    assert_string_equal(cfg->attestation_spid, "fedcba9876543210fedcba9876543210");
    steep_config_free(cfg);

    setenv("AS_SPID", "short", 1);
    cfg = NULL;
    assert_int_equal(steep_config_load_buffer(EXAMPLE, text, strlen(text), &cfg), -1);
    assert_string_equal(steep_error_get(),
                        "environment AS_*: attestation spid must be 32 characters");
    free(text);
    unsetenv("AS_ALGO");
    unsetenv("AS_URL");
    unsetenv("AS_KEY");
    unsetenv("AS_SPID");
}

static void test_syntax_error_position(void **state)
{
    expect_error("[mount]", "[mount]]", EXAMPLE ":30:8: expected end of line, found ']'");
    struct steep_config *cfg = NULL;
    assert_int_equal(steep_config_load("/nonexistent/steep.toml", &cfg), -1);
    assert_non_null(strstr(steep_error_get(), "/nonexistent/steep.toml"));
}

static void test_connect_address(void **state)
{
    char out[64];
    assert_int_equal(steep_config_connect_address("https://localhost:17778", out, sizeof out), 0);
    assert_string_equal(out, "localhost:17778");
    assert_int_equal(steep_config_connect_address("https://[::1]:17778/", out, sizeof out), 0);
    assert_string_equal(out, "[::1]:17778");
    assert_int_equal(steep_config_connect_address("localhost:17778", out, sizeof out), -1);
    assert_int_equal(steep_config_connect_address("https://localhost", out, sizeof out), -1);
    assert_int_equal(steep_config_connect_address("https://", out, sizeof out), -1);
    assert_int_equal(steep_config_connect_address("https://a-very-long-host-name:1", out, 8), -1);
}

/* A peer's replicas (issue 17): its advertised address first, then
 * replica_addresses, as one comma-separated list for lib/rpc. */
static void test_peer_replicas(void **state)
{
    char out[256];
    char *text = example_with("advertised_address = \"https://localhost:17778\"",
                              "advertised_address = \"https://localhost:17778\", "
                              "replica_addresses = [\"https://10.0.0.2:17778\", "
                              "\"https://[fd00::3]:17778\"]");
    struct steep_config *cfg = load_text(text);
    free(text);
    assert_int_equal(steep_config_peer_address(cfg, STEEP_ENDPOINT_STORAGE, out, sizeof out), 0);
    assert_string_equal(out, "localhost:17778,10.0.0.2:17778,[fd00::3]:17778");
    assert_int_equal(steep_config_peer_address(cfg, STEEP_ENDPOINT_STORAGE, out, 30), -1);
    assert_int_equal(steep_config_peer_address(cfg, STEEP_ENDPOINT_MANAGEMENT, out, sizeof out), 0);
    assert_null(strchr(out, ','));
    steep_config_free(cfg);
    expect_error("advertised_address = \"https://localhost:17778\"",
                 "advertised_address = \"https://localhost:17778\", replica_addresses = "
                 "[\"10.0.0.2:17778\"]",
                 EXAMPLE ":13:116: internal_endpoints.storage.replica_addresses must list "
                         "scheme://host:port strings (the peer's other replicas)");
    expect_error("advertised_address = \"https://localhost:17778\"",
                 "advertised_address = \"https://localhost:17778\", replica_addresses = "
                 "\"https://10.0.0.2:17778\"",
                 EXAMPLE ":13:115: internal_endpoints.storage.replica_addresses must be an array, "
                         "not a string");
}

static void test_service_dir(void **state)
{
    char base[] = "/tmp/steep-config-test-XXXXXX";
    assert_non_null(mkdtemp(base));
    char line[128];
    snprintf(line, sizeof line, "data_dir = \"%s/nested\"", base);
    char *text = example_with("data_dir = \"data\"", line);
    struct steep_config *cfg = load_text(text);
    free(text);
    char *dir = steep_config_service_dir(cfg, "storage");
    assert_non_null(dir);
    char want[160];
    snprintf(want, sizeof want, "%s/nested/storage", base);
    assert_string_equal(dir, want);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    char *again = steep_config_service_dir(cfg, "storage");
    assert_string_equal(again, dir);
    char *resolved = steep_config_resolve(cfg, "x/y");
    assert_true(ends_with(resolved, "tests/core/x/y"));
    free(resolved);
    rmdir(dir);
    snprintf(want, sizeof want, "%s/nested", base);
    rmdir(want);
    rmdir(base);
    free(dir);
    free(again);
    steep_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_getter_type_errors),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_wrong_types_and_values),
        cmocka_unit_test(test_missing_audit_file),
        cmocka_unit_test(test_attestation),
        cmocka_unit_test(test_environment_override),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_connect_address),
        cmocka_unit_test(test_peer_replicas),
        cmocka_unit_test(test_service_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
