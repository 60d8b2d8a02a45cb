/*
 * Write and sync failure injection for the storage engine (fault_fs.h).
 *
 * A workload is a short list of storage transactions (puts of small and
 * multi-block values, atomic batches with deletes, compare-and-swap,
 * enqueue, dequeue), optionally after a prefill that brings the memtable
 * to the edge of a flush so the workload's first write makes LevelDB
 * switch logs and write a table in the background. A census runs it once
 * without faults and counts the write/pwrite/fsync/fdatasync calls it
 * makes on the store's files. Then, for every call number k in 1..N and
 * both fault kinds (ENOSPC that persists -- a full disk -- and EIO once; a
 * failing write leaves half its bytes, so EIO once is also a torn record
 * followed by space at once), a child process opens a fresh store, runs
 * the workload with the k-th call failing, clears the fault (space is
 * back), runs a few more transactions that must all succeed without the
 * caller reopening anything (the store recovers by itself), and dies
 * without closing it (a crash). The parent then reopens the
 * directory and checks:
 *   - it opens (no "Corruption: checksum mismatch" behind a torn record);
 *   - every acknowledged write is there with its value, and every key
 *     holds either its last acknowledged value or the value of a later
 *     transaction that failed (a failed write's outcome is unknown);
 *   - queue elements appear at most once, acknowledged enqueues are not
 *     lost, acknowledged dequeues do not come back.
 * Last, every call of creating a store and of opening an existing one (which
 * recovers its log) fails in turn: the next open must succeed and keep
 * what was acknowledged before.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "fault_fs.h"
#include "helpers.h"
#include "store/store.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

enum kind { PUT, DEL, BATCH, CAS, ENQ, DEQ };

/* One transaction. A batch is the next n_ops PUT/DEL steps, applied as one. */
struct step {
    enum kind kind;
    const char *key;
    size_t size;        /* value size (PUT, CAS new value, ENQ) */
    int n_ops;          /* BATCH */
    const char *expect; /* CAS: expected current value's key tag, NULL: absent */
};

#define MAX_STEPS 32
#define QUEUE     "fault-queue"

/* Values are derived from (step index, size) so the parent can rebuild them. */
static void make_value(int step, size_t size, struct steep_buf *out)
{
    steep_buf_reset(out);
    char head[32];
    int n = snprintf(head, sizeof head, "v%02d:", step);
    for (size_t i = 0; i < size; i++)
        steep_buf_append_u8(out, i < (size_t)n ? (uint8_t)head[i] : (uint8_t)(step * 31 + i));
}

struct workload {
    const char *name;
    size_t prefill; /* bytes written before arming, in 1 MiB puts */
    const struct step *steps;
    int n_steps;
};

/* Transactions of the first workload, applied in order. */
static const struct step small_steps[] = {
    {PUT, "k00", 64, 0, NULL},
    {PUT, "k01", 100 << 10, 0, NULL}, /* spans several 32 KiB log blocks */
    {BATCH, NULL, 0, 3, NULL},
    {PUT, "k02a", 1024, 0, NULL},
    {PUT, "k02b", 40 << 10, 0, NULL},
    {DEL, "k00", 0, 0, NULL},
    {CAS, "counter", 16, 0, NULL},
    {ENQ, QUEUE, 24, 0, NULL},
    {ENQ, QUEUE, 3000, 0, NULL},
    {DEQ, QUEUE, 0, 0, NULL},
    {CAS, "counter", 16, 0, "counter"},
    {PUT, "k01", 2048, 0, NULL},
    {BATCH, NULL, 0, 2, NULL},
    {PUT, "k09", 300 << 10, 0, NULL},
    {DEL, "k02a", 0, 0, NULL},
    {DEQ, QUEUE, 0, 0, NULL},
    {PUT, "k11", 16, 0, NULL},
};

/* The second: its first put makes LevelDB switch logs and flush a table. */
static const struct step flush_steps[] = {
    {PUT, "f00", 200 << 10, 0, NULL},
    {PUT, "f01", 64, 0, NULL},
    {ENQ, QUEUE, 100, 0, NULL},
    {PUT, "f02", 64, 0, NULL},
};

/* After the fault is cleared: these must all succeed. */
static const struct step after_steps[] = {
    {PUT, "after0", 64, 0, NULL}, {BATCH, NULL, 0, 2, NULL}, {PUT, "after1", 5000, 0, NULL},
    {DEL, "k11", 0, 0, NULL},     {ENQ, QUEUE, 50, 0, NULL}, {PUT, "k01", 77, 0, NULL},
};

