/*
 * The load of test_etcd_hosts.sh, run inside a network-namespace "host":
 *   etcd_host_load write SECONDS ACKED   puts record-N and enqueues N, one
 *        after the other, for SECONDS, appending N to ACKED once both were
 *        acknowledged; prints the longest wait for one acknowledgement
 *   etcd_host_load verify ACKED          every acknowledged record reads
 *        back, and the queue hands out every acknowledged element exactly
 *        once (an element whose acknowledgement was lost may come too)
 * On the cluster and prefix of STEEP_TEST_ETCD_* (store_etcd_env.h) and
 * STEEP_TEST_ETCD_PREFIX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "store/store.h"
#include "store_etcd_env.h"

static const uint8_t key[STEEP_STORE_KEY_BYTES] = {17, 17, 17};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_load(struct steep_store *store, double seconds, const char *acked_path)
{
    FILE *acked = fopen(acked_path, "w");
    if (!acked)
        return 1;
    double end = now() + seconds, longest = 0;
    long n = 0, failures = 0;
    while (now() < end) {
        char k[32], v[32];
        snprintf(k, sizeof k, "record-%ld", n);
        snprintf(v, sizeof v, "%ld", n);
        double start = now();
        int rc = steep_store_put(store, k, strlen(k), v, strlen(v));
        if (rc == STEEP_STORE_OK)
            rc = steep_store_enqueue(store, "q", 1, v, strlen(v));
        double took = now() - start;
        if (took > longest)
            longest = took;
        if (rc == STEEP_STORE_OK) {
            fprintf(acked, "%ld\n", n);
            fflush(acked);
        } else {
            failures++;
            fprintf(stderr, "write %ld: %s\n", n, steep_error_get());
        }
        n++;
    }
    fclose(acked);
    printf("writes=%ld failed=%ld longest_wait_s=%.2f\n", n, failures, longest);
    return 0;
}

static int verify(struct steep_store *store, const char *acked_path)
{
    FILE *acked = fopen(acked_path, "r");
    if (!acked)
        return 1;
    long n, count = 0, max = -1, lost = 0;
    struct steep_buf value = STEEP_BUF_INIT;
    while (fscanf(acked, "%ld", &n) == 1) {
        char k[32], v[32];
        snprintf(k, sizeof k, "record-%ld", n);
        snprintf(v, sizeof v, "%ld", n);
        if (steep_store_get(store, k, strlen(k), &value) != STEEP_STORE_OK ||
            value.len != strlen(v) || memcmp(value.data, v, value.len) != 0) {
            fprintf(stderr, "acknowledged %s is lost\n", k);
            lost++;
        }
        count++;
        if (n > max)
            max = n;
    }
    fclose(acked);
    unsigned char *seen = calloc((size_t)max + 2, 1);
    long dequeued = 0, duplicates = 0;
    int rc;
    while ((rc = steep_store_dequeue(store, "q", 1, &value)) == STEEP_STORE_OK) {
        char text[32];
        snprintf(text, sizeof text, "%.*s", (int)value.len, (const char *)value.data);
        long e = atol(text);
        if (e >= 0 && e <= max + 1) {
            duplicates += seen[e];
            seen[e] = 1;
        }
        dequeued++;
    }
    if (rc != STEEP_STORE_EMPTY) {
        fprintf(stderr, "dequeue: %s\n", steep_error_get());
        lost++;
    }
    acked = fopen(acked_path, "r");
    while (acked && fscanf(acked, "%ld", &n) == 1) {
        if (!seen[n]) {
            fprintf(stderr, "acknowledged element %ld never came out of the queue\n", n);
            lost++;
        }
    }
    if (acked)
        fclose(acked);
    free(seen);
    steep_buf_free(&value);
    printf("acknowledged=%ld lost=%ld dequeued=%ld duplicates=%ld\n", count, lost, dequeued,
           duplicates);
    return lost || duplicates || count == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *prefix = getenv("STEEP_TEST_ETCD_PREFIX");
    bool writing = argc == 4 && strcmp(argv[1], "write") == 0;
    if (!test_etcd_enabled() || !prefix ||
        !(writing || (argc == 3 && !strcmp(argv[1], "verify")))) {
        fprintf(stderr, "usage: etcd_host_load write SECONDS ACKED | verify ACKED (with "
                        "STEEP_TEST_ETCD_* and STEEP_TEST_ETCD_PREFIX)\n");
        return 2;
    }
    struct steep_store *store = NULL;
    if (test_etcd_open(prefix, key, STEEP_STORE_CREATE, &store) < 0) {
        fprintf(stderr, "open: %s\n", steep_error_get());
        return 1;
    }
    int rc = writing ? write_load(store, atof(argv[2]), argv[3]) : verify(store, argv[2]);
    steep_store_close(store);
    return rc;
}
