/*
 * Parser of the policy language: one statement per line inside the four
 * sections, matchers by recursive descent with a depth limit
 * (STEEP_POLICY_MAX_DEPTH) and a node budget, so hostile input can neither
 * exhaust the stack nor memory. Precedence, loosest first: `or`, `and`,
 * `not`, then one comparison (`==` `!=` `<=` `>=` `in`, not chained),
 * then primaries (string, R.f, t(args), parentheses). Declarations are
 * merged into the policy as they are read; duplicates of requests, terms
 * and matchers are refused here, everything that needs the whole policy is
 * checked later (check.c).
 */
#include "policy/policy_internal.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

enum section { SECTION_NONE, SECTION_REQUESTS, SECTION_TERMS, SECTION_FACTS, SECTION_MATCHERS };

struct parser {
    struct steep_policy *policy;
    struct steep_policy_lexer lexer;
    struct steep_policy_token token;
    enum section section;
    int depth;
    size_t nodes;
};

static int next(struct parser *p)
{
    return steep_policy_lexer_next(&p->lexer, &p->token);
}

static bool at(const struct parser *p, enum steep_policy_token_kind kind)
{
    return p->token.kind == kind;
}

static bool at_word(const struct parser *p, const char *word)
{
    return p->token.kind == TOKEN_NAME && strcmp(p->token.text, word) == 0;
}

static int unexpected(const struct parser *p, const char *wanted)
{
    if (p->token.kind == TOKEN_NAME || p->token.kind == TOKEN_STRING)
        return steep_policy_error_at(&p->token.pos, "expected %s, found %s '%s'", wanted,
                                     steep_policy_token_describe(&p->token), p->token.text);
    if (p->token.kind == TOKEN_EOF || p->token.kind == TOKEN_NEWLINE)
        return steep_policy_error_at(&p->token.pos, "expected %s, found %s", wanted,
                                     steep_policy_token_describe(&p->token));
    return steep_policy_error_at(&p->token.pos, "expected %s, found '%s'", wanted,
                                 steep_policy_token_describe(&p->token));
}

static int expect(struct parser *p, enum steep_policy_token_kind kind, const char *wanted)
{
    if (!at(p, kind))
        return unexpected(p, wanted);
    return next(p);
}

static bool is_reserved(const char *name)
{
    return strcmp(name, "and") == 0 || strcmp(name, "or") == 0 || strcmp(name, "not") == 0 ||
           strcmp(name, "in") == 0 || strcmp(name, "_") == 0;
}

