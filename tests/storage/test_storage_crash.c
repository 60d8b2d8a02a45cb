/*
 * Crash test: acknowledged writes survive SIGKILL, nothing appears half
 * written, and queue elements are handed out exactly once.
 *
 * The driver re-executes itself as the storage service ("--serve DIR",
 * the service code in-process with a test TLS identity) and, for several
 * rounds, runs a write storm against it from many threads over one client
 * (puts of unique keys with self-checking values of varying size, enqueues,
 * and a few dequeues) while it kills the service with SIGKILL at a random
 * moment, then restarts it on the same directory. At the end it checks:
 *   - every acknowledged put is present with its value;
 *   - every present key was attempted and its value checks out;
 *   - every element appears at most once among acknowledged dequeues and
 *     the final drain; every acknowledged enqueue appears, except at most
 *     one per dequeue call that was cut off by a kill (its element may
 *     have been consumed with the answer lost).
 */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "helpers.h"
#include "server_helper.h"

#define ROUNDS    6
#define WRITERS   12
#define DEQUEUERS 2
#define MAX_SEQ   4000
#define QUEUE     "crash-queue"

enum state { UNTRIED = 0, SENT = 1, ACKED = 2 };

static uint8_t put_state[ROUNDS][WRITERS][MAX_SEQ];
static uint8_t enqueue_state[ROUNDS][WRITERS][MAX_SEQ];
static uint8_t dequeued[ROUNDS][WRITERS][MAX_SEQ]; /* times seen */
static int interrupted_dequeues;
static atomic_int acknowledged; /* puts acknowledged in this round */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- self-checking values: name | filler | fnv64 hex ---- */

static uint64_t fnv(const uint8_t *data, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

static size_t make_value(const char *name, int seq, char *out, size_t cap)
{
    size_t filler = (size_t)(seq * 37 % 1500);
    int n = snprintf(out, cap, "%s|", name);
    memset(out + n, 'a' + seq % 26, filler);
    size_t len = (size_t)n + filler;
    len += (size_t)snprintf(out + len, cap - len, "|%016llx",
                            (unsigned long long)fnv((uint8_t *)out, len));
    return len;
}

/* Returns 0 when value is a complete value for its embedded name, copied to name. */
static int check_value(const uint8_t *value, size_t len, char *name, size_t name_cap)
{
    if (len < 18 || value[len - 17] != '|')
        return -1;
    char hex[17];
    memcpy(hex, value + len - 16, 16);
    hex[16] = '\0';
    if (strtoull(hex, NULL, 16) != fnv(value, len - 17))
        return -1;
    const uint8_t *bar = memchr(value, '|', len);
    if (!bar || (size_t)(bar - value) >= name_cap)
        return -1;
    memcpy(name, value, (size_t)(bar - value));
    name[bar - value] = '\0';
    return 0;
}

static int parse_name(const char *name, char kind, int *round, int *writer, int *seq)
{
    char k;
    if (sscanf(name, "%c-%d-%d-%d", &k, round, writer, seq) != 4 || k != kind)
        return -1;
    if (*round < 0 || *round >= ROUNDS || *writer < 0 || *writer >= WRITERS || *seq < 0 ||
        *seq >= MAX_SEQ)
        return -1;
    return 0;
}

/* ---- the service child ---- */

static int serve(const char *dir)
{
    struct test_storage_server server;
    steep_log_set_level(STEEP_LOG_WARN);
    if (test_storage_server_start(&server, dir, 0, 0, 0) < 0) {
        fprintf(stderr, "serve: %s\n", steep_error_get());
        return 1;
    }
    printf("%d\n", server.port);
    fflush(stdout);
    for (;;)
        pause();
}

struct child {
    pid_t pid;
    int port;
};

static struct child start_service(const char *dir)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "test_storage_crash", "--serve", dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    struct child child = {pid, 0};
    CHECK(fscanf(in, "%d", &child.port) == 1, "the service did not start");
    fclose(in);
    return child;
}

