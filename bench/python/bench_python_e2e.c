/*
 * Python echo vs builtin-echo, CreateTask → result, through the public API
 * of a running platform (libsteep), in the same run: tasks alternate
 * between the two functions so both see the same machine load. Prints
 * p50/p99 of each and the ratio of the p50s.
 *
 *   bench_python_e2e TASKS_EACH PAYLOAD_FILE   (platform from STEEP_DIR and
 *   the STEEP_AUTH_ADDRESS / STEEP_FRONTEND_ADDRESS variables)
 */
#include <steep/steep.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct steep_error *err)
{
    fprintf(stderr, "bench_python_e2e: %s: %s (%d)\n", what, err->message, err->code);
    exit(1);
}

static char *register_echo(steep_client *c, const char *type, const char *name,
                           const uint8_t *payload, size_t payload_len)
{
    struct steep_error err;
    struct steep_function_argument arg = {"message", "", true};
    struct steep_function_spec spec = {.name = name,
                                       .executor_type = type,
                                       .payload = payload,
                                       .payload_len = payload_len,
                                       .arguments = &arg,
                                       .n_arguments = 1,
                                       .usage_quota = -1};
    char *id;
    if (steep_register_function(c, &spec, &id, &err) < 0)
        die("register function", &err);
    return id;
}

/* One task, create → Finished; its latency in seconds. */
static double one_task(steep_client *c, const char *function_id, const char *executor)
{
    struct steep_error err;
    struct steep_task_spec spec = {.function_id = function_id,
                                   .arguments_json = "{\"message\": \"bench\"}",
                                   .executor = executor};
    char *task_id = NULL;
    double start = now();
    if (steep_create_task(c, &spec, &task_id, &err) < 0 || steep_invoke_task(c, task_id, &err) < 0)
        die("create/invoke", &err);
    struct steep_task *t = NULL;
    if (steep_wait_task(c, task_id, 60000, &t, &err) < 0)
        die("wait", &err);
    double latency = now() - start;
    if (t->status != STEEP_TASK_FINISHED) {
        fprintf(stderr, "bench_python_e2e: task %s did not finish\n", task_id);
        exit(1);
    }
    steep_task_free(t);
    free(task_id);
    return latency;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, compare);
    return v[(size_t)(p * (double)(n - 1))];
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_python_e2e TASKS_EACH PAYLOAD_FILE\n");
        return 2;
    }
    int n = atoi(argv[1]);
    static uint8_t payload[65536];
    FILE *f = fopen(argv[2], "rb");
    size_t payload_len = f ? fread(payload, 1, sizeof payload, f) : 0;
    if (f)
        fclose(f);
    static char root[4096], info[4096];
    const char *dir = getenv("STEEP_DIR");
    if (n <= 0 || payload_len == 0 || !dir)
        return 2;
    snprintf(root, sizeof root, "%s/as_root_ca_cert.pem", dir);
    snprintf(info, sizeof info, "%s/enclave_info.toml", dir);
    struct steep_client_options options = {
        .authentication_address = getenv("STEEP_AUTH_ADDRESS"),
        .frontend_address = getenv("STEEP_FRONTEND_ADDRESS"),
        .as_root_ca_cert = root,
        .enclave_info = info,
        .allow_simulation = true,
    };
    struct steep_error err;
    steep_client *c = steep_client_new(&options, &err);
    if (!c)
        die("connect", &err);
    if (steep_user_login(c, "admin",
                         getenv("ADMIN_PASSWORD") ? getenv("ADMIN_PASSWORD") : "teaclave", NULL,
                         &err) < 0)
        die("login", &err);
    char *builtin = register_echo(c, "builtin", "builtin-echo", NULL, 0);
    char *python = register_echo(c, "python", "mesapy-echo", payload, payload_len);
    one_task(c, builtin, "builtin"); /* warm up connections and the zygote */
    one_task(c, python, "mesapy");
    double *b = calloc((size_t)n, sizeof *b), *p = calloc((size_t)n, sizeof *p);
    for (int i = 0; i < n; i++) {
        b[i] = one_task(c, builtin, "builtin");
        p[i] = one_task(c, python, "mesapy");
    }
    double b50 = percentile(b, (size_t)n, 0.5), b99 = percentile(b, (size_t)n, 0.99);
    double p50 = percentile(p, (size_t)n, 0.5), p99 = percentile(p, (size_t)n, 0.99);
    printf("%-22s %8s %8s\n", "create -> result", "p50 ms", "p99 ms");
    printf("%-22s %8.2f %8.2f\n", "builtin-echo", b50 * 1e3, b99 * 1e3);
    printf("%-22s %8.2f %8.2f\n", "python echo (mesapy)", p50 * 1e3, p99 * 1e3);
    printf("python / builtin p50: %.2fx (budget <= 2x), %d tasks each\n", p50 / b50, n);
    free(b);
    free(p);
    free(builtin);
    free(python);
    steep_client_free(c);
    return 0;
}
