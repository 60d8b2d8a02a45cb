/*
 * End-to-end benchmark: builtin-echo from CreateTask to result, through the
 * public API of a running platform (libsteep, attested TLS to the frontend).
 * Every client logs in before the clock starts (a login is not part of a
 * task's path). Each client thread then loops: CreateTask, InvokeTask, steep_wait_task (GetTask
 * held by the platform until the task ends: Steep's steep-wait-ms) until
 * Finished; the latency of each task is create → result seen. Prints p50,
 * p99 and tasks/s for each concurrency level given on the command line.
 *
 *   bench_e2e SECONDS CONCURRENCY...   (platform from STEEP_DIR and the
 *   STEEP_AUTH_ADDRESS / STEEP_FRONTEND_ADDRESS variables, as the examples)
 */
#include <steep/steep.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 1000000

static struct steep_client_options options;
static char function_id[128];
static double seconds;
static double *samples;
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

/* One task, create → Finished; returns its latency in seconds or -1. */
static double one_task(steep_client *c)
{
    struct steep_error err;
    struct steep_task_spec spec = {.function_id = function_id,
                                   .arguments_json = "{\"message\": \"bench\"}",
                                   .executor = "builtin"};
    char *task_id = NULL;
    double start = now();
    if (steep_create_task(c, &spec, &task_id, &err) < 0 ||
        steep_invoke_task(c, task_id, &err) < 0) {
        free(task_id);
        return -1;
    }
    struct steep_task *t = NULL;
    int rc = steep_wait_task(c, task_id, 60000, &t, &err);
    double latency = now() - start;
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
        double latency = one_task(c);
        pthread_mutex_lock(&lock);
        if (latency < 0)
            errors++;
        else if (n_samples < MAX_SAMPLES)
            samples[n_samples++] = latency;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_e2e SECONDS CONCURRENCY...\n");
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
    one_task(admin); /* warm up connections on every service */
    steep_client_free(admin);

    printf("%-12s %10s %10s %10s %8s\n", "concurrency", "tasks/s", "p50 ms", "p99 ms", "errors");
    for (int a = 2; a < argc; a++) {
        int threads = atoi(argv[a]);
        n_samples = 0;
        errors = 0;
        pthread_t tids[256];
        steep_client *clients[256];
        /* Log in first: a login (argon2) is not part of a task's path. */
        for (int i = 0; i < threads && i < 256; i++)
            clients[i] = login();
        double start = now();
        end_time = start + seconds;
        for (int i = 0; i < threads && i < 256; i++)
            pthread_create(&tids[i], NULL, worker, clients[i]);
        for (int i = 0; i < threads && i < 256; i++)
            pthread_join(tids[i], NULL);
        double elapsed = now() - start;
        for (int i = 0; i < threads && i < 256; i++)
            steep_client_free(clients[i]);
        qsort(samples, n_samples, sizeof(double), compare);
        double p50 = n_samples ? samples[n_samples / 2] : 0;
        double p99 = n_samples ? samples[(size_t)((double)n_samples * 0.99)] : 0;
        printf("%-12d %10.1f %10.2f %10.2f %8d\n", threads, (double)n_samples / elapsed, p50 * 1e3,
               p99 * 1e3, errors);
    }
    printf("budget: p50 <= 10 ms, >= 300 tasks/s\n");
    free(samples);
    return 0;
}
