/*
 * Tokens of steep-authentication over RPC, on the API endpoint (ListUsers)
 * and the internal one (UserAuthenticate): every kind of bad credential is
 * UNAUTHENTICATED — missing, malformed, wrong signature, `alg: none`,
 * another algorithm, expired, wrong issuer, another user's, a deleted
 * user's, from before a role, password or reset change, of a re-created
 * id — and tokens survive a restart (sealed secret), but not a different
 * sealing key; the secret kept as a store record (etcd replicas) is one
 * for every loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_harness.h"
#include "authentication/token.h"
#include "core/error.h"
#include "store/store.h"

#define UNAUTHENTICATED 16

struct fixture {
    struct auth_env env;
    char *admin;
    char *alice; /* DataOwner-org1 */
    uint8_t secret[STEEP_AUTH_SECRET_LEN];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || auth_env_start(&f->env) < 0)
        return -1;
    if (auth_login(&f->env, "admin", "teaclave", &f->admin) != 0)
        return -1;
    f->alice = auth_make_user(&f->env, f->admin, "alice", "DataOwner", "org1");
    char path[128];
    snprintf(path, sizeof path, "%s/jwt_secret.sealed", f->env.dir);
    if (!f->alice || steep_auth_secret_load(path, f->env.options.jwt_key, f->secret) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    auth_env_destroy(&f->env);
    free(f->admin);
    free(f->alice);
    free(f);
    return 0;
}

static void expect_rejected(struct auth_env *env, const char *id, const char *token,
                            const char *message)
{
    char out[256];
    int code = auth_list(env, id, token, "org1", out, sizeof out);
    if (code != UNAUTHENTICATED || strcmp(env->last_status.message, message) != 0)
        fail_msg("API: expected '%s', got %d '%s'", message, code, env->last_status.message);
    code = auth_authenticate(env, id, token, NULL, 0, NULL);
    if (code != UNAUTHENTICATED || strcmp(env->last_status.message, message) != 0)
        fail_msg("internal: expected '%s', got %d '%s'", message, code, env->last_status.message);
}

static void expect_accepted(struct auth_env *env, const char *id, const char *token)
{
    char out[256];
    int code = auth_authenticate(env, id, token, NULL, 0, NULL);
    if (code != 0)
        fail_msg("token of %s refused: %d '%s'", id, code, env->last_status.message);
    code = auth_list(env, id, token, "org1", out, sizeof out);
    if (code != 0 && strcmp(env->last_status.message, "permission denied") != 0)
        fail_msg("API refused token of %s: %d '%s'", id, code, env->last_status.message);
}

static struct steep_auth_claims claims_for(const char *sub, const char *role, uint64_t version)
{
    struct steep_auth_claims claims = {.version = version};
    snprintf(claims.sub, sizeof claims.sub, "%s", sub);
    snprintf(claims.role, sizeof claims.role, "%s", role);
    snprintf(claims.iss, sizeof claims.iss, "Teaclave");
    claims.iat = time(NULL);
    claims.exp = claims.iat + 3600;
    return claims;
}

/* The version inside a token the service issued. */
static uint64_t version_of(const uint8_t *secret, const char *token)
{
    struct steep_auth_claims claims;
    assert_int_equal(steep_auth_token_decode(secret, token, time(NULL), &claims), 0);
    return claims.version;
}

static void test_valid_token_and_claims(void **state)
{
    struct fixture *f = *state;
    char role[64];
    uint64_t exp = 0;
    assert_int_equal(auth_authenticate(&f->env, "alice", f->alice, role, sizeof role, &exp), 0);
    assert_string_equal(role, "DataOwner-org1");
    int64_t lifetime = (int64_t)exp - (int64_t)time(NULL);
    assert_true(lifetime > 86400 - 60 && lifetime <= 86400);
    expect_accepted(&f->env, "admin", f->admin);
    /* a token the harness forges with the real secret and the right version is accepted,
     * which shows the rejections below are about the one thing each changes */
    struct steep_auth_claims claims =
        claims_for("alice", "DataOwner-org1", version_of(f->secret, f->alice));
    char *token = NULL;
    assert_int_equal(steep_auth_token_issue(f->secret, &claims, &token), 0);
    expect_accepted(&f->env, "alice", token);
    free(token);
}

