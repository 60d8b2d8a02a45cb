/*
 * Life cycle of a policy: files are parsed and merged one by one, then the
 * merged whole is checked once (steep_policy_finish). A directory load
 * takes every regular *.policy file in name order, so the result does not
 * depend on readdir order.
 */
#include "policy/policy_internal.h"

#include "core/error.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct steep_policy *steep_policy_new(void)
{
    struct steep_policy *policy = calloc(1, sizeof *policy);
    if (!policy)
        steep_error_set("out of memory");
    return policy;
}

void steep_policy_node_free(struct steep_policy_node *node)
{
    if (!node)
        return;
    steep_policy_node_free(node->left);
    steep_policy_node_free(node->right);
    for (size_t i = 0; i < node->nargs; i++)
        steep_policy_node_free(node->args[i]);
    free(node->args);
    free(node->text);
    free(node->field);
    free(node);
}

static void free_decls(struct steep_policy_decl *decls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(decls[i].name);
        for (size_t c = 0; c < decls[i].ncolumns; c++)
            free(decls[i].columns[c]);
        free(decls[i].columns);
    }
    free(decls);
}

void steep_policy_free(struct steep_policy *policy)
{
    if (!policy)
        return;
    free_decls(policy->requests, policy->nrequests);
    free_decls(policy->terms, policy->nterms);
    for (size_t i = 0; i < policy->nmatchers; i++) {
        free(policy->matchers[i].request);
        steep_policy_node_free(policy->matchers[i].expr);
    }
    free(policy->matchers);
    for (size_t i = 0; i < policy->nfacts; i++) {
        free(policy->facts[i].term);
        for (size_t v = 0; v < policy->facts[i].nvalues; v++)
            free(policy->facts[i].values[v]);
        free(policy->facts[i].values);
    }
    free(policy->facts);
    for (size_t i = 0; i < policy->nfiles; i++)
        free(policy->files[i]);
    free(policy->files);
    free(policy->term_fact_start);
    free(policy->term_facts);
    free(policy);
}

int steep_policy_add_text(struct steep_policy *policy, const char *file, const char *text,
                          size_t len)
{
    ENSURE(!policy->finished, "the policy is already checked");
    ENSURE(len <= STEEP_POLICY_MAX_FILE, "%s: larger than %u bytes", file, STEEP_POLICY_MAX_FILE);
    char **grown = realloc(policy->files, (policy->nfiles + 1) * sizeof *grown);
    ENSURE(grown != NULL, "out of memory");
    policy->files = grown;
    grown[policy->nfiles] = strdup(file);
    ENSURE(grown[policy->nfiles] != NULL, "out of memory");
    const char *name = grown[policy->nfiles++];
    return steep_policy_parse(policy, name, text, len);
}

int steep_policy_add_file(struct steep_policy *policy, const char *path)
{
    struct steep_buf text = STEEP_BUF_INIT;
    if (steep_read_file(path, STEEP_POLICY_MAX_FILE, &text) < 0) {
        steep_buf_free(&text);
        return steep_error_wrap("policy %s", path);
    }
    int rc = steep_policy_add_text(policy, path, (const char *)text.data, text.len);
    steep_buf_free(&text);
    return rc;
}

int steep_policy_finish(struct steep_policy *policy)
{
    ENSURE(!policy->finished, "the policy is already checked");
    GUARD(steep_policy_check(policy));
    policy->finished = true;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_policy_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 7 && strcmp(name + n - 7, ".policy") == 0;
}

/* The sorted names of the *.policy files in dir. */
static int list_policy_files(const char *dir, char ***names, size_t *n)
{
    DIR *d = opendir(dir);
    ENSURE(d != NULL, "cannot open policy directory %s: %m", dir);
    struct dirent *entry;
    int rc = 0;
    while (rc == 0 && (entry = readdir(d)) != NULL) {
        if (!is_policy_name(entry->d_name) ||
            (entry->d_type != DT_REG && entry->d_type != DT_UNKNOWN && entry->d_type != DT_LNK))
            continue;
        char **grown = realloc(*names, (*n + 1) * sizeof *grown);
        if (!grown || !(grown[*n] = strdup(entry->d_name))) {
            if (grown)
                *names = grown;
            rc = steep_error_set("out of memory");
            break;
        }
        *names = grown;
        (*n)++;
    }
    closedir(d);
    if (rc == 0 && *n == 0)
        rc = steep_error_set("no *.policy file in %s", dir);
    if (rc == 0)
        qsort(*names, *n, sizeof **names, compare_names);
    return rc;
}

struct steep_policy *steep_policy_load_dir(const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    struct steep_policy *policy = NULL;
    int rc = list_policy_files(dir, &names, &n);
    if (rc == 0 && !(policy = steep_policy_new()))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            rc = steep_error_set("policy path too long");
        else
            rc = steep_policy_add_file(policy, path);
    }
    if (rc == 0)
        rc = steep_policy_finish(policy);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0) {
        steep_policy_free(policy);
        return NULL;
    }
    return policy;
}

struct steep_policy *steep_policy_load_texts(const char *const *names, const char *const *texts,
                                             size_t n)
{
    struct steep_policy *policy = steep_policy_new();
    if (!policy)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (steep_policy_add_text(policy, names[i], texts[i], strlen(texts[i])) < 0) {
            steep_policy_free(policy);
            return NULL;
        }
    }
    if (steep_policy_finish(policy) < 0) {
        steep_policy_free(policy);
        return NULL;
    }
    return policy;
}

bool steep_policy_has_request(const struct steep_policy *policy, const char *name)
{
    return steep_policy_find_request(policy, name) >= 0;
}
