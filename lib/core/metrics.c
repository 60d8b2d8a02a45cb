/*
 * The metrics table: a fixed array of slots found by hashing the metric's
 * name and labels (open addressing, linear probing). A slot goes from free
 * to claimed (one thread writes its key) to ready with compare-and-swap and
 * release/acquire ordering, so recording never takes a lock and a reader
 * (the admin port's renderer) sees only whole keys. Slots are never freed:
 * the label sets are bounded by the code (methods, states, reasons), so the
 * table only fills when a caller misuses labels, and then new metrics are
 * dropped and counted.
 */
#include "core/metrics.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS       1024 /* a power of two */
#define KEY_MAX     224
#define MAX_BUCKETS 16

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };
enum state { SLOT_FREE, SLOT_CLAIMED, SLOT_READY };

struct slot {
    atomic_int state;
    uint64_t hash;
    size_t name_len; /* key = name '\1' labels */
    char key[KEY_MAX];
    const char *help;
    enum kind kind;
    enum steep_metrics_unit unit;
    atomic_int_fast64_t value; /* counter, gauge; a histogram's count */
    atomic_uint_fast64_t sum;
    atomic_uint_fast64_t buckets[MAX_BUCKETS]; /* per bucket, not cumulative */
};

static struct slot slots[SLOTS];
static atomic_uint_fast64_t dropped;

/* Upper bounds, in the unit's base. */
static const uint64_t seconds_bounds[] = {500,     1000,    2500,    5000,    10000,
                                          25000,   50000,   100000,  250000,  500000,
                                          1000000, 2500000, 5000000, 10000000};
static const uint64_t count_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static const uint64_t *bounds_of(enum steep_metrics_unit unit, size_t *n)
{
    if (unit == STEEP_METRICS_SECONDS) {
        *n = sizeof seconds_bounds / sizeof seconds_bounds[0];
        return seconds_bounds;
    }
    *n = sizeof count_bounds / sizeof count_bounds[0];
    return count_bounds;
}

uint64_t steep_metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Eight bytes per step (a multiply-xorshift mix): keys are ~40-100 bytes
 * and hashed on every record, so a byte-at-a-time hash would dominate. */
