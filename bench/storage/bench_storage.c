/*
 * Storage benchmark: durable Put/s and Get/s over RPC (an in-process
 * steep-storage service on loopback TLS, each client its own connection)
 * with 1, 16 and 64 concurrent clients; and, in the same run, raw
 * in-process LevelDB (sync=true Puts, plain Gets) with the same thread
 * counts as the reference. Prints each figure and the ratio to the
 * reference. Budgets: >= 10 000 durable Puts/s with 64 clients, >= 30 000
 * Gets/s over RPC.
 *
 * usage: bench_storage [seconds per measurement, default 1] [data dir parent]
 */
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "helpers.h"
#include "server_helper.h"

#define VALUE_BYTES 256
#define GET_KEYS    10000

static double seconds = 1.0;
static int port;
static leveldb_t *raw_db;
static struct steep_store *engine;
static struct steep_store_client *shared_client;

enum workload {
    RPC_PUT_SHARED,
    RPC_PUT_OWN,
    ENGINE_PUT,
    RAW_PUT,
    RPC_GET_SHARED,
    RPC_GET_OWN,
    ENGINE_GET,
    RAW_GET,
    WORKLOADS
};

static const char *const workload_names[WORKLOADS] = {
    "Put  RPC, one shared connection", "Put  RPC, a connection per client",
    "Put  engine in-process (sealed)", "Put  raw LevelDB sync=true (ref)",
    "Get  RPC, one shared connection", "Get  RPC, a connection per client",
    "Get  engine in-process (sealed)", "Get  raw LevelDB (ref)",
};

static bool is_put(enum workload w)
{
    return w <= RAW_PUT;
}

struct worker {
    enum workload workload;
    int id;
    long operations;
    long failures;
};

static atomic_bool stop_flag;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_rpc(struct worker *w)
{
    bool shared = w->workload == RPC_PUT_SHARED || w->workload == RPC_GET_SHARED;
    struct steep_store_client *client = shared ? shared_client : test_storage_client(port);
    struct steep_buf value = STEEP_BUF_INIT;
    char key[64], data[VALUE_BYTES];
    memset(data, 'x', sizeof data);
    unsigned seed = (unsigned)w->id * 7919u + 1;
    for (long i = 0; !atomic_load(&stop_flag); i++) {
        int rc;
        if (is_put(w->workload)) {
            snprintf(key, sizeof key, "bench-put-%d-%ld", w->id, i);
            rc = steep_store_client_put(client, key, strlen(key), data, sizeof data, 10000);
        } else {
            snprintf(key, sizeof key, "bench-get-%d", (int)(rand_r(&seed) % GET_KEYS));
            rc = steep_store_client_get(client, key, strlen(key), &value, 10000);
        }
        if (rc == STEEP_STORE_OK)
            w->operations++;
        else
            w->failures++;
    }
    steep_buf_free(&value);
    if (client != shared_client)
        steep_store_client_free(client);
}

static void run_engine(struct worker *w)
{
    struct steep_buf value = STEEP_BUF_INIT;
    char key[64], data[VALUE_BYTES];
    memset(data, 'x', sizeof data);
    unsigned seed = (unsigned)w->id * 7919u + 1;
    for (long i = 0; !atomic_load(&stop_flag); i++) {
        int rc;
        if (is_put(w->workload)) {
            snprintf(key, sizeof key, "engine-put-%d-%ld", w->id, i);
            rc = steep_store_put(engine, key, strlen(key), data, sizeof data);
        } else {
            snprintf(key, sizeof key, "bench-get-%d", (int)(rand_r(&seed) % GET_KEYS));
            rc = steep_store_get(engine, key, strlen(key), &value);
        }
        if (rc == STEEP_STORE_OK)
            w->operations++;
        else
            w->failures++;
    }
    steep_buf_free(&value);
}

static void run_raw(struct worker *w)
{
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_writeoptions_set_sync(wo, 1);
    char key[64], data[VALUE_BYTES + 44]; /* the same bytes as a sealed value */
    memset(data, 'x', sizeof data);
    unsigned seed = (unsigned)w->id * 7919u + 1;
    for (long i = 0; !atomic_load(&stop_flag); i++) {
        char *error = NULL;
        if (is_put(w->workload)) {
            snprintf(key, sizeof key, "raw-put-%d-%ld", w->id, i);
            leveldb_put(raw_db, wo, key, strlen(key), data, sizeof data, &error);
        } else {
            size_t len;
            snprintf(key, sizeof key, "raw-get-%d", (int)(rand_r(&seed) % GET_KEYS));
            char *got = leveldb_get(raw_db, ro, key, strlen(key), &len, &error);
            if (!got && !error)
                error = strdup("missing");
            leveldb_free(got);
        }
        if (error) {
            w->failures++;
            leveldb_free(error);
        } else {
            w->operations++;
        }
    }
    leveldb_writeoptions_destroy(wo);
    leveldb_readoptions_destroy(ro);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (w->workload == RPC_PUT_SHARED || w->workload == RPC_PUT_OWN ||
        w->workload == RPC_GET_SHARED || w->workload == RPC_GET_OWN)
        run_rpc(w);
    else if (w->workload == ENGINE_PUT || w->workload == ENGINE_GET)
        run_engine(w);
    else
        run_raw(w);
    return NULL;
}

