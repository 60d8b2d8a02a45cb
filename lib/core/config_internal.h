/*
 * Shared between config.c (loading, Teaclave's tables) and config_get.c
 * (typed getters): the mutable state behind a const struct steep_config.
 */
#ifndef STEEP_CORE_CONFIG_INTERNAL_H
#define STEEP_CORE_CONFIG_INTERNAL_H

#include <pthread.h>

#include "core/config.h"

struct config_allocation {
    struct config_allocation *next;
    void *pointer;
};

struct steep_config_state {
    pthread_mutex_t lock;
    struct config_allocation *allocations; /* freed with the config */
    char *first_error;                     /* first type error met by a getter */
};

/* "file:line:column: key must be a T, not a U", recorded as the current error. */
int steep_config_type_error(const struct steep_config *cfg, const char *key,
                            const struct steep_toml_value *value, enum steep_toml_type want);

#endif
