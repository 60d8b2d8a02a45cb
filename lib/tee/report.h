/*
 * Intel IAS v4 attestation report JSON (the "report" of RA-TLS evidence):
 * {"id","timestamp","version":4,"isvEnclaveQuoteStatus","isvEnclaveQuoteBody"}
 * plus Steep's "steepSimulated": true on reports from the simulated
 * authority. Parsing uses jansson with a size limit; the quote body is
 * base64-decoded and parsed by quote.h.
 */
#ifndef STEEP_TEE_REPORT_H
#define STEEP_TEE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tee/quote.h"

#define STEEP_REPORT_MAX_LEN 16384

struct steep_report {
    int64_t version;
    char id[65];
    char status[64];
    time_t timestamp; /* seconds, UTC */
    bool simulated;
    uint8_t quote_bytes[STEEP_QUOTE_LEN];
    size_t quote_len; /* as decoded; parse refuses any length but 432 */
};

/* Parses the JSON fields; the quote body is decoded but not yet parsed. */
int steep_report_parse(const uint8_t *json, size_t len, struct steep_report *out);
/* IAS timestamp "2022-01-17T22:07:49.022259677" (UTC, optional fraction). */
int steep_report_parse_time(const char *text, time_t *out);
/* Formats seconds + nanoseconds in the IAS timestamp format. */
void steep_report_format_time(time_t seconds, long nanoseconds, char out[40]);

#endif
