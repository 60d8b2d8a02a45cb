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

/*
 * One line of a training file: after trimming, exactly `expected`
 * comma-separated numbers (fields are not trimmed), stored in row.
 * Errors, as Teaclave's: "Empty line", the number parser's message, and
 * "Data format error: column len = N, expected = M"; and, where Teaclave
 * would train on garbage, "NaN or infinite value in column N".
 */
int steep_parse_row_f64(const char *line, size_t len, double *row, size_t expected);
int steep_parse_row_f32(const char *line, size_t len, float *row, size_t expected);
/* "NaN or infinite value in column N" (from 1) unless value is finite. */
int steep_check_finite(double value, size_t column);

#endif
