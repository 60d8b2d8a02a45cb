/* Builds StagedTask JSON (teaclave-api.md §5.7) for the execution tests. */
#ifndef STEEP_TESTS_EXECUTION_STAGED_JSON_H
#define STEEP_TESTS_EXECUTION_STAGED_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* {"TeaclaveFile128":{"key":[...]}}, {"AesGcm128":{"key","iv"}}, "Raw", ... */
json_t *test_crypto(const char *variant, const uint8_t *key, size_t key_len, const uint8_t *iv);
json_t *test_bytes(const uint8_t *data, size_t len);
/* A StagedTask with empty file maps; add with test_add_input / test_add_output. */
json_t *test_staged_task(const char *task_id, const char *executor_type, const char *executor,
                         const char *function_name, json_t *arguments);
void test_add_input(json_t *task, const char *name, const char *url, const uint8_t cmac[16],
                    json_t *crypto);
void test_add_output(json_t *task, const char *name, const char *url, json_t *crypto);
/* The JSON text (caller frees). */
char *test_dump(json_t *task);

#endif