/* Copies the current NAME token out and advances. */
static int take_name(struct parser *p, const char *wanted, char **out, struct steep_policy_pos *pos)
{
    if (!at(p, TOKEN_NAME) || is_reserved(p->token.text))
        return unexpected(p, wanted);
    *out = strdup(p->token.text);
    ENSURE(*out != NULL, "out of memory");
    if (pos)
        *pos = p->token.pos;
    if (next(p) < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void free_strings(char **strings, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

static int push_string(char ***strings, size_t *n, const char *text)
{
    char **grown = realloc(*strings, (*n + 1) * sizeof **strings);
    ENSURE(grown != NULL, "out of memory");
    *strings = grown;
    grown[*n] = strdup(text);
    ENSURE(grown[*n] != NULL, "out of memory");
    (*n)++;
    return 0;
}

/* ---- sections: requests, terms, facts -------------------------------- */

static struct steep_policy_decl *find_decl(struct steep_policy_decl *decls, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(decls[i].name, name) == 0)
            return &decls[i];
    return NULL;
}

static int parse_columns(struct parser *p, struct steep_policy_decl *decl)
{
    for (;;) {
        if (!at(p, TOKEN_NAME) || is_reserved(p->token.text))
            return unexpected(p, "a column name");
        for (size_t i = 0; i < decl->ncolumns; i++)
            if (strcmp(decl->columns[i], p->token.text) == 0)
                return steep_policy_error_at(&p->token.pos, "duplicate column '%s'", p->token.text);
        if (decl->ncolumns >= STEEP_POLICY_MAX_COLUMNS)
            return steep_policy_error_at(&p->token.pos, "more than %d columns",
                                         STEEP_POLICY_MAX_COLUMNS);
        GUARD(push_string(&decl->columns, &decl->ncolumns, p->token.text));
        GUARD(next(p));
        if (!at(p, TOKEN_COMMA))
            return 0;
        GUARD(next(p));
    }
}

static int parse_declaration(struct parser *p, struct steep_policy_decl **decls, size_t *n,
                             const char *kind)
{
    struct steep_policy_decl decl = {0};
    GUARD(take_name(p, kind, &decl.name, &decl.pos));
    struct steep_policy_decl *first = find_decl(*decls, *n, decl.name);
    if (first) {
        steep_policy_error_at(&decl.pos, "duplicate %s '%s' (first declared at %s:%d:%d)", kind,
                              decl.name, first->pos.file, first->pos.line, first->pos.column);
        free(decl.name);
        return -1;
    }
    if (expect(p, TOKEN_ASSIGN, "'='") < 0 || parse_columns(p, &decl) < 0) {
        free(decl.name);
        free_strings(decl.columns, decl.ncolumns);
        return -1;
    }
    struct steep_policy_decl *grown = realloc(*decls, (*n + 1) * sizeof **decls);
    if (!grown) {
        free(decl.name);
        free_strings(decl.columns, decl.ncolumns);
        return steep_error_set("out of memory");
    }
    *decls = grown;
    grown[(*n)++] = decl;
    return 0;
}

static int parse_fact(struct parser *p)
{
    struct steep_policy *policy = p->policy;
    ENSURE(policy->nfacts < STEEP_POLICY_MAX_FACTS, "%s:%d:%d: more than %d facts",
           p->token.pos.file, p->token.pos.line, p->token.pos.column, STEEP_POLICY_MAX_FACTS);
    struct steep_policy_fact_row row = {0};
    row.term_index = -1;
    GUARD(take_name(p, "a term name", &row.term, &row.pos));
    int rc = 0;
    for (;;) {
        if (!at(p, TOKEN_STRING)) {
            rc = unexpected(p, "a string");
            break;
        }
        if (row.nvalues >= STEEP_POLICY_MAX_COLUMNS) {
            rc = steep_policy_error_at(&p->token.pos, "more than %d values",
                                       STEEP_POLICY_MAX_COLUMNS);
            break;
        }
        if ((rc = push_string(&row.values, &row.nvalues, p->token.text)) < 0 ||
            (rc = next(p)) < 0 || !at(p, TOKEN_COMMA) || (rc = next(p)) < 0)
            break;
    }
    struct steep_policy_fact_row *grown = NULL;
    if (rc == 0)
        grown = realloc(policy->facts, (policy->nfacts + 1) * sizeof *policy->facts);
    if (!grown) {
        free(row.term);
        free_strings(row.values, row.nvalues);
        return rc < 0 ? -1 : steep_error_set("out of memory");
    }
    policy->facts = grown;
    grown[policy->nfacts++] = row;
    return 0;
}

/* ---- matchers ----------------------------------------------------------- */

static struct steep_policy_node *new_node(struct parser *p, enum steep_policy_node_kind kind,
                                          struct steep_policy_pos pos)
{
    if (++p->nodes > STEEP_POLICY_MAX_NODES) {
        steep_policy_error_at(&pos, "matcher longer than %d elements", STEEP_POLICY_MAX_NODES);
        return NULL;
    }
    struct steep_policy_node *node = calloc(1, sizeof *node);
    if (!node) {
        steep_error_set("out of memory");
        return NULL;
    }
    node->kind = kind;
    node->pos = pos;
    node->index = -1;
    node->wildcard = -1;
    return node;
}

static struct steep_policy_node *parse_or(struct parser *p);

/* Newlines after an operator continue the expression on the next line. */
static int skip_newlines(struct parser *p)
{
    while (at(p, TOKEN_NEWLINE))
        GUARD(next(p));
    return 0;
}

static struct steep_policy_node *parse_string(struct parser *p)
{
    struct steep_policy_node *node = new_node(p, NODE_STRING, p->token.pos);
    if (!node)
        return NULL;
    node->text = strdup(p->token.text);
    if (!node->text || next(p) < 0) {
        if (!node->text)
            steep_error_set("out of memory");
        steep_policy_node_free(node);
        return NULL;
    }
    return node;
}

/* R.f, after the name R was read. */
static struct steep_policy_node *parse_field(struct parser *p, char *name,
                                             struct steep_policy_pos pos)
{
    struct steep_policy_node *node = new_node(p, NODE_FIELD, pos);
    if (!node) {
        free(name);
        return NULL;
    }
    node->text = name;
    if (next(p) < 0 || take_name(p, "a field name", &node->field, NULL) < 0) {
        steep_policy_node_free(node);
        return NULL;
    }
    return node;
}

static struct steep_policy_node *parse_argument(struct parser *p)
{
    if (at(p, TOKEN_STRING))
        return parse_string(p);
    if (at_word(p, "_")) {
        struct steep_policy_node *node = new_node(p, NODE_WILDCARD, p->token.pos);
        if (node && next(p) < 0) {
            steep_policy_node_free(node);
            return NULL;
        }
        return node;
    }
    struct steep_policy_pos pos = p->token.pos;
    char *name;
    if (take_name(p, "a string, a request field or '_'", &name, NULL) < 0)
        return NULL;
    if (!at(p, TOKEN_DOT)) {
        free(name);
        unexpected(p, "'.' (term arguments are strings, request fields or '_')");
        return NULL;
    }
    return parse_field(p, name, pos);
}

/* t(args), after the name t was read. */
static struct steep_policy_node *parse_query(struct parser *p, char *name,
                                             struct steep_policy_pos pos)
{
    struct steep_policy_node *node = new_node(p, NODE_QUERY, pos);
    if (!node) {
        free(name);
        return NULL;
    }
    node->text = name;
    if (next(p) < 0)
        goto fail;
    for (;;) {
        if (node->nargs >= STEEP_POLICY_MAX_COLUMNS) {
            steep_policy_error_at(&p->token.pos, "more than %d arguments",
                                  STEEP_POLICY_MAX_COLUMNS);
            goto fail;
        }
        struct steep_policy_node *arg = parse_argument(p);
        if (!arg)
            goto fail;
        struct steep_policy_node **grown = realloc(node->args, (node->nargs + 1) * sizeof *grown);
        if (!grown) {
            steep_policy_node_free(arg);
            steep_error_set("out of memory");
            goto fail;
        }
        node->args = grown;
        grown[node->nargs++] = arg;
        if (at(p, TOKEN_RPAREN))
            break;
        if (expect(p, TOKEN_COMMA, "',' or ')'") < 0)
            goto fail;
    }
    if (next(p) < 0)
        goto fail;
    return node;
fail:
    steep_policy_node_free(node);
    return NULL;
}

static struct steep_policy_node *parse_primary(struct parser *p)
{
    if (at(p, TOKEN_STRING))
        return parse_string(p);
    if (at(p, TOKEN_LPAREN)) {
        if (next(p) < 0)
            return NULL;
        struct steep_policy_node *inner = parse_or(p);
        if (!inner)
            return NULL;
        if (expect(p, TOKEN_RPAREN, "')'") < 0) {
            steep_policy_node_free(inner);
            return NULL;
        }
        return inner;
    }
    if (at_word(p, "_")) {
        steep_policy_error_at(&p->token.pos, "'_' is allowed only as a term query argument");
        return NULL;
    }
    struct steep_policy_pos pos = p->token.pos;
    char *name;
    if (take_name(p, "a string, a request field, a term query or '('", &name, NULL) < 0)
        return NULL;
    if (at(p, TOKEN_DOT))
        return parse_field(p, name, pos);
    if (at(p, TOKEN_LPAREN))
        return parse_query(p, name, pos);
    free(name);
    unexpected(p, "'.' or '(' after a name");
    return NULL;
}

static bool comparison_kind(const struct parser *p, enum steep_policy_node_kind *kind)
{
    switch (p->token.kind) {
    case TOKEN_EQ:
        *kind = NODE_EQ;
        return true;
    case TOKEN_NE:
        *kind = NODE_NE;
        return true;
    case TOKEN_LE:
        *kind = NODE_SUBSET;
        return true;
    case TOKEN_GE:
        *kind = NODE_SUPERSET;
        return true;
    default:
        if (at_word(p, "in")) {
            *kind = NODE_IN;
            return true;
        }
        return false;
    }
}

static struct steep_policy_node *binary(struct parser *p, enum steep_policy_node_kind kind,
                                        struct steep_policy_pos pos, struct steep_policy_node *left,
                                        struct steep_policy_node *(*parse_right)(struct parser *))
{
    struct steep_policy_node *node = new_node(p, kind, pos);
    if (!node || next(p) < 0 || skip_newlines(p) < 0) {
        steep_policy_node_free(node);
        steep_policy_node_free(left);
        return NULL;
    }
    node->left = left;
    node->right = parse_right(p);
    if (!node->right) {
        steep_policy_node_free(node);
        return NULL;
    }
    return node;
}

static struct steep_policy_node *parse_comparison(struct parser *p)
{
    struct steep_policy_node *left = parse_primary(p);
    if (!left)
        return NULL;
    enum steep_policy_node_kind kind;
    if (!comparison_kind(p, &kind))
        return left;
    struct steep_policy_node *node = binary(p, kind, p->token.pos, left, parse_primary);
    if (node && comparison_kind(p, &kind)) {
        steep_policy_error_at(&p->token.pos, "comparisons do not chain; use 'and' or parentheses");
        steep_policy_node_free(node);
        return NULL;
    }
    return node;
}

static struct steep_policy_node *parse_not(struct parser *p)
{
    if (!at_word(p, "not"))
        return parse_comparison(p);
    if (++p->depth > STEEP_POLICY_MAX_DEPTH) {
        steep_policy_error_at(&p->token.pos, "matcher nested deeper than %d",
                              STEEP_POLICY_MAX_DEPTH);
        return NULL;
    }
    struct steep_policy_node *node = new_node(p, NODE_NOT, p->token.pos);
    if (!node || next(p) < 0 || skip_newlines(p) < 0) {
        steep_policy_node_free(node);
        return NULL;
    }
    node->left = parse_not(p);
    p->depth--;
    if (!node->left) {
        steep_policy_node_free(node);
        return NULL;
    }
    return node;
}

static struct steep_policy_node *parse_and(struct parser *p)
{
    struct steep_policy_node *node = parse_not(p);
    while (node && at_word(p, "and"))
        node = binary(p, NODE_AND, p->token.pos, node, parse_not);
    return node;
}

static struct steep_policy_node *parse_or(struct parser *p)
{
    if (++p->depth > STEEP_POLICY_MAX_DEPTH) {
        steep_policy_error_at(&p->token.pos, "matcher nested deeper than %d",
                              STEEP_POLICY_MAX_DEPTH);
        return NULL;
    }
    struct steep_policy_node *node = parse_and(p);
    while (node && at_word(p, "or"))
        node = binary(p, NODE_OR, p->token.pos, node, parse_and);
    p->depth--;
    return node;
}

static int parse_matcher(struct parser *p)
{
    struct steep_policy *policy = p->policy;
    struct steep_policy_matcher matcher = {0};
    GUARD(take_name(p, "a request name", &matcher.request, &matcher.pos));
    for (size_t i = 0; i < policy->nmatchers; i++) {
        const struct steep_policy_matcher *first = &policy->matchers[i];
        if (strcmp(first->request, matcher.request) == 0) {
            steep_policy_error_at(
                &matcher.pos, "duplicate matcher for '%s' (first declared at %s:%d:%d)",
                matcher.request, first->pos.file, first->pos.line, first->pos.column);
            free(matcher.request);
            return -1;
        }
    }
    p->depth = 0;
    p->nodes = 0;
    if (expect(p, TOKEN_ASSIGN, "'='") < 0 || !(matcher.expr = parse_or(p))) {
        free(matcher.request);
        return -1;
    }
    struct steep_policy_matcher *grown =
        realloc(policy->matchers, (policy->nmatchers + 1) * sizeof *grown);
    if (!grown) {
        free(matcher.request);
        steep_policy_node_free(matcher.expr);
        return steep_error_set("out of memory");
    }
    policy->matchers = grown;
    grown[policy->nmatchers++] = matcher;
    return 0;
}

/* ---- lines -------------------------------------------------------------- */

static int parse_section_header(struct parser *p)
{
    GUARD(next(p));
    struct steep_policy_pos pos = p->token.pos;
    if (!at(p, TOKEN_NAME))
        return unexpected(p, "a section name");
    static const struct {
        const char *name;
        enum section section;
    } sections[] = {{"requests", SECTION_REQUESTS},
                    {"terms", SECTION_TERMS},
                    {"facts", SECTION_FACTS},
                    {"matchers", SECTION_MATCHERS}};
    p->section = SECTION_NONE;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(p->token.text, sections[i].name) == 0)
            p->section = sections[i].section;
    if (p->section == SECTION_NONE)
        return steep_policy_error_at(
            &pos, "unknown section '%s' (expected requests, terms, facts or matchers)",
            p->token.text);
    GUARD(next(p));
    return expect(p, TOKEN_RBRACKET, "']'");
}

static int parse_statement(struct parser *p)
{
    struct steep_policy *policy = p->policy;
    switch (p->section) {
    case SECTION_REQUESTS:
        return parse_declaration(p, &policy->requests, &policy->nrequests, "request");
    case SECTION_TERMS:
        return parse_declaration(p, &policy->terms, &policy->nterms, "term");
    case SECTION_FACTS:
        return parse_fact(p);
    case SECTION_MATCHERS:
        return parse_matcher(p);
    default:
        return steep_policy_error_at(&p->token.pos,
                                     "statement outside a section (start with [requests], "
                                     "[terms], [facts] or [matchers])");
    }
}

int steep_policy_parse(struct steep_policy *policy, const char *file, const char *text, size_t len)
{
    struct parser *p = calloc(1, sizeof *p);
    ENSURE(p != NULL, "out of memory");
    p->policy = policy;
    steep_policy_lexer_init(&p->lexer, file, text, len);
    int rc = next(p);
    while (rc == 0 && !at(p, TOKEN_EOF)) {
        if (at(p, TOKEN_NEWLINE)) {
            rc = next(p);
            continue;
        }
        rc = at(p, TOKEN_LBRACKET) ? parse_section_header(p) : parse_statement(p);
        if (rc == 0 && !at(p, TOKEN_NEWLINE) && !at(p, TOKEN_EOF))
            rc = unexpected(p, "end of line");
    }
    free(p);
    return rc;
}
