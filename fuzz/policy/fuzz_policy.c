/*
 * libFuzzer target for the policy language: the input is split at the first
 * NUL into two policy files that are loaded together; when they load, every
 * request is decided with each field set to "x" and one dynamic fact per
 * term, to exercise the checker and the evaluator too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/policy_internal.h"

static void decide_all(const struct steep_policy *p)
{
    static const char *const values[STEEP_POLICY_MAX_COLUMNS] = {
        "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "x"};
    struct steep_policy_fact facts[8];
    size_t nfacts = 0;
    for (size_t t = 0; t < p->nterms && nfacts < 8; t++)
        facts[nfacts++] =
            (struct steep_policy_fact){p->terms[t].name, values, p->terms[t].ncolumns};
    for (size_t r = 0; r < p->nrequests; r++) {
        struct steep_policy_field fields[STEEP_POLICY_MAX_COLUMNS];
        for (size_t c = 0; c < p->requests[r].ncolumns; c++)
            fields[c] = (struct steep_policy_field){p->requests[r].columns[c], "x"};
        bool accept;
        char reason[STEEP_POLICY_REASON_MAX];
        steep_policy_decide(p, p->requests[r].name, fields, p->requests[r].ncolumns, facts, nfacts,
                            &accept, reason, sizeof reason);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, 0, size);
    size_t first = split ? (size_t)(split - data) : size;
    struct steep_policy *p = steep_policy_new();
    if (!p)
        return 0;
    int rc = steep_policy_add_text(p, "a.policy", (const char *)data, first);
    if (rc == 0 && split)
        rc = steep_policy_add_text(p, "b.policy", (const char *)split + 1, size - first - 1);
    if (rc == 0 && steep_policy_finish(p) == 0)
        decide_all(p);
    steep_policy_free(p);
    return 0;
}
