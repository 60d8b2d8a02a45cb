/*
 * Load-time checks of a merged policy. After this pass every name in a
 * matcher is resolved to an index, every node has a type (condition,
 * string or set) and every operator is applied to operand types for which
 * it means something; a policy that fails any check does not load. The
 * checker also groups static facts by term for the evaluator.
 */
#include "policy/policy_internal.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

int steep_policy_find_request(const struct steep_policy *policy, const char *name)
{
    for (size_t i = 0; i < policy->nrequests; i++)
        if (strcmp(policy->requests[i].name, name) == 0)
            return (int)i;
    return -1;
}

int steep_policy_find_term(const struct steep_policy *policy, const char *name)
{
    for (size_t i = 0; i < policy->nterms; i++)
        if (strcmp(policy->terms[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *steep_policy_type_name(enum steep_policy_type type)
{
    switch (type) {
    case POLICY_TYPE_BOOL:
        return "a condition";
    case POLICY_TYPE_STRING:
        return "a string";
    default:
        return "a set";
    }
}

const char *steep_policy_node_operator(enum steep_policy_node_kind kind)
{
    switch (kind) {
    case NODE_AND:
        return "and";
    case NODE_OR:
        return "or";
    case NODE_NOT:
        return "not";
    case NODE_EQ:
        return "==";
    case NODE_NE:
        return "!=";
    case NODE_SUBSET:
        return "<=";
    case NODE_SUPERSET:
        return ">=";
    case NODE_IN:
        return "in";
    default:
        return "?";
    }
}

struct checker {
    const struct steep_policy *policy;
    const struct steep_policy_decl *request; /* whose matcher is checked */
};

static int check_node(const struct checker *c, struct steep_policy_node *node);

static int check_field(const struct checker *c, struct steep_policy_node *node)
{
    if (strcmp(node->text, c->request->name) != 0) {
        if (steep_policy_find_request(c->policy, node->text) < 0)
            return steep_policy_error_at(&node->pos, "unknown request '%s'", node->text);
        return steep_policy_error_at(&node->pos,
                                     "the matcher of '%s' cannot use fields of request '%s'",
                                     c->request->name, node->text);
    }
    for (size_t i = 0; i < c->request->ncolumns; i++) {
        if (strcmp(c->request->columns[i], node->field) == 0) {
            node->index = (int)i;
            node->type = POLICY_TYPE_STRING;
            return 0;
        }
    }
    return steep_policy_error_at(&node->pos, "request '%s' has no field '%s'", node->text,
                                 node->field);
}

static int check_query(const struct checker *c, struct steep_policy_node *node)
{
    int term = steep_policy_find_term(c->policy, node->text);
    if (term < 0)
        return steep_policy_error_at(&node->pos, "unknown term '%s'", node->text);
    const struct steep_policy_decl *decl = &c->policy->terms[term];
    if (node->nargs != decl->ncolumns)
        return steep_policy_error_at(&node->pos, "term '%s' takes %zu argument%s, got %zu",
                                     decl->name, decl->ncolumns, decl->ncolumns == 1 ? "" : "s",
                                     node->nargs);
    node->index = term;
    for (size_t i = 0; i < node->nargs; i++) {
        struct steep_policy_node *arg = node->args[i];
        if (arg->kind == NODE_WILDCARD) {
            if (node->wildcard >= 0)
                return steep_policy_error_at(&arg->pos, "a term query may contain at most one '_'");
            node->wildcard = (int)i;
            continue;
        }
        GUARD(check_node(c, arg));
    }
    node->type = node->wildcard >= 0 ? POLICY_TYPE_SET : POLICY_TYPE_BOOL;
    return 0;
}

static int operand_error(const struct steep_policy_node *node, const char *wanted)
{
    if (node->kind == NODE_NOT)
        return steep_policy_error_at(&node->pos, "operator 'not' needs a condition, got %s",
                                     steep_policy_type_name(node->left->type));
    return steep_policy_error_at(&node->pos, "operator '%s' needs %s, got %s and %s",
                                 steep_policy_node_operator(node->kind), wanted,
                                 steep_policy_type_name(node->left->type),
                                 steep_policy_type_name(node->right->type));
}

static int check_operator(const struct checker *c, struct steep_policy_node *node)
{
    GUARD(check_node(c, node->left));
    if (node->right)
        GUARD(check_node(c, node->right));
    enum steep_policy_type left = node->left->type;
    enum steep_policy_type right = node->right ? node->right->type : left;
    node->type = POLICY_TYPE_BOOL;
    switch (node->kind) {
    case NODE_AND:
    case NODE_OR:
    case NODE_NOT:
        if (left != POLICY_TYPE_BOOL || right != POLICY_TYPE_BOOL)
            return operand_error(node, "two conditions");
        return 0;
    case NODE_EQ:
    case NODE_NE:
        if (left != right || left == POLICY_TYPE_BOOL)
            return operand_error(node, "two strings or two sets");
        return 0;
    case NODE_SUBSET:
    case NODE_SUPERSET:
        if (left != POLICY_TYPE_SET || right != POLICY_TYPE_SET)
            return operand_error(node, "two sets");
        return 0;
    case NODE_IN:
        if (left != POLICY_TYPE_STRING || right != POLICY_TYPE_SET)
            return operand_error(node, "a string and a set");
        return 0;
    default:
        return steep_policy_error_at(&node->pos, "internal error: unexpected node");
    }
}

static int check_node(const struct checker *c, struct steep_policy_node *node)
{
    switch (node->kind) {
    case NODE_STRING:
        node->type = POLICY_TYPE_STRING;
        return 0;
    case NODE_FIELD:
        return check_field(c, node);
    case NODE_QUERY:
        return check_query(c, node);
    case NODE_WILDCARD:
        return steep_policy_error_at(&node->pos, "'_' is allowed only as a term query argument");
    default:
        return check_operator(c, node);
    }
}

static int check_matchers(struct steep_policy *policy)
{
    for (size_t i = 0; i < policy->nmatchers; i++) {
        struct steep_policy_matcher *m = &policy->matchers[i];
        int request = steep_policy_find_request(policy, m->request);
        if (request < 0)
            return steep_policy_error_at(&m->pos, "matcher for unknown request '%s'", m->request);
        struct steep_policy_decl *decl = &policy->requests[request];
        struct checker c = {policy, decl};
        GUARD(check_node(&c, m->expr));
        if (m->expr->type != POLICY_TYPE_BOOL)
            return steep_policy_error_at(&m->expr->pos,
                                         "the matcher of '%s' must be a condition, not %s",
                                         m->request, steep_policy_type_name(m->expr->type));
        decl->matcher = m->expr;
        decl->matcher_pos = m->pos;
    }
    for (size_t i = 0; i < policy->nrequests; i++)
        if (!policy->requests[i].matcher)
            return steep_policy_error_at(&policy->requests[i].pos, "request '%s' has no matcher",
                                         policy->requests[i].name);
    return 0;
}

static int compare_rows(const struct steep_policy_fact_row *a,
                        const struct steep_policy_fact_row *b)
{
    if (a->term_index != b->term_index)
        return a->term_index < b->term_index ? -1 : 1;
    for (size_t i = 0; i < a->nvalues; i++) {
        int r = strcmp(a->values[i], b->values[i]);
        if (r)
            return r;
    }
    return 0;
}

static int compare_fact_indexes(const void *a, const void *b, void *arg)
{
    const struct steep_policy *policy = arg;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    int r = compare_rows(&policy->facts[ia], &policy->facts[ib]);
    if (r)
        return r;
    return ia < ib ? -1 : ia > ib;
}

static int check_facts(struct steep_policy *policy)
{
    for (size_t i = 0; i < policy->nfacts; i++) {
        struct steep_policy_fact_row *row = &policy->facts[i];
        row->term_index = steep_policy_find_term(policy, row->term);
        if (row->term_index < 0)
            return steep_policy_error_at(&row->pos, "fact of unknown term '%s'", row->term);
        size_t arity = policy->terms[row->term_index].ncolumns;
        if (row->nvalues != arity)
            return steep_policy_error_at(&row->pos, "term '%s' takes %zu value%s, got %zu",
                                         row->term, arity, arity == 1 ? "" : "s", row->nvalues);
    }
    policy->term_facts = calloc(policy->nfacts + 1, sizeof *policy->term_facts);
    policy->term_fact_start = calloc(policy->nterms + 1, sizeof *policy->term_fact_start);
    ENSURE(policy->term_facts && policy->term_fact_start, "out of memory");
    for (size_t i = 0; i < policy->nfacts; i++)
        policy->term_facts[i] = i;
    /* Sorted by (term, values, position): duplicates end up adjacent, in file order. */
    qsort_r(policy->term_facts, policy->nfacts, sizeof *policy->term_facts, compare_fact_indexes,
            policy);
    for (size_t i = 0; i < policy->nfacts; i++) {
        const struct steep_policy_fact_row *row = &policy->facts[policy->term_facts[i]];
        if (i > 0) {
            const struct steep_policy_fact_row *prev = &policy->facts[policy->term_facts[i - 1]];
            if (compare_rows(prev, row) == 0)
                return steep_policy_error_at(&row->pos, "duplicate fact (first at %s:%d:%d)",
                                             prev->pos.file, prev->pos.line, prev->pos.column);
        }
        policy->term_fact_start[row->term_index + 1]++;
    }
    for (size_t t = 0; t < policy->nterms; t++)
        policy->term_fact_start[t + 1] += policy->term_fact_start[t];
    return 0;
}

int steep_policy_check(struct steep_policy *policy)
{
    ENSURE(policy->nrequests > 0, "the policy declares no request");
    GUARD(check_facts(policy));
    return check_matchers(policy);
}
