/* Typed argument access over jansson; see args.h. */
#include "functions/args.h"

#include "core/error.h"

int steep_args_parse(const char *text, json_t **out)
{
    json_error_t err;
    json_t *root = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return steep_error_set(STEEP_ARGS_ERROR);
    }
    *out = root;
    return 0;
}

int steep_args_string(const json_t *args, const char *key, const char **out)
{
    const json_t *v = json_object_get(args, key);
    ENSURE(json_is_string(v), STEEP_ARGS_ERROR);
    *out = json_string_value(v);
    return 0;
}

int steep_args_uint(const json_t *args, const char *key, uint64_t max, uint64_t *out)
{
    const json_t *v = json_object_get(args, key);
    ENSURE(json_is_integer(v), STEEP_ARGS_ERROR);
    json_int_t i = json_integer_value(v);
    ENSURE(i >= 0 && (uint64_t)i <= max, STEEP_ARGS_ERROR);
    *out = (uint64_t)i;
    return 0;
}

int steep_args_bool(const json_t *args, const char *key, bool *out)
{
    const json_t *v = json_object_get(args, key);
    ENSURE(json_is_boolean(v), STEEP_ARGS_ERROR);
    *out = json_is_true(v);
    return 0;
}

int steep_args_f64(const json_t *args, const char *key, double *out)
{
    const json_t *v = json_object_get(args, key);
    ENSURE(json_is_number(v), STEEP_ARGS_ERROR);
    *out = json_number_value(v);
    return 0;
}
