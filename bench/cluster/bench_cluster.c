/*
 * The storage engine on both back-ends (bench/cluster/run.sh drives it):
 * durable Put/s and Get/s from T client threads for S seconds each, on the
 * embedded LevelDB engine (in DIR) or on the etcd cluster named by
 * STEEP_TEST_ETCD_* (store_etcd_env.h). Puts write fresh keys (64-byte
 * values); Gets read 1000 preloaded keys at random. Prints one line:
 *   <backend> threads=T put_per_s=P get_per_s=G
 * usage: bench_cluster leveldb|etcd SECONDS THREADS [DIR]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "helpers.h"
#include "store/store.h"
#include "store_etcd_env.h"

#define PRELOADED  1000
#define MAX_THREAD 256

static const uint8_t bench_key[STEEP_STORE_KEY_BYTES] = {42};
static struct steep_store *store;
static atomic_bool stop;
static bool doing_puts;

struct worker {
    pthread_t thread;
    int id;
    long done, failed;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    char key[64], value[64];
    struct steep_buf got = STEEP_BUF_INIT;
    unsigned seed = (unsigned)w->id * 7919u + 1;
    memset(value, 'v', sizeof value);
    for (long i = 0; !atomic_load(&stop); i++) {
        int rc;
        if (doing_puts) {
            snprintf(key, sizeof key, "bench-%d-%ld", w->id, i);
            rc = steep_store_put(store, key, strlen(key), value, sizeof value);
        } else {
            snprintf(key, sizeof key, "pre-%d", rand_r(&seed) % PRELOADED);
            rc = steep_store_get(store, key, strlen(key), &got);
        }
        if (rc == STEEP_STORE_OK)
            w->done++;
        else
            w->failed++;
    }
    steep_buf_free(&got);
    return NULL;
}

static double measure(bool puts, int threads, double seconds, long *failed)
{
    static struct worker workers[MAX_THREAD];
    doing_puts = puts;
    atomic_store(&stop, false);
    double start = now();
    for (int i = 0; i < threads; i++) {
        workers[i] = (struct worker){.id = i};
        pthread_create(&workers[i].thread, NULL, work, &workers[i]);
    }
    struct timespec pause = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    atomic_store(&stop, true);
    long done = 0;
    *failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(workers[i].thread, NULL);
        done += workers[i].done;
        *failed += workers[i].failed;
    }
    return (double)done / (now() - start);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "etcd") != 0 && argc < 5)) {
        fprintf(stderr, "usage: bench_cluster leveldb|etcd SECONDS THREADS [DIR]\n");
        return 2;
    }
    bool etcd = strcmp(argv[1], "etcd") == 0;
    double seconds = atof(argv[2]);
    int threads = atoi(argv[3]);
    if (seconds <= 0 || threads < 1 || threads > MAX_THREAD) {
        fprintf(stderr, "bench_cluster: SECONDS > 0, THREADS 1..%d\n", MAX_THREAD);
        return 2;
    }
    char *prefix = etcd ? test_etcd_prefix("bench") : NULL;
    int rc = etcd ? test_etcd_open(prefix, bench_key, STEEP_STORE_CREATE, &store)
                  : steep_store_open(argv[4], bench_key, STEEP_STORE_CREATE, &store);
    if (rc < 0) {
        fprintf(stderr, "bench_cluster: open: %s\n", steep_error_get());
        return 1;
    }
    char key[32], value[64];
    memset(value, 'p', sizeof value);
    for (int i = 0; i < PRELOADED; i++) {
        snprintf(key, sizeof key, "pre-%d", i);
        if (steep_store_put(store, key, strlen(key), value, sizeof value) != STEEP_STORE_OK) {
            fprintf(stderr, "bench_cluster: preload: %s\n", steep_error_get());
            return 1;
        }
    }
    long put_failed, get_failed;
    double puts = measure(true, threads, seconds, &put_failed);
    double gets = measure(false, threads, seconds, &get_failed);
    printf("%s threads=%d put_per_s=%.0f get_per_s=%.0f failed=%ld\n", argv[1], threads, puts, gets,
           put_failed + get_failed);
    steep_store_close(store);
    free(prefix);
    return put_failed + get_failed ? 1 : 0;
}
