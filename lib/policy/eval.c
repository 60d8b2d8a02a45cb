/*
 * Evaluation of a checked matcher for one decision. The facts of a term are
 * the policy's static facts plus the ones sent with the request; both are
 * indexed per term once per decision. A term query scans the facts of its
 * term once; sets are sorted and deduplicated so <=, >= and == cost
 * O(n log n). The expression tree is bounded by the parser
 * (STEEP_POLICY_MAX_DEPTH), so evaluation is bounded too. Any error denies.
 */
#include "policy/policy_internal.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct term_facts {
    const char *const **rows; /* each row: one value per column */
    size_t nrows;
};

struct evaluation {
    const struct steep_policy *policy;
    const char **fields;      /* by column of the request */
    struct term_facts *terms; /* by term index */
};

struct value {
    enum steep_policy_type type;
    bool condition;
    const char *string;
    const char **items; /* set: sorted, unique, owned array (strings borrowed) */
    size_t nitems;
};

static void value_free(struct value *v)
{
    free(v->items);
    v->items = NULL;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void set_normalize(struct value *v)
{
    if (v->nitems < 2)
        return;
    qsort(v->items, v->nitems, sizeof *v->items, compare_strings);
    size_t out = 1;
    for (size_t i = 1; i < v->nitems; i++)
        if (strcmp(v->items[i], v->items[out - 1]) != 0)
            v->items[out++] = v->items[i];
    v->nitems = out;
}

static bool set_contains(const struct value *set, const char *s)
{
    return bsearch(&s, set->items, set->nitems, sizeof *set->items, compare_strings) != NULL;
}

static bool set_subset(const struct value *a, const struct value *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->nitems; i++) {
        while (j < b->nitems && strcmp(b->items[j], a->items[i]) < 0)
            j++;
        if (j == b->nitems || strcmp(b->items[j], a->items[i]) != 0)
            return false;
    }
    return true;
}

static int eval_node(const struct evaluation *e, const struct steep_policy_node *node,
                     struct value *out);

static int eval_query(const struct evaluation *e, const struct steep_policy_node *node,
                      struct value *out)
{
    const char *args[STEEP_POLICY_MAX_COLUMNS] = {0};
    for (size_t i = 0; i < node->nargs; i++) {
        if ((int)i == node->wildcard)
            continue;
        struct value arg = {0};
        GUARD(eval_node(e, node->args[i], &arg));
        args[i] = arg.string;
    }
    const struct term_facts *facts = &e->terms[node->index];
    if (node->wildcard >= 0) {
        out->type = POLICY_TYPE_SET;
        out->items = calloc(facts->nrows + 1, sizeof *out->items);
        ENSURE(out->items != NULL, "out of memory");
    } else {
        out->type = POLICY_TYPE_BOOL;
    }
    for (size_t r = 0; r < facts->nrows; r++) {
        const char *const *row = facts->rows[r];
        bool match = true;
        for (size_t i = 0; i < node->nargs && match; i++)
            if ((int)i != node->wildcard)
                match = strcmp(row[i], args[i]) == 0;
        if (!match)
            continue;
        if (node->wildcard < 0) {
            out->condition = true;
            return 0;
        }
        out->items[out->nitems++] = row[node->wildcard];
    }
    set_normalize(out);
    return 0;
}

static bool compare_values(enum steep_policy_node_kind kind, const struct value *a,
                           const struct value *b)
{
    switch (kind) {
    case NODE_EQ:
    case NODE_NE: {
        bool equal;
        if (a->type == POLICY_TYPE_STRING)
            equal = strcmp(a->string, b->string) == 0;
        else
            equal = a->nitems == b->nitems && set_subset(a, b);
        return kind == NODE_EQ ? equal : !equal;
    }
    case NODE_SUBSET:
        return set_subset(a, b);
    case NODE_SUPERSET:
        return set_subset(b, a);
    default: /* NODE_IN */
        return set_contains(b, a->string);
    }
}

