/*
 * The StagedTask JSON a node pulls from the scheduler (teaclave-api.md
 * §5.7), parsed with jansson into the fields the execution needs. Keys are
 * copied into wiped memory and cleared again by steep_staged_task_free().
 */
#ifndef STEEP_EXECUTORS_STAGED_TASK_H
#define STEEP_EXECUTORS_STAGED_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/file_crypto.h"

struct steep_staged_file {
    char *name;
    char *url;
    bool has_cmac;
    uint8_t cmac[16];
    struct steep_file_crypto crypto;
};

struct steep_staged_task {
    char *task_id;       /* UUID string */
    char *executor;      /* task side: "Builtin", "MesaPy", "WAMicroRuntime" */
    char *executor_type; /* function side: "Builtin", "Python", "WAMicroRuntime" */
    char *function_name;
    char *arguments; /* function_arguments.inner as a JSON object text (sorted keys) */
    bool save_log;   /* arguments["save_log"] == "true" */
    uint8_t *payload;
    size_t payload_len;
    struct steep_staged_file *inputs, *outputs;
    size_t n_inputs, n_outputs;
};

int steep_staged_task_parse(const uint8_t *json, size_t len, struct steep_staged_task *task);
void steep_staged_task_free(struct steep_staged_task *task);

/* The task-side executor name the runner understands ("builtin"), or -1 with
 * Teaclave's "function not available: (<executor_type>, <executor>)". */
int steep_staged_task_executor(const struct steep_staged_task *task, const char **executor);

#endif
