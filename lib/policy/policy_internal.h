/*
 * Data structures shared by the policy lexer, parser, checker and
 * evaluator. Not part of the public contract (policy.h).
 */
#ifndef STEEP_POLICY_INTERNAL_H
#define STEEP_POLICY_INTERNAL_H

#include "policy/policy.h"

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct steep_policy_pos {
    const char *file; /* owned by the policy (files[]) */
    int line;
    int column;
};

enum steep_policy_type { POLICY_TYPE_BOOL, POLICY_TYPE_STRING, POLICY_TYPE_SET };

enum steep_policy_node_kind {
    NODE_STRING,   /* "literal": text */
    NODE_FIELD,    /* R.f: text = R, field = f */
    NODE_WILDCARD, /* _ (only as a term query argument) */
    NODE_QUERY,    /* t(a, ...): text = t, args */
    NODE_AND,
    NODE_OR,
    NODE_NOT, /* left only */
    NODE_EQ,
    NODE_NE,
    NODE_SUBSET,   /* <= */
    NODE_SUPERSET, /* >= */
    NODE_IN,
};

struct steep_policy_node {
    enum steep_policy_node_kind kind;
    struct steep_policy_pos pos;
    enum steep_policy_type type; /* set by the checker */
    char *text;
    char *field;
    int index;    /* field: column of the request; query: term index */
    int wildcard; /* query: column of the `_`, or -1 */
    struct steep_policy_node *left, *right;
    struct steep_policy_node **args;
    size_t nargs;
};

/* A request or a term: a name and its columns. */
struct steep_policy_decl {
    char *name;
    char **columns;
    size_t ncolumns;
    struct steep_policy_pos pos;
    /* requests: the matcher, once one is declared */
    struct steep_policy_node *matcher;
    struct steep_policy_pos matcher_pos;
};

struct steep_policy_fact_row {
    char *term;
    int term_index; /* set by the checker */
    char **values;
    size_t nvalues;
    struct steep_policy_pos pos;
};

struct steep_policy_matcher {
    char *request;
    struct steep_policy_node *expr;
    struct steep_policy_pos pos;
};

struct steep_policy {
    struct steep_policy_decl *requests;
    size_t nrequests;
    struct steep_policy_decl *terms;
    size_t nterms;
    struct steep_policy_matcher *matchers;
    size_t nmatchers;
    struct steep_policy_fact_row *facts;
    size_t nfacts;
    char **files;
    size_t nfiles;
    bool finished;
    /* after finish: static facts grouped by term (indexes into facts[]) */
    size_t *term_fact_start; /* nterms + 1 entries */
    size_t *term_facts;      /* nfacts entries */
};

/* Lexer ------------------------------------------------------------------ */

enum steep_policy_token_kind {
    TOKEN_EOF,
    TOKEN_NEWLINE,
    TOKEN_NAME,
    TOKEN_STRING,
    TOKEN_LBRACKET,
    TOKEN_RBRACKET,
    TOKEN_LPAREN,
    TOKEN_RPAREN,
    TOKEN_ASSIGN, /* = */
    TOKEN_COMMA,
    TOKEN_DOT,
    TOKEN_EQ, /* == */
    TOKEN_NE,
    TOKEN_LE,
    TOKEN_GE,
};

struct steep_policy_token {
    enum steep_policy_token_kind kind;
    struct steep_policy_pos pos;
    char text[STEEP_POLICY_MAX_STRING + 1]; /* name or decoded string */
    size_t len;
};

struct steep_policy_lexer {
    struct steep_cursor cursor;
    const char *file;
    int line;
    int column;
    int paren_depth; /* newlines inside parentheses are ignored */
};

void steep_policy_lexer_init(struct steep_policy_lexer *lexer, const char *file, const char *text,
                             size_t len);
int steep_policy_lexer_next(struct steep_policy_lexer *lexer, struct steep_policy_token *token);
const char *steep_policy_token_describe(const struct steep_policy_token *token);

/* Errors at a position: "file:line:column: message"; returns -1. */
int steep_policy_error_at(const struct steep_policy_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parser / checker / tree ---------------------------------------------- */

int steep_policy_parse(struct steep_policy *policy, const char *file, const char *text, size_t len);
int steep_policy_check(struct steep_policy *policy);
void steep_policy_node_free(struct steep_policy_node *node);
int steep_policy_find_request(const struct steep_policy *policy, const char *name);
int steep_policy_find_term(const struct steep_policy *policy, const char *name);
const char *steep_policy_type_name(enum steep_policy_type type);
const char *steep_policy_node_operator(enum steep_policy_node_kind kind);

#endif
