/* One task on the node; see task.h. */
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "file_agent.h"
#include "python/node/python_zygote.h"
#include "runner_pool.h"
#include "work_dir.h"

#define MAX_NAME 200

struct task_file {
    char basename[MAX_NAME + 1];
    char fetched[4096]; /* input as downloaded / output to upload */
    char staged[4096];  /* what the function reads or writes */
    struct steep_file_crypto staged_crypto;
    uint8_t staged_cmac[16];
    int fd;
};

/* The task's directory below the node's work directory: made only when
 * the task needs it (files to fetch or deliver, or a runner started for
 * it, whose empty root it holds). A task served by a pre-started runner
 * (whose root is the pool's) with no files touches no directory. */
struct workspace {
    char dir[3072];
    bool made;                       /* dir exists and is removed at the end */
    int module_fd;                   /* wamr: the compiled module for the runner, or -1 */
    struct steep_runner_file module; /* its resource entry */
    struct task_file *inputs, *outputs;
    size_t n_inputs, n_outputs;
};

/* basename(url.path()), or the file's name when the URL has none usable. */
static void url_basename(const char *url, const char *fallback, char *out)
{
    const char *path = strchr(url, ':');
    path = path ? path + 1 : url;
    if (strncmp(path, "//", 2) == 0) {
        path += 2;
        path += strcspn(path, "/?#");
    }
    size_t len = strcspn(path, "?#");
    const char *base = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            base = path + i + 1;
    len -= (size_t)(base - path);
    bool usable = len > 0 && len <= MAX_NAME && !(len == 1 && base[0] == '.') &&
                  !(len == 2 && base[0] == '.' && base[1] == '.');
    if (!usable) {
        base = fallback;
        len = strnlen(fallback, MAX_NAME);
    }
    memcpy(out, base, len);
    out[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (out[i] == '/')
            out[i] = '_';
}

static int make_dir(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int make_dir(const char *fmt, ...)
{
    char path[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(path, sizeof path, fmt, args);
    va_end(args);
    ENSURE(mkdir(path, 0700) == 0, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

static int create_workspace(const struct steep_task_environment *environment,
                            const struct steep_staged_task *task, struct workspace *space)
{
    uint8_t nonce[8];
    char hex[17];
    ENSURE(RAND_bytes(nonce, sizeof nonce) == 1, "no randomness for the work directory");
    steep_hex_encode(nonce, sizeof nonce, hex);
    ENSURE(strspn(task->task_id, "0123456789abcdefABCDEF-") == strlen(task->task_id) &&
               strlen(task->task_id) <= 64,
           "task id is not a UUID");
    if (mkdir(environment->work_dir, 0700) < 0 && errno != EEXIST)
        return steep_error_set("cannot create %s: %s", environment->work_dir, strerror(errno));
    ENSURE((size_t)snprintf(space->dir, sizeof space->dir, "%s/%s-%s", environment->work_dir,
                            task->task_id, hex) < sizeof space->dir - 64,
           "work directory path too long");
    return 0;
}

/* The task's directory, made on first use. */
static int workspace_dir(struct workspace *space)
{
    if (!space->made) {
        ENSURE(mkdir(space->dir, 0700) == 0, "cannot create %s: %s", space->dir, strerror(errno));
        space->made = true;
    }
    return 0;
}

/* The empty root of a runner started for this task: not writable. */
static int workspace_jail(struct workspace *space)
{
    GUARD(workspace_dir(space));
    GUARD(make_dir("%s/jail", space->dir));
    char jail[4200];
    snprintf(jail, sizeof jail, "%s/jail", space->dir);
    chmod(jail, 0500);
    return 0;
}

/* <dir>/<kind>/<index>/<basename> as fetched, <kind>/<index>-staged/ for the function. */
static int place_file(struct workspace *space, const char *kind, size_t index,
                      const struct steep_staged_file *staged, struct task_file *file)
{
    file->fd = -1;
    url_basename(staged->url, staged->name, file->basename);
    GUARD(make_dir("%s/%s/%zu", space->dir, kind, index));
    GUARD(make_dir("%s/%s/%zu-staged", space->dir, kind, index));
    snprintf(file->fetched, sizeof file->fetched, "%s/%s/%zu/%s", space->dir, kind, index,
             file->basename);
    snprintf(file->staged, sizeof file->staged, "%s/%s/%zu-staged/%s", space->dir, kind, index,
             file->basename);
    return 0;
}

static int prepare_files(struct workspace *space, const struct steep_staged_task *task)
{
    space->inputs = calloc(task->n_inputs + 1, sizeof *space->inputs);
    space->outputs = calloc(task->n_outputs + 1, sizeof *space->outputs);
    ENSURE(space->inputs && space->outputs, "out of memory");
    space->n_inputs = task->n_inputs;
    space->n_outputs = task->n_outputs;
    if (task->n_inputs || task->n_outputs)
        GUARD(workspace_dir(space));
    if (task->n_inputs)
        GUARD(make_dir("%s/inputs", space->dir));
    if (task->n_outputs)
        GUARD(make_dir("%s/outputs", space->dir));
    for (size_t i = 0; i < task->n_inputs; i++)
        GUARD(place_file(space, "inputs", i, &task->inputs[i], &space->inputs[i]));
    for (size_t i = 0; i < task->n_outputs; i++)
        GUARD(place_file(space, "outputs", i, &task->outputs[i], &space->outputs[i]));
    return 0;
}

static bool control_canceled(void *arg)
{
    struct steep_sandbox_control *control = arg;
    pthread_mutex_lock(&control->lock);
    bool canceled = control->cancel;
    pthread_mutex_unlock(&control->lock);
    return canceled;
}

/* Transfers stop when the task is canceled and cannot outlast its time limit. */
static struct steep_file_agent_options
agent_options(const struct steep_task_environment *environment,
              struct steep_sandbox_control *control)
{
    return (struct steep_file_agent_options){
        .fusion_base = environment->fusion_base,
        .canceled = control ? control_canceled : NULL,
        .canceled_arg = control,
        .timeout_seconds = environment->limits.wall_seconds,
        .allow_file_urls = environment->allow_file_urls,
    };
}

static int download_inputs(const struct steep_task_environment *environment,
                           const struct steep_staged_task *task, struct workspace *space,
                           struct steep_sandbox_control *control)
{
    struct steep_file_transfer *transfers = calloc(task->n_inputs + 1, sizeof *transfers);
    ENSURE(transfers, "out of memory");
    for (size_t i = 0; i < task->n_inputs; i++)
        transfers[i] = (struct steep_file_transfer){task->inputs[i].url, space->inputs[i].fetched};
    struct steep_file_agent_options options = agent_options(environment, control);
    int rc = steep_file_agent_download(transfers, task->n_inputs, &options);
    free(transfers);
    return rc;
}

/* Staging of one input (§3.5) and its descriptor for the runner. */
static int stage_input(const struct steep_staged_file *input, struct task_file *file,
                       struct steep_runner_file *runner)
{
    const char *path = file->fetched;
    runner->scheme = STEEP_RUNNER_SCHEME_TF128;
    switch (input->crypto.scheme) {
    case STEEP_SCHEME_RAW:
        runner->scheme = STEEP_RUNNER_SCHEME_RAW;
        break;
    case STEEP_SCHEME_TEACLAVE_FILE_128:
        ENSURE(input->has_cmac, "input file %s has no cmac", input->name);
        memcpy(runner->key, input->crypto.key, 16);
        memcpy(runner->cmac, input->cmac, 16);
        break;
    case STEEP_SCHEME_AES_GCM_128:
    case STEEP_SCHEME_AES_GCM_256:
        ENSURE(input->has_cmac, "input file %s has no cmac", input->name);
        GUARD(steep_file_crypto_random_tf128(&file->staged_crypto));
        if (steep_file_convert(file->fetched, &input->crypto, input->cmac, file->staged,
                               &file->staged_crypto, file->staged_cmac) < 0)
            return steep_error_wrap("input file %s", input->name);
        memcpy(runner->key, file->staged_crypto.key, 16);
        memcpy(runner->cmac, file->staged_cmac, 16);
        path = file->staged;
        break;
    }
    file->fd = open(path, O_RDONLY | O_CLOEXEC);
    ENSURE(file->fd >= 0, "cannot open staged input %s: %s", input->name, strerror(errno));
    runner->fd = file->fd;
    runner->name = input->name;
    runner->file_name = file->basename;
    return 0;
}

static int stage_output(const struct steep_staged_file *output, struct task_file *file,
                        struct steep_runner_file *runner)
{
    GUARD(steep_file_crypto_random_tf128(&file->staged_crypto));
    file->fd = open(file->staged, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ENSURE(file->fd >= 0, "cannot create staged output %s: %s", output->name, strerror(errno));
    runner->scheme = STEEP_RUNNER_SCHEME_TF128;
    memcpy(runner->key, file->staged_crypto.key, 16);
    runner->fd = file->fd;
    runner->name = output->name;
    runner->file_name = file->basename;
    return 0;
}

/* The wamr executor's compiled module travels as the runner's resource. */
static int add_wasm_module(const struct steep_task_environment *environment,
                           const struct steep_staged_task *task, struct workspace *space,
                           struct steep_runner_request *request)
{
    GUARD(steep_wamr_prepare(&environment->wamr, task->payload, task->payload_len,
                             &space->module_fd));
    struct steep_runner_file *module = &space->module;
    memset(module, 0, sizeof *module);
    module->name = STEEP_WAMR_MODULE_RESOURCE;
    module->file_name = "";
    module->fd = space->module_fd;
    module->scheme = STEEP_RUNNER_SCHEME_RAW;
    request->resources = module;
    request->n_resources = 1;
    /* The runner needs the compiled module, not the wasm bytes. */
    request->payload = NULL;
    request->payload_len = 0;
    return 0;
}

static int build_request(const struct steep_task_environment *environment,
                         const struct steep_staged_task *task, struct workspace *space,
                         struct steep_runner_request *request, char *jail, size_t jail_size)
{
    GUARD(steep_staged_task_executor(task, (const char **)&request->executor));
    request->function_name = task->function_name;
    request->arguments = task->arguments;
    request->payload = task->payload;
    request->payload_len = task->payload_len;
    request->save_log = task->save_log;
    snprintf(jail, jail_size, "%s/jail", space->dir);
    request->jail_dir = jail;
    request->inputs = calloc(task->n_inputs + 1, sizeof *request->inputs);
    request->outputs = calloc(task->n_outputs + 1, sizeof *request->outputs);
    ENSURE(request->inputs && request->outputs, "out of memory");
    for (size_t i = 0; i < task->n_inputs; i++) {
        GUARD(stage_input(&task->inputs[i], &space->inputs[i], &request->inputs[i]));
        request->n_inputs++;
    }
    for (size_t i = 0; i < task->n_outputs; i++) {
        GUARD(stage_output(&task->outputs[i], &space->outputs[i], &request->outputs[i]));
        request->n_outputs++;
    }
    if (strcmp(request->executor, "wamr") == 0)
        GUARD(add_wasm_module(environment, task, space, request));
    return 0;
}

/* The platform files a built-in needs besides the task's (runner_protocol.h
 * resources): the face detector's model. The reason names the setting but
 * not the node's path (it goes back to the user); the node's log has it. */
static int add_resources(const struct steep_task_environment *environment,
                         const struct steep_staged_task *task, struct steep_runner_request *request,
                         struct steep_runner_file *model)
{
    if (strcmp(request->executor, "builtin") != 0 ||
        strcmp(task->function_name, "builtin-face-detection") != 0)
        return 0;
    ENSURE(environment->face_model && environment->face_model[0],
           "builtin-face-detection needs the SeetaFace model on the execution node: "
           "[execution] face_model is not set");
    int fd = open(environment->face_model, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        log_warn("[execution] face_model %s: %s", environment->face_model, strerror(err));
        return steep_error_set("builtin-face-detection: the SeetaFace model ([execution] "
                               "face_model) cannot be opened: %s",
                               strerror(err));
    }
    memset(model, 0, sizeof *model);
    model->fd = fd;
    model->name = "face_model";
    model->file_name = "seeta_fd_frontal_v1.0.bin";
    model->scheme = STEEP_RUNNER_SCHEME_RAW;
    request->resources = model;
    request->n_resources = 1;
    return 0;
}

static const struct steep_sandbox_output *find_output(const struct steep_sandbox_result *result,
                                                      const char *name)
{
    for (size_t i = 0; i < result->n_outputs; i++)
        if (strcmp(result->outputs[i].name, name) == 0)
            return &result->outputs[i];
    return NULL;
}

/* Re-encrypts the staged outputs for their owners, uploads them, records tags. */
static int deliver_outputs(const struct steep_task_environment *environment,
                           const struct steep_staged_task *task, struct workspace *space,
                           const struct steep_sandbox_result *result,
                           struct steep_task_outcome *outcome,
                           struct steep_sandbox_control *control)
{
    outcome->tags = calloc(task->n_outputs + 1, sizeof *outcome->tags);
    struct steep_file_transfer *transfers = calloc(task->n_outputs + 1, sizeof *transfers);
    int rc = outcome->tags && transfers ? 0 : steep_error_set("out of memory");
    for (size_t i = 0; rc == 0 && i < task->n_outputs; i++) {
        const struct steep_staged_file *output = &task->outputs[i];
        struct task_file *file = &space->outputs[i];
        const struct steep_sandbox_output *written = find_output(result, output->name);
        struct steep_task_tag *tag = &outcome->tags[i];
        if (!written) {
            rc = steep_error_set("output file %s was not written by the function", output->name);
            break;
        }
        if (output->crypto.scheme == STEEP_SCHEME_RAW) {
            rc = steep_error_set("output file %s: OutputFile: unsupported type", output->name);
            break;
        }
        rc = steep_file_convert(file->staged, &file->staged_crypto, written->cmac, file->fetched,
                                &output->crypto, tag->cmac);
        if (rc < 0) {
            steep_error_wrap("output file %s", output->name);
            break;
        }
        snprintf(tag->name, sizeof tag->name, "%s", output->name);
        outcome->n_tags++;
        transfers[i] = (struct steep_file_transfer){output->url, file->fetched};
    }
    struct steep_file_agent_options options = agent_options(environment, control);
    if (rc == 0)
        rc = steep_file_agent_upload(transfers, task->n_outputs, &options);
    free(transfers);
    return rc;
}

static void close_files(struct workspace *space)
{
    for (size_t i = 0; space->inputs && i < space->n_inputs; i++) {
        if (space->inputs[i].fd >= 0)
            close(space->inputs[i].fd);
        steep_file_crypto_wipe(&space->inputs[i].staged_crypto);
    }
    for (size_t i = 0; space->outputs && i < space->n_outputs; i++) {
        if (space->outputs[i].fd >= 0)
            close(space->outputs[i].fd);
        steep_file_crypto_wipe(&space->outputs[i].staged_crypto);
    }
    if (space->module_fd >= 0)
        close(space->module_fd);
    space->module_fd = -1;
    free(space->inputs);
    free(space->outputs);
    space->inputs = space->outputs = NULL;
}

static void take_log(struct steep_sandbox_result *result, struct steep_task_outcome *outcome)
{
    outcome->log = result->log;
    outcome->n_log = result->n_log;
    result->log = NULL;
    result->n_log = 0;
}

/* In a pre-started runner of the task's kind when the pool has one ready
 * (runner_pool.h), else in a runner started for it. A wasm runner must
 * have loaded the task's own module before it confined itself: the pool's
 * runners are made for the module of the last wasm task, so the module is
 * not sent again, and a task of another module starts its own runner and
 * points the pool at its module. */
static int run_sandboxed(const struct steep_task_environment *environment,
                         struct steep_sandbox_task *sandbox,
                         const struct steep_sandbox_spawner *spawner, struct workspace *space,
                         struct steep_sandbox_result *result)
{
    struct steep_runner_request *request = sandbox->request;
    bool wasm = strcmp(request->executor, "wamr") == 0;
    size_t files = request->n_inputs + request->n_outputs + request->n_resources;
    pid_t pid;
    int channel;
    if (environment->pool && files <= STEEP_RUNNER_POOL_MAX_FILES &&
        steep_runner_pool_take(environment->pool, request->executor, wasm ? space->module_fd : -1,
                               &sandbox->limits, &pid, &channel) == 1) {
        size_t n_resources = request->n_resources;
        if (wasm)
            request->n_resources = 0; /* loaded already */
        int rc = steep_sandbox_run_prestarted(sandbox, pid, channel, result);
        request->n_resources = n_resources;
        if (rc != 1)
            return rc;
        log_warn("pre-started runner %d was gone; starting one for the task", (int)pid);
    }
    if (wasm)
        steep_runner_pool_use_module(environment->pool, space->module_fd);
    GUARD(workspace_jail(space));
    return steep_sandbox_run_spawned(sandbox, spawner, result);
}

static int execute(const struct steep_task_environment *environment,
                   const struct steep_staged_task *task, struct steep_sandbox_control *control,
                   struct workspace *space, struct steep_task_outcome *outcome)
{
    struct steep_runner_request request;
    struct steep_sandbox_result result;
    struct steep_runner_file model = {.fd = -1};
    char jail[4200];
    memset(&request, 0, sizeof request);
    memset(&result, 0, sizeof result);

    int rc = build_request(environment, task, space, &request, jail, sizeof jail);
    if (rc == 0)
        rc = add_resources(environment, task, &request, &model);
    struct steep_sandbox_task sandbox = {environment->runner_path, &request, environment->limits,
                                         control};
    /* Python tasks are forks of the node's zygote (executors/python). */
    struct steep_sandbox_spawner python = {steep_python_zygote_spawn, environment->python};
    bool is_python = rc == 0 && strcmp(request.executor, "python") == 0;
    if (is_python && !environment->python)
        rc = steep_error_set("function not available: (%s, %s)", task->executor_type,
                             task->executor);
    if (rc == 0)
        rc = run_sandboxed(environment, &sandbox, is_python ? &python : NULL, space, &result);
    for (size_t i = 0; i < request.n_inputs; i++)
        OPENSSL_cleanse(request.inputs[i].key, 16);
    for (size_t i = 0; i < request.n_outputs; i++)
        OPENSSL_cleanse(request.outputs[i].key, 16);
    free(request.inputs);
    free(request.outputs);
    if (model.fd >= 0)
        close(model.fd);
    if (rc == 0) {
        take_log(&result, outcome);
        outcome->canceled = result.canceled;
        if (!result.ok)
            rc = steep_error_set("%s", result.reason);
        else
            rc = deliver_outputs(environment, task, space, &result, outcome, control);
        if (rc == 0) {
            outcome->summary = result.summary;
            result.summary = (struct steep_buf)STEEP_BUF_INIT;
        }
    }
    steep_sandbox_result_free(&result);
    return rc;
}

/* Before any download: the runner request must carry the arguments and the
 * payload, each bounded by the platform's message limit. */
static int check_sizes(const struct steep_task_environment *environment,
                       const struct steep_staged_task *task)
{
    uint64_t limit = environment->limits.message_bytes ? environment->limits.message_bytes
                                                       : STEEP_RUNNER_DEFAULT_MESSAGE;
    size_t arguments = task->arguments ? strlen(task->arguments) : 0;
    ENSURE(arguments <= limit,
           "task arguments of %zu bytes exceed the platform's message limit of %llu bytes",
           arguments, (unsigned long long)limit);
    ENSURE(task->payload_len <= limit,
           "function payload of %zu bytes exceeds the platform's message limit of %llu bytes",
           task->payload_len, (unsigned long long)limit);
    return 0;
}

void steep_task_run(const struct steep_task_environment *environment,
                    const struct steep_staged_task *task, struct steep_sandbox_control *control,
                    struct steep_task_outcome *outcome)
{
    struct workspace space;
    memset(&space, 0, sizeof space);
    space.module_fd = -1;
    memset(outcome, 0, sizeof *outcome);
    int rc = 0;
    if (!environment->allow_test_payloads && strncmp(task->function_name, "test-", 5) == 0)
        rc = steep_error_set("Function not found.");
    if (rc == 0)
        rc = check_sizes(environment, task);
    if (rc == 0)
        rc = create_workspace(environment, task, &space);
    if (rc == 0)
        rc = prepare_files(&space, task);
    if (rc == 0)
        rc = download_inputs(environment, task, &space, control);
    if (rc == 0)
        rc = execute(environment, task, control, &space, outcome);
    close_files(&space);
    if (space.made)
        steep_work_dir_remove_tree(space.dir);
    outcome->ok = rc == 0;
    if (rc < 0 && control && control_canceled(control))
        outcome->canceled = true;
    if (rc < 0) {
        size_t len = strnlen(steep_error_get(), sizeof outcome->reason - 1);
        memcpy(outcome->reason, steep_error_get(), len);
        outcome->reason[len] = 0;
        outcome->n_tags = 0;
    }
}

void steep_task_outcome_free(struct steep_task_outcome *outcome)
{
    steep_buf_free(&outcome->summary);
    free(outcome->tags);
    for (size_t i = 0; i < outcome->n_log; i++)
        free(outcome->log[i]);
    free(outcome->log);
    memset(outcome, 0, sizeof *outcome);
}
