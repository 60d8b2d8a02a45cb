/*
 * Audit entries of requests that fail authentication, bounded (issue 14
 * item 2).
 *
 * Each audit entry costs a synced storage write and ~360 bytes kept for
 * good, and a request needs no credentials to fail authentication: one
 * client sending bogus tokens could fill the disk. So, per window of
 * window_ms, the first per_window such failures are audited one by one
 * (as before: ip, message, result false), and the rest are only counted:
 * when the window ends, one summary entry records how many were not
 * audited individually, from how many addresses, and the last one's text.
 * An anonymous flood thus adds at most per_window + 1 entries per window,
 * whatever its rate, and the count is kept. Requests that authenticated
 * (whatever happens next) are still audited one by one.
 *
 * Config ([frontend]): audit_auth_failures_per_window (default 20; 0: count
 * every failure, audit none individually), audit_auth_failure_window_secs
 * (default 60).
 */
#ifndef STEEP_FRONTEND_AUTH_AUDIT_H
#define STEEP_FRONTEND_AUTH_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "shipper.h"

#define STEEP_FRONTEND_AUDIT_AUTH_FAILURES_DEFAULT  20
#define STEEP_FRONTEND_AUDIT_AUTH_WINDOW_MS_DEFAULT 60000

struct steep_frontend_auth_audit;

/* Starts the window timer; NULL on failure. The shipper must outlive it. */
struct steep_frontend_auth_audit *
steep_frontend_auth_audit_start(struct steep_frontend_shipper *shipper, int per_window,
                                int window_ms);
/* Counts one failed authentication; true when it is to be audited one by
 * one (the caller ships its entry), false when only counted. */
bool steep_frontend_auth_audit_admit(struct steep_frontend_auth_audit *a, const uint8_t ip[16],
                                     const char *message);
/* Failures counted (not audited one by one) since start. */
uint64_t steep_frontend_auth_audit_suppressed(struct steep_frontend_auth_audit *a);
/* Ships the pending summary, stops the timer and frees. */
void steep_frontend_auth_audit_stop(struct steep_frontend_auth_audit *a);

#endif
