/* StagedTask JSON; see staged_task.h. The JSON comes from the scheduler,
 * an attested peer, but is still checked field by field. */
#include "staged_task.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "builtin.h"
#include "core/error.h"

#define MAX_PAYLOAD (64u << 20)

static int copy_string(json_t *object, const char *key, char **out)
{
    json_t *value = json_object_get(object, key);
    ENSURE(json_is_string(value), "staged task: %s must be a string", key);
    *out = strdup(json_string_value(value));
    ENSURE(*out, "out of memory");
    return 0;
}

/* A JSON array of byte values, e.g. {"tag":[16 ints]} or a key. */
static int byte_array(json_t *array, uint8_t *out, size_t max, size_t *len, const char *what)
{
    ENSURE(json_is_array(array), "staged task: %s must be an array of bytes", what);
    size_t n = json_array_size(array);
    ENSURE(n <= max, "staged task: %s is too long", what);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(array, i);
        ENSURE(json_is_integer(item) && json_integer_value(item) >= 0 &&
                   json_integer_value(item) <= 255,
               "staged task: %s must hold bytes", what);
        out[i] = (uint8_t)json_integer_value(item);
    }
    *len = n;
    return 0;
}

/* {"AesGcm128":{"key","iv"}} | {"AesGcm256":…} | {"TeaclaveFile128":{"key"}} | "Raw" */
static int parse_crypto(json_t *value, struct steep_file_crypto *crypto)
{
    uint8_t key[32], iv[32];
    size_t key_len = 0, iv_len = 0;
    const char *schema = NULL;
    if (json_is_string(value) && strcmp(json_string_value(value), "Raw") == 0)
        return steep_file_crypto_init(crypto, "raw", NULL, 0, NULL, 0);
    ENSURE(json_is_object(value) && json_object_size(value) == 1,
           "staged task: crypto_info has an unknown form");
    const char *variant = json_object_iter_key(json_object_iter(value));
    json_t *body = json_object_iter_value(json_object_iter(value));
    if (strcmp(variant, "AesGcm128") == 0)
        schema = "aes-gcm-128";
    else if (strcmp(variant, "AesGcm256") == 0)
        schema = "aes-gcm-256";
    else if (strcmp(variant, "TeaclaveFile128") == 0)
        schema = "teaclave-file-128";
    ENSURE(schema, "staged task: unknown crypto %s", variant);
    GUARD(byte_array(json_object_get(body, "key"), key, sizeof key, &key_len, "key"));
    json_t *iv_json = json_object_get(body, "iv");
    if (iv_json)
        GUARD(byte_array(iv_json, iv, sizeof iv, &iv_len, "iv"));
    int rc = steep_file_crypto_init(crypto, schema, key, key_len, iv, iv_len);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

static int parse_file(const char *name, json_t *value, bool input, struct steep_staged_file *file)
{
    file->name = strdup(name);
    ENSURE(file->name, "out of memory");
    ENSURE(json_is_object(value), "staged task: file %s must be an object", name);
    GUARD(copy_string(value, "url", &file->url));
    GUARD(parse_crypto(json_object_get(value, "crypto_info"), &file->crypto));
    json_t *cmac = json_object_get(value, "cmac");
    if (input && json_is_object(cmac)) {
        size_t len;
        GUARD(byte_array(json_object_get(cmac, "tag"), file->cmac, 16, &len, "cmac"));
        ENSURE(len == 16, "staged task: cmac of %s must be 16 bytes", name);
        file->has_cmac = true;
    }
    return 0;
}

static int parse_files(json_t *root, const char *key, bool input, struct steep_staged_file **files,
                       size_t *n)
{
    json_t *map = json_object_get(json_object_get(root, key), "inner");
    ENSURE(json_is_object(map), "staged task: %s.inner must be an object", key);
    *files = calloc(json_object_size(map) + 1, sizeof **files);
    ENSURE(*files, "out of memory");
    const char *name;
    json_t *value;
    json_object_foreach(map, name, value)
    {
        GUARD(parse_file(name, value, input, &(*files)[*n]));
        (*n)++;
    }
    return 0;
}

static int parse_payload(json_t *array, struct steep_staged_task *task)
{
    if (!array || json_is_null(array))
        return 0;
    size_t n = json_array_size(array);
    ENSURE(json_is_array(array) && n <= MAX_PAYLOAD, "staged task: bad function_payload");
    task->payload = malloc(n + 1);
    ENSURE(task->payload, "out of memory");
    return byte_array(array, task->payload, n, &task->payload_len, "function_payload");
}

static int parse_arguments(json_t *root, struct steep_staged_task *task)
{
    json_t *inner = json_object_get(json_object_get(root, "function_arguments"), "inner");
    ENSURE(json_is_object(inner), "staged task: function_arguments.inner must be an object");
    task->arguments = json_dumps(inner, JSON_COMPACT | JSON_SORT_KEYS);
    ENSURE(task->arguments, "out of memory");
    json_t *save_log = json_object_get(inner, "save_log");
    task->save_log = json_is_string(save_log) && strcmp(json_string_value(save_log), "true") == 0;
    return 0;
}

static int parse(json_t *root, struct steep_staged_task *task)
{
    ENSURE(json_is_object(root), "staged task must be a JSON object");
    GUARD(copy_string(root, "task_id", &task->task_id));
    GUARD(copy_string(root, "executor", &task->executor));
    GUARD(copy_string(root, "executor_type", &task->executor_type));
    GUARD(copy_string(root, "function_name", &task->function_name));
    GUARD(parse_arguments(root, task));
    GUARD(parse_payload(json_object_get(root, "function_payload"), task));
    GUARD(parse_files(root, "input_data", true, &task->inputs, &task->n_inputs));
    return parse_files(root, "output_data", false, &task->outputs, &task->n_outputs);
}

int steep_staged_task_parse(const uint8_t *json, size_t len, struct steep_staged_task *task)
{
    json_error_t error;
    memset(task, 0, sizeof *task);
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        return steep_error_set("staged task is not valid JSON: %s", error.text);
    int rc = parse(root, task);
    json_decref(root);
    if (rc < 0)
        steep_staged_task_free(task);
    return rc;
}

static void free_files(struct steep_staged_file *files, size_t n)
{
    for (size_t i = 0; files && i < n; i++) {
        free(files[i].name);
        free(files[i].url);
        steep_file_crypto_wipe(&files[i].crypto);
    }
    free(files);
}

void steep_staged_task_free(struct steep_staged_task *task)
{
    free(task->task_id);
    free(task->executor);
    free(task->executor_type);
    free(task->function_name);
    free(task->arguments);
    free(task->payload);
    /* Inputs and outputs are parsed one by one; count what was filled. */
    size_t n_in = task->n_inputs, n_out = task->n_outputs;
    if (task->inputs && task->inputs[n_in].name)
        n_in++;
    if (task->outputs && task->outputs[n_out].name)
        n_out++;
    free_files(task->inputs, n_in);
    free_files(task->outputs, n_out);
    memset(task, 0, sizeof *task);
}

int steep_staged_task_executor(const struct steep_staged_task *task, const char **executor)
{
    return steep_executor_select(task->executor_type, task->executor, executor);
}
