/*
 * Slows down password guessing: after the n-th consecutive failed login of
 * one user id, that id's next attempt is not checked before
 * base * 2^(n-1) milliseconds (capped at max) have passed, and the failed
 * answer itself is delayed by as much. A success resets the id. The table
 * is bounded (oldest entries are forgotten first), so unknown ids cannot
 * grow it without limit; ids are kept only as SHA-256 digests.
 */
#ifndef STEEP_AUTHENTICATION_THROTTLE_H
#define STEEP_AUTHENTICATION_THROTTLE_H

#include <stdint.h>

#define STEEP_AUTH_THROTTLE_ENTRIES 4096

struct steep_auth_throttle;

struct steep_auth_throttle *steep_auth_throttle_new(int64_t base_ms, int64_t max_ms);
void steep_auth_throttle_free(struct steep_auth_throttle *throttle);
/* Milliseconds to wait before checking an attempt for id (0: none). */
int64_t steep_auth_throttle_wait_ms(struct steep_auth_throttle *throttle, const char *id);
/* Records a failure; returns the delay to apply to this answer. */
int64_t steep_auth_throttle_failure(struct steep_auth_throttle *throttle, const char *id);
void steep_auth_throttle_success(struct steep_auth_throttle *throttle, const char *id);
/* Sleeps ms milliseconds (a helper for the callers). */
void steep_auth_sleep_ms(int64_t ms);

#endif
