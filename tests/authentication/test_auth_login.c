/*
 * Logins of steep-authentication over RPC: the failed-login window of a
 * source and id grows exponentially up to its cap, refuses unchecked and
 * at once within it, and resets after a success; the first-start
 * bootstrap of `admin` (Teaclave's default password, or the operator's,
 * and never again once done); and no password or token ever reaches the
 * log (stderr is captured for the whole test); an anonymous UserLogin
 * cannot forge a log line through its id (issue 14, item 16).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth_harness.h"
#include "core/buf.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double timed_login(struct auth_env *env, const char *id, const char *password, int *code)
{
    double start = now_ms();
    *code = auth_login(env, id, password, NULL);
    return now_ms() - start;
}

/* The retry time a throttled refusal names, or -1 when the call was checked. */
static long throttled_for(const struct auth_env *env)
{
    long ms = -1;
    if (sscanf(env->last_status.message,
               "authentication failed: too many failed attempts, retry in %ld ms", &ms) != 1)
        return -1;
    return ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* Issue 14, item 9: after the n-th failure of (source, id), that pair's
 * attempts within base * 2^(n-1) ms (capped) are refused unchecked and at
 * once; nothing sleeps on the server, a success resets the pair, and
 * another id from the same source is not slowed. */
static void test_failed_login_window_grows(void **state)
{
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    env.options.login_delay_base_ms = 40;
    env.options.login_delay_max_ms = 320;
    assert_int_equal(auth_env_restart(&env), 0);
    int code;
    const long window[] = {40, 80, 160, 320, 320}; /* capped: uncapped the last is 640 */
    for (int i = 0; i < 5; i++) {
        timed_login(&env, "admin", "wrong", &code);
        assert_int_equal(code, 16);
        assert_string_equal(env.last_status.message, "authentication failed"); /* checked */
        /* even the right password is refused unchecked, and at once */
        double refused = timed_login(&env, "admin", "teaclave", &code);
        assert_int_equal(code, 16);
        long left = throttled_for(&env);
        print_message("failure %d: window %ld ms, refused in %.1f ms\n", i + 1, left, refused);
        assert_true(left > window[i] / 2 && left <= window[i]);
        assert_true(refused < 30);
        sleep_ms(left + 10);
    }
    /* another id from the same source is checked (not throttled by admin's) */
    timed_login(&env, "someone", "wrong", &code);
    assert_string_equal(env.last_status.message, "authentication failed");
    /* after the window the right password works, and resets the pair */
    assert_int_equal(auth_login(&env, "admin", "teaclave", NULL), 0);
    timed_login(&env, "admin", "wrong", &code);
    timed_login(&env, "admin", "teaclave", &code);
    long left = throttled_for(&env);
    assert_true(left > 0 && left <= 40); /* unreset it would be the cap, 320 */
    auth_env_destroy(&env);
}

static void test_login_errors(void **state)
{
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    const char *cases[][2] = {
        {"", "teaclave"}, {"admin", ""}, {"ghost", "teaclave"}, {"admin", "Teaclave"}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(auth_login(&env, cases[i][0], cases[i][1], NULL), 16);
        assert_string_equal(env.last_status.message, "authentication failed");
    }
    auth_env_destroy(&env);
}

static void test_admin_bootstrap(void **state)
{
    /* the operator's initial password instead of the default */
    struct auth_env env;
    memset(&env, 0, sizeof env);
    snprintf(env.dir, sizeof env.dir, "/tmp/steep-auth-test-XXXXXX");
    assert_non_null(mkdtemp(env.dir));
    memset(env.options.db_key, 0x33, sizeof env.options.db_key);
    memset(env.options.jwt_key, 0x44, sizeof env.options.jwt_key);
    env.options.argon2 = (struct steep_auth_argon2){1, 64, 1};
    env.options.login_delay_max_ms = 1;
    env.options.admin_password = "operator-chosen";
    assert_int_equal(auth_env_restart(&env), 0);
    assert_int_equal(auth_login(&env, "admin", "teaclave", NULL), 16);
    char *admin = NULL;
    assert_int_equal(auth_login(&env, "admin", "operator-chosen", &admin), 0);
    /* a later start with another initial password changes nothing */
    env.options.admin_password = "something-else";
    assert_int_equal(auth_env_restart(&env), 0);
    assert_int_equal(auth_login(&env, "admin", "something-else", NULL), 16);
    assert_int_equal(auth_login(&env, "admin", "operator-chosen", NULL), 0);
    /* deleting admin and restarting does not bring back a default admin */
    assert_int_equal(auth_register(&env, "admin", admin, "root2", "pw", "PlatformAdmin", ""), 0);
    assert_int_equal(auth_delete(&env, "admin", admin, "admin"), 0);
    env.options.admin_password = NULL;
    assert_int_equal(auth_env_restart(&env), 0);
    assert_int_equal(auth_login(&env, "admin", "teaclave", NULL), 16);
    assert_int_equal(auth_login(&env, "root2", "pw", NULL), 0);
    free(admin);
    auth_env_destroy(&env);
}

/* stderr (the service's log) into a temporary file, then into a buffer. */
struct capture {
    char path[32];
    int fd, saved;
};

static void capture_begin(struct capture *capture)
{
    snprintf(capture->path, sizeof capture->path, "/tmp/steep-auth-log-XXXXXX");
    capture->fd = mkstemp(capture->path);
    assert_true(capture->fd >= 0);
    fflush(stderr);
    capture->saved = dup(2);
    dup2(capture->fd, 2);
}

static void capture_end(struct capture *capture, struct steep_buf *log)
{
    fflush(stderr);
    dup2(capture->saved, 2);
    close(capture->saved);
    close(capture->fd);
    assert_int_equal(steep_read_file(capture->path, 1 << 20, log), 0);
    assert_int_equal(steep_buf_terminate(log), 0);
    unlink(capture->path);
}

static void test_secrets_never_logged(void **state)
{
    struct capture capture;
    capture_begin(&capture);

    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    char *admin = NULL;
    assert_int_equal(auth_login(&env, "admin", "teaclave", &admin), 0);
    assert_int_equal(
        auth_register(&env, "admin", admin, "carol", "Secret-Carol-1", "DataOwner", "org1"), 0);
    char *carol = NULL;
    assert_int_equal(auth_login(&env, "carol", "Secret-Carol-1", &carol), 0);
    assert_int_equal(auth_login(&env, "carol", "Wrong-Guess-2", NULL), 16);
    assert_int_equal(auth_change_password(&env, "carol", carol, "Secret-Carol-3"), 0);
    char reset[64];
    assert_int_equal(auth_reset(&env, "admin", admin, "carol", reset), 0);
    assert_int_equal(auth_list(&env, "admin", "forged.token.value", "x", NULL, 0), 16);
    assert_int_equal(auth_authenticate(&env, "carol", carol, NULL, 0, NULL), 16);
    auth_env_destroy(&env);

    struct steep_buf log = STEEP_BUF_INIT;
    capture_end(&capture, &log);
    const char *text = (const char *)log.data;
    assert_non_null(strstr(text, "carol")); /* the log did capture the service */
    const char *secrets[] = {"Secret-Carol-1", "Wrong-Guess-2", "Secret-Carol-3", reset,
                             "forged.token.value"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(text, secrets[i]))
            fail_msg("the log contains a secret: %s", secrets[i]);
    /* no part of a token (the signature is the last part) */
    assert_null(strstr(text, strrchr(carol, '.') + 1));
    assert_null(strstr(text, strrchr(admin, '.') + 1));
    free(admin);
    free(carol);
    steep_buf_free(&log);
}

static void test_login_id_cannot_forge_log(void **state)
{
    (void)state;
    struct capture capture;
    capture_begin(&capture);
    struct auth_env env;
    assert_int_equal(auth_env_start(&env), 0);
    /* the service logs ids cut to 64 bytes: all of this fits */
    assert_int_equal(
        auth_login(&env, "m\nFORGED user 'eve' registered by 'admin'\x1b[2K", "guess", NULL), 16);
    auth_env_destroy(&env);
    struct steep_buf log = STEEP_BUF_INIT;
    capture_end(&capture, &log);
    const char *text = (const char *)log.data;
    /* the failed login is logged, on its own line, with the escapes visible */
    const char *entry = strstr(text, "failed login for 'm\\nFORGED");
    assert_non_null(entry);
    assert_non_null(strstr(entry, "\\x1b[2K"));
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, "FORGED", 6) == 0)
            fail_msg("a forged line reached the log: %.80s", line);
        if (!strchr(line, '\n'))
            break;
    }
    assert_null(strchr(text, '\x1b'));
    steep_buf_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_login_window_grows),
        cmocka_unit_test(test_login_errors),
        cmocka_unit_test(test_admin_bootstrap),
        cmocka_unit_test(test_secrets_never_logged),
        cmocka_unit_test(test_login_id_cannot_forge_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
