/* StagedTask JSON for tests; see staged_json.h. */
#include "staged_json.h"

#include <stdlib.h>

json_t *test_bytes(const uint8_t *data, size_t len)
{
    json_t *array = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append_new(array, json_integer(data[i]));
    return array;
}

json_t *test_crypto(const char *variant, const uint8_t *key, size_t key_len, const uint8_t *iv)
{
    if (!key)
        return json_string(variant);
    json_t *body = json_object();
    json_object_set_new(body, "key", test_bytes(key, key_len));
    if (iv)
        json_object_set_new(body, "iv", test_bytes(iv, 12));
    json_t *crypto = json_object();
    json_object_set_new(crypto, variant, body);
    return crypto;
}

json_t *test_staged_task(const char *task_id, const char *executor_type, const char *executor,
                         const char *function_name, json_t *arguments)
{
    json_t *task = json_object();
    json_object_set_new(task, "task_id", json_string(task_id));
    json_object_set_new(task, "function_id",
                        json_string("function-00000000-0000-4000-8000-000000000000"));
    json_object_set_new(task, "user_id", json_string("test-user"));
    json_object_set_new(task, "executor", json_string(executor));
    json_object_set_new(task, "executor_type", json_string(executor_type));
    json_object_set_new(task, "function_name", json_string(function_name));
    json_t *args = json_object();
    json_object_set_new(args, "inner", arguments ? arguments : json_object());
    json_object_set_new(task, "function_arguments", args);
    json_object_set_new(task, "function_payload", json_array());
    json_t *inputs = json_object(), *outputs = json_object();
    json_object_set_new(inputs, "inner", json_object());
    json_object_set_new(outputs, "inner", json_object());
    json_object_set_new(task, "input_data", inputs);
    json_object_set_new(task, "output_data", outputs);
    return task;
}

void test_add_input(json_t *task, const char *name, const char *url, const uint8_t cmac[16],
                    json_t *crypto)
{
    json_t *file = json_object();
    json_object_set_new(file, "url", json_string(url));
    json_t *tag = json_object();
    json_object_set_new(tag, "tag", test_bytes(cmac, 16));
    json_object_set_new(file, "cmac", tag);
    json_object_set_new(file, "crypto_info", crypto);
    json_object_set_new(json_object_get(json_object_get(task, "input_data"), "inner"), name, file);
}

void test_add_output(json_t *task, const char *name, const char *url, json_t *crypto)
{
    json_t *file = json_object();
    json_object_set_new(file, "url", json_string(url));
    json_object_set_new(file, "crypto_info", crypto);
    json_object_set_new(json_object_get(json_object_get(task, "output_data"), "inner"), name, file);
}

char *test_dump(json_t *task)
{
    return json_dumps(task, JSON_COMPACT);
}
