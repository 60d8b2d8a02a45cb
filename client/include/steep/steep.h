/*
 * libsteep: the C client SDK of the Steep confidential FaaS platform
 * (wire-compatible with Apache Teaclave 0.6).
 *
 * A steep_client talks to the authentication service (users, login) and the
 * frontend service (functions, data, tasks, audit). Before it sends anything
 * it verifies each service's attestation, fail-closed: the RA-TLS
 * certificate's report must be signed by a certificate that chains to the
 * given attestation root, must bind the TLS key, and must carry the
 * measurement that enclave_info.toml lists for that service. Simulated
 * evidence (the `sim` TEE back-end) is refused unless allow_simulation is set.
 *
 * Conventions:
 *  - Every call returns 0 on success and -1 on failure; the optional
 *    struct steep_error receives the gRPC status code and message (or a
 *    local error with code STEEP_ERROR_LOCAL).
 *  - Strings returned through char ** are malloc'd: free() them. Structures
 *    returned through pointers have their own *_free function.
 *  - A client is safe to use from many threads at once; calls are
 *    multiplexed on one connection per service.
 *
 * Link with `pkg-config --libs steep`.
 */
#ifndef STEEP_STEEP_H
#define STEEP_STEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(STEEP_BUILDING_SDK)
#define STEEP_API __attribute__((visibility("default")))
#else
#define STEEP_API
#endif

/* gRPC status codes as the services return them; STEEP_ERROR_LOCAL for
 * errors found before anything was sent (bad arguments, unreadable files). */
#define STEEP_ERROR_LOCAL -1

struct steep_error {
    int code;          /* gRPC status code, or STEEP_ERROR_LOCAL */
    char message[512]; /* the service's message, or what went wrong locally */
};

/* The name of a gRPC status code ("PERMISSION_DENIED"), "LOCAL" for
 * STEEP_ERROR_LOCAL, "UNKNOWN" for anything else. */
STEEP_API const char *steep_error_code_name(int code);

typedef struct steep_client steep_client;

struct steep_client_options {
    const char *authentication_address; /* "host:port"; default "localhost:7776" */
    const char *frontend_address;       /* default "localhost:7777" */
    const char *as_root_ca_cert;        /* attestation root certificate (PEM/DER); required */
    const char *enclave_info;           /* enclave_info.toml; required */
    /* Auditor public keys and their signatures over enclave_info; each
     * signature must verify under one of the keys. Both optional, but if
     * signatures are given, keys must be too. */
    const char *const *auditor_public_keys;
    size_t n_auditor_public_keys;
    const char *const *auditor_signatures;
    size_t n_auditor_signatures;
    /* Accept evidence of the SIMULATED attestation authority. It proves
     * nothing about hardware: development and local platforms only. */
    bool allow_simulation;
    int timeout_ms; /* per call; 0: 30 000 */
};

/* Returns NULL (with err) when the options or files are unusable. No
 * connection is made until the first call. */
STEEP_API steep_client *steep_client_new(const struct steep_client_options *options,
                                         struct steep_error *err);
STEEP_API void steep_client_free(steep_client *client);

/* The identity used for every later call (metadata `id` and `token`). */
STEEP_API int steep_client_set_credential(steep_client *client, const char *user_id,
                                          const char *token, struct steep_error *err);

/* ---- Users (authentication service) ------------------------------------ */

/* Logs in and stores the credential in the client. *token may be NULL. */
STEEP_API int steep_user_login(steep_client *client, const char *user_id, const char *password,
                               char **token, struct steep_error *err);
/* role: "PlatformAdmin", "FunctionOwner", "DataOwnerManager", "DataOwner";
 * attribute for the last two. */
STEEP_API int steep_user_register(steep_client *client, const char *user_id, const char *password,
                                  const char *role, const char *attribute, struct steep_error *err);
STEEP_API int steep_user_update(steep_client *client, const char *user_id, const char *password,
                                const char *role, const char *attribute, struct steep_error *err);
STEEP_API int steep_user_change_password(steep_client *client, const char *new_password,
                                         struct steep_error *err);
STEEP_API int steep_user_reset_password(steep_client *client, const char *user_id,
                                        char **new_password, struct steep_error *err);
STEEP_API int steep_user_delete(steep_client *client, const char *user_id, struct steep_error *err);

struct steep_string_list {
    char **items;
    size_t count;
};
STEEP_API void steep_string_list_free(struct steep_string_list *list);