#define N_AFTER ((int)(sizeof after_steps / sizeof after_steps[0]))

/* What the child reports per transaction (shared memory). */
struct outcome {
    int rc; /* STEEP_STORE_* or -2: not run */
    bool swapped;
    char dequeued[8]; /* "v%02d": the step that enqueued it */
};

struct report {
    struct outcome main[MAX_STEPS], after[MAX_STEPS];
    long calls, failed;
    char first_error[256], after_error[256];
};

static struct report *report;
static uint8_t key_bytes[STEEP_STORE_KEY_BYTES];

static void note_error(char *slot, size_t cap)
{
    if (!slot[0])
        snprintf(slot, cap, "%s", steep_error_get());
}

/* Runs steps[0..n), numbering values from base; fills out[]. */
static void run_steps(struct steep_store *store, const struct step *steps, int n, int base,
                      struct outcome *out, char *error, size_t error_cap)
{
    struct steep_buf value = STEEP_BUF_INIT, current = STEEP_BUF_INIT, got = STEEP_BUF_INIT;
    for (int i = 0; i < n; i++) {
        const struct step *s = &steps[i];
        int id = base + i;
        out[i].rc = -2;
        switch (s->kind) {
        case PUT:
            make_value(id, s->size, &value);
            out[i].rc = steep_store_put(store, s->key, strlen(s->key), value.data, value.len);
            break;
        case DEL:
            out[i].rc = steep_store_delete(store, s->key, strlen(s->key));
            break;
        case BATCH: {
            struct steep_store_op ops[8];
            struct steep_buf values[8];
            for (int j = 0; j < s->n_ops; j++) {
                const struct step *op = &steps[i + 1 + j];
                values[j] = (struct steep_buf)STEEP_BUF_INIT;
                make_value(id + 1 + j, op->size, &values[j]);
                ops[j] = (struct steep_store_op){op->kind == DEL, op->key, strlen(op->key),
                                                 values[j].data, values[j].len};
            }
            out[i].rc = steep_store_batch(store, ops, (size_t)s->n_ops);
            for (int j = 0; j < s->n_ops; j++) {
                out[i + 1 + j].rc = out[i].rc;
                steep_buf_free(&values[j]);
            }
            i += s->n_ops;
            break;
        }
        case CAS: {
            struct steep_buf expected = STEEP_BUF_INIT;
            if (s->expect) {
                /* expects the value of the previous CAS on this key */
                for (int j = i - 1; j >= 0; j--)
                    if (steps[j].kind == CAS && strcmp(steps[j].key, s->key) == 0) {
                        make_value(base + j, steps[j].size, &expected);
                        break;
                    }
            }
            make_value(id, s->size, &value);
            struct steep_store_cas cas = {.key = s->key,
                                          .key_len = strlen(s->key),
                                          .expect_absent = s->expect == NULL,
                                          .expected = expected.data,
                                          .expected_len = expected.len,
                                          .value = value.data,
                                          .value_len = value.len,
                                          .current = &current};
            out[i].rc = steep_store_compare_and_swap(store, &cas);
            out[i].swapped = cas.swapped;
            steep_buf_free(&expected);
            break;
        }
        case ENQ:
            make_value(id, s->size, &value);
            out[i].rc = steep_store_enqueue(store, s->key, strlen(s->key), value.data, value.len);
            break;
        case DEQ:
            out[i].rc = steep_store_dequeue(store, s->key, strlen(s->key), &got);
            if (out[i].rc == STEEP_STORE_OK)
                snprintf(out[i].dequeued, sizeof out[i].dequeued, "%.3s", (char *)got.data);
            break;
        }
        if (out[i].rc == STEEP_STORE_ERROR)
            note_error(error, error_cap);
    }
    steep_buf_free(&value);
    steep_buf_free(&current);
    steep_buf_free(&got);
}

static void prefill(struct steep_store *store, size_t bytes)
{
    struct steep_buf value = STEEP_BUF_INIT;
    make_value(99, 1 << 20, &value);
    for (size_t i = 0; i * (1 << 20) < bytes; i++) {
        char key[16];
        snprintf(key, sizeof key, "fill%zu", i);
        CHECK(steep_store_put(store, key, strlen(key), value.data, value.len) == 0, "prefill: %s",
              steep_error_get());
    }
    steep_buf_free(&value);
}

