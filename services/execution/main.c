/*
 * steep-execution --config FILE: an execution node. Connects to the
 * scheduler ([internal_endpoints] scheduler.advertised_address, then its
 * replica_addresses: the node follows whichever replica leads, lib/rpc's
 * failover moving on from one that answers UNAVAILABLE or is gone) over
 * mutually attested TLS and serves it with [execution] slots task slots
 * (default: CPU count). Other keys of [execution]: heartbeat_ms (1000),
 * pull_timeout_ms (2000), task_timeout_secs (300, wall clock),
 * cpu_time_secs (= task_timeout_secs), memory_mb (1024), file_size_mb
 * (4096), open_files (64), work_dir (<data_dir>/execution; each node
 * works in its own locked node-<random> directory below it, see
 * executors/work_dir.h), runner_path (steep-task-runner next to this
 * executable), face_model (the SeetaFace model seeta_fd_frontal_v1.0.bin
 * that builtin-face-detection reads; unset: those tasks fail naming the
 * key); [rpc] max_message_bytes bounds a task's arguments, payload
 * and result as it bounds clients' calls. Stops on SIGTERM/SIGINT: running tasks are killed and
 * reported failed ("execution node stopped").
 * WebAssembly (executors/wamr): wasm_memory_mb (linear memory cap, 256),
 * wasm_max_module_mb (16), wasm_compile_timeout_secs (300); compiled
 * modules are cached in <work_dir>/wasm-cache, shared by the nodes of a
 * host and kept across restarts.
 * Python functions (executors/python): python (true; false turns the
 * executor off), python_runner_path (steep-python-runner next to this
 * executable), python_result_bytes (1048576); the node starts the Python
 * zygote at once.
 * runner_pool (2): ready, already confined runners kept per executor kind
 * (builtin, python, the wasm module of the last wasm task) so that no
 * process or namespace is created on a task's path (executors/
 * runner_pool.h); 0: every task starts its own runner.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "executors/file_agent.h"
#include "executors/python/node/python_zygote.h"
#include "executors/runner_pool.h"
#include "executors/runner_protocol.h"
#include "executors/work_dir.h"
#include "node.h"
#include "service/notify.h"
#include "service/ops.h"
#include "service/service.h"
#include "steep_version.h"
#include "tee/attested.h"

#define SCHEDULER_SERVICE "teaclave_scheduler_service"

static int usage(void)
{
    fprintf(stderr, "usage: steep-execution --config FILE | --version\n");
    return 2;
}

static int read_limits(const struct steep_config *config, struct steep_sandbox_limits *limits)
{
    int64_t wall = steep_config_get_int(config, "execution.task_timeout_secs", 300);
    int64_t cpu = steep_config_get_int(config, "execution.cpu_time_secs", wall);
    int64_t memory = steep_config_get_int(config, "execution.memory_mb", 1024);
    int64_t file_size = steep_config_get_int(config, "execution.file_size_mb", 4096);
    int64_t files = steep_config_get_int(config, "execution.open_files", 64);
    ENSURE(wall > 0 && wall <= 7 * 86400, "[execution] task_timeout_secs must be 1..604800");
    ENSURE(cpu > 0 && cpu <= wall, "[execution] cpu_time_secs must be 1..task_timeout_secs");
    ENSURE(memory >= 16 && memory <= (1 << 20), "[execution] memory_mb must be 16..1048576");
    ENSURE(file_size >= 1 && file_size <= (1 << 24),
           "[execution] file_size_mb must be 1..16777216");
    ENSURE(files >= 8 && files <= 65536, "[execution] open_files must be 8..65536");
    limits->wall_seconds = (uint32_t)wall;
    limits->cpu_seconds = (uint32_t)cpu;
    limits->memory_bytes = (uint64_t)memory << 20;
    limits->file_size_bytes = (uint64_t)file_size << 20;
    limits->open_files = (uint32_t)files;
    size_t max_message;
    GUARD(steep_service_max_message(config, &max_message));
    limits->message_bytes = max_message;
    return 0;
}

struct setup;
static int read_wamr(const struct steep_config *config, struct setup *setup);

struct setup {
    char scheduler[1024]; /* the scheduler replicas' host:port, comma-separated */
    char runner[PATH_MAX];
    char python_runner[PATH_MAX];
    uint64_t python_result_bytes;
    unsigned runner_pool;
    char *work_dir;
    char node_dir[3072];
    char wasm_cache[3100];
    int lock_fd;
    struct steep_execution_options options;
};

