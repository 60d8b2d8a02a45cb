/*
 * Rust-compatible number parsing for the ML built-ins: str::parse::<f64>
 * and ::<f32> accept [+-] followed by digits with an optional '.' and
 * exponent, or inf / infinity / nan (any case); no whitespace, no hex.
 * Errors carry Rust's messages ("invalid float literal",
 * "cannot parse float from empty string").
 */
#ifndef STEEP_FUNCTIONS_NUMBER_H
#define STEEP_FUNCTIONS_NUMBER_H

#include <stddef.h>

int steep_parse_f64(const char *s, size_t len, double *out);
int steep_parse_f32(const char *s, size_t len, float *out);

#endif
