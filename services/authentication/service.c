/*
 * Opening steep-authentication's state: the sealed user store under
 * <state_dir>/users, the sealed JWT secret <state_dir>/jwt_secret.sealed,
 * and the first-start bootstrap of `admin` (once, recorded by a marker, so
 * deleting every user does not bring the default password back). While
 * `admin` still has Teaclave's default password the log says so loudly at
 * every start.
 *
 * With [storage] backend = "etcd" the user store and the JWT secret (a
 * record of that store) live in the etcd cluster instead, under
 * <etcd_prefix>authentication/, so every replica sees the same users and
 * verifies the tokens of the others.
 *
 * The state itself (struct steep_auth: the JWT secret, the index key) is
 * mapped on pages of its own, locked in memory where the limit allows and
 * marked MADV_DONTDUMP, so even a core dump the operator enabled on
 * purpose does not carry the keys (issue 14, item 17).
 */
#include "authentication/service_internal.h"

#include "core/error.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BOOTSTRAP_KEY "meta/bootstrapped"

int64_t steep_auth_now(void)
{
    return (int64_t)time(NULL);
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return steep_error_set("cannot create %s: %m", path);
    return 0;
}

static void warn_default_password(struct steep_auth *auth)
{
    struct steep_auth_user admin;
    if (steep_auth_user_get(&auth->users, STEEP_AUTH_DEFAULT_ADMIN, &admin) == STEEP_STORE_OK &&
        steep_auth_password_verify(admin.hash, STEEP_AUTH_DEFAULT_ADMIN_PASSWORD))
        log_warn("*** SECURITY WARNING: user 'admin' still has the default password; change it "
                 "now (UserChangePassword), or set [authentication] admin_password_file before "
                 "the first start ***");
    OPENSSL_cleanse(&admin, sizeof admin);
}

static int bootstrap(struct steep_auth *auth, const char *admin_password)
{
    struct steep_buf marker = STEEP_BUF_INIT;
    int rc = steep_store_get(auth->users.store, BOOTSTRAP_KEY, strlen(BOOTSTRAP_KEY), &marker);
    steep_buf_free(&marker);
    if (rc == STEEP_STORE_ERROR)
        return -1;
    if (rc == STEEP_STORE_OK)
        return 0;
    struct steep_auth_user admin = {.role = {STEEP_ROLE_PLATFORM_ADMIN, ""}};
    snprintf(admin.id, sizeof admin.id, "%s", STEEP_AUTH_DEFAULT_ADMIN);
    const char *password = admin_password ? admin_password : STEEP_AUTH_DEFAULT_ADMIN_PASSWORD;
    ENSURE(password[0] != '\0', "the initial admin password is empty");
    GUARD(steep_auth_password_hash(&auth->argon2, password, admin.hash));
    rc = steep_auth_user_create(&auth->users, &admin);
    OPENSSL_cleanse(&admin, sizeof admin);
    GUARD(rc);
    /* 1: another replica sharing the store (etcd) created it first. */
    if (rc == 0)
        log_info("created user 'admin' (PlatformAdmin) on first start%s",
                 admin_password ? " with the configured initial password" : "");
    return steep_store_put(auth->users.store, BOOTSTRAP_KEY, strlen(BOOTSTRAP_KEY), "1", 1) ==
                   STEEP_STORE_OK
               ? 0
               : -1;
}

static int open_state(struct steep_auth *auth, const struct steep_auth_options *options)
{
    char path[4096];
    GUARD(ensure_dir(options->state_dir));
    ENSURE(snprintf(path, sizeof path, "%s/users", options->state_dir) < (int)sizeof path,
           "state directory path too long");
    /* [storage] backend: LevelDB in <state_dir>/users (the default), or the
     * etcd cluster under <etcd_prefix>authentication/, shared by every
     * replica. */
    bool shared = options->config && steep_store_configured_etcd(options->config);
    if (options->config)
        GUARD(steep_store_open_configured(options->config, "authentication", path, options->db_key,
                                          &auth->users.store));
    else
        GUARD(steep_store_open(path, options->db_key, STEEP_STORE_CREATE, &auth->users.store));
    memcpy(auth->users.index_key, options->index_key, sizeof auth->users.index_key);
    GUARD(steep_auth_user_db_migrate(&auth->users));
    if (shared) {
        /* One JWT secret for every replica: kept in the shared store. */
        GUARD(steep_auth_secret_load_store(auth->users.store, options->jwt_key, auth->secret));
    } else {
        snprintf(path, sizeof path, "%s/jwt_secret.sealed", options->state_dir);
        GUARD(steep_auth_secret_load(path, options->jwt_key, auth->secret));
    }
    GUARD(steep_auth_password_hash(&auth->argon2, "steep-unknown-user", auth->dummy_hash));
    GUARD(bootstrap(auth, options->admin_password));
    warn_default_password(auth);
    return 0;
}