static void test_missing_and_malformed(void **state)
{
    struct fixture *f = *state;
    expect_rejected(&f->env, NULL, f->alice, "missing user id");
    expect_rejected(&f->env, "", f->alice, "missing user id");
    expect_rejected(&f->env, "alice", NULL, "missing token");
    expect_rejected(&f->env, "alice", "", "missing token");
    expect_rejected(&f->env, "alice", "not-a-token", "authentication failed");
    expect_rejected(&f->env, "alice", "a.b.c", "authentication failed");
    /* truncated signature */
    char cut[4096];
    snprintf(cut, sizeof cut, "%.*s", (int)strlen(f->alice) - 4, f->alice);
    expect_rejected(&f->env, "alice", cut, "authentication failed");
}

static void test_wrong_signature_and_algorithms(void **state)
{
    struct fixture *f = *state;
    uint64_t version = version_of(f->secret, f->alice);
    struct steep_auth_claims claims = claims_for("alice", "DataOwner-org1", version);
    /* another secret */
    uint8_t other[STEEP_AUTH_SECRET_LEN];
    memset(other, 0x5a, sizeof other);
    char *token = NULL;
    assert_int_equal(steep_auth_token_issue(other, &claims, &token), 0);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    free(token);
    /* HS256 with the right secret: the algorithm must be HS512 */
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    jwt_add_grant(jwt, "sub", "alice");
    jwt_add_grant(jwt, "role", "DataOwner-org1");
    jwt_add_grant(jwt, "iss", "Teaclave");
    jwt_add_grant_int(jwt, "exp", time(NULL) + 3600);
    jwt_add_grant_int(jwt, "ver", (long)version);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, f->secret, sizeof f->secret), 0);
    token = jwt_encode_str(jwt);
    assert_non_null(token);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    free(token);
    /* alg none: unsigned */
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0), 0);
    token = jwt_encode_str(jwt);
    assert_non_null(token);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    /* alg none with a bogus signature appended */
    char with_signature[4096];
    snprintf(with_signature, sizeof with_signature, "%sAAAA", token);
    expect_rejected(&f->env, "alice", with_signature, "authentication failed");
    free(token);
    /* the header of a valid HS512 token swapped for alg none, signature kept */
    const char *none_header =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0"; /* {"typ":"JWT","alg":"none"} */
    snprintf(with_signature, sizeof with_signature, "%s%s", none_header, strchr(f->alice, '.'));
    expect_rejected(&f->env, "alice", with_signature, "authentication failed");
    jwt_free(jwt);
}

static void test_expired_issuer_and_other_user(void **state)
{
    struct fixture *f = *state;
    uint64_t version = version_of(f->secret, f->alice);
    struct steep_auth_claims claims = claims_for("alice", "DataOwner-org1", version);
    claims.exp = time(NULL) - 1;
    char *token = NULL;
    assert_int_equal(steep_auth_token_issue(f->secret, &claims, &token), 0);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    free(token);
    claims = claims_for("alice", "DataOwner-org1", version);
    snprintf(claims.iss, sizeof claims.iss, "Mallory");
    assert_int_equal(steep_auth_token_issue(f->secret, &claims, &token), 0);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    free(token);
    /* a role claim the user does not have (even with the right version) */
    claims = claims_for("alice", "PlatformAdmin", version);
    assert_int_equal(steep_auth_token_issue(f->secret, &claims, &token), 0);
    expect_rejected(&f->env, "alice", token, "authentication failed");
    free(token);
    /* another user's token */
    expect_rejected(&f->env, "admin", f->alice, "authentication failed");
    expect_rejected(&f->env, "alice", f->admin, "authentication failed");
    expect_rejected(&f->env, "nobody", f->alice, "authentication failed");
}

