/*
 * libsteep: the client object, connections and the call helper.
 *
 * Each service gets one steep_rpc_client (one multiplexed HTTP/2
 * connection, reconnected on failure) whose TLS verify hook is the
 * attestation verifier of attest.c, pinned to that service's measurement.
 */
#include "client_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_API           "/teaclave_authentication_service_proto.TeaclaveAuthenticationApi/"
#define FRONTEND_API       "/teaclave_frontend_service_proto.TeaclaveFrontend/"
#define DEFAULT_TIMEOUT_MS 30000

const char *steep_error_code_name(int code)
{
    return code == STEEP_ERROR_LOCAL ? "LOCAL" : steep_grpc_code_name(code);
}

int client_error(struct steep_error *err, const char *fmt, ...)
{
    if (err) {
        err->code = STEEP_ERROR_LOCAL;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return -1;
}

char *client_strdup(const char *s, struct steep_error *err)
{
    char *copy = strdup(s ? s : "");
    if (!copy)
        client_error(err, "out of memory");
    return copy;
}

int client_copy_strings(char **in, size_t n, struct steep_string_list *out, struct steep_error *err)
{
    out->items = NULL;
    out->count = 0;
    if (n == 0)
        return 0;
    out->items = calloc(n, sizeof(char *));
    if (!out->items)
        return client_error(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!(out->items[i] = client_strdup(in[i], err))) {
            steep_string_list_free(out);
            return -1;
        }
        out->count++;
    }
    return 0;
}

void steep_string_list_free(struct steep_string_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static struct steep_rpc_client *connect_service(steep_client *client, const char *address,
                                                const char *service_name)
{
    struct steep_rpc_client_config config = {
        .address = address,
        .tls = client_verifier_tls(client->verifier, service_name),
        .connect_timeout_ms = 5000,
        /* Responses may carry a task's arguments and its result (GetTask). */
        .max_message = steep_rpc_internal_max_message(STEEP_RPC_DEFAULT_MAX_MESSAGE),
    };
    return steep_rpc_client_new(&config);
}

steep_client *steep_client_new(const struct steep_client_options *options, struct steep_error *err)
{
    if (!options || !options->as_root_ca_cert || !options->enclave_info) {
        client_error(err, "as_root_ca_cert and enclave_info are required to verify the platform");
        return NULL;
    }
    steep_client *client = calloc(1, sizeof(*client));
    if (!client) {
        client_error(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&client->lock, NULL);
    client->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : DEFAULT_TIMEOUT_MS;
    client->verifier = client_verifier_new(options, err);
    if (!client->verifier)
        goto fail;
    const char *auth =
        options->authentication_address ? options->authentication_address : "localhost:7776";
    const char *front = options->frontend_address ? options->frontend_address : "localhost:7777";
    client->authentication = connect_service(client, auth, "teaclave_authentication_service");
    client->frontend = connect_service(client, front, "teaclave_frontend_service");
    if (!client->authentication || !client->frontend) {
        client_error(err, "cannot set up connections to %s and %s", auth, front);
        goto fail;
    }
    return client;
fail:
    steep_client_free(client);
    return NULL;
}

void steep_client_free(steep_client *client)
{
    if (!client)
        return;
    if (client->authentication)
        steep_rpc_client_free(client->authentication);
    if (client->frontend)
        steep_rpc_client_free(client->frontend);
    client_verifier_free(client->verifier);
    free(client->user_id);
    free(client->token);
    pthread_mutex_destroy(&client->lock);
    free(client);
}

int steep_client_set_credential(steep_client *client, const char *user_id, const char *token,
                                struct steep_error *err)
{
    char *id = client_strdup(user_id, err), *tok = client_strdup(token, err);
    if (!id || !tok) {
        free(id);
        free(tok);
        return -1;
    }
    pthread_mutex_lock(&client->lock);
    free(client->user_id);
    free(client->token);
    client->user_id = id;
    client->token = tok;
    pthread_mutex_unlock(&client->lock);
    return 0;
}

int client_call(steep_client *client, enum client_service service, const char *method,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                ProtobufCMessage **response, bool with_credential, struct steep_error *err)
{
    return client_call_waiting(client, service, method, request, response_type, response,
                               with_credential, 0, err);
}

int client_call_waiting(steep_client *client, enum client_service service, const char *method,
                        const ProtobufCMessage *request,
                        const ProtobufCMessageDescriptor *response_type,
                        ProtobufCMessage **response, bool with_credential, int wait_ms,
                        struct steep_error *err)
{
    char path[160];
    snprintf(path, sizeof(path), "%s%s", service == CLIENT_AUTHENTICATION ? AUTH_API : FRONTEND_API,
             method);
    struct steep_rpc_metadata metadata[3];
    char wait[16];
    size_t n_metadata = 0;
    char *id = NULL, *token = NULL;
    if (with_credential) {
        pthread_mutex_lock(&client->lock);
        id = client->user_id ? strdup(client->user_id) : NULL;
        token = client->token ? strdup(client->token) : NULL;
        pthread_mutex_unlock(&client->lock);
        if (!id || !token) {
            free(id);
            free(token);
            return client_error(err, "not logged in: log in first (steep user login)");
        }
        metadata[0] = (struct steep_rpc_metadata){"id", id};
        metadata[1] = (struct steep_rpc_metadata){"token", token};
        n_metadata = 2;
    }
    if (wait_ms > 0) {
        snprintf(wait, sizeof(wait), "%d", wait_ms);
        metadata[n_metadata++] = (struct steep_rpc_metadata){"steep-wait-ms", wait};
    }
    struct steep_rpc_status status;
    struct steep_rpc_client *rpc =
        service == CLIENT_AUTHENTICATION ? client->authentication : client->frontend;
    int rc = steep_rpc_call(rpc, path, request, response_type, response, metadata, n_metadata,
                            client->timeout_ms + (wait_ms > 0 ? wait_ms : 0), &status);
    free(id);
    free(token);
    if (rc < 0 && err) {
        err->code = status.code;
        snprintf(err->message, sizeof(err->message), "%s", status.message);
    }
    return rc;
}
