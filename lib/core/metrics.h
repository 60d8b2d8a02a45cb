/*
 * Process-wide metrics in Prometheus' text format (issue 18, item 4).
 *
 * A metric is a name plus a label set, e.g.
 *     steep_metrics_count("steep_rpc_server_calls_total", "Calls answered",
 *                         "method=\"/a.B/C\",code=\"OK\"", 1);
 * The first use of a name and labels claims a slot in a fixed table; later
 * uses find it again by hash. Nothing takes a lock: slots are claimed with a
 * compare-and-swap and every value is an atomic, so any thread may record on
 * the hot path (an RPC, a commit) at the cost of a hash, a short probe and a
 * few relaxed atomic additions. Histograms have fixed buckets chosen by their
 * unit. When the table is full new metrics are dropped (and counted in
 * steep_metrics_dropped_total) rather than slowing anyone down.
 *
 * Labels are written by the caller as Prometheus label pairs and must come
 * from trusted, bounded sets (method paths, state names, reasons chosen by
 * the code), never from a caller's bytes: a label set is part of the key.
 * help must be a string literal (it is kept by pointer).
 */
#ifndef STEEP_CORE_METRICS_H
#define STEEP_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum steep_metrics_unit {
    /* observed in microseconds, exposed in seconds: 0.5 ms .. 10 s buckets */
    STEEP_METRICS_SECONDS,
    /* a count (a batch size): 1 .. 4096 in powers of two */
    STEEP_METRICS_COUNT,
};

/* Adds n to a counter. */
void steep_metrics_count(const char *name, const char *help, const char *labels, uint64_t n);
/* Sets a gauge. */
void steep_metrics_gauge(const char *name, const char *help, const char *labels, int64_t value);
/* Adds delta to a gauge (e.g. tasks running). */
void steep_metrics_gauge_add(const char *name, const char *help, const char *labels, int64_t delta);
/* Records one observation in a histogram (value in the unit's base:
 * microseconds for STEEP_METRICS_SECONDS). */
void steep_metrics_observe(const char *name, const char *help, const char *labels,
                           enum steep_metrics_unit unit, uint64_t value);
/* Microseconds on the monotonic clock, for latencies. */
uint64_t steep_metrics_now_us(void);

/* Appends every metric, grouped by name with # HELP and # TYPE, in
 * Prometheus' text exposition format 0.0.4. Returns 0 or -1 (out of memory). */
int steep_metrics_render(struct steep_buf *out);

#endif
