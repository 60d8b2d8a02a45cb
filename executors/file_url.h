/*
 * The parts of a task's file URLs that the file agent turns into local
 * things, without doing any I/O: file:// and fusion:/// URLs to paths, a
 * data:text/plain;base64 URL to its bytes, and any URL to the form that may
 * appear in messages. Kept apart from the transfers (file_agent.c) so that
 * one fuzz target (fuzz/executors) covers every parser of a URL.
 */
#ifndef STEEP_EXECUTORS_FILE_URL_H
#define STEEP_EXECUTORS_FILE_URL_H

#include <stddef.h>

#include "core/buf.h"

#define STEEP_FUSION_URL_PREFIX "fusion:///TEACLAVE_FUSION_BASE/"
#define STEEP_DATA_URL_PREFIX   "data:text/plain;base64,"

/* file:///abs/path or file://localhost/abs/path (scheme in any case),
 * percent-decoded up to its query or fragment; %00 is refused. */
int steep_file_url_path(const char *url, char *path, size_t size);
/* <fusion_base>/<rel> of fusion:///TEACLAVE_FUSION_BASE/<rel>, refusing
 * absolute, "." and ".." components and any of "?#%". */
int steep_fusion_url_path(const char *url, const char *fusion_base, char *path, size_t size);
/* Appends the bytes of a data:text/plain;base64 URL to out. The base64
 * follows OpenSSL's EVP_Decode rules, which it replaced: whitespace is
 * ignored, padding is required, unused bits of the last symbol are not
 * checked. */
int steep_data_url_decode(const char *url, struct steep_buf *out);
/* The URL as it may appear in messages: no query, fragment or user info,
 * and at most the first bytes of a data: URL. */
void steep_url_redact(const char *url, char *out, size_t size);

#endif
