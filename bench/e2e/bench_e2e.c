/*
 * End-to-end benchmark: builtin-echo from CreateTask to result, through the
 * public API of a running platform (libsteep, attested TLS to the frontend).
 * Every client logs in before the clock starts (a login is not part of a
 * task's path). Each client thread then loops: CreateTask, InvokeTask, steep_wait_task (GetTask
 * held by the platform until the task ends: Steep's steep-wait-ms) until
 * Finished; the latency of each task is create → result seen. Prints p50,
 * p99 and tasks/s for each concurrency level given on the command line,
 * and for each level what the services spent on it:
 *   - CPU ms per task: utime + stime (+ reaped children: the task runners)
 *     of every pid in BENCH_PIDS, summed, from /proc/<pid>/stat;
 *   - synced writes per task: fdatasync + fsync calls of the pid in
 *     BENCH_SYNC_PID (the storage service), counted by `perf stat` on the
 *     syscall tracepoints around the timed phase only;
 *   - context switches per task: voluntary + involuntary switches of every
 *     thread of every BENCH_PIDS process (/proc/<pid>/task/<tid>/status;
 *     not the task runners, and not threads that ended during the phase):
 *     each RPC hop hands a call from thread to thread, and this shows how
 *     many of those hand-offs a task costs.
 *
 *   bench_e2e SECONDS CONCURRENCY...   (platform from STEEP_DIR and the
 *   STEEP_AUTH_ADDRESS / STEEP_FRONTEND_ADDRESS variables, as the examples)
 *   bench_e2e --fsync DIR COUNT        p50/p99 of write(4 KiB) + fdatasync in
 *                                      DIR: the physical floor of one synced write
 */
#include <steep/steep.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_SAMPLES 1000000

static struct steep_client_options options;
static char function_id[128];
static double seconds;
static double *samples;
/* Where each task's time went, as the client sees it: CreateTask,
 * InvokeTask, and the wait for the result (scheduling, the run, the
 * result's write, the held GetTask's answer and its audit entry). */
enum { PHASE_CREATE, PHASE_INVOKE, PHASE_WAIT, N_PHASES };
static const char *const phase_names[N_PHASES] = {"create", "invoke", "wait"};
static double *phase_samples[N_PHASES];
static size_t n_samples;
static int errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct steep_error *err)
{
    fprintf(stderr, "bench_e2e: %s: %s (%d)\n", what, err->message, err->code);
    exit(1);
}

static steep_client *login(void)
{
    struct steep_error err;
    steep_client *c = steep_client_new(&options, &err);
    if (!c)
        die("connect", &err);
    if (steep_user_login(c, "admin",
                         getenv("ADMIN_PASSWORD") ? getenv("ADMIN_PASSWORD") : "teaclave", NULL,
                         &err) < 0)
        die("login", &err);
    return c;
}

/* One task, create → Finished; returns its latency in seconds or -1,
 * and the time of each phase in phases[]. */
static double one_task(steep_client *c, double phases[N_PHASES])
{
    struct steep_error err;
    struct steep_task_spec spec = {.function_id = function_id,
                                   .arguments_json = "{\"message\": \"bench\"}",
                                   .executor = "builtin"};
    char *task_id = NULL;
    double start = now();
    if (steep_create_task(c, &spec, &task_id, &err) < 0) {
        free(task_id);
        return -1;
    }
    double created = now();
    if (steep_invoke_task(c, task_id, &err) < 0) {
        free(task_id);
        return -1;
    }
    double invoked = now();
    struct steep_task *t = NULL;
    int rc = steep_wait_task(c, task_id, 60000, &t, &err);
    double latency = now() - start;
    phases[PHASE_CREATE] = created - start;
    phases[PHASE_INVOKE] = invoked - created;
    phases[PHASE_WAIT] = start + latency - invoked;
    bool ok = rc == 0 && t->status == STEEP_TASK_FINISHED;
    steep_task_free(t);
    free(task_id);
    return ok ? latency : -1;
}

static double end_time;

