/*
 * Rust's `{:?}` for f64: the shortest digits that read back to the same
 * value, in decimal notation when 1e-4 <= |x| < 1e16 (always with a
 * fractional part, "3.0"), otherwise as "<digits>e<exp>" ("1e-7",
 * "1.5e16"); "NaN", "inf", "-inf", "-0.0".
 */
#ifndef STEEP_FUNCTIONS_FLOAT_FORMAT_H
#define STEEP_FUNCTIONS_FLOAT_FORMAT_H

#include "core/buf.h"

int steep_format_f64_debug(struct steep_buf *out, double x);
/* serde_json's f64 (ryu): the same digits, decimal when 1e-5 <= |x| < 1e16,
 * "null" for NaN and infinities. */
int steep_format_f64_json(struct steep_buf *out, double x);
/* serde_json's f32 (ryu): shortest digits that read back as the same float. */
int steep_format_f32_json(struct steep_buf *out, float x);

#endif
