/*
 * Slows down password guessing: after the n-th consecutive failed login of
 * one user id FROM ONE SOURCE (an IPv4 address or an IPv6 /64) beyond the
 * first `free` ones (a typo or two cost nothing), that pair's next attempt
 * is not checked before base * 2^(n-free-1) milliseconds (capped at max)
 * have passed; an attempt within the window is refused at
 * once, unchecked (and costs no argon2 hash). A success resets the pair.
 *
 * Per source and user (issue 14, item 9): a throttle per user id alone let
 * 20 threads guessing `admin`'s password hold the real admin's login for up
 * to 8 s. Keyed by the pair, the guesser slows down only itself; an
 * attacker who shares the owner's address delays the owner by at most
 * max. Nothing sleeps on a server thread, so throttled guessers do not
 * occupy threads either. The table is bounded (oldest entries are
 * forgotten first), so unknown ids or many sources cannot grow it without
 * limit; pairs are kept only as SHA-256 digests.
 */
#ifndef STEEP_AUTHENTICATION_THROTTLE_H
#define STEEP_AUTHENTICATION_THROTTLE_H

#include <stdint.h>

#include "authentication/hash_pool.h"

#define STEEP_AUTH_THROTTLE_ENTRIES 4096

struct steep_auth_throttle;

struct steep_auth_throttle *steep_auth_throttle_new(int64_t base_ms, int64_t max_ms, int free);
void steep_auth_throttle_free(struct steep_auth_throttle *throttle);
/* Milliseconds before an attempt for id from source is checked (0: now). */
int64_t steep_auth_throttle_wait_ms(struct steep_auth_throttle *throttle,
                                    const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id);
/* Records a failure; returns the window until the pair's next check. */
int64_t steep_auth_throttle_failure(struct steep_auth_throttle *throttle,
                                    const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id);
void steep_auth_throttle_success(struct steep_auth_throttle *throttle,
                                 const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id);

#endif
