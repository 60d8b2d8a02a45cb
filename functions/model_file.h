/* Loads a JSON model input (at most 64 MiB) for the ML built-ins. */
#ifndef STEEP_FUNCTIONS_MODEL_FILE_H
#define STEEP_FUNCTIONS_MODEL_FILE_H

#include "functions/function.h"

#include <jansson.h>

#define STEEP_MODEL_MAX (64u << 20)

/* Reads input `name` whole and parses it as JSON; *out is json_decref'd by the caller. */
int steep_model_load(struct steep_fn_io *io, const char *name, json_t **out);

#endif
