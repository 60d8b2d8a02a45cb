/*
 * Frontend benchmark on a real platform (steep up): authenticated round
 * trips per second through the whole pipeline (UserAuthenticate,
 * AuthorizeApi, management, durable audit entry) with GetFunction of a
 * missing id, at 1 and 32 concurrent clients, with p50/p99 latency against
 * the budget p50 <= 1 ms; and the login rate with the platform's argon2id
 * parameters.
 * usage: bench_frontend [seconds per figure (2)]  (STEEP_DIR etc. as for
 * tests/frontend/platform_client.h)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform_client.h"

#define MISSING_FUNCTION "function-00000000-0000-4000-8000-000000000000"
#define MAX_SAMPLES      (1 << 20)
#define BUDGET_P50_MS    1.0

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
    steep_client *client;
    const char *token;
    double seconds;
    bool login;
    double *samples;
    size_t n;
    int errors;
};

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    struct steep_error err;
    double end = now_s() + w->seconds;
    while (now_s() < end && w->n < MAX_SAMPLES / 64) {
        double start = now_s();
        int ok;
        if (w->login) {
            ok = steep_user_login(w->client, "bench-user", "bench-password", NULL, &err) == 0;
        } else {
            struct steep_function *function = NULL;
            /* the expected answer: INVALID_ARGUMENT "invalid function id" */
            ok = steep_get_function(w->client, MISSING_FUNCTION, &function, &err) < 0 &&
                 err.code == 3;
        }
        w->samples[w->n++] = now_s() - start;
        w->errors += !ok;
    }
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *label, int clients, bool login, double seconds, steep_client **pool,
                    const char *token)
{
    struct worker *workers = calloc((size_t)clients, sizeof *workers);
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    for (int i = 0; i < clients; i++) {
        workers[i] =
            (struct worker){.client = pool[i], .token = token, .seconds = seconds, .login = login};
        workers[i].samples = malloc(sizeof(double) * (MAX_SAMPLES / 64));
    }
    double start = now_s();
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, run_worker, &workers[i]);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    double elapsed = now_s() - start;
    size_t total = 0;
    int errors = 0;
    for (int i = 0; i < clients; i++) {
        total += workers[i].n;
        errors += workers[i].errors;
    }
    double *all = malloc(sizeof(double) * (total ? total : 1));
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, workers[i].samples, workers[i].n * sizeof(double));
        k += workers[i].n;
        free(workers[i].samples);
    }
    qsort(all, total, sizeof(double), compare);
    double p50 = total ? all[total / 2] * 1e3 : 0, p99 = total ? all[total * 99 / 100] * 1e3 : 0;
    printf("%-34s clients=%-3d %8.0f ops/s  p50 %7.3f ms  p99 %7.3f ms  (n=%zu, errors=%d)", label,
           clients, (double)total / elapsed, p50, p99, total, errors);
    if (!login)
        printf("  p50/budget %.2f", p50 / BUDGET_P50_MS);
    printf("\n");
    free(all);
    free(workers);
    free(threads);
}

/* QueryAuditLogs over the log the round trips just wrote. */
static void query_figures(void)
{
    steep_client *admin = platform_login("admin", platform_admin_password(), NULL, NULL);
    static const struct {
        const char *query;
        uint64_t limit;
    } queries[] = {{"*", 100}, {"get_function", 1000}, {"no_such_word", 1000000}};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        struct steep_audit_entry *entries = NULL;
        size_t n = 0;
        struct steep_error err;
        double start = now_s();
        int rc =
            steep_query_audit_logs(admin, queries[i].query, queries[i].limit, &entries, &n, &err);
        double ms = (now_s() - start) * 1e3;
        printf("query_audit_logs %-26s limit %-7llu %8.1f ms  (%zu entries%s%s)\n",
               queries[i].query, (unsigned long long)queries[i].limit, ms, n, rc ? ", error: " : "",
               rc ? err.message : "");
        steep_audit_entries_free(entries, n);
    }
    steep_client_free(admin);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    struct steep_error err;
    char *token = NULL;
    steep_client *first = platform_login("bench-user", "bench-password", "DataOwner", "bench");
    steep_client_free(first);
    enum { POOL = 32 };
    steep_client *pool[POOL];
    for (int i = 0; i < POOL; i++) {
        pool[i] = platform_client();
        if (i == 0) {
            if (steep_user_login(pool[0], "bench-user", "bench-password", &token, &err) < 0) {
                fprintf(stderr, "login: %s\n", err.message);
                return 1;
            }
        } else {
            steep_client_set_credential(pool[i], "bench-user", token, &err);
        }
        /* warm up: TLS handshake and attestation of the frontend */
        struct steep_function *function = NULL;
        steep_get_function(pool[i], MISSING_FUNCTION, &function, &err);
    }
    printf("frontend benchmark: GetFunction of a missing id through the full pipeline "
           "(auth + ACS + management + durable audit); budget p50 <= %.1f ms\n",
           BUDGET_P50_MS);
    measure("authenticated round trip", 1, false, seconds, pool, token);
    measure("authenticated round trip", 32, false, seconds, pool, token);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    measure("login (argon2id as configured)", 1, true, seconds, pool, token);
    measure("login (argon2id as configured)", cpus > 0 && cpus < POOL ? (int)cpus : 2, true,
            seconds, pool, token);
    query_figures();
    for (int i = 0; i < POOL; i++)
        steep_client_free(pool[i]);
    free(token);
    return 0;
}
