/*
 * Execution nodes end to end against a fake scheduler (fake_scheduler.c):
 * builtin-echo with save_log and builtin-ordered-set-intersect with tf128
 * fixture inputs served over HTTP and outputs uploaded by PUT; per-slot
 * executor ids and heartbeats; a crashing task failing alone; cancel via a
 * heartbeat Stop; kill -9 of a node mid-task while a second node keeps
 * serving; SIGTERM stopping a node cleanly and reporting its running task.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/file_crypto.h"
#include "fake_scheduler.h"
#include "helpers.h"
#include "staged_json.h"

static const uint8_t zero_key[16] = {0};
static const uint8_t psi0_cmac[16] = {0x92, 0xf6, 0x86, 0xd4, 0xac, 0x2b, 0xa6, 0xb4,
                                      0xff, 0xd9, 0x3b, 0xc7, 0xac, 0x5d, 0xbf, 0x58};
static const uint8_t psi1_cmac[16] = {0x8b, 0x31, 0x04, 0x97, 0x2a, 0x6f, 0x0d, 0xe9,
                                      0x49, 0x31, 0x5e, 0x0b, 0x45, 0xd5, 0xdd, 0x66};
static const uint8_t out_key[16] = {5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
static const uint8_t out_iv[12] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};

struct node {
    pid_t pid;
    char log[700];
};

struct fixture {
    char dir[400];
    char served[512], work[512], fusion[512];
    struct test_http_server http;
    struct fake_scheduler scheduler;
    struct node first;
    int task_counter;
    int live_lock;
};

static void start_node(struct fixture *f, struct node *node, const char *name, int slots)
{
    char binary[1024], slots_text[16];
    const char *build = getenv("STEEP_BUILD_DIR");
    snprintf(binary, sizeof binary, "%s/bin/steep-test-execution-node", build ? build : "build");
    snprintf(node->log, sizeof node->log, "%s/%s.log", f->dir, name);
    snprintf(slots_text, sizeof slots_text, "%d", slots);
    node->pid = fork();
    assert_true(node->pid >= 0);
    if (node->pid == 0) {
        int fd = open(node->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl(binary, binary, f->scheduler.address, f->work, slots_text, f->fusion, (char *)NULL);
        _exit(127);
    }
}

/* SIGTERM; returns the exit status (or -1 when it did not exit in time). */
static int stop_node(struct node *node, int timeout_ms)
{
    int status;
    kill(node->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(node->pid, &status, WNOHANG) == node->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(20000);
    }
    kill(node->pid, SIGKILL);
    waitpid(node->pid, &status, 0);
    return -1;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char path[1024];
    test_temp_dir(f->dir, sizeof f->dir, "node");
    snprintf(f->served, sizeof f->served, "%s/served", f->dir);
    snprintf(f->work, sizeof f->work, "%s/work", f->dir);
    snprintf(f->fusion, sizeof f->fusion, "%s/fusion", f->dir);
    mkdir(f->served, 0700);
    snprintf(path, sizeof path, "%s/psi0.txt.enc", f->served);
    test_copy_fixture("functions/ordered_set_intersect/psi0.txt.enc", path);
    snprintf(path, sizeof path, "%s/psi1.txt.enc", f->served);
    test_copy_fixture("functions/ordered_set_intersect/psi1.txt.enc", path);
    test_http_start(&f->http, f->served);
    if (fake_scheduler_start(&f->scheduler) < 0)
        return -1;
    /* Work directories left by nodes: one dead (its lock is free), one
     * "live" (this process holds its lock). */
    mkdir(f->work, 0700);
    const char *olds[2] = {"node-dead", "node-live"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", f->work, olds[i]);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/%s/.lock", f->work, olds[i]);
        test_write_file(path, "", 0);
        snprintf(path, sizeof path, "%s/%s/leftover", f->work, olds[i]);
        test_write_file(path, "plaintext", 9);
    }
    snprintf(path, sizeof path, "%s/node-live/.lock", f->work);
    f->live_lock = open(path, O_RDWR);
    flock(f->live_lock, LOCK_EX);
    start_node(f, &f->first, "first", 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->first.pid > 0)
        stop_node(&f->first, 10000);
    fake_scheduler_stop(&f->scheduler);
    close(f->live_lock);
    test_http_stop(&f->http);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static void next_task_id(struct fixture *f, char *out)
{
    snprintf(out, 37, "00000000-0000-4000-8000-%012d", ++f->task_counter);
}