static size_t secret_pages(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (sizeof(struct steep_auth) + page - 1) / page * page;
}

/* Zeroed pages out of core dumps, locked when RLIMIT_MEMLOCK allows. */
static struct steep_auth *secret_alloc(void)
{
    void *p =
        mmap(NULL, secret_pages(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        steep_error_set("cannot map the service state: %m");
        return NULL;
    }
    if (madvise(p, secret_pages(), MADV_DONTDUMP) < 0) {
        steep_error_set("cannot keep the keys out of core dumps: %m");
        munmap(p, secret_pages());
        return NULL;
    }
    /* Best effort: mlock keeps the keys out of swap; a low RLIMIT_MEMLOCK
     * (the test harness, unprivileged operators) only loses that. */
    (void)mlock(p, secret_pages());
    return p;
}

struct steep_auth *steep_auth_open(const struct steep_auth_options *options)
{
    struct steep_auth *auth = secret_alloc();
    if (!auth)
        return NULL;
    pthread_mutex_init(&auth->write_lock, NULL);
    pthread_mutex_init(&auth->busy_lock, NULL);
    auth->argon2 = options->argon2;
    if (auth->argon2.t_cost == 0 || auth->argon2.m_cost_kib == 0 || auth->argon2.parallelism == 0)
        auth->argon2 = (struct steep_auth_argon2)STEEP_AUTH_ARGON2_DEFAULT;
    auth->token_lifetime_s =
        options->token_lifetime_s > 0 ? options->token_lifetime_s : STEEP_AUTH_DEFAULT_LIFETIME_S;
    int64_t base = options->login_delay_base_ms < 0 ? STEEP_AUTH_DEFAULT_DELAY_BASE_MS
                                                    : options->login_delay_base_ms;
    int64_t max = options->login_delay_max_ms <= 0 ? STEEP_AUTH_DEFAULT_DELAY_MAX_MS
                                                   : options->login_delay_max_ms;
    auth->throttle = steep_auth_throttle_new(base, max, options->login_free_failures);
    if (auth->throttle)
        auth->pool = steep_auth_pool_new(&options->pool);
    if (!auth->throttle || !auth->pool || open_state(auth, options) < 0) {
        char message[STEEP_ERROR_MAX];
        snprintf(message, sizeof message, "%s", steep_error_get());
        steep_auth_close(auth);
        steep_error_set("%s", message);
        return NULL;
    }
    return auth;
}

void steep_auth_close(struct steep_auth *auth)
{
    if (!auth)
        return;
    steep_auth_pool_free(auth->pool);
    steep_store_close(auth->users.store);
    steep_auth_throttle_free(auth->throttle);
    pthread_mutex_destroy(&auth->write_lock);
    pthread_mutex_destroy(&auth->busy_lock);
    OPENSSL_cleanse(auth, sizeof *auth);
    munlock(auth, secret_pages());
    munmap(auth, secret_pages());
}

void steep_auth_call_source(const struct steep_rpc_call *call,
                            uint8_t source[STEEP_AUTH_SOURCE_LEN])
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    memset(source, 0, STEEP_AUTH_SOURCE_LEN);
    steep_rpc_call_peer_addr(call, &addr, &len);
    if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&addr;
        source[10] = source[11] = 0xff; /* ::ffff:a.b.c.d */
        memcpy(source + 12, &in->sin_addr, 4);
    } else if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&addr;
        const uint8_t *a = in6->sin6_addr.s6_addr;
        /* A v4-mapped address stays whole; a v6 host usually owns its /64. */
        bool mapped = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
        memcpy(source, a, mapped ? 16 : 8);
    }
}

/* One hash or verification on the pool; the error text crosses threads. */
struct hash_job {
    const struct steep_auth_argon2 *params;
    const char *password;
    const char *verify_against; /* NULL: hash into encoded */
    char *encoded;
    bool ok;
    int rc;
    char error[STEEP_ERROR_MAX];
};

static void run_hash_job(void *arg)
{
    struct hash_job *job = arg;
    if (job->verify_against) {
        job->ok = steep_auth_password_verify(job->verify_against, job->password);
        return;
    }
    job->rc = steep_auth_password_hash(job->params, job->password, job->encoded);
    if (job->rc < 0)
        snprintf(job->error, sizeof job->error, "%s", steep_error_get());
}