static void test_revocation(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    /* role change */
    char *before = auth_make_user(env, f->admin, "bob", "DataOwner", "org1");
    assert_non_null(before);
    assert_int_equal(auth_update(env, "admin", f->admin, "bob", "pw-bob", "DataOwner", "org2"), 0);
    expect_rejected(env, "bob", before, "authentication failed");
    free(before);
    /* password change by the user */
    assert_int_equal(auth_login(env, "bob", "pw-bob", &before), 0);
    assert_int_equal(auth_change_password(env, "bob", before, "pw-bob-2"), 0);
    expect_rejected(env, "bob", before, "authentication failed");
    free(before);
    /* password reset by an admin */
    assert_int_equal(auth_login(env, "bob", "pw-bob-2", &before), 0);
    expect_accepted(env, "bob", before);
    assert_int_equal(auth_reset(env, "admin", f->admin, "bob", NULL), 0);
    expect_rejected(env, "bob", before, "authentication failed");
    free(before);
    /* deletion, and a new user with the same id */
    expect_accepted(env, "alice", f->alice);
    assert_int_equal(auth_delete(env, "admin", f->admin, "alice"), 0);
    expect_rejected(env, "alice", f->alice, "authentication failed");
    assert_int_equal(
        auth_register(env, "admin", f->admin, "alice", "pw-alice", "DataOwner", "org1"), 0);
    expect_rejected(env, "alice", f->alice, "authentication failed");
    /* an admin's own old token after changing its password */
    assert_int_equal(auth_change_password(env, "admin", f->admin, "changed"), 0);
    expect_rejected(env, "admin", f->admin, "authentication failed");
}

static void test_tokens_survive_restart(void **state)
{
    struct fixture *f = *state;
    struct auth_env *env = &f->env;
    assert_int_equal(auth_env_restart(env), 0);
    expect_accepted(env, "alice", f->alice);
    expect_accepted(env, "admin", f->admin);
    /* users survive too */
    assert_int_equal(auth_login(env, "alice", "pw-alice", NULL), 0);
    /* a different sealing key for the JWT secret: the service refuses to start */
    auth_env_stop(env);
    env->options.jwt_key[0] ^= 1;
    env->options.state_dir = env->dir;
    assert_null(steep_auth_open(&env->options));
    env->options.jwt_key[0] ^= 1;
    /* a different database key: refuses too */
    env->options.db_key[0] ^= 1;
    assert_null(steep_auth_open(&env->options));
    env->options.db_key[0] ^= 1;
    assert_int_equal(auth_env_restart(env), 0);
    expect_accepted(env, "alice", f->alice);
}

/* The secret kept as a store record (replicas sharing an etcd store): the
 * first load creates it, every later one (another replica) gets the same
 * secret back, and a record sealed under another key is refused, never
 * replaced. */
static void test_secret_in_store(void **state)
{
    struct fixture *f = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/shared", f->env.dir);
    uint8_t db_key[STEEP_STORE_KEY_BYTES] = {7};
    struct steep_store *store = NULL;
    assert_int_equal(steep_store_open(path, db_key, STEEP_STORE_CREATE, &store), 0);
    uint8_t first[STEEP_AUTH_SECRET_LEN], again[STEEP_AUTH_SECRET_LEN];
    assert_int_equal(steep_auth_secret_load_store(store, f->env.options.jwt_key, first), 0);
    struct steep_buf record = STEEP_BUF_INIT;
    assert_int_equal(
        steep_store_get(store, STEEP_AUTH_SECRET_RECORD, strlen(STEEP_AUTH_SECRET_RECORD), &record),
        STEEP_STORE_OK);
    /* sealed with the JWT key inside the store's own sealing */
    assert_null(memmem(record.data, record.len, first, sizeof first));
    assert_int_equal(steep_auth_secret_load_store(store, f->env.options.jwt_key, again), 0);
    assert_memory_equal(first, again, sizeof first);
    uint8_t other_key[STEEP_AUTH_KEY_LEN];
    memcpy(other_key, f->env.options.jwt_key, sizeof other_key);
    other_key[0] ^= 1;
    assert_int_equal(steep_auth_secret_load_store(store, other_key, again), -1);
    assert_non_null(strstr(steep_error_get(), "does not unseal"));
    struct steep_buf after = STEEP_BUF_INIT;
    assert_int_equal(
        steep_store_get(store, STEEP_AUTH_SECRET_RECORD, strlen(STEEP_AUTH_SECRET_RECORD), &after),
        STEEP_STORE_OK);
    assert_memory_equal(record.data, after.data, record.len);
    steep_buf_free(&record);
    steep_buf_free(&after);
    steep_store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_token_and_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_signature_and_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_issuer_and_other_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_survive_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_in_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
