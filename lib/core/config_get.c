/*
 * Typed getters over the loaded config document, so each service reads its
 * own keys without editing config.c.
 *
 * A getter returns the default when the key is absent. A present key of the
 * wrong type also yields the default, but is logged with its position and
 * remembered; steep_config_check() reports the first such error, so a
 * service fails at start-up instead of running on a silently ignored key.
 * Derived values (resolved paths, string vectors) are allocated once per
 * call and owned by the config, under its lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config_internal.h"
#include "core/error.h"
#include "core/log.h"

static const char *article(enum steep_toml_type type)
{
    return type == STEEP_TOML_INTEGER || type == STEEP_TOML_ARRAY ? "an" : "a";
}

int steep_config_type_error(const struct steep_config *cfg, const char *key,
                            const struct steep_toml_value *value, enum steep_toml_type want)
{
    return steep_error_set("%s:%u:%u: %s must be %s %s, not %s %s", cfg->path, value->line,
                           value->column, key, article(want), steep_toml_type_name(want),
                           article(value->type), steep_toml_type_name(value->type));
}

/* Logs and remembers a type error met by a getter. */
static void remember_type_error(const struct steep_config *cfg, const char *key,
                                const struct steep_toml_value *value, enum steep_toml_type want)
{
    steep_config_type_error(cfg, key, value, want);
    log_error("config: %s", steep_error_get());
    pthread_mutex_lock(&cfg->state->lock);
    if (!cfg->state->first_error)
        cfg->state->first_error = strdup(steep_error_get());
    pthread_mutex_unlock(&cfg->state->lock);
}

/* The value of key if present with the wanted type; NULL otherwise. */
static const struct steep_toml_value *typed(const struct steep_config *cfg, const char *key,
                                            enum steep_toml_type want)
{
    const struct steep_toml_value *value = steep_toml_find(cfg->root, key);
    if (!value)
        return NULL;
    if (value->type != want) {
        remember_type_error(cfg, key, value, want);
        return NULL;
    }
    return value;
}

/* Hands pointer to the config; NULL (and pointer freed) when out of memory. */
static void *keep(const struct steep_config *cfg, void *pointer)
{
    struct config_allocation *a = pointer ? malloc(sizeof *a) : NULL;
    if (!a) {
        free(pointer);
        return NULL;
    }
    a->pointer = pointer;
    pthread_mutex_lock(&cfg->state->lock);
    a->next = cfg->state->allocations;
    cfg->state->allocations = a;
    pthread_mutex_unlock(&cfg->state->lock);
    return pointer;
}

const struct steep_toml_value *steep_config_value(const struct steep_config *cfg, const char *key)
{
    return steep_toml_find(cfg->root, key);
}

int64_t steep_config_get_int(const struct steep_config *cfg, const char *key, int64_t def)
{
    const struct steep_toml_value *value = typed(cfg, key, STEEP_TOML_INTEGER);
    return value ? value->as.integer : def;
}

const char *steep_config_get_string(const struct steep_config *cfg, const char *key,
                                    const char *def)
{
    const struct steep_toml_value *value = typed(cfg, key, STEEP_TOML_STRING);
    return value ? value->as.string : def;
}

bool steep_config_get_bool(const struct steep_config *cfg, const char *key, bool def)
{
    const struct steep_toml_value *value = typed(cfg, key, STEEP_TOML_BOOLEAN);
    return value ? value->as.boolean : def;
}

size_t steep_config_get_string_array(const struct steep_config *cfg, const char *key,
                                     const char *const **items)
{
    *items = NULL;
    const struct steep_toml_value *value = typed(cfg, key, STEEP_TOML_ARRAY);
    if (!value)
        return 0;
    size_t n = value->as.array.count;
    for (size_t i = 0; i < n; i++) {
        const struct steep_toml_value *item = value->as.array.items[i];
        if (item->type != STEEP_TOML_STRING) {
            char item_key[256];
            snprintf(item_key, sizeof item_key, "%s[%zu]", key, i);
            remember_type_error(cfg, item_key, item, STEEP_TOML_STRING);
            return 0;
        }
    }
    const char **vector = keep(cfg, calloc(n + 1, sizeof *vector));
    if (!vector) {
        log_error("config: out of memory reading %s", key);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        vector[i] = value->as.array.items[i]->as.string;
    *items = vector;
    return n;
}

char *steep_config_resolve(const struct steep_config *cfg, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    size_t n = strlen(cfg->dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", cfg->dir, path);
    return out;
}

const char *steep_config_get_path(const struct steep_config *cfg, const char *key, const char *def)
{
    const char *path = steep_config_get_string(cfg, key, def);
    if (!path)
        return NULL;
    return keep(cfg, steep_config_resolve(cfg, path));
}

int steep_config_check(const struct steep_config *cfg)
{
    pthread_mutex_lock(&cfg->state->lock);
    int rc = 0;
    if (cfg->state->first_error)
        rc = steep_error_set("%s", cfg->state->first_error);
    pthread_mutex_unlock(&cfg->state->lock);
    return rc;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return steep_error_set("cannot create directory %s: %s", path, strerror(errno));
}

/* mkdir -p */
static int make_dirs(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int rc = make_dir(path);
        *slash = '/';
        GUARD(rc);
    }
    return make_dir(path);
}

char *steep_config_service_dir(const struct steep_config *cfg, const char *service)
{
    const char *data_dir = steep_config_get_path(cfg, "steep.data_dir", "data");
    if (!data_dir) {
        steep_error_set("out of memory");
        return NULL;
    }
    size_t n = strlen(data_dir) + strlen(service) + 2;
    char *dir = malloc(n);
    if (!dir) {
        steep_error_set("out of memory");
        return NULL;
    }
    snprintf(dir, n, "%s/%s", data_dir, service);
    if (make_dirs(dir) < 0) {
        free(dir);
        return NULL;
    }
    return dir;
}
