/*
 * The access-control policy language (design: access-control-language.md).
 *
 * A policy is loaded from one or more files whose sections ([requests],
 * [terms], [facts], [matchers]) merge; the whole policy is checked once
 * every file is in (steep_policy_finish): unknown requests, terms or
 * fields, wrong arity, more than one `_` in a term query, a request without
 * a matcher, duplicates and type errors all refuse the policy with a
 * "file:line:column: message" error. A loaded policy is immutable and may be
 * shared by threads. A decision is bounded (no recursion in the language,
 * limits on facts and strings) and denies on any error, with a reason.
 */
#ifndef STEEP_POLICY_POLICY_H
#define STEEP_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define STEEP_POLICY_MAX_FILE      (1u << 20) /* bytes per policy file */
#define STEEP_POLICY_MAX_STRING    1024       /* bytes per string literal, field or fact value */
#define STEEP_POLICY_MAX_NAME      128        /* bytes per identifier */
#define STEEP_POLICY_MAX_COLUMNS   16         /* fields of a request, columns of a term */
#define STEEP_POLICY_MAX_DEPTH     64         /* nesting of a matcher expression */
#define STEEP_POLICY_MAX_NODES     4096       /* size of one matcher expression */
#define STEEP_POLICY_MAX_FACTS     100000     /* static facts of a policy */
#define STEEP_POLICY_MAX_DYN_FACTS 10000      /* facts sent with one request */
#define STEEP_POLICY_REASON_MAX    256

struct steep_policy;

struct steep_policy_field {
    const char *name;
    const char *value;
};

struct steep_policy_fact {
    const char *term;
    const char *const *values;
    size_t nvalues;
};

struct steep_policy *steep_policy_new(void);
void steep_policy_free(struct steep_policy *policy);

/* Parses one file's text and merges it; `file` names it in error messages. */
int steep_policy_add_text(struct steep_policy *policy, const char *file, const char *text,
                          size_t len);
int steep_policy_add_file(struct steep_policy *policy, const char *path);
/* Checks the merged policy; required before steep_policy_decide. */
int steep_policy_finish(struct steep_policy *policy);

/* Loads every *.policy file of dir (in name order) and checks the result. */
struct steep_policy *steep_policy_load_dir(const char *dir);
/* Loads the given texts (names[i], texts[i]) and checks the result (tests, fuzzing). */
struct steep_policy *steep_policy_load_texts(const char *const *names, const char *const *texts,
                                             size_t n);

/* True when the policy declares request `name`. */
bool steep_policy_has_request(const struct steep_policy *policy, const char *name);

/*
 * Decides `request` with its fields (each field of the request exactly once)
 * and dynamic facts (added to the static ones). Always sets *accept; on a
 * denial, reason (reason_len bytes incl. NUL, may be NULL) says why.
 * Returns 0 when the matcher was evaluated, -1 when the request was
 * malformed (accept is then false, reason and steep_error_get() say why).
 */
int steep_policy_decide(const struct steep_policy *policy, const char *request,
                        const struct steep_policy_field *fields, size_t nfields,
                        const struct steep_policy_fact *facts, size_t nfacts, bool *accept,
                        char *reason, size_t reason_len);

#endif