/* Who runners run as; the sandbox is then tried once (steep_sandbox_check). */
static int read_sandbox(const struct steep_config *config)
{
    struct steep_sandbox_options sandbox;
    steep_sandbox_options_default(&sandbox);
    int64_t uid = steep_config_get_int(config, "execution.sandbox_uid", sandbox.uid);
    int64_t gid = steep_config_get_int(config, "execution.sandbox_gid", sandbox.gid);
    ENSURE(uid >= 1 && uid < UINT32_MAX,
           "[execution] sandbox_uid must be 1..4294967294 (never root)");
    ENSURE(gid >= 1 && gid < UINT32_MAX,
           "[execution] sandbox_gid must be 1..4294967294 (never root)");
    sandbox.uid = (uint32_t)uid;
    sandbox.gid = (uint32_t)gid;
    sandbox.insecure_without_user_namespace =
        steep_config_get_bool(config, "execution.insecure_without_user_namespace", false);
    return steep_sandbox_configure(&sandbox);
}

/* The Python executor: on unless [execution] python = false; its runner
 * must then exist. The result limit is one runner frame at most. */
static int read_python(const struct steep_config *config, struct setup *setup)
{
    int64_t result = steep_config_get_int(config, "execution.python_result_bytes", 1 << 20);
    ENSURE(result > 0 && result <= STEEP_RUNNER_MAX_MESSAGE,
           "[execution] python_result_bytes must be 1..%u", STEEP_RUNNER_MAX_MESSAGE);
    setup->python_result_bytes = (uint64_t)result;
    if (!steep_config_get_bool(config, "execution.python", true))
        return 0;
    const char *runner = steep_config_get_path(config, "execution.python_runner_path", NULL);
    if (runner)
        snprintf(setup->python_runner, sizeof setup->python_runner, "%s", runner);
    else
        GUARD(steep_python_default_runner(setup->python_runner, sizeof setup->python_runner));
    if (access(setup->python_runner, X_OK) == 0)
        return 0;
    /* A build without libpython has no runner: Python functions then fail
     * with "function not available", as in Teaclave without MesaPy. */
    ENSURE(!runner, "python runner %s is not executable", setup->python_runner);
    log_warn("no Python runner at %s: python functions are not available", setup->python_runner);
    setup->python_runner[0] = 0;
    return 0;
}

static int read_options(const struct steep_config *config, struct setup *setup)
{
    struct steep_execution_options *options = &setup->options;
    GUARD(steep_config_peer_address(config, STEEP_ENDPOINT_SCHEDULER, setup->scheduler,
                                    sizeof setup->scheduler));
    options->scheduler_address = setup->scheduler;
    int64_t slots = steep_config_get_int(config, "execution.slots", 0);
    int64_t heartbeat = steep_config_get_int(config, "execution.heartbeat_ms", 1000);
    int64_t pull = steep_config_get_int(config, "execution.pull_timeout_ms", 2000);
    ENSURE(slots >= 0 && slots <= 1024, "[execution] slots must be 0..1024 (0: CPU count)");
    ENSURE(heartbeat >= 10 && heartbeat <= 60000, "[execution] heartbeat_ms must be 10..60000");
    ENSURE(pull >= 100 && pull <= 600000, "[execution] pull_timeout_ms must be 100..600000");
    options->slots = (int)slots;
    options->heartbeat_ms = (int)heartbeat;
    options->pull_timeout_ms = (int)pull;
    GUARD(read_limits(config, &options->environment.limits));
    const char *runner = steep_config_get_path(config, "execution.runner_path", NULL);
    if (runner)
        snprintf(setup->runner, sizeof setup->runner, "%s", runner);
    else
        GUARD(steep_sandbox_default_runner(setup->runner, sizeof setup->runner));
    ENSURE(access(setup->runner, X_OK) == 0, "task runner %s is not executable", setup->runner);
    options->environment.runner_path = setup->runner;
    GUARD(read_python(config, setup));
    int64_t pool = steep_config_get_int(config, "execution.runner_pool", 2);
    ENSURE(pool >= 0 && pool <= 64, "[execution] runner_pool must be 0..64");
    setup->runner_pool = (unsigned)pool;
    const char *work_dir = steep_config_get_path(config, "execution.work_dir", NULL);
    setup->work_dir = work_dir ? strdup(work_dir) : steep_config_service_dir(config, "execution");
    ENSURE(setup->work_dir, "cannot create the execution work directory: %s", steep_error_get());
    GUARD(steep_work_dir_claim(setup->work_dir, setup->node_dir, sizeof setup->node_dir,
                               &setup->lock_fd));
    options->environment.work_dir = setup->node_dir;
    options->environment.fusion_base = config->fusion_base_dir;
    options->environment.face_model = steep_config_get_path(config, "execution.face_model", NULL);
    if (options->environment.face_model && access(options->environment.face_model, R_OK) != 0)
        log_warn("[execution] face_model %s is not readable: builtin-face-detection tasks will "
                 "fail",
                 options->environment.face_model);
    GUARD(read_wamr(config, setup));
    options->environment.allow_test_payloads =
        steep_config_get_bool(config, "execution.insecure_test_payloads", false);
    options->environment.allow_file_urls =
        steep_config_get_bool(config, "execution.insecure_file_urls", false);
    if (options->environment.allow_file_urls)
        log_warn("[execution] insecure_file_urls: tasks may read and write this host's files "
                 "(tests only)");
    if (options->environment.allow_test_payloads)
        log_warn("[execution] insecure_test_payloads: hostile test functions can run (tests only)");
    GUARD(read_sandbox(config));
    GUARD(steep_config_check(config));
    /* Fail closed: a host where the sandbox cannot be built runs no task. */
    return steep_sandbox_check(setup->runner, setup->node_dir);
}

