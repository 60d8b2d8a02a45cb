/*
 * lib/core/metrics: counters added from many threads at once are exact
 * (lock-free slots and atomics), histograms put each observation in the
 * right fixed bucket and render cumulative buckets, _sum and _count, the
 * text is Prometheus' format grouped by name with one HELP/TYPE each, and
 * a full table or an over-long key drops the metric and counts it instead
 * of failing or blocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/metrics.h"

static char *render(void)
{
    struct steep_buf out = STEEP_BUF_INIT;
    assert_int_equal(steep_metrics_render(&out), 0);
    assert_int_equal(steep_buf_terminate(&out), 0);
    return (char *)out.data;
}

/* The value of the sample line "series value". */
static double value_of(const char *text, const char *series)
{
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s ", series);
    const char *at = strstr(text, needle);
    if (!at)
        return -1;
    return strtod(at + strlen(needle), NULL);
}

#define THREADS 4
#define ADDS    100000

static void *add_many(void *arg)
{
    const char *labels = arg;
    for (int i = 0; i < ADDS; i++) {
        steep_metrics_count("test_parallel_total", "Adds from threads", "who=\"all\"", 1);
        steep_metrics_count("test_parallel_total", "Adds from threads", labels, 2);
    }
    return NULL;
}

static void test_parallel_counters_are_exact(void **state)
{
    (void)state;
    pthread_t threads[THREADS];
    char labels[THREADS][32];
    for (int i = 0; i < THREADS; i++) {
        snprintf(labels[i], sizeof labels[i], "who=\"t%d\"", i);
        assert_int_equal(pthread_create(&threads[i], NULL, add_many, labels[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *text = render();
    assert_true(value_of(text, "test_parallel_total{who=\"all\"}") == THREADS * ADDS);
    for (int i = 0; i < THREADS; i++) {
        char series[64];
        snprintf(series, sizeof series, "test_parallel_total{who=\"t%d\"}", i);
        assert_true(value_of(text, series) == 2 * ADDS);
    }
    /* one HELP and one TYPE for the name, whatever the label sets */
    const char *first = strstr(text, "# TYPE test_parallel_total counter\n");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE test_parallel_total"));
    free(text);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    /* 0.3 ms, 0.5 ms (on the first bound), 7 ms, 20 s (above every bound) */
    uint64_t seen[] = {300, 500, 7000, 20000000};
    for (size_t i = 0; i < 4; i++)
        steep_metrics_observe("test_latency_seconds", "Latency", "method=\"/a.B/C\"",
                              STEEP_METRICS_SECONDS, seen[i]);
    steep_metrics_observe("test_batch_size", "Batch sizes", NULL, STEEP_METRICS_COUNT, 3);
    char *text = render();
    assert_true(value_of(text, "test_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.0005\"}") ==
                2);
    assert_true(value_of(text, "test_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.005\"}") == 2);
    assert_true(value_of(text, "test_latency_seconds_bucket{method=\"/a.B/C\",le=\"0.01\"}") == 3);
    assert_true(value_of(text, "test_latency_seconds_bucket{method=\"/a.B/C\",le=\"10\"}") == 3);
    assert_true(value_of(text, "test_latency_seconds_bucket{method=\"/a.B/C\",le=\"+Inf\"}") == 4);
    assert_true(value_of(text, "test_latency_seconds_count{method=\"/a.B/C\"}") == 4);
    double sum = value_of(text, "test_latency_seconds_sum{method=\"/a.B/C\"}");
    assert_true(sum > 20.0077 && sum < 20.0079);
    assert_true(value_of(text, "test_batch_size_bucket{le=\"2\"}") == 0);
    assert_true(value_of(text, "test_batch_size_bucket{le=\"4\"}") == 1);
    assert_true(value_of(text, "test_batch_size_sum") == 3);
    assert_non_null(strstr(text, "# TYPE test_latency_seconds histogram\n"));
    free(text);
}

static void test_gauges(void **state)
{
    (void)state;
    steep_metrics_gauge("test_up", "Up", "peer=\"x\"", 1);
    steep_metrics_gauge("test_up", "Up", "peer=\"x\"", 0);
    steep_metrics_gauge_add("test_running", "Running", NULL, 3);
    steep_metrics_gauge_add("test_running", "Running", NULL, -1);
    char *text = render();
    assert_true(value_of(text, "test_up{peer=\"x\"}") == 0);
    assert_true(value_of(text, "test_running") == 2);
    assert_non_null(strstr(text, "# TYPE test_running gauge\n"));
    free(text);
}

static void test_overflow_is_dropped_and_counted(void **state)
{
    (void)state;
    char *text = render();
    double dropped_before = value_of(text, "steep_metrics_dropped_total");
    free(text);
    char long_labels[400];
    memset(long_labels, 'a', sizeof long_labels - 1);
    long_labels[sizeof long_labels - 1] = '\0';
    steep_metrics_count("test_long_total", "Too long", long_labels, 1);
    /* more label sets than the table has slots: the extra ones are dropped */
    for (int i = 0; i < 1100; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "n=\"%d\"", i);
        steep_metrics_count("test_many_total", "Many", labels, 1);
    }
    text = render();
    assert_null(strstr(text, "test_long_total"));
    double dropped = value_of(text, "steep_metrics_dropped_total");
    assert_true(dropped >= dropped_before + 1 + (1100 - 1024));
    /* what was recorded before the table filled still counts */
    assert_true(value_of(text, "test_parallel_total{who=\"all\"}") == THREADS * ADDS);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_counters_are_exact),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_overflow_is_dropped_and_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
