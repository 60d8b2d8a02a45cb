/*
 * One staged task from start to end, on the node: work directory, input
 * download and staging, the sandboxed function, output conversion and
 * upload (teaclave-functions.md §3.5-3.6, §4).
 *
 * Inputs: aes-gcm files must carry the registered cmac as their tag and
 * are converted into staged teaclave-file-128 files under a fresh key;
 * teaclave-file-128 inputs are handed over as downloaded with the user key
 * and their cmac is checked when the function opens them; raw inputs are
 * handed over as they are. Outputs are written by the function into staged
 * teaclave-file-128 files (fresh keys), then re-encrypted into the owner's
 * scheme and uploaded; their cmacs form the task's tags_map. Every
 * registered output must have been written. The work directory is removed
 * afterwards, whatever happened.
 */
#ifndef STEEP_EXECUTORS_TASK_H
#define STEEP_EXECUTORS_TASK_H

#include "core/buf.h"
#include "core/error.h"
#include "sandbox.h"
#include "staged_task.h"
#include "wamr/wamr.h"

struct steep_python_zygote;
struct steep_runner_pool;

struct steep_task_environment {
    const char *runner_path;
    /* Python tasks are forked from it (executors/python); NULL: none. */
    struct steep_python_zygote *python;
    const char *work_dir;    /* per-task directories are made below it */
    const char *fusion_base; /* [mount] fusion_base_dir */
    struct steep_sandbox_limits limits;
    /* Run the hostile test functions (test-*) compiled in with
     * STEEP_TEST_PAYLOADS. Off unless the platform's config turns on
     * [execution] insecure_test_payloads: tests only. */
    bool allow_test_payloads;
    /* file:// URLs read and write this host's own files: tests only
     * ([execution] insecure_file_urls). */
    bool allow_file_urls;
    /* [execution] face_model: the SeetaFace model builtin-face-detection
     * reads (NULL: not configured; such tasks fail naming the setting). The
     * node opens it per task and hands the descriptor to the runner, which
     * opens no path itself. */
    const char *face_model;
    /* The WebAssembly executor (cache directory, memory cap, ...). */
    struct steep_wamr_config wamr;
    /* Pre-started runners (runner_pool.h; [execution] runner_pool); NULL:
     * every task starts its own runner. */
    struct steep_runner_pool *pool;
};

struct steep_task_tag {
    char name[256];
    uint8_t cmac[16];
};

struct steep_task_outcome {
    bool ok;
    bool canceled;
    struct steep_buf summary;     /* the function's return value */
    char reason[STEEP_ERROR_MAX]; /* when !ok */
    struct steep_task_tag *tags;  /* output name -> cmac of the uploaded file */
    size_t n_tags;
    char **log; /* only when the task asked for save_log */
    size_t n_log;
};

/* Always fills outcome (a failure is a failed task, not an error of the node). */
void steep_task_run(const struct steep_task_environment *environment,
                    const struct steep_staged_task *task, struct steep_sandbox_control *control,
                    struct steep_task_outcome *outcome);
void steep_task_outcome_free(struct steep_task_outcome *outcome);

#endif