/* The child: one case. Never returns. */
static void run_case(const char *dir, const struct workload *w, long at, int err, bool persistent)
{
    alarm(60);
    if (!getenv("STEEP_TEST_VERBOSE")) /* each fault logs its error; keep the output short */
        (void)!freopen("/dev/null", "w", stderr);
    struct steep_store *store = NULL;
    if (steep_store_open(dir, key_bytes, STEEP_STORE_CREATE, &store) < 0)
        _exit(3);
    prefill(store, w->prefill);
    fault_fs_watch(dir);
    fault_fs_arm(at, err, persistent);
    run_steps(store, w->steps, w->n_steps, 0, report->main, report->first_error,
              sizeof report->first_error);
    /* Let a background flush the workload started reach the disk (or fail):
     * wait until no call was made for 30 ms. */
    for (long seen = -1, quiet = 0; w->prefill && quiet < 3; quiet++) {
        if (fault_fs_calls() != seen)
            quiet = 0;
        seen = fault_fs_calls();
        usleep(10 * 1000);
    }
    report->calls = fault_fs_calls();
    report->failed = fault_fs_failed();
    fault_fs_clear();
    run_steps(store, after_steps, N_AFTER, 50, report->after, report->after_error,
              sizeof report->after_error);
    _exit(0); /* a crash: the store is never closed */
}

/* ---- the parent's checks ---- */

struct expectation {
    const char *key;
    int n_candidates;
    bool absent[MAX_STEPS * 2 + 1];
    int step[MAX_STEPS * 2 + 1];
    size_t size[MAX_STEPS * 2 + 1];
};

static void add_effects(struct expectation *e, const struct step *steps, int n, int base,
                        const struct outcome *out)
{
    for (int i = 0; i < n; i++) {
        const struct step *s = &steps[i];
        if (s->kind == BATCH || s->kind == ENQ || s->kind == DEQ || strcmp(s->key, e->key) != 0)
            continue;
        bool acked = out[i].rc == STEEP_STORE_OK;
        if (s->kind == CAS && acked && !out[i].swapped)
            continue; /* acknowledged as not swapped: no effect */
        if (out[i].rc == -2)
            continue; /* never attempted */
        if (acked)
            e->n_candidates = 0;
        e->absent[e->n_candidates] = s->kind == DEL;
        e->step[e->n_candidates] = base + i;
        e->size[e->n_candidates] = s->size;
        e->n_candidates++;
    }
}

static void check_key(struct steep_store *store, const struct workload *w, const char *key,
                      const char *label)
{
    struct expectation e = {.key = key, .n_candidates = 1, .absent = {true}};
    add_effects(&e, w->steps, w->n_steps, 0, report->main);
    add_effects(&e, after_steps, N_AFTER, 50, report->after);
    struct steep_buf got = STEEP_BUF_INIT, want = STEEP_BUF_INIT;
    int rc = steep_store_get(store, key, strlen(key), &got);
    CHECK(rc != STEEP_STORE_ERROR, "%s: reading %s after the restart: %s", label, key,
          steep_error_get());
    bool ok = false;
    for (int c = 0; c < e.n_candidates && !ok; c++) {
        if (e.absent[c]) {
            ok = rc == STEEP_STORE_NOT_FOUND;
        } else if (rc == STEEP_STORE_OK) {
            make_value(e.step[c], e.size[c], &want);
            ok = got.len == want.len && memcmp(got.data, want.data, got.len) == 0;
        }
    }
    CHECK(ok, "%s: key %s after the restart is %s (%zu bytes), not what was acknowledged", label,
          key, rc == STEEP_STORE_OK ? "present" : "absent", got.len);
    steep_buf_free(&got);
    steep_buf_free(&want);
}

static bool seen_in(char seen[][8], int n, const char *tag)
{
    for (int i = 0; i < n; i++)
        if (strcmp(seen[i], tag) == 0)
            return true;
    return false;
}

