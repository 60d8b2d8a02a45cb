/*
 * A fake scheduler for the execution node tests, written with lib/rpc:
 * serves PullTask (long poll), UpdateTaskStatus, UpdateTaskResult and
 * Heartbeat like Teaclave's scheduler, over TLS with a throwaway
 * certificate, and records what the nodes reported.
 */
#ifndef STEEP_TESTS_EXECUTION_FAKE_SCHEDULER_H
#define STEEP_TESTS_EXECUTION_FAKE_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_MAX_TASKS     32
#define FAKE_MAX_EXECUTORS 16

struct fake_task {
    char task_id[64];
    char *staged_json;
    bool pulled, running, finished, cancel;
    char executor_id[40];
    bool ok;
    char *return_value;
    char reason[512];
    size_t n_tags;
    char tag_names[8][64];
    uint8_t tags[8][16];
    size_t n_log;
    char log[8][256];
};

struct fake_executor {
    char id[40];
    int heartbeats;
    bool executing_seen;
};

struct fake_scheduler {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct fake_task tasks[FAKE_MAX_TASKS];
    size_t n_tasks;
    size_t next_to_pull;
    struct fake_executor executors[FAKE_MAX_EXECUTORS];
    size_t n_executors;
    int results_received;
    int refuse_results; /* the next this many UpdateTaskResult calls fail UNAVAILABLE */
    int results_refused;
    struct steep_rpc_server *server;
    void *identity;
    char address[64];
};

int fake_scheduler_start(struct fake_scheduler *scheduler);
void fake_scheduler_stop(struct fake_scheduler *scheduler);
/* Queues a staged task (the JSON is copied); returns its index. */
size_t fake_scheduler_queue(struct fake_scheduler *scheduler, const char *task_id,
                            const char *staged_json);
/* Waits until pred(task) holds or timeout_ms passes; returns pred's final value. */
bool fake_scheduler_wait(struct fake_scheduler *scheduler, size_t index,
                         bool (*pred)(const struct fake_task *), int timeout_ms);
void fake_scheduler_cancel(struct fake_scheduler *scheduler, size_t index);

bool fake_task_running(const struct fake_task *task);
bool fake_task_finished(const struct fake_task *task);

#endif
