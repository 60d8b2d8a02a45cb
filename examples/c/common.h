/*
 * Helpers shared by the C examples: one steep_client per user, logged in.
 *
 * The platform is named by the environment, as a `steep up` directory:
 *   STEEP_DIR               as_root_ca_cert.pem, enclave_info.toml, auditors/
 *   STEEP_AUTH_ADDRESS      default localhost:7776
 *   STEEP_FRONTEND_ADDRESS  default localhost:7777
 *   FILES_URL, FILES_DIR    the example file server and the directory it serves
 *   EXAMPLE_DIR             the examples' own data, keys and expected answers,
 *                           made by examples/prepare_inputs.sh (inputs.sh)
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
/* Reads a whole small file as a string (malloc'd). */
char *read_text(const char *path);
/* EXAMPLE_DIR/name as a string without its trailing newline (malloc'd). */
char *example_text(const char *name);
/* Hex text to bytes; exits unless it is exactly len bytes. */
void hex_bytes(const char *hex, uint8_t *out, size_t len);

/* Registers the example input `name` (FILES_URL/example-inputs/name.enc,
 * teaclave-file-128 under its owner's key EXAMPLE_DIR/name.key, with the
 * cmac `steep file encrypt` printed); returns the data id. */
char *example_input(steep_client *client, const char *name);
/* A fresh random teaclave-file-128 key for an output. */
void random_key(uint8_t key[16]);
/* Registers FILES_URL/rel as a tf128 output under key. */
char *tf128_output(steep_client *client, const char *rel, const uint8_t key[16]);
/* Decrypts the tf128 file FILES_DIR/rel with `steep file decrypt` and returns its text. */
char *tf128_decrypt_text(const char *rel, const uint8_t key[16]);

#endif