static int eval_operator(const struct evaluation *e, const struct steep_policy_node *node,
                         struct value *out)
{
    struct value left = {0}, right = {0};
    out->type = POLICY_TYPE_BOOL;
    GUARD(eval_node(e, node->left, &left));
    if (node->kind == NODE_NOT) {
        out->condition = !left.condition;
        return 0;
    }
    /* and/or short-circuit */
    if (node->kind == NODE_AND && !left.condition)
        return 0;
    if (node->kind == NODE_OR && left.condition) {
        out->condition = true;
        return 0;
    }
    if (eval_node(e, node->right, &right) < 0) {
        value_free(&left);
        return -1;
    }
    if (node->kind == NODE_AND || node->kind == NODE_OR)
        out->condition = right.condition;
    else
        out->condition = compare_values(node->kind, &left, &right);
    value_free(&left);
    value_free(&right);
    return 0;
}

static int eval_node(const struct evaluation *e, const struct steep_policy_node *node,
                     struct value *out)
{
    switch (node->kind) {
    case NODE_STRING:
        out->type = POLICY_TYPE_STRING;
        out->string = node->text;
        return 0;
    case NODE_FIELD:
        out->type = POLICY_TYPE_STRING;
        out->string = e->fields[node->index];
        return 0;
    case NODE_QUERY:
        return eval_query(e, node, out);
    case NODE_WILDCARD:
        return steep_error_set("internal error: '_' outside a term query");
    default:
        return eval_operator(e, node, out);
    }
}

static bool valid_string(const char *s)
{
    return s && strnlen(s, STEEP_POLICY_MAX_STRING + 1) <= STEEP_POLICY_MAX_STRING;
}

static int bind_fields(const struct steep_policy_decl *request,
                       const struct steep_policy_field *fields, size_t nfields, const char **bound)
{
    for (size_t i = 0; i < nfields; i++) {
        ENSURE(fields[i].name && valid_string(fields[i].value),
               "field %zu of request '%s' is missing or longer than %d bytes", i, request->name,
               STEEP_POLICY_MAX_STRING);
        size_t column = 0;
        while (column < request->ncolumns && strcmp(request->columns[column], fields[i].name))
            column++;
        ENSURE(column < request->ncolumns, "request '%s' has no field '%.64s'", request->name,
               fields[i].name);
        ENSURE(!bound[column], "field '%s' given twice", request->columns[column]);
        bound[column] = fields[i].value;
    }
    for (size_t column = 0; column < request->ncolumns; column++)
        ENSURE(bound[column], "missing field '%s' of request '%s'", request->columns[column],
               request->name);
    return 0;
}

static int validate_facts(const struct steep_policy *policy, const struct steep_policy_fact *facts,
                          size_t nfacts, int *term_of)
{
    ENSURE(nfacts <= STEEP_POLICY_MAX_DYN_FACTS, "more than %d facts", STEEP_POLICY_MAX_DYN_FACTS);
    for (size_t i = 0; i < nfacts; i++) {
        ENSURE(facts[i].term, "fact %zu has no term", i);
        int term = steep_policy_find_term(policy, facts[i].term);
        ENSURE(term >= 0, "fact of unknown term '%.64s'", facts[i].term);
        size_t arity = policy->terms[term].ncolumns;
        ENSURE(facts[i].nvalues == arity, "term '%s' takes %zu values, got %zu", facts[i].term,
               arity, facts[i].nvalues);
        for (size_t v = 0; v < arity; v++)
            ENSURE(valid_string(facts[i].values[v]),
                   "value of a '%s' fact is missing or longer than %d bytes", facts[i].term,
                   STEEP_POLICY_MAX_STRING);
        term_of[i] = term;
    }
    return 0;
}

