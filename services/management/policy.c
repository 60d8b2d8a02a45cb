/*
 * How management asks the access-control policy (policies/tasks.policy):
 * a fact list built from the records just read, the request's fields, and
 * one Authorize call. A denial or a failed call is PERMISSION_DENIED
 * "permission denied" to the client, with the reason in the log only.
 * Also the small helpers every handler file shares.
 */
#include "management.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "records.h"
#include "rpc/rpc.h"

int steep_management_fail(int code, const char *fmt, ...)
{
    char message[STEEP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    steep_error_set("%s", message);
    return code;
}

int steep_management_internal(const char *what)
{
    log_error("%s: %s", what, steep_error_get());
    return steep_management_fail(STEEP_GRPC_INTERNAL, "service internal error");
}

bool steep_management_is_admin(const struct steep_management_caller *caller)
{
    return caller->role && strcmp(caller->role, "PlatformAdmin") == 0;
}

char *steep_management_strdup(const char *s)
{
    return strdup(s ? s : "");
}

int steep_management_fact(struct steep_management_facts *facts, const char *term, size_t nvalues,
                          ...)
{
    if (facts->n == facts->cap) {
        size_t cap = facts->cap ? facts->cap * 2 : 16;
        struct steep_acs_fact *grown = realloc(facts->facts, cap * sizeof *grown);
        ENSURE(grown != NULL, "out of memory");
        facts->facts = grown;
        facts->cap = cap;
    }
    char **values = calloc(nvalues, sizeof *values);
    ENSURE(values != NULL, "out of memory");
    va_list ap;
    va_start(ap, nvalues);
    for (size_t i = 0; i < nvalues; i++)
        values[i] = steep_management_strdup(va_arg(ap, const char *));
    va_end(ap);
    facts->facts[facts->n++] = (struct steep_acs_fact){
        .term = term, .values = (const char *const *)values, .nvalues = nvalues};
    return 0;
}

int steep_management_fact_set(struct steep_management_facts *facts, const char *term,
                              const char *first, const char *second, const json_t *set)
{
    size_t i;
    json_t *uid;
    json_array_foreach(steep_record_set_uids(set), i, uid)
    {
        const char *u = json_string_value(uid);
        if (!u)
            continue;
        if (second)
            GUARD(steep_management_fact(facts, term, 3, first, second, u));
        else
            GUARD(steep_management_fact(facts, term, 2, first, u));
    }
    return 0;
}

void steep_management_facts_free(struct steep_management_facts *facts)
{
    for (size_t i = 0; i < facts->n; i++) {
        for (size_t j = 0; j < facts->facts[i].nvalues; j++)
            free((char *)facts->facts[i].values[j]);
        free((void *)facts->facts[i].values);
    }
    free(facts->facts);
    facts->facts = NULL;
    facts->n = facts->cap = 0;
}

int steep_management_check(struct steep_management *m, const char *request,
                           const struct steep_management_facts *facts, ...)
{
    struct steep_acs_field fields[8];
    size_t nfields = 0;
    va_list ap;
    va_start(ap, facts);
    for (const char *name; nfields < 8 && (name = va_arg(ap, const char *));)
        fields[nfields++] = (struct steep_acs_field){name, va_arg(ap, const char *)};
    va_end(ap);
    bool accept = false;
    char reason[256] = "";
    int rc = m->authorize(m->authorize_arg, request, fields, nfields, facts ? facts->facts : NULL,
                          facts ? facts->n : 0, &accept, reason, sizeof reason);
    if (rc == 0 && accept)
        return 0;
    log_info("policy %s denied: %s", request, rc == 0 ? reason : steep_error_get());
    return steep_management_fail(STEEP_GRPC_PERMISSION_DENIED, "permission denied");
}