/* At most one line a second: a flood must not become a log flood. */
static void busy_warning(struct steep_auth *auth)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&auth->busy_lock);
    auth->busy_refused++;
    if (now.tv_sec != auth->busy_logged_s) {
        log_warn("password hashing is saturated: %llu calls refused (RESOURCE_EXHAUSTED) since "
                 "the last report",
                 (unsigned long long)auth->busy_refused);
        auth->busy_refused = 0;
        auth->busy_logged_s = now.tv_sec;
    }
    pthread_mutex_unlock(&auth->busy_lock);
}

static bool call_gone(const void *call)
{
    return steep_rpc_call_cancelled(call);
}

static int pooled(struct steep_auth *auth, struct steep_rpc_call *call,
                  const uint8_t source[STEEP_AUTH_SOURCE_LEN], struct hash_job *job)
{
    switch (steep_auth_pool_run(auth->pool, source, call_gone, call, run_hash_job, job)) {
    case STEEP_AUTH_POOL_DONE:
        if (job->rc < 0)
            steep_error_set("%s", job->error);
        return job->rc < 0 ? -1 : 0;
    case STEEP_AUTH_POOL_BUSY:
        busy_warning(auth);
        steep_rpc_fail(call, STEEP_GRPC_RESOURCE_EXHAUSTED, "%s", MSG_BUSY);
        return 1;
    case STEEP_AUTH_POOL_CANCELLED:
    default:
        steep_rpc_fail(call, STEEP_GRPC_CANCELLED, "cancelled before its password was checked");
        return 1;
    }
}

int steep_auth_pooled_hash(struct steep_auth *auth, struct steep_rpc_call *call,
                           const char *password, char encoded[STEEP_AUTH_HASH_MAX])
{
    uint8_t source[STEEP_AUTH_SOURCE_LEN];
    steep_auth_call_source(call, source);
    struct hash_job job = {.params = &auth->argon2, .password = password, .encoded = encoded};
    return pooled(auth, call, source, &job);
}

int steep_auth_pooled_verify(struct steep_auth *auth, struct steep_rpc_call *call,
                             const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *encoded,
                             const char *password, bool *ok)
{
    struct hash_job job = {.password = password, .verify_against = encoded};
    int rc = pooled(auth, call, source, &job);
    *ok = rc == 0 && job.ok;
    return rc;
}

int steep_auth_check_token(struct steep_auth *auth, const char *id, const char *token,
                           struct steep_auth_user *user, struct steep_auth_claims *claims)
{
    GUARD(steep_auth_token_decode(auth->secret, token, steep_auth_now(), claims));
    ENSURE(strcmp(claims->sub, id) == 0, "token belongs to another user");
    int rc = steep_auth_user_get(&auth->users, id, user);
    if (rc == STEEP_STORE_ERROR)
        return steep_store_unavailable() ? -2 : -1;
    ENSURE(rc == STEEP_STORE_OK, "user no longer exists");
    ENSURE(claims->version == user->version,
           "token issued before the user's password or role changed");
    char role[STEEP_AUTH_ROLE_MAX];
    steep_auth_role_format(&user->role, role, sizeof role);
    ENSURE(strcmp(role, claims->role) == 0, "token role is not the user's role");
    return 0;
}

bool steep_auth_fail(struct steep_rpc_call *call, const char *message)
{
    /* An internal error right after the store failed because its etcd
     * cluster is out of reach (no member answers, no quorum): the caller
     * may retry, and a frontend moves on to another replica. */
    if (strcmp(message, MSG_INTERNAL) == 0 && steep_store_unavailable())
        return steep_auth_fail_unavailable(call);
    steep_rpc_fail(call, STEEP_GRPC_UNAUTHENTICATED, "%s", message);
    return false;
}

bool steep_auth_fail_unavailable(struct steep_rpc_call *call)
{
    steep_rpc_fail(call, STEEP_GRPC_UNAVAILABLE, "%s", MSG_STORE_UNAVAILABLE);
    return false;
}

bool steep_auth_requester(struct steep_auth *auth, struct steep_rpc_call *call,
                          struct steep_auth_user *requester)
{
    const char *id = steep_rpc_call_metadata(call, "id");
    const char *token = steep_rpc_call_metadata(call, "token");
    if (!id || !id[0])
        return steep_auth_fail(call, MSG_MISSING_USER_ID);
    if (!token || !token[0])
        return steep_auth_fail(call, MSG_MISSING_TOKEN);
    struct steep_auth_claims claims;
    int rc = steep_auth_user_id_valid(id)
                 ? steep_auth_check_token(auth, id, token, requester, &claims)
                 : -1;
    if (rc == -2) {
        log_warn("cannot check the credential of '%.64s': %s", id, steep_error_get());
        return steep_auth_fail_unavailable(call);
    }
    if (rc < 0) {
        log_info("rejected credential of '%.64s': %s", id, steep_error_get());
        return steep_auth_fail(call, MSG_AUTHENTICATION_FAILED);
    }
    return true;
}
