/*
 * Internals of libsteep shared by its files: the client object, the call
 * helper that adds credentials and maps errors, and small copy helpers.
 */
#ifndef STEEP_CLIENT_INTERNAL_H
#define STEEP_CLIENT_INTERNAL_H

#include "steep/steep.h"

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>

#include "rpc/rpc.h"

enum client_service { CLIENT_AUTHENTICATION, CLIENT_FRONTEND };

struct client_verifier; /* attestation policy for both services (attest.c) */

struct steep_client {
    struct steep_rpc_client *authentication;
    struct steep_rpc_client *frontend;
    struct client_verifier *verifier;
    int timeout_ms;
    pthread_mutex_t lock; /* guards the credential */
    char *user_id;
    char *token;
};

/* attest.c: builds the fail-closed verifier from the options. */
struct client_verifier *client_verifier_new(const struct steep_client_options *options,
                                            struct steep_error *err);
void client_verifier_free(struct client_verifier *verifier);
/* TLS settings that accept only the named service (e.g. "teaclave_frontend_service"). */
struct steep_tls_config client_verifier_tls(struct client_verifier *verifier,
                                            const char *service_name);

/* One unary call to `<package>.<Service>/<method>`, with the credential as
 * metadata when with_credential. Fills err on failure. */
int client_call(steep_client *client, enum client_service service, const char *method,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                ProtobufCMessage **response, bool with_credential, struct steep_error *err);

/* client_call with Steep's "steep-wait-ms" metadata when wait_ms > 0 (the
 * server may hold the call that long; the deadline grows by as much). */
int client_call_waiting(steep_client *client, enum client_service service, const char *method,
                        const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_type,
                        ProtobufCMessage **response, bool with_credential, int wait_ms,
                        struct steep_error *err);

int client_error(struct steep_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *client_strdup(const char *s, struct steep_error *err);
int client_copy_strings(char **in, size_t n, struct steep_string_list *out,
                        struct steep_error *err);

#endif
