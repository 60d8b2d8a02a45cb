/*
 * The management service's core: one function per TeaclaveManagement RPC,
 * independent of the transport so tests can call them directly.
 *
 * Every handler gets the caller (metadata `id` and `role`, set by the
 * frontend), the decoded request, and returns 0 with *response set (a
 * message built with malloc'd fields, freed with
 * protobuf_c_message_free_unpacked(response, NULL)) or a gRPC status code
 * with the message in steep_error_get() (Teaclave's texts, §1.12). Storage
 * failures are logged and answered INTERNAL "service internal error".
 *
 * Structural checks (IDs parse, names declared, the task's state allows the
 * step) are made here; every "may this person or task touch that data or
 * task" question goes to the access-control policy (policies/tasks.policy)
 * through `authorize`, with the facts read from storage.
 */
#ifndef STEEP_MANAGEMENT_MANAGEMENT_H
#define STEEP_MANAGEMENT_MANAGEMENT_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/kv.h"
#include "policy/acs_client.h"
#include "teaclave_frontend_service.pb-c.h"
#include "teaclave_management_service.pb-c.h"

/* Same meaning as steep_acs_authorize without the client: 0 with *accept, or
 * -1 (treated as a denial). */
typedef int (*steep_management_authorize_fn)(void *arg, const char *request,
                                             const struct steep_acs_field *fields, size_t nfields,
                                             const struct steep_acs_fact *facts, size_t nfacts,
                                             bool *accept, char *reason, size_t reason_len);

enum steep_management_event { STEEP_MANAGEMENT_TASK_STAGED, STEEP_MANAGEMENT_TASK_CANCELED };
/* Wake-up for the scheduler after the record was written; best effort.
 * record (may be NULL): the task record's stored bytes. */
typedef void (*steep_management_notify_fn)(void *arg, enum steep_management_event event,
                                           const char *task_id, const struct steep_buf *record);

struct steep_management {
    struct steep_kv kv;
    steep_management_authorize_fn authorize;
    void *authorize_arg;
    steep_management_notify_fn notify; /* may be NULL */
    void *notify_arg;
    /* Keys the user records' keys (ids.h, steep_id_user_key_keyed). */
    uint8_t user_secret[32];
};

/* Moves user records of an older store from Teaclave's unkeyed
 * "user-<uuidv5>" keys to keyed ones (functions.c); call before serving. */
int steep_management_migrate_user_keys(struct steep_management *m);

/* The longest GetTask hold a caller may ask for (steep-wait-ms): also
 * bounds how long a held call can delay a graceful stop of the frontend. */
#define STEEP_MANAGEMENT_WAIT_MAX_MS 5000

struct steep_management_caller {
    const char *id;   /* metadata "id" */
    const char *role; /* metadata "role", e.g. "DataOwner-org1", "PlatformAdmin" */
    /* metadata "steep-wait-ms" (Steep addition, GetTask only): hold the call
     * up to this long until the task is Finished, Failed or Canceled; 0: answer at once */
    int wait_ms;
    /* ms left of the call's deadline, or -1 for none */
    int64_t remaining_ms;
    /* NULL in tests: a held GetTask ends early once cancelled(call) says
     * so (caller gone, server stopping) */
    bool (*cancelled)(const void *call);
    const void *call;
};

typedef int (*steep_management_handler_fn)(struct steep_management *m,
                                           const struct steep_management_caller *caller,
                                           const ProtobufCMessage *request,
                                           ProtobufCMessage **response);

/* ---- shared by the handler files ---- */

/* Returns from the enclosing handler when x yields a non-zero status code. */
#define GUARD_CODE(x)                                                                              \
    do {                                                                                           \
        int guard_code_ = (x);                                                                     \
        if (guard_code_ != 0)                                                                      \
            return guard_code_;                                                                    \
    } while (0)

/* Records the message and returns code. */
int steep_management_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs steep_error_get() with context and returns INTERNAL "service internal error". */
int steep_management_internal(const char *what);
bool steep_management_is_admin(const struct steep_management_caller *caller);
char *steep_management_strdup(const char *s);

