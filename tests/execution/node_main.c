/*
 * steep-test-execution-node ADDRESS WORK_DIR SLOTS FUSION_DIR: an execution
 * node (services/execution/node.h) for the end-to-end tests, connecting to
 * a fake scheduler over TLS without attestation (the test's scheduler has a
 * throwaway certificate), working in its own claimed directory below
 * WORK_DIR. Heartbeats every 200 ms. Stops on SIGTERM.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "executors/file_agent.h"
#include "executors/work_dir.h"
#include "node.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: steep-test-execution-node ADDRESS WORK_DIR SLOTS FUSION_DIR\n");
        return 2;
    }
    steep_log_init("test-execution-node");
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    steep_file_agent_global_init();
    char runner[PATH_MAX];
    if (steep_sandbox_default_runner(runner, sizeof runner) < 0)
        return 1;
    char node_dir[3072];
    int lock_fd;
    if (steep_work_dir_claim(argv[2], node_dir, sizeof node_dir, &lock_fd) < 0) {
        log_error("%s", steep_error_get());
        return 1;
    }
    struct steep_execution_options options = {
        .scheduler_address = argv[1],
        .slots = atoi(argv[3]),
        .heartbeat_ms = 200,
        .pull_timeout_ms = 1000,
        .environment = {.runner_path = runner, .work_dir = node_dir, .fusion_base = argv[4]},
    };
    steep_sandbox_limits_default(&options.environment.limits);
    options.environment.limits.wall_seconds = 60;
    options.environment.allow_test_payloads = true;
    options.environment.allow_file_urls = true;
    options.environment.limits.memory_bytes = 256u << 20;
    struct steep_execution_node *node = steep_execution_node_start(&options);
    if (!node) {
        log_error("%s", steep_error_get());
        return 1;
    }
    int signal_number;
    sigwait(&stop, &signal_number);
    steep_execution_node_stop(node);
    steep_work_dir_release(node_dir, lock_fd);
    return 0;
}