static int serve(struct steep_config *config, struct setup *setup, const sigset_t *stop);

static int read_wamr(const struct steep_config *config, struct setup *setup)
{
    struct steep_wamr_config *wamr = &setup->options.environment.wamr;
    steep_wamr_config_default(wamr);
    int64_t memory = steep_config_get_int(config, "execution.wasm_memory_mb", wamr->memory_mb);
    int64_t module =
        steep_config_get_int(config, "execution.wasm_max_module_mb", wamr->max_module_mb);
    int64_t compile = steep_config_get_int(config, "execution.wasm_compile_timeout_secs",
                                           wamr->compile_timeout_secs);
    ENSURE(memory >= 1 && memory <= 4095, "[execution] wasm_memory_mb must be 1..4095");
    ENSURE(module >= 1 && module <= 1024, "[execution] wasm_max_module_mb must be 1..1024");
    ENSURE(compile >= 1 && compile <= 3600,
           "[execution] wasm_compile_timeout_secs must be 1..3600");
    wamr->memory_mb = (uint32_t)memory;
    wamr->max_module_mb = (uint32_t)module;
    wamr->compile_timeout_secs = (uint32_t)compile;
    snprintf(setup->wasm_cache, sizeof setup->wasm_cache, "%s/wasm-cache", setup->work_dir);
    wamr->cache_dir = setup->wasm_cache;
    return 0;
}

static int run(struct steep_config *config, const sigset_t *stop)
{
    struct setup setup;
    memset(&setup, 0, sizeof setup);
    setup.lock_fd = -1;
    int rc = read_options(config, &setup);
    if (rc == 0)
        rc = serve(config, &setup, stop);
    if (setup.lock_fd >= 0)
        steep_work_dir_release(setup.node_dir, setup.lock_fd);
    free(setup.work_dir);
    return rc;
}

static int serve(struct steep_config *config, struct setup *setup, const sigset_t *stop)
{
    struct steep_attested *attested =
        steep_attested_open_from_config(config, "teaclave_execution_service");
    if (!attested)
        return steep_error_wrap("attestation");
    int rc = steep_attested_client_tls(attested, SCHEDULER_SERVICE, &setup->options.tls);
    if (rc == 0 && setup->python_runner[0]) {
        setup->options.environment.python =
            steep_python_zygote_start(setup->python_runner, setup->python_result_bytes);
        rc = setup->options.environment.python ? 0 : -1;
    }
    if (rc == 0 && setup->runner_pool > 0) {
        struct steep_runner_pool_config pool = {
            .size = setup->runner_pool,
            .runner_path = setup->runner,
            .python = setup->options.environment.python,
            .work_dir = setup->node_dir,
            .limits = setup->options.environment.limits,
        };
        setup->options.environment.pool = steep_runner_pool_start(&pool);
        rc = setup->options.environment.pool ? 0 : -1;
    }
    struct steep_execution_node *node =
        rc == 0 ? steep_execution_node_start(&setup->options) : NULL;
    /* health of its scheduler link and the admin port (after the zygote's fork) */
    struct steep_service_ops *ops =
        node ? steep_service_ops_start(config, attested, "execution") : NULL;
    if (node && !ops) {
        steep_execution_node_stop(node);
        node = NULL;
    }
    if (node) {
        log_info("serving scheduler %s, work directory %s", setup->scheduler, setup->node_dir);
        steep_service_ops_ready(ops);
        steep_service_notify_ready("execution node");
        int signal_number = 0;
        sigwait(stop, &signal_number);
        log_info("stopping on signal %d", signal_number);
        steep_service_notify_stopping();
        steep_service_ops_stopping(ops);
        steep_execution_node_stop(node);
    } else {
        rc = -1;
    }
    steep_service_ops_stop(ops);
    steep_runner_pool_stop(setup->options.environment.pool);
    setup->options.environment.pool = NULL;
    steep_python_zygote_stop(setup->options.environment.python);
    setup->options.environment.python = NULL;
    steep_attested_free(attested);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("steep-execution %s\n", STEEP_VERSION);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "--config") != 0)
        return usage();
    steep_log_init("execution");
    /* Inputs' keys and the sealing key: no core dumps, files its own. */
    if (steep_service_harden() < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (steep_file_agent_global_init() < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    struct steep_config *config = NULL;
    if (steep_config_load(argv[2], &config) < 0 || steep_service_log_format(config) < 0) {
        log_error("%s", steep_error_get());
        steep_config_free(config);
        return 1;
    }
    int rc = run(config, &stop);
    if (rc < 0)
        log_error("%s", steep_error_get());
    steep_config_free(config);
    return rc < 0 ? 1 : 0;
}
