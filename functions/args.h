/*
 * Function arguments: the task's JSON object text, read like serde_json
 * into a typed struct. A missing key or a wrong JSON type fails with
 * Teaclave's "Cannot deserialize arguments"; unknown keys are ignored.
 */
#ifndef STEEP_FUNCTIONS_ARGS_H
#define STEEP_FUNCTIONS_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define STEEP_ARGS_ERROR "Cannot deserialize arguments"

/* Parses the object text; *out must be released with json_decref. */
int steep_args_parse(const char *text, json_t **out);
int steep_args_string(const json_t *args, const char *key, const char **out);
/* Non-negative JSON integer (Rust usize / u32 / u8 by max). */
int steep_args_uint(const json_t *args, const char *key, uint64_t max, uint64_t *out);
int steep_args_bool(const json_t *args, const char *key, bool *out);
/* Any JSON number (serde accepts integers for f64). */
int steep_args_f64(const json_t *args, const char *key, double *out);

#endif
