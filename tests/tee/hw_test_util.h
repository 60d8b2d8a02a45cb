/*
 * Helpers for the hardware-evidence tests: the vectors of
 * $STEEP_SHARED_DIR/fixtures/hw-attestation, their expected.json values,
 * and verification of (possibly mutated) evidence and collateral.
 */
#ifndef STEEP_TESTS_TEE_HW_TEST_UTIL_H
#define STEEP_TESTS_TEE_HW_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "tee/hw/hw.h"

/* $STEEP_SHARED_DIR/fixtures/hw-attestation/<rel> */
const char *hw_fixture(const char *rel, char *out, size_t size);
/* expected.json (parsed once; never freed). */
json_t *hw_expected(void);
/* expected.json's vectors.<name> */
json_t *hw_vector(const char *name);
/* vectors.<name>.<key>... as a string / integer (aborts when absent). */
const char *hw_vector_string(const char *name, const char *key);
/* RFC 3339 to time_t (aborts on a bad time). */
time_t hw_time(const char *text);
/* The vector's pinned time. */
time_t hw_pinned(const char *name);
/* The vector's evidence file (quote.bin or report.bin); free() it. */
uint8_t *hw_evidence(const char *name, size_t *len);
/* The vector's collateral directory loaded (aborts on failure). */
void hw_collateral(const char *name, struct steep_hw_collateral *out);
/* Verifies; returns 0/-1 like steep_hw_verify. */
int hw_verify(const uint8_t *evidence, size_t len, const struct steep_hw_collateral *c, time_t now,
              struct steep_hw_report *out);
/* Reads a whole file; free() the result. */
uint8_t *hw_read(const char *path, size_t *len);

#endif