/* attribute_filter: for a DataOwnerManager, its own attribute; ignored for admins. */
STEEP_API int steep_user_list(steep_client *client, const char *attribute_filter,
                              struct steep_string_list *ids, struct steep_error *err);

/* ---- Functions ---------------------------------------------------------- */

struct steep_function_argument {
    const char *key;
    const char *default_value;
    bool allow_overwrite;
};

struct steep_function_io {
    const char *name;
    const char *description;
    bool optional;
};

struct steep_function_spec {
    const char *name; /* for builtins, the builtin's name, e.g. "builtin-echo" */
    const char *description;
    const char *executor_type; /* "builtin", "python", "wamr" */
    bool public_function;
    const uint8_t *payload;
    size_t payload_len;
    const struct steep_function_argument *arguments;
    size_t n_arguments;
    const struct steep_function_io *inputs;
    size_t n_inputs;
    const struct steep_function_io *outputs;
    size_t n_outputs;
    const char *const *user_allowlist;
    size_t n_user_allowlist;
    int32_t usage_quota; /* negative: unlimited; 0: never invokable (Teaclave's rule) */
};

STEEP_API int steep_register_function(steep_client *client, const struct steep_function_spec *spec,
                                      char **function_id, struct steep_error *err);
STEEP_API int steep_update_function(steep_client *client, const char *function_id,
                                    const struct steep_function_spec *spec,
                                    struct steep_error *err);

struct steep_function {
    char *name;
    char *description;
    char *executor_type;
    char *owner;
    bool public_function;
    uint8_t *payload;
    size_t payload_len;
    struct steep_function_argument *arguments; /* strings owned by the struct */
    size_t n_arguments;
    struct steep_function_io *inputs;
    size_t n_inputs;
    struct steep_function_io *outputs;
    size_t n_outputs;
    struct steep_string_list user_allowlist;
};
STEEP_API void steep_function_free(struct steep_function *function);

STEEP_API int steep_get_function(steep_client *client, const char *function_id,
                                 struct steep_function **function, struct steep_error *err);
STEEP_API int steep_get_function_usage_stats(steep_client *client, const char *function_id,
                                             int32_t *quota, int32_t *current_usage,
                                             struct steep_error *err);
STEEP_API int steep_delete_function(steep_client *client, const char *function_id,
                                    struct steep_error *err);
STEEP_API int steep_disable_function(steep_client *client, const char *function_id,
                                     struct steep_error *err);
STEEP_API int steep_list_functions(steep_client *client, const char *user_id,
                                   struct steep_string_list *registered,
                                   struct steep_string_list *allowed, struct steep_error *err);

/* ---- Data --------------------------------------------------------------- */

struct steep_crypto_info {
    const char *schema; /* "aes-gcm-128", "aes-gcm-256", "teaclave-file-128", "raw" */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *iv;
    size_t iv_len;
};

STEEP_API int steep_register_input_file(steep_client *client, const char *url,
                                        const uint8_t cmac[16],
                                        const struct steep_crypto_info *crypto, char **data_id,
                                        struct steep_error *err);
STEEP_API int steep_register_output_file(steep_client *client, const char *url,
                                         const struct steep_crypto_info *crypto, char **data_id,
                                         struct steep_error *err);
/* Both return the id of a NEW record (Teaclave's semantics). */
STEEP_API int steep_update_input_file(steep_client *client, const char *data_id, const char *url,
                                      char **new_data_id, struct steep_error *err);
STEEP_API int steep_update_output_file(steep_client *client, const char *data_id, const char *url,
                                       char **new_data_id, struct steep_error *err);
STEEP_API int steep_register_fusion_output(steep_client *client, const char *const *owners,
                                           size_t n_owners, char **data_id,
                                           struct steep_error *err);
STEEP_API int steep_register_input_from_output(steep_client *client, const char *output_id,
                                               char **input_id, struct steep_error *err);

struct steep_file_info {
    struct steep_string_list owners;
    uint8_t cmac[16];
    bool has_cmac; /* false for an output not produced yet */
};
/* data_id "input-…" or "output-…". */
STEEP_API int steep_get_file(steep_client *client, const char *data_id,
                             struct steep_file_info *info, struct steep_error *err);
STEEP_API void steep_file_info_free(struct steep_file_info *info);

/* ---- Tasks -------------------------------------------------------------- */