static void check_queue(struct steep_store *store, const struct workload *w, const char *label)
{
    char taken[MAX_STEPS * 2][8];
    int n_taken = 0, lost_budget = 0;
    const struct step *lists[2] = {w->steps, after_steps};
    const struct outcome *outs[2] = {report->main, report->after};
    int counts[2] = {w->n_steps, N_AFTER};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < counts[l]; i++) {
            if (lists[l][i].kind != DEQ)
                continue;
            if (outs[l][i].rc == STEEP_STORE_OK) {
                CHECK(!seen_in(taken, n_taken, outs[l][i].dequeued), "%s: %s dequeued twice", label,
                      outs[l][i].dequeued);
                snprintf(taken[n_taken++], 8, "%s", outs[l][i].dequeued);
            } else if (outs[l][i].rc == STEEP_STORE_ERROR) {
                lost_budget++; /* its element may have been consumed */
            }
        }
    struct steep_buf got = STEEP_BUF_INIT;
    int rc;
    while ((rc = steep_store_dequeue(store, QUEUE, strlen(QUEUE), &got)) == STEEP_STORE_OK) {
        char tag[8];
        snprintf(tag, sizeof tag, "%.3s", (char *)got.data);
        CHECK(!seen_in(taken, n_taken, tag), "%s: element %s handed out twice", label, tag);
        snprintf(taken[n_taken++], 8, "%s", tag);
    }
    CHECK(rc == STEEP_STORE_EMPTY, "%s: draining the queue: %s", label, steep_error_get());
    int missing = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < counts[l]; i++) {
            char tag[8];
            snprintf(tag, sizeof tag, "v%02d", (l ? 50 : 0) + i);
            if (lists[l][i].kind == ENQ && outs[l][i].rc == STEEP_STORE_OK &&
                !seen_in(taken, n_taken, tag))
                missing++;
        }
    CHECK(missing <= lost_budget, "%s: %d acknowledged queue elements lost", label, missing);
    steep_buf_free(&got);
}

static const char *const keys[] = {"k00", "k01", "k02a", "k02b", "counter", "k09",
                                   "k11", "f00", "f01",  "f02",  "after0",  "after1"};

/* Runs one case in a child and checks the directory it leaves. */
/* Returns whether the planned call failed: a background flush may make
 * fewer calls than in the census (then the case ran without a fault). */
static bool one_case(const char *base, const struct workload *w, long at, int err, bool persistent,
                     int *recovered_writes)
{
    char label[128];
    snprintf(label, sizeof label, "%s: call %ld fails with %s%s", w->name, at, strerror(err),
             persistent ? " until cleared" : " once");
    char *dir = NULL;
    CHECK(asprintf(&dir, "%s/case", base) > 0, "oom");
    test_remove_tree(dir);
    memset(report, 0, sizeof *report);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        run_case(dir, w, at, err, persistent);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: the child failed (status %d)", label,
          status);
    bool injected = report->failed > 0;
    if (at > 0 && !w->prefill)
        CHECK(injected, "%s: no call failed (census said more)", label);
    for (int i = 0; i < N_AFTER; i++)
        CHECK(report->after[i].rc == STEEP_STORE_OK,
              "%s: a write after space came back failed: %s (first failure: %s)", label,
              report->after_error, report->first_error);
    *recovered_writes += N_AFTER;
    struct steep_store *store = NULL;
    CHECK(steep_store_open(dir, key_bytes, STEEP_STORE_CREATE, &store) == 0,
          "%s: the store does not open after the episode: %s", label, steep_error_get());
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        check_key(store, w, keys[i], label);
    check_queue(store, w, label);
    CHECK(steep_store_put(store, "final", 5, "x", 1) == 0, "%s: write after restart: %s", label,
          steep_error_get());
    steep_store_close(store);
    test_remove_tree(dir);
    free(dir);
    return injected;
}

static long census(const char *base, const struct workload *w)
{
    char *dir = NULL;
    CHECK(asprintf(&dir, "%s/case", base) > 0, "oom");
    test_remove_tree(dir);
    memset(report, 0, sizeof *report);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        run_case(dir, w, 0, 0, false);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "census child failed");
    for (int i = 0; i < w->n_steps; i++)
        CHECK(report->main[i].rc >= 0, "%s census: step %d failed without a fault: %s", w->name, i,
              report->first_error);
    test_remove_tree(dir);
    free(dir);
    return report->calls;
}

/* Faults while a store is created, and while an existing one is opened
 * (LevelDB recovers its log and writes a table and a new manifest): the
 * open may fail, but once the fault is gone the next open succeeds and
 * nothing acknowledged before is lost. Returns the number of cases. */
