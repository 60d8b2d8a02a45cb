/*
 * The audit query language: the subset of tantivy's QueryParser syntax that
 * Teaclave's QueryAuditLogs accepted (default field `message`).
 *
 * A query is a list of clauses separated by spaces: `[+|-][field:]value`
 * where value is a word, a "quoted phrase" or `*`. Text fields (message,
 * user) are compared word by word after tantivy's default tokenizer
 * (alphanumeric runs, lowercased, words over 40 bytes dropped); a value of
 * several words must appear as a phrase. Clauses combine as in tantivy:
 * all `+` (and, with AND, all plain) clauses must match, no `-` clause may,
 * and otherwise any plain clause is enough.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "core/error.h"
#include "rpc/rpc.h"

#define QUERY_MAX_CLAUSES 32
#define QUERY_MAX_TOKENS  32
#define TOKEN_MAX         40

enum query_field { FIELD_MESSAGE, FIELD_USER, FIELD_IP, FIELD_RESULT, FIELD_ALL };
enum query_occur { OCCUR_SHOULD, OCCUR_MUST, OCCUR_MUST_NOT };

struct query_clause {
    enum query_field field;
    enum query_occur occur;
    char *tokens[QUERY_MAX_TOKENS]; /* text fields: the phrase */
    size_t n_tokens;
    uint8_t ip[AUDIT_IP_LEN];
    uint8_t ip_mapped[AUDIT_IP_LEN]; /* IPv4: also the ::ffff: form */
    bool result;
};

struct audit_query {
    struct query_clause clauses[QUERY_MAX_CLAUSES];
    size_t n;
};

static bool is_token_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/* Calls fn for each token of text; stops when fn returns non-zero. */
static int each_token(const char *text, int (*fn)(void *arg, const char *token), void *arg)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        while (*s && !is_token_byte(*s))
            s++;
        const unsigned char *start = s;
        while (*s && is_token_byte(*s))
            s++;
        size_t n = (size_t)(s - start);
        if (n == 0 || n > TOKEN_MAX)
            continue;
        char token[TOKEN_MAX + 1];
        for (size_t i = 0; i < n; i++)
            token[i] = (char)tolower(start[i]);
        token[n] = '\0';
        int rc = fn(arg, token);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_token(void *arg, const char *token)
{
    struct query_clause *clause = arg;
    if (clause->n_tokens == QUERY_MAX_TOKENS)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: query phrase too long");
    clause->tokens[clause->n_tokens] = strdup(token);
    if (!clause->tokens[clause->n_tokens])
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    clause->n_tokens++;
    return 0;
}

static int parse_field(const char *name, size_t n, enum query_field *field)
{
    static const struct {
        const char *name;
        enum query_field field;
    } fields[] = {{"message", FIELD_MESSAGE},
                  {"user", FIELD_USER},
                  {"ip", FIELD_IP},
                  {"result", FIELD_RESULT}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strlen(fields[i].name) == n && memcmp(fields[i].name, name, n) == 0) {
            *field = fields[i].field;
            return 0;
        }
    }
    return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: unknown field '%.*s'", (int)n,
                      name);
}

static int parse_ip(struct query_clause *clause, const char *value)
{
    struct in_addr v4;
    if (inet_pton(AF_INET, value, &v4) == 1) {
        memset(clause->ip, 0, AUDIT_IP_LEN);
        memcpy(clause->ip + 12, &v4, 4);
        memcpy(clause->ip_mapped, clause->ip, AUDIT_IP_LEN);
        clause->ip_mapped[10] = clause->ip_mapped[11] = 0xff;
        return 0;
    }
    if (inet_pton(AF_INET6, value, clause->ip) == 1) {
        memcpy(clause->ip_mapped, clause->ip, AUDIT_IP_LEN);
        return 0;
    }
    return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: invalid ip '%s'", value);
}

static int parse_value(struct query_clause *clause, const char *value)
{
    if (strcmp(value, "*") == 0) {
        clause->field = FIELD_ALL;
        return 0;
    }
    switch (clause->field) {
    case FIELD_IP:
        return parse_ip(clause, value);
    case FIELD_RESULT:
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
            clause->result = value[0] == 't';
            return 0;
        }
        return audit_fail(STEEP_GRPC_UNKNOWN,
                          "audit log error, reason: result must be true or false");
    default:
        return each_token(value, add_token, clause) < 0 ? -1 : 0;
    }
}

/* One clause starting at *text; advances past it. */
static int parse_clause(const char **text, struct query_clause *clause)
{
    const char *s = *text;
    if (*s == '+' || *s == '-') {
        clause->occur = *s == '+' ? OCCUR_MUST : OCCUR_MUST_NOT;
        s++;
    }
    const char *colon = NULL;
    for (const char *p = s; *p && *p != ' ' && *p != '"'; p++) {
        if (*p == ':') {
            colon = p;
            break;
        }
    }
    clause->field = FIELD_MESSAGE;
    if (colon && colon != s) {
        GUARD(parse_field(s, (size_t)(colon - s), &clause->field));
        s = colon + 1;
    }
    char value[512];
    size_t n = 0;
    if (*s == '"') {
        const char *end = strchr(s + 1, '"');
        if (!end)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: unterminated quote");
        n = (size_t)(end - s - 1);
        if (n >= sizeof value)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: query too long");
        memcpy(value, s + 1, n);
        s = end + 1;
    } else {
        while (s[n] && s[n] != ' ')
            n++;
        if (n >= sizeof value)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: query too long");
        memcpy(value, s, n);
        s += n;
    }
    value[n] = '\0';
    if (n == 0)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: empty query term");
    *text = s;
    return parse_value(clause, value);
}