/* ---- the storm ---- */

struct worker {
    struct steep_store_client *client;
    int round, id;
};

static void *writer_run(void *arg)
{
    struct worker *w = arg;
    char name[64], value[2048];
    for (int seq = 0; seq < MAX_SEQ; seq++) {
        snprintf(name, sizeof name, "p-%d-%d-%d", w->round, w->id, seq);
        size_t len = make_value(name, seq, value, sizeof value);
        put_state[w->round][w->id][seq] = SENT;
        if (steep_store_client_put(w->client, name, strlen(name), value, len, 3000) != 0)
            return NULL;
        put_state[w->round][w->id][seq] = ACKED;
        atomic_fetch_add(&acknowledged, 1);
        if (seq % 2)
            continue;
        snprintf(name, sizeof name, "q-%d-%d-%d", w->round, w->id, seq);
        len = make_value(name, seq, value, sizeof value);
        enqueue_state[w->round][w->id][seq] = SENT;
        if (steep_store_client_enqueue(w->client, QUEUE, strlen(QUEUE), value, len, 3000) != 0)
            return NULL;
        enqueue_state[w->round][w->id][seq] = ACKED;
    }
    return NULL;
}

static pthread_mutex_t dequeue_lock = PTHREAD_MUTEX_INITIALIZER;

static void record_dequeued(const struct steep_buf *value)
{
    char name[64];
    int round, writer, seq;
    CHECK(check_value(value->data, value->len, name, sizeof name) == 0,
          "a dequeued element is not a complete value");
    CHECK(parse_name(name, 'q', &round, &writer, &seq) == 0, "unknown element %s", name);
    CHECK(enqueue_state[round][writer][seq] != UNTRIED, "element %s was never enqueued", name);
    pthread_mutex_lock(&dequeue_lock);
    dequeued[round][writer][seq]++;
    CHECK(dequeued[round][writer][seq] == 1, "element %s dequeued twice", name);
    pthread_mutex_unlock(&dequeue_lock);
}

static void *dequeuer_run(void *arg)
{
    struct worker *w = arg;
    struct steep_buf value = STEEP_BUF_INIT;
    for (;;) {
        usleep(2000);
        int rc = steep_store_client_dequeue(w->client, QUEUE, strlen(QUEUE), &value, 3000);
        if (rc == STEEP_STORE_EMPTY)
            continue;
        if (rc != STEEP_STORE_OK) {
            pthread_mutex_lock(&dequeue_lock);
            interrupted_dequeues++;
            pthread_mutex_unlock(&dequeue_lock);
            break;
        }
        record_dequeued(&value);
    }
    steep_buf_free(&value);
    return NULL;
}

static void storm_round(const char *dir, int round, unsigned *seed)
{
    struct child child = start_service(dir);
    struct steep_store_client *client = test_storage_client(child.port);
    CHECK(client, "client: %s", steep_error_get());
    pthread_t threads[WRITERS + DEQUEUERS];
    struct worker workers[WRITERS + DEQUEUERS];
    atomic_store(&acknowledged, 0);
    for (int i = 0; i < WRITERS + DEQUEUERS; i++) {
        workers[i] = (struct worker){client, round, i};
        pthread_create(&threads[i], NULL, i < WRITERS ? writer_run : dequeuer_run, &workers[i]);
    }
    /* the storm is under way (also on a slow, loaded machine) before the kill timer runs */
    for (int waited = 0; atomic_load(&acknowledged) == 0 && waited < 20000; waited += 5)
        usleep(5000);
    int delay_ms = 100 + (int)(rand_r(seed) % 500);
    usleep((useconds_t)delay_ms * 1000);
    kill(child.pid, SIGKILL);
    waitpid(child.pid, NULL, 0);
    for (int i = 0; i < WRITERS + DEQUEUERS; i++)
        pthread_join(threads[i], NULL);
    steep_store_client_free(client);
    int acked = 0;
    for (int w = 0; w < WRITERS; w++)
        for (int s = 0; s < MAX_SEQ; s++)
            acked += put_state[round][w][s] == ACKED;
    printf("round %d: killed after %d ms, %d puts acknowledged\n", round, delay_ms, acked);
    CHECK(acked > 0, "no write was acknowledged in round %d", round);
}