static size_t queue(struct fixture *f, json_t *task)
{
    char *text = test_dump(task);
    size_t index = fake_scheduler_queue(&f->scheduler,
                                        json_string_value(json_object_get(task, "task_id")), text);
    free(text);
    json_decref(task);
    return index;
}

static size_t queue_simple(struct fixture *f, const char *function, const char *key, json_t *value)
{
    char id[37];
    json_t *args = json_object();
    next_task_id(f, id);
    if (key)
        json_object_set_new(args, key, value);
    return queue(f, test_staged_task(id, "Builtin", "Builtin", function, args));
}

static struct fake_task *task_at(struct fixture *f, size_t index)
{
    return &f->scheduler.tasks[index];
}

static void test_echo_and_intersect(void **state)
{
    struct fixture *f = *state;
    char id[37], url[4][256];
    json_t *args = json_object();
    json_object_set_new(args, "message", json_string("Hello, Teaclave Tests!"));
    json_object_set_new(args, "save_log", json_string("true"));
    next_task_id(f, id);
    size_t echo = queue(f, test_staged_task(id, "Builtin", "Builtin", "builtin-echo", args));

    args = json_object();
    json_object_set_new(args, "order", json_string("ascending"));
    next_task_id(f, id);
    json_t *task =
        test_staged_task(id, "Builtin", "Builtin", "builtin-ordered-set-intersect", args);
    const char *names[4] = {"psi0.txt.enc", "psi1.txt.enc", "res1.gcm", "res2.enc"};
    for (int i = 0; i < 4; i++)
        snprintf(url[i], sizeof url[i], "http://127.0.0.1:%d/%s", f->http.port, names[i]);
    test_add_input(task, "input_data1", url[0], psi0_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_input(task, "input_data2", url[1], psi1_cmac,
                   test_crypto("TeaclaveFile128", zero_key, 16, NULL));
    test_add_output(task, "output_result1", url[2], test_crypto("AesGcm128", out_key, 16, out_iv));
    test_add_output(task, "output_result2", url[3],
                    test_crypto("TeaclaveFile128", out_key, 16, NULL));
    size_t intersect = queue(f, task);

    assert_true(fake_scheduler_wait(&f->scheduler, echo, fake_task_finished, 30000));
    assert_true(fake_scheduler_wait(&f->scheduler, intersect, fake_task_finished, 30000));
    struct fake_task *e = task_at(f, echo), *t = task_at(f, intersect);
    assert_true(e->ok);
    assert_string_equal(e->return_value, "Hello, Teaclave Tests!");
    assert_true(e->n_log >= 1);
    assert_string_equal(e->log[0], "[INFO teaclave_function::echo] Hello, Teaclave Tests!");
    if (!t->ok)
        fprintf(stderr, "intersect failed: %s\n", t->reason);
    assert_true(t->ok);
    assert_string_equal(t->return_value, "3 common items");
    assert_int_equal(t->n_tags, 2);
    /* Each tag is the cmac of the file the node uploaded. */
    for (size_t i = 0; i < t->n_tags; i++) {
        struct steep_file_crypto crypto;
        char path[1024], plain[1100];
        uint8_t cmac[16];
        bool first = strcmp(t->tag_names[i], "output_result1") == 0;
        if (first)
            steep_file_crypto_init(&crypto, "aes-gcm-128", out_key, 16, out_iv, 12);
        else
            steep_file_crypto_init(&crypto, "teaclave-file-128", out_key, 16, NULL, 0);
        snprintf(path, sizeof path, "%s/%s", f->served, first ? "res1.gcm" : "res2.enc");
        snprintf(plain, sizeof plain, "%s.plain", path);
        assert_int_equal(steep_file_decrypt(path, plain, &crypto, NULL, NULL, cmac), 0);
        assert_memory_equal(cmac, t->tags[i], 16);
        char *text = test_read_file(plain, NULL);
        assert_string_equal(text, first ? "0101010" : "01101");
        free(text);
    }
}

static void test_dead_nodes_work_dirs_removed(void **state)
{
    struct fixture *f = *state;
    char path[1024];
    /* The node is up (the previous test ran tasks on it). */
    snprintf(path, sizeof path, "%s/node-dead", f->work);
    assert_false(test_file_exists(path));
    snprintf(path, sizeof path, "%s/node-live/leftover", f->work);
    assert_true(test_file_exists(path));
}

static void test_slots_heartbeat(void **state)
{
    struct fixture *f = *state;
    /* Two slots: two executor ids, each heartbeating. */
    for (int waited = 0; waited < 5000; waited += 100) {
        pthread_mutex_lock(&f->scheduler.lock);
        size_t beating = 0;
        for (size_t i = 0; i < f->scheduler.n_executors; i++)
            beating += f->scheduler.executors[i].heartbeats >= 2;
        pthread_mutex_unlock(&f->scheduler.lock);
        if (beating >= 2)
            break;
        usleep(100000);
    }
    pthread_mutex_lock(&f->scheduler.lock);
    assert_int_equal(f->scheduler.n_executors, 2);
    assert_string_not_equal(f->scheduler.executors[0].id, f->scheduler.executors[1].id);
    assert_int_equal(strlen(f->scheduler.executors[0].id), 36);
    assert_int_equal(f->scheduler.executors[0].id[14], '4');
    pthread_mutex_unlock(&f->scheduler.lock);
}

static void test_crash_fails_only_its_task(void **state)
{
    struct fixture *f = *state;
    size_t crash = queue_simple(f, "test-crash", NULL, NULL);
    size_t echo = queue_simple(f, "builtin-echo", "message", json_string("fine"));
    assert_true(fake_scheduler_wait(&f->scheduler, crash, fake_task_finished, 30000));
    assert_true(fake_scheduler_wait(&f->scheduler, echo, fake_task_finished, 30000));
    assert_false(task_at(f, crash)->ok);
    assert_string_equal(task_at(f, crash)->reason, "function crashed: signal 11 (SIGSEGV)");
    assert_true(task_at(f, echo)->ok);
    assert_string_equal(task_at(f, echo)->return_value, "fine");
}

static void test_result_delivery_is_retried(void **state)
{
    struct fixture *f = *state;
    pthread_mutex_lock(&f->scheduler.lock);
    f->scheduler.refuse_results = 3;
    pthread_mutex_unlock(&f->scheduler.lock);
    size_t echo = queue_simple(f, "builtin-echo", "message", json_string("delivered"));
    assert_true(fake_scheduler_wait(&f->scheduler, echo, fake_task_finished, 30000));
    assert_true(task_at(f, echo)->ok);
    assert_string_equal(task_at(f, echo)->return_value, "delivered");
    pthread_mutex_lock(&f->scheduler.lock);
    assert_int_equal(f->scheduler.results_refused, 3);
    pthread_mutex_unlock(&f->scheduler.lock);
    /* The slot is free again afterwards. */
    size_t next = queue_simple(f, "builtin-echo", "message", json_string("next"));
    assert_true(fake_scheduler_wait(&f->scheduler, next, fake_task_finished, 30000));
    assert_true(task_at(f, next)->ok);
}

static void test_cancel_by_heartbeat_stop(void **state)
{
    struct fixture *f = *state;
    size_t sleeper = queue_simple(f, "test-sleep", "ms", json_integer(30000));
    assert_true(fake_scheduler_wait(&f->scheduler, sleeper, fake_task_running, 10000));
    usleep(300000);
    fake_scheduler_cancel(&f->scheduler, sleeper);
    assert_true(fake_scheduler_wait(&f->scheduler, sleeper, fake_task_finished, 10000));
    assert_false(task_at(f, sleeper)->ok);
    assert_string_equal(task_at(f, sleeper)->reason, "task canceled");
    /* The node keeps serving. */
    size_t echo = queue_simple(f, "builtin-echo", "message", json_string("after cancel"));
    assert_true(fake_scheduler_wait(&f->scheduler, echo, fake_task_finished, 30000));
    assert_true(task_at(f, echo)->ok);
}

/* The pid of the task runner whose parent is node_pid, or 0. */
static pid_t runner_of(pid_t node_pid)
{
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    pid_t found = 0;
    while (proc && (entry = readdir(proc)) && !found) {
        char path[300], text[512];
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        size_t n = fread(text, 1, sizeof text - 1, file);
        fclose(file);
        text[n] = 0;
        char *close_paren = strrchr(text, ')');
        int ppid;
        char state;
        if (strstr(text, "(steep-task-run") && close_paren &&
            sscanf(close_paren + 2, "%c %d", &state, &ppid) == 2 && ppid == node_pid)
            found = atoi(entry->d_name);
    }
    if (proc)
        closedir(proc);
    return found;
}

static bool process_gone(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return true;
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = 0;
    char *close_paren = strrchr(text, ')');
    return close_paren && close_paren[2] == 'Z';
}

static bool log_mentions(const struct node *node, const char *text)
{
    char *log = test_read_file(node->log, NULL);
    bool found = log && strstr(log, text);
    free(log);
    return found;
}

/* On a failed wait: what the node said, for the test's output. */
static void show_log(const struct node *node, const char *name)
{
    char *log = test_read_file(node->log, NULL);
    fprintf(stderr, "--- %s (%s)\n%s\n", name, node->log, log ? log : "(no log)");
    free(log);
}

static void test_kill_node_while_another_serves(void **state)
{
    struct fixture *f = *state;
    struct node second, third;
    /* Only the new nodes serve from here on. */
    assert_int_equal(stop_node(&f->first, 10000), 0);
    f->first.pid = 0;
    start_node(f, &second, "second", 1);
    start_node(f, &third, "third", 1);
    size_t sleeper = queue_simple(f, "test-sleep", "ms", json_integer(30000));
    assert_true(fake_scheduler_wait(&f->scheduler, sleeper, fake_task_running, 10000));
    const char *executor = task_at(f, sleeper)->executor_id;
    struct node *victim = NULL, *survivor = NULL;
    for (int waited = 0; waited < 3000 && !victim; waited += 50) {
        if (log_mentions(&second, executor))
            victim = &second, survivor = &third;
        else if (log_mentions(&third, executor))
            victim = &third, survivor = &second;
        else
            usleep(50000);
    }
    assert_non_null(victim);
    pid_t runner = 0;
    for (int waited = 0; waited < 3000 && !runner; waited += 50) {
        runner = runner_of(victim->pid);
        if (!runner)
            usleep(50000);
    }
    assert_true(runner > 0);
    kill(victim->pid, SIGKILL);
    int status;
    waitpid(victim->pid, &status, 0);
    /* The task process dies with its node (PR_SET_PDEATHSIG). */
    bool gone = false;
    for (int waited = 0; waited < 3000 && !gone; waited += 50) {
        gone = process_gone(runner);
        if (!gone)
            usleep(50000);
    }
    assert_true(gone);
    /* The other node keeps serving. */
    size_t echo = queue_simple(f, "builtin-echo", "message", json_string("survivor"));
    if (!fake_scheduler_wait(&f->scheduler, echo, fake_task_finished, 30000)) {
        fprintf(stderr, "echo: pulled=%d by '%s' running=%d finished=%d\n",
                task_at(f, echo)->pulled, task_at(f, echo)->executor_id, task_at(f, echo)->running,
                task_at(f, echo)->finished);
        show_log(survivor, "survivor");
        show_log(victim, "victim");
        fail_msg("the survivor did not finish the echo in 30 s");
    }
    assert_true(task_at(f, echo)->ok);
    assert_false(task_at(f, sleeper)->finished);
    /* SIGTERM stops the survivor cleanly and reports its running task. */
    size_t last = queue_simple(f, "test-sleep", "ms", json_integer(30000));
    assert_true(fake_scheduler_wait(&f->scheduler, last, fake_task_running, 10000));
    assert_int_equal(stop_node(survivor, 15000), 0);
    assert_true(fake_scheduler_wait(&f->scheduler, last, fake_task_finished, 1000));
    assert_string_equal(task_at(f, last)->reason, "execution node stopped");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_intersect),
        cmocka_unit_test(test_dead_nodes_work_dirs_removed),
        cmocka_unit_test(test_slots_heartbeat),
        cmocka_unit_test(test_crash_fails_only_its_task),
        cmocka_unit_test(test_result_delivery_is_retried),
        cmocka_unit_test(test_cancel_by_heartbeat_stop),
        cmocka_unit_test(test_kill_node_while_another_serves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