void audit_query_free(struct audit_query *query)
{
    if (!query)
        return;
    for (size_t i = 0; i < query->n; i++)
        for (size_t k = 0; k < query->clauses[i].n_tokens; k++)
            free(query->clauses[i].tokens[k]);
    free(query);
}

static bool is_keyword(const char *s, const char *word)
{
    size_t n = strlen(word);
    return strncmp(s, word, n) == 0 && (s[n] == ' ' || s[n] == '\0');
}

static int parse_clauses(const char *text, struct audit_query *q)
{
    bool conjunction = false;
    for (;;) {
        while (*text == ' ' || *text == '\t')
            text++;
        if (!*text)
            break;
        if (is_keyword(text, "AND") || is_keyword(text, "OR")) {
            conjunction |= text[0] == 'A';
            text += text[0] == 'A' ? 3 : 2;
            continue;
        }
        if (q->n == QUERY_MAX_CLAUSES)
            return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: query too long");
        q->n++;
        GUARD(parse_clause(&text, &q->clauses[q->n - 1]));
    }
    /* An empty query is valid and matches nothing (tantivy's EmptyQuery). */
    for (size_t i = 0; conjunction && i < q->n; i++)
        if (q->clauses[i].occur == OCCUR_SHOULD)
            q->clauses[i].occur = OCCUR_MUST;
    return 0;
}

int audit_query_parse(const char *text, struct audit_query **query)
{
    struct audit_query *q = calloc(1, sizeof *q);
    if (!q)
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    if (parse_clauses(text ? text : "", q) < 0) {
        audit_query_free(q);
        return -1;
    }
    *query = q;
    return 0;
}

/* ---- matching ------------------------------------------------------------- */

struct token_list {
    char (*tokens)[TOKEN_MAX + 1];
    size_t n;
    size_t cap;
};

static int collect_token(void *arg, const char *token)
{
    struct token_list *list = arg;
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 16;
        char(*grown)[TOKEN_MAX + 1] = realloc(list->tokens, cap * sizeof *grown);
        if (!grown)
            return -1;
        list->tokens = grown;
        list->cap = cap;
    }
    strcpy(list->tokens[list->n++], token);
    return 0;
}

/* The phrase appears as consecutive tokens of text. */
static bool text_matches(const struct query_clause *clause, const char *text)
{
    if (clause->n_tokens == 0)
        return false;
    struct token_list list = {0};
    bool found = false;
    if (each_token(text ? text : "", collect_token, &list) == 0) {
        for (size_t start = 0; !found && start + clause->n_tokens <= list.n; start++) {
            size_t k = 0;
            while (k < clause->n_tokens && strcmp(list.tokens[start + k], clause->tokens[k]) == 0)
                k++;
            found = k == clause->n_tokens;
        }
    }
    free(list.tokens);
    return found;
}

static bool clause_matches(const struct query_clause *c, const TeaclaveCommonProto__Entry *e)
{
    switch (c->field) {
    case FIELD_ALL:
        return true;
    case FIELD_MESSAGE:
        return text_matches(c, e->message);
    case FIELD_USER:
        return text_matches(c, e->user);
    case FIELD_IP:
        return e->ip.len == AUDIT_IP_LEN && (memcmp(e->ip.data, c->ip, AUDIT_IP_LEN) == 0 ||
                                             memcmp(e->ip.data, c->ip_mapped, AUDIT_IP_LEN) == 0);
    case FIELD_RESULT:
        return e->result == c->result;
    }
    return false;
}

bool audit_query_match(const struct audit_query *query, const TeaclaveCommonProto__Entry *entry)
{
    bool any_should = false, should_matched = false, any_positive = false;
    for (size_t i = 0; i < query->n; i++) {
        const struct query_clause *c = &query->clauses[i];
        bool matches = clause_matches(c, entry);
        switch (c->occur) {
        case OCCUR_MUST:
            any_positive = true;
            if (!matches)
                return false;
            break;
        case OCCUR_MUST_NOT:
            if (matches)
                return false;
            break;
        case OCCUR_SHOULD:
            any_should = true;
            any_positive = true;
            should_matched |= matches;
            break;
        }
    }
    if (!any_positive)
        return false; /* only negative clauses match nothing, as in tantivy */
    bool has_must = false;
    for (size_t i = 0; i < query->n; i++)
        has_must |= query->clauses[i].occur == OCCUR_MUST;
    return has_must || !any_should || should_matched;
}
