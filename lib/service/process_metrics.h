/*
 * The process's own gauges, read from /proc/self when metrics are scraped:
 * resident memory, open descriptors, threads, CPU time and start time, under
 * Prometheus' standard process_* names.
 */
#ifndef STEEP_SERVICE_PROCESS_METRICS_H
#define STEEP_SERVICE_PROCESS_METRICS_H

#include "core/buf.h"

int steep_process_metrics_render(struct steep_buf *out);

#endif