static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, key + i, 8);
        h = (h ^ word) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    memcpy(&tail, key + i, len - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static struct slot *find(const char *name, const char *help, const char *labels, enum kind kind,
                         enum steep_metrics_unit unit)
{
    char key[KEY_MAX];
    size_t name_len = strlen(name), labels_len = labels ? strlen(labels) : 0;
    if (name_len + 1 + labels_len >= KEY_MAX) {
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        return NULL;
    }
    memcpy(key, name, name_len);
    key[name_len] = '\1';
    memcpy(key + name_len + 1, labels ? labels : "", labels_len);
    size_t len = name_len + 1 + labels_len;
    key[len] = '\0';
    uint64_t hash = hash_key(key, len);
    for (size_t probe = 0; probe < SLOTS; probe++) {
        struct slot *s = &slots[(hash + probe) & (SLOTS - 1)];
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == SLOT_FREE) {
            int expected = SLOT_FREE;
            if (atomic_compare_exchange_strong_explicit(&s->state, &expected, SLOT_CLAIMED,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                s->hash = hash;
                s->name_len = name_len;
                memcpy(s->key, key, len + 1);
                s->help = help;
                s->kind = kind;
                s->unit = unit;
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                return s;
            }
            state = expected;
        }
        /* Another thread is writing this slot's key (for a moment): it may
         * be ours, so wait for it before comparing. */
        while (state == SLOT_CLAIMED) {
            sched_yield();
            state = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->hash == hash && !strcmp(s->key, key))
            return s->kind == kind ? s : NULL;
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return NULL;
}

void steep_metrics_count(const char *name, const char *help, const char *labels, uint64_t n)
{
    struct slot *s = find(name, help, labels, KIND_COUNTER, 0);
    if (s)
        atomic_fetch_add_explicit(&s->value, (int_fast64_t)n, memory_order_relaxed);
}

void steep_metrics_gauge(const char *name, const char *help, const char *labels, int64_t value)
{
    struct slot *s = find(name, help, labels, KIND_GAUGE, 0);
    if (s)
        atomic_store_explicit(&s->value, value, memory_order_relaxed);
}

void steep_metrics_gauge_add(const char *name, const char *help, const char *labels, int64_t delta)
{
    struct slot *s = find(name, help, labels, KIND_GAUGE, 0);
    if (s)
        atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}

void steep_metrics_observe(const char *name, const char *help, const char *labels,
                           enum steep_metrics_unit unit, uint64_t value)
{
    struct slot *s = find(name, help, labels, KIND_HISTOGRAM, unit);
    if (!s)
        return;
    size_t n;
    const uint64_t *bounds = bounds_of(s->unit, &n);
    size_t bucket = 0;
    while (bucket < n && value > bounds[bucket])
        bucket++; /* bucket n: above the last bound (+Inf only) */
    atomic_fetch_add_explicit(&s->buckets[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum, value, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

static int compare_slots(const void *a, const void *b)
{
    return strcmp((*(struct slot *const *)a)->key, (*(struct slot *const *)b)->key);
}

/* A bound in the exposed unit: seconds with up to 4 decimals, or a count. */
static void format_bound(enum steep_metrics_unit unit, uint64_t bound, char *out, size_t len)
{
    if (unit == STEEP_METRICS_SECONDS)
        snprintf(out, len, "%g", (double)bound / 1e6);
    else
        snprintf(out, len, "%llu", (unsigned long long)bound);
}

static int render_histogram(struct steep_buf *out, const struct slot *s, const char *name,
                            const char *labels)
{
    size_t n;
    const uint64_t *bounds = bounds_of(s->unit, &n);
    const char *comma = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= n; i++) {
        cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        char le[32] = "+Inf";
        if (i < n)
            format_bound(s->unit, bounds[i], le, sizeof le);
        if (steep_buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, comma, le,
                             (unsigned long long)cumulative) < 0)
            return -1;
    }
    uint64_t sum = atomic_load_explicit(&s->sum, memory_order_relaxed);
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    if (s->unit == STEEP_METRICS_SECONDS) {
        if (steep_buf_printf(out, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                             (double)sum / 1e6) < 0)
            return -1;
    } else if (steep_buf_printf(out, "%s_sum%s%s%s %llu\n", name, open, labels, close,
                                (unsigned long long)sum) < 0)
        return -1;
    return steep_buf_printf(out, "%s_count%s%s%s %lld\n", name, open, labels, close,
                            (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
}

int steep_metrics_render(struct steep_buf *out)
{
    static const char *types[] = {"counter", "gauge", "histogram"};
    struct slot **ready = malloc(SLOTS * sizeof(*ready));
    if (!ready)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++)
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) == SLOT_READY)
            ready[n++] = &slots[i];
    qsort(ready, n, sizeof(*ready), compare_slots);
    int rc = 0;
    const struct slot *previous = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct slot *s = ready[i];
        char name[KEY_MAX];
        memcpy(name, s->key, s->name_len);
        name[s->name_len] = '\0';
        const char *labels = s->key + s->name_len + 1;
        if (!previous || previous->name_len != s->name_len ||
            memcmp(previous->key, s->key, s->name_len))
            rc = steep_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, s->help, name,
                                  types[s->kind]);
        previous = s;
        if (rc < 0)
            break;
        if (s->kind == KIND_HISTOGRAM)
            rc = render_histogram(out, s, name, labels);
        else
            rc = steep_buf_printf(out, "%s%s%s%s %lld\n", name, labels[0] ? "{" : "", labels,
                                  labels[0] ? "}" : "",
                                  (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
    }
    free(ready);
    if (rc == 0)
        rc = steep_buf_printf(out,
                              "# HELP steep_metrics_dropped_total Metrics not recorded: the "
                              "table was full or a key too long\n"
                              "# TYPE steep_metrics_dropped_total counter\n"
                              "steep_metrics_dropped_total %llu\n",
                              (unsigned long long)atomic_load(&dropped));
    return rc < 0 ? -1 : 0;
}