static int open_faults(const char *base, bool existing, int *opens_failed)
{
    char *dir = NULL;
    CHECK(asprintf(&dir, "%s/open", base) > 0, "oom");
    int cases = 0;
    for (long at = 1;; at++) {
        test_remove_tree(dir);
        struct steep_store *store = NULL;
        if (existing) { /* a store with acknowledged data in its log */
            CHECK(steep_store_open(dir, key_bytes, STEEP_STORE_CREATE, &store) == 0, "create: %s",
                  steep_error_get());
            CHECK(steep_store_put(store, "before", 6, "kept", 4) == 0, "put: %s",
                  steep_error_get());
            steep_store_close(store);
        }
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            alarm(60);
            if (!getenv("STEEP_TEST_VERBOSE"))
                (void)!freopen("/dev/null", "w", stderr);
            fault_fs_watch(existing ? dir : base);
            fault_fs_arm(at, at % 2 ? ENOSPC : EIO, at % 2 == 1);
            int first = steep_store_open(dir, key_bytes, STEEP_STORE_CREATE, &store);
            report->calls = fault_fs_calls();
            report->failed = fault_fs_failed();
            report->main[0].rc = first;
            fault_fs_clear();
            if (first == 0)
                steep_store_close(store);
            if (steep_store_open(dir, key_bytes, STEEP_STORE_CREATE, &store) < 0) {
                snprintf(report->after_error, sizeof report->after_error, "%s", steep_error_get());
                _exit(4);
            }
            report->after[0].rc = steep_store_put(store, "after", 5, "acked", 5);
            _exit(0);
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "%s store, call %ld of the open fails: the store never opens again: %s",
              existing ? "existing" : "new", at, report->after_error);
        if (report->failed == 0)
            break; /* past the open's last call */
        cases++;
        *opens_failed += report->main[0].rc < 0;
        CHECK(report->after[0].rc == STEEP_STORE_OK, "put after the open");
        CHECK(steep_store_open(dir, key_bytes, 0, &store) == 0, "reopen: %s", steep_error_get());
        struct steep_buf value = STEEP_BUF_INIT;
        CHECK(steep_store_get(store, "after", 5, &value) == STEEP_STORE_OK,
              "acknowledged put lost");
        if (existing)
            CHECK(steep_store_get(store, "before", 6, &value) == STEEP_STORE_OK && value.len == 4 &&
                      memcmp(value.data, "kept", 4) == 0,
                  "the record before the failed open was lost");
        steep_buf_free(&value);
        steep_store_close(store);
    }
    test_remove_tree(dir);
    free(dir);
    return cases;
}

int main(void)
{
    steep_log_set_level(STEEP_LOG_ERROR);
    for (size_t i = 0; i < sizeof key_bytes; i++)
        key_bytes[i] = (uint8_t)(i * 7 + 1);
    report = mmap(NULL, sizeof *report, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(report != MAP_FAILED, "mmap");
    /* tmpfs keeps hundreds of cases fast; the fault layer supplies the failures. */
    if (access("/dev/shm", W_OK) == 0 && !getenv("TMPDIR"))
        setenv("TMPDIR", "/dev/shm", 1);
    char *base = test_temp_dir("faults");
    CHECK(base, "temp dir");
    const struct workload workloads[] = {
        {"transactions", 0, small_steps, (int)(sizeof small_steps / sizeof small_steps[0])},
        {"memtable flush", (4u << 20) - (160u << 10), flush_steps,
         (int)(sizeof flush_steps / sizeof flush_steps[0])},
    };
    struct {
        int err;
        bool persistent;
    } kinds[] = {{ENOSPC, true}, {EIO, false}};
    int cases = 0, recovered = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t wi = 0; wi < sizeof workloads / sizeof workloads[0]; wi++) {
        const struct workload *w = &workloads[wi];
        struct timespec w0, w1;
        clock_gettime(CLOCK_MONOTONIC, &w0);
        long n = census(base, w);
        CHECK(n > 0, "%s: the census counted no calls", w->name);
        int before = cases, injected = 0;
        for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++)
            for (long at = 1; at <= n; at++, cases++)
                injected += one_case(base, w, at, kinds[ki].err, kinds[ki].persistent, &recovered);
        CHECK(injected * 10 >= (cases - before) * 9, "%s: only %d of %d cases failed a call",
              w->name, injected, cases - before);
        clock_gettime(CLOCK_MONOTONIC, &w1);
        printf("%s: %ld write/sync calls; %d fault cases passed (%d with the fault injected) in "
               "%.1f s\n",
               w->name, n, cases - before, injected,
               (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9);
    }
    for (int existing = 0; existing < 2; existing++) {
        int failed_opens = 0, n = open_faults(base, existing, &failed_opens);
        printf("open of %s store: %d fault cases passed (%d opens failed, all reopened)\n",
               existing ? "an existing" : "a new", n, failed_opens);
        cases += n;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("ok: %d fault cases, %d writes acknowledged after recovery, %.1f s\n", cases, recovered,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    test_remove_tree(base);
    free(base);
    return 0;
}
