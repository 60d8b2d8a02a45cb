/*
 * Standard base64 with padding (Rust base64 crate's STANDARD), used by
 * builtin_online_decrypt and builtin-rsa-sign. Decoding errors use the
 * crate's messages ("Invalid byte N, offset M.", ...).
 */
#ifndef STEEP_FUNCTIONS_BASE64_H
#define STEEP_FUNCTIONS_BASE64_H

#include "core/buf.h"

int steep_base64_encode(const uint8_t *in, size_t len, struct steep_buf *out);
int steep_base64_decode(const char *in, struct steep_buf *out);

#endif
