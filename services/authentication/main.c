/*
 * steep-authentication: reads its keys from the platform config, opens its
 * attested identity (sealing keys for the user database and the JWT
 * secret), and serves the public API endpoint (one-way attested,
 * [api_endpoints] authentication) and the internal endpoint (mutually
 * attested, frontend only, [internal_endpoints] authentication) until
 * SIGTERM/SIGINT.
 *
 * Keys: [authentication] argon2_t_cost (2), argon2_m_cost_kib (8192),
 * argon2_parallelism (1), login_free_failures (3), login_delay_base_ms (250), login_delay_max_ms
 * (8000), token_lifetime_s (86400), admin_password_file (none: `admin`
 * gets Teaclave's default password on the first start), workers;
 * hash_threads (0: online CPUs, at most 8), hash_queue (128) and
 * hash_queue_per_source (64): the bounded argon2 pool (hash_pool.h), whose
 * memory is hash_threads x argon2_m_cost_kib.
 */
#include "authentication/service.h"

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "service/service.h"
#include "tee/attested.h"

#include <openssl/crypto.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const inbound[] = {"teaclave_frontend_service"};

static int read_admin_password(const struct steep_config *config, struct steep_buf *password)
{
    const char *path = steep_config_get_path(config, "authentication.admin_password_file", NULL);
    if (!path)
        return 0;
    steep_buf_wipe(password);
    if (steep_read_file(path, STEEP_AUTH_PASSWORD_MAX + 2, password) < 0)
        return steep_error_wrap("admin_password_file");
    while (password->len &&
           (password->data[password->len - 1] == '\n' || password->data[password->len - 1] == '\r'))
        password->len--;
    ENSURE(password->len > 0 && password->len <= STEEP_AUTH_PASSWORD_MAX &&
               !memchr(password->data, 0, password->len),
           "admin_password_file %s: empty, too long or not text", path);
    return steep_buf_terminate(password);
}

/* An integer key within [min, max]. */
static int get_bounded(const struct steep_config *config, const char *key, int64_t def, int64_t min,
                       int64_t max, int64_t *out)
{
    *out = steep_config_get_int(config, key, def);
    ENSURE(*out >= min && *out <= max, "[%s] must be between %lld and %lld", key, (long long)min,
           (long long)max);
    return 0;
}

static int read_options(const struct steep_config *config, struct steep_attested *attested,
                        struct steep_auth_options *options, struct steep_buf *admin_password)
{
    int64_t t_cost, m_cost, parallelism;
    GUARD(get_bounded(config, "authentication.argon2_t_cost", 2, 1, 64, &t_cost));
    GUARD(get_bounded(config, "authentication.argon2_m_cost_kib", 8192, 64, 4 << 20, &m_cost));
    GUARD(get_bounded(config, "authentication.argon2_parallelism", 1, 1, 64, &parallelism));
    ENSURE(m_cost >= 8 * parallelism, "[authentication] argon2_m_cost_kib must be at least 8 "
                                      "times argon2_parallelism");
    options->argon2 =
        (struct steep_auth_argon2){(uint32_t)t_cost, (uint32_t)m_cost, (uint32_t)parallelism};
    GUARD(get_bounded(config, "authentication.login_delay_base_ms",
                      STEEP_AUTH_DEFAULT_DELAY_BASE_MS, 0, 60000, &options->login_delay_base_ms));
    GUARD(get_bounded(config, "authentication.login_delay_max_ms", STEEP_AUTH_DEFAULT_DELAY_MAX_MS,
                      1, 600000, &options->login_delay_max_ms));
    int64_t free_failures;
    GUARD(get_bounded(config, "authentication.login_free_failures",
                      STEEP_AUTH_DEFAULT_FREE_FAILURES, 0, 60, &free_failures));
    options->login_free_failures = (int)free_failures;
    GUARD(get_bounded(config, "authentication.token_lifetime_s", STEEP_AUTH_DEFAULT_LIFETIME_S, 60,
                      365 * 86400, &options->token_lifetime_s));
    int64_t threads, queue, per_source;
    GUARD(get_bounded(config, "authentication.hash_threads", 0, 0, 64, &threads));
    GUARD(get_bounded(config, "authentication.hash_queue", 128, 1, 4096, &queue));
    GUARD(get_bounded(config, "authentication.hash_queue_per_source", 64, 1, 4096, &per_source));
    options->pool = (struct steep_auth_pool_config){(int)threads, (int)queue, (int)per_source};
    GUARD(read_admin_password(config, admin_password));
    options->admin_password = admin_password->len ? (const char *)admin_password->data : NULL;
    GUARD(steep_attested_seal_key(attested, "authentication-db", options->db_key));
    GUARD(steep_attested_seal_key(attested, STEEP_AUTH_SEAL_LABEL, options->jwt_key));
    GUARD(steep_attested_seal_key(attested, "authentication-user-index", options->index_key));
    return steep_config_check(config);
}

static int add_api(struct steep_rpc_server *server, void *auth)
{
    return steep_auth_register_api(server, auth);
}

static int add_internal(struct steep_rpc_server *server, void *auth)
{
    return steep_auth_register_internal(server, auth);
}

/* The public API (one-way attested) and the frontend's internal endpoint. */
static int serve(const struct steep_config *config, struct steep_attested *attested,
                 struct steep_auth *auth, const sigset_t *stop)
{
    int workers = (int)steep_config_get_int(config, "authentication.workers", 0);
    const struct steep_service_endpoint endpoints[] = {
        {config->api_authentication_listen, "authentication-api", workers, NULL, 0, add_api, auth},
        {config->internal[STEEP_ENDPOINT_AUTHENTICATION].listen_address, "authentication-internal",
         workers, inbound, 1, add_internal, auth},
    };
    return steep_service_serve(attested, config, endpoints, 2, stop, 2000);
}

static int run(struct steep_config *config, const sigset_t *stop)
{
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_authentication_service");
    ENSURE(attested != NULL, "attestation: %s", steep_error_get());
    struct steep_auth_options options = {0};
    struct steep_buf admin_password = STEEP_BUF_INIT;
    char *state_dir = steep_config_service_dir(config, "authentication");
    struct steep_auth *auth = NULL;
    int rc = -1;
    if (state_dir && read_options(config, attested, &options, &admin_password) == 0) {
        options.state_dir = state_dir;
        options.config = config;
        auth = steep_auth_open(&options);
    }
    OPENSSL_cleanse(&options, sizeof options);
    steep_buf_free(&admin_password);
    if (auth)
        rc = serve(config, attested, auth, stop);
    char message[STEEP_ERROR_MAX];
    snprintf(message, sizeof message, "%s", steep_error_get());
    steep_auth_close(auth);
    steep_attested_free(attested);
    free(state_dir);
    if (rc < 0)
        steep_error_set("%s", message);
    return rc;
}

int main(int argc, char **argv)
{
    /* Every argon2id hash allocates m_cost KiB. Keep such blocks in mmap so
     * they go back to the system when freed: glibc's adaptive threshold would
     * otherwise keep one per thread arena and idle RSS grows to hundreds of MiB. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    sigset_t stop;
    struct steep_config *config = NULL;
    int rc = steep_service_begin(argc, argv, "authentication", &stop, &config);
    if (rc)
        return rc;
    rc = run(config, &stop);
    if (rc < 0)
        log_error("%s", steep_error_get());
    steep_config_free(config);
    return rc < 0 ? 1 : 0;
}
