/*
 * Function pinning, quota reservation and write-once outputs (integrity.h):
 * each a small read-modify-write on one record through steep_record_update,
 * so concurrent callers are ordered by storage's compare-and-swap.
 */
#include "integrity.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "records.h"
#include "usage.h"
#include "rpc/rpc.h"

/* The record fields an approval covers, besides the payload's hash. */
static const char *const covered[] = {"executor_type", "name", "arguments", "inputs", "outputs"};
#define NCOVERED (sizeof covered / sizeof *covered)

json_t *steep_integrity_function_content(const json_t *function)
{
    struct steep_buf payload = STEEP_BUF_INIT;
    const json_t *bytes = json_object_get(function, "payload");
    if (bytes && !json_is_null(bytes) && steep_record_bytes_get(bytes, &payload) < 0) {
        steep_buf_free(&payload);
        return NULL;
    }
    uint8_t digest[32];
    unsigned int digest_len = 0;
    char hex[65];
    int ok = EVP_Digest(payload.data ? payload.data : (const uint8_t *)"", payload.len, digest,
                        &digest_len, EVP_sha256(), NULL);
    steep_buf_free(&payload);
    if (!ok || digest_len != sizeof digest)
        return NULL;
    steep_hex_encode(digest, sizeof digest, hex);
    json_t *content = json_pack("{s:s}", "payload_sha256", hex);
    for (size_t i = 0; content && i < NCOVERED; i++) {
        json_t *value = json_object_get(function, covered[i]);
        json_object_set_new(content, covered[i], value ? json_deep_copy(value) : json_null());
    }
    return content;
}

int steep_integrity_check_function(const json_t *pinned, const json_t *function)
{
    const char *id = steep_record_string(function, "id");
    if (!json_is_object(pinned))
        return steep_management_fail(STEEP_GRPC_UNKNOWN,
                                     "failed to invoke task, reason: the task does not record "
                                     "which content of function-%.40s its approvals cover; "
                                     "create a new task",
                                     id);
    json_t *now = steep_integrity_function_content(function);
    if (!now)
        return steep_management_internal("function content");
    /* Name what changed, so the creator knows why. */
    char changed[128] = "";
    const char *keys[NCOVERED + 1] = {"payload_sha256"};
    memcpy(keys + 1, covered, sizeof covered);
    for (size_t i = 0; i < NCOVERED + 1; i++) {
        if (!json_equal(json_object_get(pinned, keys[i]), json_object_get(now, keys[i])))
            snprintf(changed + strlen(changed), sizeof changed - strlen(changed), "%s%s",
                     *changed ? ", " : "", strcmp(keys[i], "payload_sha256") ? keys[i] : "payload");
    }
    json_decref(now);
    if (!*changed)
        return 0;
    return steep_management_fail(STEEP_GRPC_UNKNOWN,
                                 "failed to invoke task, reason: function-%.40s changed after the "
                                 "task was created (%s); the approvals cover the function as it "
                                 "was: create a new task",
                                 id, changed);
}

/* ---- quota ---- */

struct reserve_arg {
    json_int_t quota;
    json_int_t pending; /* uses counted while the function had no quota, not folded yet */
};

static int reserve(json_t *usage, void *arg)
{
    const struct reserve_arg *r = arg;
    json_int_t used = json_integer_value(json_object_get(usage, "use_numbers")) + r->pending;
    if (r->quota <= used)
        return STEEP_GRPC_UNKNOWN;
    json_object_set_new(usage, "use_numbers", json_integer(used + 1));
    return 0;
}

static int give_back(json_t *usage, void *unused)
{
    (void)unused;
    json_int_t used = json_integer_value(json_object_get(usage, "use_numbers"));
    if (used <= 0)
        return 1;
    json_object_set_new(usage, "use_numbers", json_integer(used - 1));
    return 0;
}