/* Runs tasks on its (already logged-in) client until end_time. */
static void *worker(void *arg)
{
    steep_client *c = arg;
    double end = end_time;
    while (now() < end) {
        double phases[N_PHASES];
        double latency = one_task(c, phases);
        pthread_mutex_lock(&lock);
        if (latency < 0) {
            errors++;
        } else if (n_samples < MAX_SAMPLES) {
            for (int i = 0; i < N_PHASES; i++)
                phase_samples[i][n_samples] = phases[i];
            samples[n_samples++] = latency;
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU seconds (user + system, with reaped children) and context switches of each BENCH_PIDS
 * entry ("name:pid" or "pid", space-separated) into cpu[], names into
 * names[]; returns how many. */
#define MAX_PIDS 16
static long long process_switches(const char *pid);
static int services_cpu(double cpu[MAX_PIDS], long long switches[MAX_PIDS],
                        char names[MAX_PIDS][32])
{
    const char *pids = getenv("BENCH_PIDS");
    long ticks = sysconf(_SC_CLK_TCK);
    char list[1024];
    int n = 0;
    snprintf(list, sizeof list, "%s", pids ? pids : "");
    for (char *save = NULL, *item = strtok_r(list, " ", &save); item && n < MAX_PIDS;
         item = strtok_r(NULL, " ", &save)) {
        char *colon = strrchr(item, ':');
        const char *pid = colon ? colon + 1 : item;
        snprintf(names[n], 32, "%.*s", colon ? (int)(colon - item) : 0, item);
        char path[64], line[2048];
        snprintf(path, sizeof path, "/proc/%s/stat", pid);
        cpu[n] = 0;
        switches[n] = process_switches(pid);
        FILE *f = fopen(path, "r");
        if (!f) {
            n++;
            continue;
        }
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = '\0';
        const char *p = strrchr(line, ')'); /* the command name may hold spaces */
        unsigned long long v[4] = {0};
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
         * majflt cmajflt utime stime cutime cstime */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                        &v[0], &v[1], &v[2], &v[3]) == 4)
            cpu[n] = (double)(v[0] + v[1] + v[2] + v[3]) / (double)ticks;
        n++;
    }
    return n;
}

/* Context switches (voluntary + involuntary) of all threads of process pid. */
static long long process_switches(const char *pid)
{
    char path[128], line[256];
    long long switches = 0;
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    for (struct dirent *entry; (entry = readdir(dir));) {
        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%s/task/%.32s/status", pid, entry->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended */
        long long value;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %lld", &value) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %lld", &value) == 1)
                switches += value;
        fclose(f);
    }
    closedir(dir);
    return switches;
}

/* perf stat counting the storage service's synced writes, or 0. */
static pid_t sync_counter_start(const char *out)
{
    const char *pid = getenv("BENCH_SYNC_PID");
    if (!pid || !*pid)
        return 0;
    char *argv[] = {"perf",
                    "stat",
                    "-x,",
                    "-e",
                    "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
                    "-p",
                    (char *)pid,
                    "-o",
                    (char *)out,
                    NULL};
    pid_t child;
    if (posix_spawnp(&child, "perf", NULL, NULL, argv, environ) != 0)
        return 0;
    usleep(300 * 1000); /* perf attaches */
    return child;
}

/* Stops perf and returns the synced writes it counted (-1 unknown). */
static long sync_counter_stop(pid_t child, const char *out)
{
    if (child <= 0)
        return -1;
    kill(child, SIGINT);
    waitpid(child, NULL, 0);
    FILE *f = fopen(out, "r");
    long total = -1;
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        long n;
        if (strstr(line, "syscalls:sys_enter_") && sscanf(line, "%ld,", &n) == 1)
            total = (total < 0 ? 0 : total) + n;
    }
    if (f)
        fclose(f);
    unlink(out);
    return total;
}