/* A dynamic fact list for one policy question; strings are copied. */
struct steep_management_facts {
    struct steep_acs_fact *facts;
    size_t n, cap;
};
int steep_management_fact(struct steep_management_facts *facts, const char *term, size_t nvalues,
                          ...);
/* One fact term(prefix..., uid) per uid of the set. */
int steep_management_fact_set(struct steep_management_facts *facts, const char *term,
                              const char *first, const char *second, const json_t *set);
void steep_management_facts_free(struct steep_management_facts *facts);
/* Asks the policy; returns 0 when accepted, else PERMISSION_DENIED
 * "permission denied" (the reason is logged). Fields: name/value pairs,
 * NULL-terminated. */
int steep_management_check(struct steep_management *m, const char *request,
                           const struct steep_management_facts *facts, ...);

/* Loads function_id (functions.c): INVALID_ARGUMENT "invalid function id"
 * when it does not parse or does not exist; key receives "function-<uuid>". */
int steep_management_load_function(struct steep_management *m, const char *function_id,
                                   char key[64], json_t **function);

/* The handlers (files.c, functions.c, tasks.c). */
#define STEEP_MANAGEMENT_HANDLER(name)                                                             \
    int name(struct steep_management *m, const struct steep_management_caller *caller,             \
             const ProtobufCMessage *request, ProtobufCMessage **response)
STEEP_MANAGEMENT_HANDLER(steep_management_register_input_file);
STEEP_MANAGEMENT_HANDLER(steep_management_register_output_file);
STEEP_MANAGEMENT_HANDLER(steep_management_update_input_file);
STEEP_MANAGEMENT_HANDLER(steep_management_update_output_file);
STEEP_MANAGEMENT_HANDLER(steep_management_register_fusion_output);
STEEP_MANAGEMENT_HANDLER(steep_management_register_input_from_output);
STEEP_MANAGEMENT_HANDLER(steep_management_get_output_file);
STEEP_MANAGEMENT_HANDLER(steep_management_get_input_file);
STEEP_MANAGEMENT_HANDLER(steep_management_register_function);
STEEP_MANAGEMENT_HANDLER(steep_management_update_function);
STEEP_MANAGEMENT_HANDLER(steep_management_get_function);
STEEP_MANAGEMENT_HANDLER(steep_management_get_function_usage_stats);
STEEP_MANAGEMENT_HANDLER(steep_management_delete_function);
STEEP_MANAGEMENT_HANDLER(steep_management_disable_function);
STEEP_MANAGEMENT_HANDLER(steep_management_list_functions);
STEEP_MANAGEMENT_HANDLER(steep_management_create_task);
STEEP_MANAGEMENT_HANDLER(steep_management_get_task);
STEEP_MANAGEMENT_HANDLER(steep_management_assign_data);
STEEP_MANAGEMENT_HANDLER(steep_management_approve_task);
STEEP_MANAGEMENT_HANDLER(steep_management_invoke_task);
STEEP_MANAGEMENT_HANDLER(steep_management_cancel_task);

/*
 * GetTask with steep-wait-ms holding no thread (issue 14, item 7; the
 * storage seam needs wait_change_async, else this is GetTask as above).
 * begin answers like steep_management_get_task (a status code, or 0 with
 * *response) unless the task is to be waited for: then 0 with *held, and
 * the caller holds its call for *hold_ms. Each storage answer calls wake(caller->call);
 * after every wake (or the hold's time, or the call cancelled) the caller
 * runs steep_management_wait_step on a worker, which gives a status code
 * or 0 with *response (the wait is then freed), or 0 with *hold_ms: hold
 * again for that long.
 */
struct steep_management_wait;
typedef void (*steep_management_wake_fn)(void *call);
int steep_management_get_task_begin(struct steep_management *m,
                                    const struct steep_management_caller *caller,
                                    const ProtobufCMessage *request, ProtobufCMessage **response,
                                    struct steep_management_wait **held, int *hold_ms,
                                    steep_management_wake_fn wake);
int steep_management_wait_step(struct steep_management_wait *wait, ProtobufCMessage **response,
                               int *hold_ms);

#endif