struct steep_ownership {
    const char *data_name;
    const char *const *owners;
    size_t n_owners;
};

struct steep_task_spec {
    const char *function_id;
    const char *arguments_json; /* a JSON object, e.g. {"message":"hi"}; NULL: {} */
    const char *executor;       /* "builtin", "mesapy", "wamr" */
    const struct steep_ownership *inputs;
    size_t n_inputs;
    const struct steep_ownership *outputs;
    size_t n_outputs;
};

STEEP_API int steep_create_task(steep_client *client, const struct steep_task_spec *spec,
                                char **task_id, struct steep_error *err);

struct steep_data_map {
    const char *data_name;
    const char *data_id;
};

STEEP_API int steep_assign_data(steep_client *client, const char *task_id,
                                const struct steep_data_map *inputs, size_t n_inputs,
                                const struct steep_data_map *outputs, size_t n_outputs,
                                struct steep_error *err);
STEEP_API int steep_approve_task(steep_client *client, const char *task_id,
                                 struct steep_error *err);
STEEP_API int steep_invoke_task(steep_client *client, const char *task_id, struct steep_error *err);
STEEP_API int steep_cancel_task(steep_client *client, const char *task_id, struct steep_error *err);

enum steep_task_status {
    STEEP_TASK_CREATED = 0,
    STEEP_TASK_DATA_ASSIGNED = 1,
    STEEP_TASK_APPROVED = 2,
    STEEP_TASK_STAGED = 3,
    STEEP_TASK_RUNNING = 4,
    STEEP_TASK_FINISHED = 10,
    STEEP_TASK_CANCELED = 20,
    STEEP_TASK_FAILED = 99,
};
STEEP_API const char *steep_task_status_name(enum steep_task_status status);
STEEP_API bool steep_task_status_terminal(enum steep_task_status status);

struct steep_task_tag {
    char *output_name;
    uint8_t cmac[16];
};

struct steep_task_ownership {
    char *data_name;
    struct steep_string_list owners;
};

struct steep_task_assignment {
    char *data_name;
    char *data_id;
};

struct steep_task {
    char *task_id;
    char *creator;
    char *function_id;
    char *function_owner;
    char *function_arguments;
    struct steep_task_ownership *inputs_ownership;
    size_t n_inputs_ownership;
    struct steep_task_ownership *outputs_ownership;
    size_t n_outputs_ownership;
    struct steep_string_list participants;
    struct steep_string_list approved_users;
    struct steep_task_assignment *assigned_inputs;
    size_t n_assigned_inputs;
    struct steep_task_assignment *assigned_outputs;
    size_t n_assigned_outputs;
    enum steep_task_status status;
    /* Result: has_result with return_value/tags/log on success; a failure
     * reason (failed or canceled); neither while not ready. */
    bool has_result;
    uint8_t *return_value; /* NUL-terminated for convenience; len excludes it */
    size_t return_value_len;
    struct steep_task_tag *tags;
    size_t n_tags;
    struct steep_string_list log;
    char *failure_reason;
};
STEEP_API void steep_task_free(struct steep_task *task);

STEEP_API int steep_get_task(steep_client *client, const char *task_id, struct steep_task **task,
                             struct steep_error *err);
/* Waits until the task is Finished, Failed or Canceled, or timeout_ms passes
 * (error DEADLINE_EXCEEDED). On a Steep platform each GetTask carries the
 * request metadata "steep-wait-ms", so the platform answers as soon as the
 * task ends instead of being polled; against a platform that ignores it, it
 * polls with a backoff. */
STEEP_API int steep_wait_task(steep_client *client, const char *task_id, int timeout_ms,
                              struct steep_task **task, struct steep_error *err);

/* ---- Audit (PlatformAdmin) ---------------------------------------------- */

struct steep_audit_entry {
    int64_t microsecond; /* since the epoch */
    uint8_t ip[16];      /* IPv6; IPv4 peers as ::a.b.c.d */
    char *user;
    char *message;
    bool result;
};
/* query: a word, field:word, or *; newest first, at most limit entries. */
STEEP_API int steep_query_audit_logs(steep_client *client, const char *query, uint64_t limit,
                                     struct steep_audit_entry **entries, size_t *n_entries,
                                     struct steep_error *err);
STEEP_API void steep_audit_entries_free(struct steep_audit_entry *entries, size_t n_entries);

#ifdef __cplusplus
}
#endif

#endif