/* ---- the final check ---- */

static int check_present_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                             size_t value_len)
{
    char name[64];
    int round, writer, seq;
    int *count = arg;
    CHECK(key_len < sizeof name, "unexpected key");
    memcpy(name, key, key_len);
    name[key_len] = '\0';
    CHECK(parse_name(name, 'p', &round, &writer, &seq) == 0, "unknown key %s", name);
    CHECK(put_state[round][writer][seq] != UNTRIED, "key %s was never written", name);
    (*count)++;
    return 0;
}

static void verify(const char *dir)
{
    struct child child = start_service(dir);
    struct steep_store_client *client = test_storage_client(child.port);
    struct steep_buf value = STEEP_BUF_INIT;
    char name[64], embedded[64];
    int acked_puts = 0, present = 0, unacked_present = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int w = 0; w < WRITERS; w++) {
            for (int s = 0; s < MAX_SEQ && put_state[r][w][s] != UNTRIED; s++) {
                snprintf(name, sizeof name, "p-%d-%d-%d", r, w, s);
                int rc = steep_store_client_get(client, name, strlen(name), &value, 5000);
                CHECK(rc != STEEP_STORE_ERROR, "get %s: %s", name, steep_error_get());
                if (put_state[r][w][s] == ACKED) {
                    acked_puts++;
                    CHECK(rc == STEEP_STORE_OK, "acknowledged put %s is missing", name);
                } else if (rc == STEEP_STORE_OK) {
                    unacked_present++;
                }
                if (rc == STEEP_STORE_OK) {
                    CHECK(check_value(value.data, value.len, embedded, sizeof embedded) == 0 &&
                              strcmp(embedded, name) == 0,
                          "value of %s is damaged", name);
                }
            }
        }
    }
    /* the only keys present are ones the storm wrote: p-<round>-... */
    CHECK(steep_store_client_keys_by_prefix(client, "p", 1, check_present_key, &present, 5000) == 0,
          "keys: %s", steep_error_get());
    /* drain the queue */
    int drained = 0;
    int rc;
    while ((rc = steep_store_client_dequeue(client, QUEUE, strlen(QUEUE), &value, 5000)) ==
           STEEP_STORE_OK) {
        record_dequeued(&value);
        drained++;
    }
    CHECK(rc == STEEP_STORE_EMPTY, "drain: %s", steep_error_get());
    int missing = 0, acked_enqueues = 0;
    for (int r = 0; r < ROUNDS; r++)
        for (int w = 0; w < WRITERS; w++)
            for (int s = 0; s < MAX_SEQ; s++)
                if (enqueue_state[r][w][s] == ACKED) {
                    acked_enqueues++;
                    missing += dequeued[r][w][s] == 0;
                }
    printf("verified: %d acknowledged puts present (%d keys, %d unacknowledged but complete); "
           "%d acknowledged enqueues, %d drained at the end, %d missing (<= %d interrupted "
           "dequeues)\n",
           acked_puts, present, unacked_present, acked_enqueues, drained, missing,
           interrupted_dequeues);
    CHECK(missing <= interrupted_dequeues, "%d acknowledged elements lost", missing);
    steep_buf_free(&value);
    steep_store_client_free(client);
    kill(child.pid, SIGTERM);
    waitpid(child.pid, NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2]);
    steep_log_init("crash-test");
    steep_log_set_level(STEEP_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    char *dir = test_temp_dir("storage-crash");
    CHECK(dir, "temp dir");
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("seed %u\n", seed);
    for (int round = 0; round < ROUNDS; round++)
        storm_round(dir, round, &seed);
    verify(dir);
    test_remove_tree(dir);
    free(dir);
    printf("PASS\n");
    return 0;
}