/* write + fdatasync of 4 KiB in dir, count times: the floor of a synced write. */
static int fsync_floor(const char *dir, int count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-fsync.tmp", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    static char block[4096];
    double *t = calloc((size_t)count, sizeof *t);
    for (int i = 0; t && i < count; i++) {
        double start = now();
        if (pwrite(fd, block, sizeof block, (off_t)(i % 64) * 4096) != (ssize_t)sizeof block ||
            fdatasync(fd) != 0) {
            perror("fdatasync");
            return 1;
        }
        t[i] = now() - start;
    }
    close(fd);
    unlink(path);
    qsort(t, (size_t)count, sizeof *t, compare);
    printf("fdatasync %s: p50 %.3f ms, p99 %.3f ms (%d synced 4 KiB writes)\n", dir,
           t[count / 2] * 1e3, t[(size_t)((double)count * 0.99)] * 1e3, count);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--fsync") == 0)
        return fsync_floor(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 200);
    if (argc < 3) {
        fprintf(stderr, "usage: bench_e2e SECONDS CONCURRENCY... | --fsync DIR COUNT\n");
        return 2;
    }
    seconds = atof(argv[1]);
    static char root[4096], info[4096];
    const char *dir = getenv("STEEP_DIR");
    if (!dir)
        return 2;
    snprintf(root, sizeof(root), "%s/as_root_ca_cert.pem", dir);
    snprintf(info, sizeof(info), "%s/enclave_info.toml", dir);
    options = (struct steep_client_options){
        .authentication_address = getenv("STEEP_AUTH_ADDRESS"),
        .frontend_address = getenv("STEEP_FRONTEND_ADDRESS"),
        .as_root_ca_cert = root,
        .enclave_info = info,
        .allow_simulation = true,
    };
    samples = calloc(MAX_SAMPLES, sizeof(double));
    for (int i = 0; i < N_PHASES; i++)
        phase_samples[i] = calloc(MAX_SAMPLES, sizeof(double));
    if (!samples || !phase_samples[PHASE_CREATE] || !phase_samples[PHASE_INVOKE] ||
        !phase_samples[PHASE_WAIT])
        return 2;
    struct steep_error err;
    steep_client *admin = login();
    struct steep_function_argument arg = {"message", "", true};
    struct steep_function_spec spec = {.name = "builtin-echo",
                                       .executor_type = "builtin",
                                       .arguments = &arg,
                                       .n_arguments = 1,
                                       .usage_quota = -1};
    char *id;
    if (steep_register_function(admin, &spec, &id, &err) < 0)
        die("register function", &err);
    snprintf(function_id, sizeof(function_id), "%s", id);
    free(id);
    double warm_up[N_PHASES];
    one_task(admin, warm_up); /* warm up connections on every service */
    steep_client_free(admin);

    printf("%-12s %10s %10s %10s %8s %12s %12s\n", "concurrency", "tasks/s", "p50 ms", "p99 ms",
           "errors", "cpu ms/task", "syncs/task");
    for (int a = 2; a < argc; a++) {
        int threads = atoi(argv[a]);
        n_samples = 0;
        errors = 0;
        pthread_t tids[256];
        steep_client *clients[256];
        /* Log in first: a login (argon2) is not part of a task's path. */
        for (int i = 0; i < threads && i < 256; i++)
            clients[i] = login();
        char perf_out[64];
        snprintf(perf_out, sizeof perf_out, "/tmp/bench-e2e-perf.%d", (int)getpid());
        pid_t counter = sync_counter_start(perf_out);
        double cpu_before[MAX_PIDS], cpu_after[MAX_PIDS];
        char names[MAX_PIDS][32];
        long long switches_before[MAX_PIDS], switches_after[MAX_PIDS];
        int n_pids = services_cpu(cpu_before, switches_before, names);
        double start = now();
        end_time = start + seconds;
        for (int i = 0; i < threads && i < 256; i++)
            pthread_create(&tids[i], NULL, worker, clients[i]);
        for (int i = 0; i < threads && i < 256; i++)
            pthread_join(tids[i], NULL);
        double elapsed = now() - start;
        services_cpu(cpu_after, switches_after, names);
        double cpu = 0;
        for (int i = 0; i < n_pids; i++)
            cpu += cpu_after[i] - cpu_before[i];
        long syncs = sync_counter_stop(counter, perf_out);
        for (int i = 0; i < threads && i < 256; i++)
            steep_client_free(clients[i]);
        qsort(samples, n_samples, sizeof(double), compare);
        double p50 = n_samples ? samples[n_samples / 2] : 0;
        double p99 = n_samples ? samples[(size_t)((double)n_samples * 0.99)] : 0;
        double tasks = n_samples ? (double)n_samples : 1;
        char syncs_text[32] = "-";
        if (syncs >= 0)
            snprintf(syncs_text, sizeof syncs_text, "%.2f", (double)syncs / tasks);
        printf("%-12d %10.1f %10.2f %10.2f %8d %12.2f %12s\n", threads, (double)n_samples / elapsed,
               p50 * 1e3, p99 * 1e3, errors, cpu * 1e3 / tasks, syncs_text);
        printf("  p50 ms by phase:");
        for (int i = 0; i < N_PHASES; i++) {
            qsort(phase_samples[i], n_samples, sizeof(double), compare);
            printf(" %s %.2f", phase_names[i],
                   n_samples ? phase_samples[i][n_samples / 2] * 1e3 : 0);
        }
        printf("\n");
        printf("  cpu ms/task by process:");
        for (int i = 0; i < n_pids; i++)
            printf(" %s %.2f", names[i][0] ? names[i] : "?",
                   (cpu_after[i] - cpu_before[i]) * 1e3 / tasks);
        printf("\n");
        long long switches = 0;
        for (int i = 0; i < n_pids; i++)
            switches += switches_after[i] - switches_before[i];
        printf("  context switches/task: %.1f, by process:", (double)switches / tasks);
        for (int i = 0; i < n_pids; i++)
            printf(" %s %.1f", names[i][0] ? names[i] : "?",
                   (double)(switches_after[i] - switches_before[i]) / tasks);
        printf("\n");
    }
    printf("budget: p50 <= 5 ms at 1 client, >= 400 tasks/s at 32 clients on 2 cores, "
           "<= 4 cpu ms/task\n");
    free(samples);
    for (int i = 0; i < N_PHASES; i++)
        free(phase_samples[i]);
    return 0;
}