int steep_integrity_reserve_use(struct steep_management *m, const char *usage_key,
                                const json_t *function, bool *reserved)
{
    *reserved = false;
    const json_t *limit = json_object_get(function, "usage_quota");
    if (!json_is_integer(limit))
        return 0;
    json_int_t quota = json_integer_value(limit);
    json_t *initial = json_pack("{s:s, s:i}", "function_id", steep_record_string(function, "id"),
                                "use_numbers", 0);
    if (!initial)
        return steep_management_internal("usage record");
    /* Uses from before a quota was set may still be pending (usage.c): the
     * fold that would move them is the only writer that can race, and it
     * can only make this count them twice, i.e. refuse early. */
    int64_t pending = 0;
    if (steep_management_usage_pending(m, usage_key + 6, &pending) < 0) {
        json_decref(initial);
        return steep_management_internal("usage record");
    }
    struct reserve_arg arg = {quota, pending};
    int rc = steep_record_update(&m->kv, usage_key, initial, reserve, &arg);
    json_decref(initial);
    if (rc == STEEP_GRPC_UNKNOWN)
        return steep_management_fail(STEEP_GRPC_UNKNOWN, "function quota has been used up");
    if (rc != 0)
        return steep_management_internal("reserve usage");
    *reserved = true;
    return 0;
}

void steep_integrity_release_use(struct steep_management *m, const char *usage_key)
{
    if (steep_record_update(&m->kv, usage_key, NULL, give_back, NULL) != 0)
        log_error("%s: a reserved use could not be given back: %s", usage_key, steep_error_get());
}

/* ---- write-once outputs ---- */

struct claim {
    const char *task, *name;
    bool wrote; /* the last call asked for a write */
};

static int claim(json_t *file, void *arg)
{
    struct claim *c = arg;
    c->wrote = false;
    const char *holder = steep_record_string(file, "assigned_task");
    if (*holder)
        return strcmp(holder, c->task) == 0 &&
                       strcmp(steep_record_string(file, "assigned_name"), c->name) == 0
                   ? 1
                   : STEEP_GRPC_UNKNOWN;
    if (steep_record_file_cmac(file, NULL))
        return STEEP_GRPC_PERMISSION_DENIED;
    json_object_set_new(file, "assigned_task", json_string(c->task));
    json_object_set_new(file, "assigned_name", json_string(c->name));
    c->wrote = true;
    return 0;
}

static int unclaim(json_t *file, void *task)
{
    if (strcmp(steep_record_string(file, "assigned_task"), task) != 0)
        return 1;
    json_object_del(file, "assigned_task");
    json_object_del(file, "assigned_name");
    return 0;
}

int steep_integrity_claim_output(struct steep_management *m, const char *file_key,
                                 const char *task_key, const char *name, bool *claimed)
{
    *claimed = false;
    struct claim c = {task_key, name, false};
    int rc = steep_record_update(&m->kv, file_key, NULL, claim, &c);
    if (rc == STEEP_GRPC_UNKNOWN)
        return steep_management_fail(STEEP_GRPC_UNKNOWN,
                                     "failed to assign data to task, reason: %.60s is already "
                                     "assigned to a task or to another output of this one; an "
                                     "output file is written once",
                                     file_key);
    if (rc == STEEP_GRPC_PERMISSION_DENIED) /* written meanwhile: as check_assignment says */
        return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
    if (rc == STEEP_RECORD_MISSING)
        return steep_management_fail(STEEP_GRPC_INVALID_ARGUMENT, "invalid data id");
    if (rc != 0)
        return steep_management_internal("claim output");
    *claimed = c.wrote; /* false: it was this task's under this name already */
    return 0;
}

void steep_integrity_release_output(struct steep_management *m, const char *file_key,
                                    const char *task_key)
{
    if (steep_record_update(&m->kv, file_key, NULL, unclaim, (void *)task_key) != 0)
        log_error("%s: its claim by %s could not be given back: %s", file_key, task_key,
                  steep_error_get());
}
