/*
 * Helpers shared by the C examples: one steep_client per user, logged in.
 *
 * The platform is named by the environment, as a `steep up` directory:
 *   STEEP_DIR               as_root_ca_cert.pem, enclave_info.toml, auditors/
 *   STEEP_AUTH_ADDRESS      default localhost:7776
 *   STEEP_FRONTEND_ADDRESS  default localhost:7777
 *   FILES_URL, FILES_DIR    the example file server and the directory it serves
 */
#ifndef STEEP_EXAMPLES_COMMON_H
#define STEEP_EXAMPLES_COMMON_H

#include <steep/steep.h>
#include <stdint.h>

/* Exits with a message when a call failed. */
void check(int rc, const char *what, const struct steep_error *err);
/* A client logged in as user (registered first by admin when role != NULL). */
steep_client *connect_as(const char *user, const char *password, const char *role,
                         const char *attribute);
/* getenv with a default. */
const char *env_or(const char *name, const char *fallback);
/* The cmac of a teaclave-file-128 file: its metadata gmac at bytes 80..96. */
void tf128_cmac(const char *path, uint8_t cmac[16]);
/* Reads a whole small file as a string (malloc'd). */
char *read_text(const char *path);

/* Registers FILES_DIR/rel (served at FILES_URL/rel) as a tf128 input under
 * the all-zero key; returns the data id. */
char *tf128_input(steep_client *client, const char *rel);
/* Registers FILES_URL/rel as a tf128 output under the all-zero key. */
char *tf128_output(steep_client *client, const char *rel);
/* Decrypts the tf128 file FILES_DIR/rel with `steep file decrypt` and returns its text. */
char *tf128_decrypt_text(const char *rel);

#endif
