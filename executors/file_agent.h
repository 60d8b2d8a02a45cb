/*
 * The file agent: moves a task's files between their URLs and the node's
 * work directory (Teaclave's file_agent).
 *
 * Schemes: http/https (libcurl; GET fails on 4xx/5xx and follows
 * redirects; PUT sends Content-Type: application/x-binary with a
 * Content-Length and succeeds only on HTTP 200), file:// (download: the
 * source must exist; upload: the destination must not), fusion:///
 * TEACLAVE_FUSION_BASE/<relative path> under the fusion base directory (no
 * ".." escapes), data:text/plain;base64,... (download only). Anything else
 * fails with "Scheme not supported". Every download refuses an existing
 * local file. Files are streamed, never held in memory; a batch runs in
 * parallel and fails as a whole when any file fails, with a message naming
 * the URL without its query string or user info (presigned URLs carry keys).
 * HTTP failures without an answer (one text for all: no port oracle) and
 * statuses 408/429/5xx are retried with backoff within half the batch's
 * time limit; other failures are final (file_agent.c).
 */
#ifndef STEEP_EXECUTORS_FILE_AGENT_H
#define STEEP_EXECUTORS_FILE_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "file_url.h"

/* How a batch may run. */
struct steep_file_agent_options {
    const char *fusion_base; /* [mount] fusion_base_dir; NULL: fusion:// refused */
    /* Polled during transfers; true stops them with "transfer canceled". */
    bool (*canceled)(void *arg);
    void *canceled_arg;
    unsigned timeout_seconds; /* the whole batch; 0: no limit */
    /* file:// reads and writes the execution host's own files: tests only
     * ([execution] insecure_file_urls). Refused otherwise. */
    bool allow_file_urls;
};

struct steep_file_transfer {
    const char *url;
    const char *local; /* path in the work directory */
};

int steep_file_agent_download(const struct steep_file_transfer *files, size_t n,
                              const struct steep_file_agent_options *options);
int steep_file_agent_upload(const struct steep_file_transfer *files, size_t n,
                            const struct steep_file_agent_options *options);

/* Once per process, before any thread starts (curl_global_init). */
int steep_file_agent_global_init(void);

#endif
