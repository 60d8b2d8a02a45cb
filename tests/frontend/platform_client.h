/*
 * libsteep clients for a platform made by `steep up` (tests/lib/platform.sh):
 * STEEP_DIR gives the attestation root, enclave_info and auditor files;
 * STEEP_AUTH_ADDRESS / STEEP_FRONTEND_ADDRESS the endpoints. Used by the
 * frontend's platform test and by bench/frontend.
 */
#ifndef STEEP_TESTS_FRONTEND_PLATFORM_CLIENT_H
#define STEEP_TESTS_FRONTEND_PLATFORM_CLIENT_H

#include <steep/steep.h>

/* A client with no credential yet; exits with a message on failure. */
steep_client *platform_client(void);
/* Registers user (ignoring "user id exist") as admin, then logs in as user.
 * role NULL: just log in. */
steep_client *platform_login(const char *user, const char *password, const char *role,
                             const char *attribute);
const char *platform_admin_password(void);

#endif