static double measure(enum workload workload, int threads)
{
    /* STEEP_BENCH_ONLY=<workload number> measures one workload (for profiling). */
    const char *only = getenv("STEEP_BENCH_ONLY");
    if (only && atoi(only) != (int)workload)
        return 1;
    pthread_t ids[64];
    struct worker workers[64];
    atomic_store(&stop_flag, false);
    double start = now();
    for (int i = 0; i < threads; i++) {
        workers[i] = (struct worker){workload, i, 0, 0};
        pthread_create(&ids[i], NULL, worker_main, &workers[i]);
    }
    struct timespec pause = {(time_t)seconds, (long)((seconds - (long)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    atomic_store(&stop_flag, true);
    long operations = 0, failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        operations += workers[i].operations;
        failures += workers[i].failures;
    }
    double elapsed = now() - start;
    if (failures)
        fprintf(stderr, "warning: %ld failed operations\n", failures);
    return (double)operations / elapsed;
}

static int prepare(struct steep_store *store, const char *raw_dir)
{
    char key[64], data[VALUE_BYTES];
    memset(data, 'x', sizeof data);
    leveldb_options_t *options = leveldb_options_create();
    leveldb_options_set_create_if_missing(options, 1);
    char *error = NULL;
    raw_db = leveldb_open(options, raw_dir, &error);
    leveldb_options_destroy(options);
    ENSURE(!error, "raw leveldb: %s", error);
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    for (int i = 0; i < GET_KEYS; i += 100) {
        struct steep_store_op ops[100];
        char keys[100][32];
        leveldb_writebatch_t *batch = leveldb_writebatch_create();
        for (int j = 0; j < 100; j++) {
            snprintf(keys[j], sizeof keys[j], "bench-get-%d", i + j);
            ops[j] = (struct steep_store_op){false, keys[j], strlen(keys[j]), data, sizeof data};
            snprintf(key, sizeof key, "raw-get-%d", i + j);
            leveldb_writebatch_put(batch, key, strlen(key), data, sizeof data);
        }
        GUARD(steep_store_batch(store, ops, 100));
        leveldb_write(raw_db, wo, batch, &error);
        leveldb_writebatch_destroy(batch);
        ENSURE(!error, "raw leveldb: %s", error);
    }
    leveldb_writeoptions_destroy(wo);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    if (argc > 2)
        setenv("TMPDIR", argv[2], 1);
    steep_log_init("bench-storage");
    steep_log_set_level(STEEP_LOG_ERROR);
    char *dir = test_temp_dir("bench-storage");
    char store_dir[600], raw_dir[600];
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);
    snprintf(raw_dir, sizeof raw_dir, "%s/raw", dir);
    struct test_storage_server server;
    if (test_storage_server_start(&server, store_dir, 0, 0, 0) < 0 ||
        prepare(server.store, raw_dir) < 0) {
        fprintf(stderr, "bench: %s\n", steep_error_get());
        return 1;
    }
    port = server.port;
    engine = server.store;
    shared_client = test_storage_client(port);
    printf("storage benchmark: %.1f s per figure, %d-byte values, data in %s\n", seconds,
           VALUE_BYTES, dir);
    printf("RPC: loopback TLS to the in-process service; engine: steep_store, sealed values, "
           "group commit; raw: LevelDB C API\n\n");
    const int counts[] = {1, 16, 64};
    double rate[WORKLOADS][3];
    printf("%-36s %12s %12s %12s\n", "ops/s", "1 client", "16 clients", "64 clients");
    for (int w = 0; w < WORKLOADS; w++) {
        printf("%-36s", workload_names[w]);
        for (size_t i = 0; i < 3; i++) {
            rate[w][i] = measure((enum workload)w, counts[i]);
            printf(" %12.0f", rate[w][i]);
            fflush(stdout);
        }
        printf("\n");
    }
    printf("\nratios to the raw LevelDB reference\n");
    for (int w = 0; w < WORKLOADS; w++) {
        if (w == RAW_PUT || w == RAW_GET)
            continue;
        int ref = is_put((enum workload)w) ? RAW_PUT : RAW_GET;
        printf("%-36s", workload_names[w]);
        for (size_t i = 0; i < 3; i++)
            printf(" %12.3f", rate[w][i] / rate[ref][i]);
        printf("\n");
    }
    printf("\nbudgets: durable Put >= 10000/s with 64 clients: %s (shared connection %.0f/s)\n",
           rate[RPC_PUT_SHARED][2] >= 10000 ? "met" : "NOT met", rate[RPC_PUT_SHARED][2]);
    double best_get = rate[RPC_GET_SHARED][2] > rate[RPC_GET_SHARED][1] ? rate[RPC_GET_SHARED][2]
                                                                        : rate[RPC_GET_SHARED][1];
    printf("         Get >= 30000/s over RPC: %s (best %.0f/s)\n",
           best_get >= 30000 ? "met" : "NOT met", best_get);
    printf("         engine Get >= 100000/s in process: %s (%.0f/s)\n",
           rate[ENGINE_GET][1] >= 100000 ? "met" : "NOT met", rate[ENGINE_GET][1]);
    steep_store_client_free(shared_client);
    test_storage_server_stop(&server);
    leveldb_close(raw_db);
    test_remove_tree(dir);
    free(dir);
    return 0;
}