/* Groups static and dynamic facts by term into one array of rows. */
static int index_facts(const struct steep_policy *policy, const struct steep_policy_fact *facts,
                       size_t nfacts, const int *term_of, struct term_facts *terms,
                       const char *const ***rows_out)
{
    const char *const **rows = calloc(policy->nfacts + nfacts + 1, sizeof *rows);
    ENSURE(rows != NULL, "out of memory");
    *rows_out = rows;
    size_t *count = calloc(policy->nterms + 1, sizeof *count);
    ENSURE(count != NULL, "out of memory");
    for (size_t i = 0; i < nfacts; i++)
        count[term_of[i]]++;
    size_t next = 0;
    for (size_t t = 0; t < policy->nterms; t++) {
        terms[t].rows = rows + next;
        for (size_t k = policy->term_fact_start[t]; k < policy->term_fact_start[t + 1]; k++)
            rows[next++] = (const char *const *)policy->facts[policy->term_facts[k]].values;
        terms[t].nrows = policy->term_fact_start[t + 1] - policy->term_fact_start[t];
        next += count[t];
    }
    free(count);
    for (size_t i = 0; i < nfacts; i++) {
        struct term_facts *tf = &terms[term_of[i]];
        rows = (const char *const **)tf->rows;
        rows[tf->nrows++] = facts[i].values;
    }
    return 0;
}

static void set_reason(char *reason, size_t reason_len, const char *text)
{
    if (reason && reason_len)
        snprintf(reason, reason_len, "%s", text);
}

static int evaluate(const struct steep_policy *policy, const struct steep_policy_decl *request,
                    const struct steep_policy_field *fields, size_t nfields,
                    const struct steep_policy_fact *facts, size_t nfacts, bool *accept)
{
    const char *bound[STEEP_POLICY_MAX_COLUMNS] = {0};
    GUARD(bind_fields(request, fields, nfields, bound));
    int *term_of = calloc(nfacts + 1, sizeof *term_of);
    struct term_facts *terms = calloc(policy->nterms + 1, sizeof *terms);
    const char *const **rows = NULL;
    int rc = -1;
    if (!term_of || !terms) {
        steep_error_set("out of memory");
        goto done;
    }
    if (validate_facts(policy, facts, nfacts, term_of) < 0 ||
        index_facts(policy, facts, nfacts, term_of, terms, &rows) < 0)
        goto done;
    struct evaluation e = {policy, bound, terms};
    struct value result = {0};
    if (eval_node(&e, request->matcher, &result) < 0)
        goto done;
    *accept = result.condition;
    value_free(&result);
    rc = 0;
done:
    free(rows);
    free(terms);
    free(term_of);
    return rc;
}

int steep_policy_decide(const struct steep_policy *policy, const char *request,
                        const struct steep_policy_field *fields, size_t nfields,
                        const struct steep_policy_fact *facts, size_t nfacts, bool *accept,
                        char *reason, size_t reason_len)
{
    *accept = false;
    set_reason(reason, reason_len, "");
    if (!policy || !policy->finished) {
        steep_error_set("no policy loaded");
    } else if (!request || steep_policy_find_request(policy, request) < 0) {
        steep_error_set("unknown request '%.64s'", request ? request : "");
    } else {
        const struct steep_policy_decl *decl =
            &policy->requests[steep_policy_find_request(policy, request)];
        if (nfields > STEEP_POLICY_MAX_COLUMNS) {
            steep_error_set("more than %d fields", STEEP_POLICY_MAX_COLUMNS);
        } else if (evaluate(policy, decl, fields, nfields, facts, nfacts, accept) == 0) {
            if (!*accept) {
                char text[STEEP_POLICY_REASON_MAX];
                const char *file = strrchr(decl->matcher_pos.file, '/');
                snprintf(text, sizeof text, "denied by the matcher of '%s' (%s:%d)", decl->name,
                         file ? file + 1 : decl->matcher_pos.file, decl->matcher_pos.line);
                set_reason(reason, reason_len, text);
            }
            return 0;
        }
    }
    *accept = false;
    set_reason(reason, reason_len, steep_error_get());
    return -1;
}
