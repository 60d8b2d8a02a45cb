/*
 * Scheduler benchmark on a running platform (`steep up --executors 0`):
 * how long an InvokeTask takes to reach an idle execution slot, and how many
 * staged tasks per second reach slots.
 *
 * The slots are fake execution slots in this process (the real
 * steep-execution is not used, so only dispatch is measured): each has its
 * own executor_id, talks Teaclave's scheduler RPCs over mutually attested
 * TLS as teaclave_execution_service (the sim back-end measuring the
 * steep-execution binary), holds a long-poll PullTask, and on a task sends
 * UpdateTaskStatus(Running) and UpdateTaskResult(Ok) as a real slot does.
 * Tasks are builtin-echo with no data, created and invoked through the
 * frontend with libsteep. Latency = InvokeTask called -> PullTask answered
 * in the slot.
 *
 * Reference in the same run: a Teaclave-style executor that sends a
 * Heartbeat every 3 s and pulls only after a NewTask reply.
 *
 *   bench_scheduler LATENCY_TASKS THROUGHPUT_TASKS REFERENCE_TASKS
 *   (STEEP_DIR, STEEP_AUTH_ADDRESS, STEEP_FRONTEND_ADDRESS, STEEP_BIN)
 */
#include <steep/steep.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "rpc/rpc.h"
#include "peer.h"
#include "tee/attested.h"
#include "teaclave_scheduler_service.pb-c.h"

#define NODES          4
#define SLOTS_PER_NODE 4
#define SLOTS          (NODES * SLOTS_PER_NODE)
#define PATH(m)        "/teaclave_scheduler_service_proto.TeaclaveScheduler/" m

static struct steep_rpc_client *node_clients[NODES];
static volatile int slots_stop;

/* Pickup times by task uuid. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t picked = PTHREAD_COND_INITIALIZER;
static struct pickup {
    char uuid[40];
    double at;
} * pickups;
static size_t n_pickups, cap_pickups;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_scheduler: %s: %s\n", what, detail);
    exit(1);
}

static void uuid4(char out[37])
{
    unsigned char b[16];
    RAND_bytes(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void record_pickup(const char *uuid, double at)
{
    pthread_mutex_lock(&lock);
    if (n_pickups == cap_pickups) {
        cap_pickups = cap_pickups ? cap_pickups * 2 : 1024;
        pickups = realloc(pickups, cap_pickups * sizeof *pickups);
    }
    snprintf(pickups[n_pickups].uuid, sizeof pickups[n_pickups].uuid, "%s", uuid);
    pickups[n_pickups++].at = at;
    pthread_cond_broadcast(&picked);
    pthread_mutex_unlock(&lock);
}

static double wait_pickup(const char *uuid, double timeout)
{
    double until = now() + timeout;
    pthread_mutex_lock(&lock);
    for (;;) {
        for (size_t i = n_pickups; i-- > 0;)
            if (strcmp(pickups[i].uuid, uuid) == 0) {
                double at = pickups[i].at;
                pthread_mutex_unlock(&lock);
                return at;
            }
        if (now() > until)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&picked, &lock, &ts);
    }
    pthread_mutex_unlock(&lock);
    return -1;
}

/* ---- a fake slot ---- */

struct slot {
    struct steep_rpc_client *client;
    char executor_id[37];
    pthread_t thread;
    int executing;
};

static int rpc(struct steep_rpc_client *client, const char *path, const ProtobufCMessage *request,
               const ProtobufCMessageDescriptor *type, ProtobufCMessage **response, int timeout)
{
    struct steep_rpc_status status;
    ProtobufCMessage *out = NULL;
    int rc = steep_rpc_call(client, path, request, type, &out, NULL, 0, timeout, &status);
    if (response)
        *response = out;
    else if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

/* Runs one pulled task as a slot would: Running, then an Ok result. */
static void run_task(struct steep_rpc_client *client, const ProtobufCBinaryData *staged)
{
    double at = now();
    json_error_t error;
    json_t *task = json_loadb((const char *)staged->data, staged->len, 0, &error);
    const char *uuid = json_string_value(json_object_get(task, "task_id"));
    if (!uuid)
        die("staged task", "no task_id");
    record_pickup(uuid, at);
    char task_id[64];
    snprintf(task_id, sizeof task_id, "task-%s", uuid);
    TeaclaveSchedulerServiceProto__UpdateTaskStatusRequest status =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_STATUS_REQUEST__INIT;
    status.task_id = task_id;
    status.task_status = TEACLAVE_COMMON_PROTO__TASK_STATUS__Running;
    TeaclaveSchedulerServiceProto__UpdateTaskResultRequest result =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__UPDATE_TASK_RESULT_REQUEST__INIT;
    TeaclaveCommonProto__TaskResult task_result = TEACLAVE_COMMON_PROTO__TASK_RESULT__INIT;
    TeaclaveCommonProto__TaskOutputs outputs = TEACLAVE_COMMON_PROTO__TASK_OUTPUTS__INIT;
    outputs.return_value = (ProtobufCBinaryData){5, (uint8_t *)"bench"};
    task_result.result_case = TEACLAVE_COMMON_PROTO__TASK_RESULT__RESULT_OK;
    task_result.ok = &outputs;
    result.task_id = task_id;
    result.result = &task_result;
    if (rpc(client, PATH("UpdateTaskStatus"), &status.base, &google__protobuf__empty__descriptor,
            NULL, 5000) < 0 ||
        rpc(client, PATH("UpdateTaskResult"), &result.base, &google__protobuf__empty__descriptor,
            NULL, 5000) < 0)
        fprintf(stderr, "bench_scheduler: task %s: status/result refused\n", uuid);
    json_decref(task);
}

static void *slot_main(void *arg)
{
    struct slot *slot = arg;
    TeaclaveSchedulerServiceProto__PullTaskRequest pull =
        TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_REQUEST__INIT;
    pull.executor_id = slot->executor_id;
    while (!slots_stop) {
        ProtobufCMessage *response = NULL;
        if (rpc(slot->client, PATH("PullTask"), &pull.base,
                &teaclave_scheduler_service_proto__pull_task_response__descriptor, &response,
                500) < 0)
            continue; /* empty after the long poll */
        slot->executing = 1;
        run_task(slot->client,
                 &((TeaclaveSchedulerServiceProto__PullTaskResponse *)response)->staged_task);
        slot->executing = 0;
        protobuf_c_message_free_unpacked(response, NULL);
    }
    return NULL;
}

static struct slot slots[SLOTS];

static void *heartbeat_main(void *arg)
{
    while (!*(volatile int *)arg) {
        for (int i = 0; i < SLOTS; i++) {
            TeaclaveSchedulerServiceProto__HeartbeatRequest beat =
                TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_REQUEST__INIT;
            beat.executor_id = slots[i].executor_id;
            beat.status = slots[i].executing ? TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Executing
                                             : TEACLAVE_COMMON_PROTO__EXECUTOR_STATUS__Idle;
            rpc(slots[i].client, PATH("Heartbeat"), &beat.base,
                &teaclave_scheduler_service_proto__heartbeat_response__descriptor, NULL, 2000);
        }
        usleep(1000000);
    }
    return NULL;
}

static void start_slots(void)
{
    slots_stop = 0;
    for (int i = 0; i < SLOTS; i++) {
        slots[i].client = node_clients[i / SLOTS_PER_NODE];
        uuid4(slots[i].executor_id);
        pthread_create(&slots[i].thread, NULL, slot_main, &slots[i]);
    }
}

static void stop_slots(void)
{
    slots_stop = 1;
    for (int i = 0; i < SLOTS; i++)
        pthread_join(slots[i].thread, NULL);
}

/* ---- the Teaclave-style reference executor ---- */

static double reference_latency(steep_client *c, const char *function_id, int tasks,
                                double *samples);

/* ---- platform access ---- */

static steep_client *frontend_client(void)
{
    static char root[4096], info[4096];
    const char *dir = getenv("STEEP_DIR");
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
        die("connect", err.message);
    if (steep_user_login(c, "admin",
                         getenv("ADMIN_PASSWORD") ? getenv("ADMIN_PASSWORD") : "teaclave", NULL,
                         &err) < 0)
        die("login", err.message);
    return c;
}

static char *create_task(steep_client *c, const char *function_id)
{
    struct steep_error err;
    struct steep_task_spec spec = {.function_id = function_id,
                                   .arguments_json = "{\"message\": \"bench\"}",
                                   .executor = "builtin"};
    char *task_id = NULL;
    if (steep_create_task(c, &spec, &task_id, &err) < 0)
        die("create task", err.message);
    return task_id;
}

static void invoke(steep_client *c, const char *task_id)
{
    struct steep_error err;
    if (steep_invoke_task(c, task_id, &err) < 0)
        die("invoke task", err.message);
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, compare);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static double reference_latency(steep_client *c, const char *function_id, int tasks,
                                double *samples)
{
    /* One executor as Teaclave's: Heartbeat every 3 s, PullTask only after NewTask. */
    char executor_id[37];
    uuid4(executor_id);
    struct steep_rpc_client *client = node_clients[0];
    double phase = now();
    for (int i = 0; i < tasks; i++) {
        char *task_id = create_task(c, function_id);
        /* Invoke at a random point of the poll cycle, as real clients do. */
        usleep((useconds_t)(rand() % 3000) * 1000);
        double start = now();
        invoke(c, task_id);
        for (;;) {
            double next = phase + 3.0 * (double)(int)((now() - phase) / 3.0 + 1);
            usleep((useconds_t)((next - now()) * 1e6));
            TeaclaveSchedulerServiceProto__HeartbeatRequest beat =
                TEACLAVE_SCHEDULER_SERVICE_PROTO__HEARTBEAT_REQUEST__INIT;
            beat.executor_id = executor_id;
            ProtobufCMessage *response = NULL;
            if (rpc(client, PATH("Heartbeat"), &beat.base,
                    &teaclave_scheduler_service_proto__heartbeat_response__descriptor, &response,
                    2000) < 0)
                die("reference", "heartbeat failed");
            int command = ((TeaclaveSchedulerServiceProto__HeartbeatResponse *)response)->command;
            protobuf_c_message_free_unpacked(response, NULL);
            if (command != TEACLAVE_COMMON_PROTO__EXECUTOR_COMMAND__NewTask)
                continue;
            TeaclaveSchedulerServiceProto__PullTaskRequest pull =
                TEACLAVE_SCHEDULER_SERVICE_PROTO__PULL_TASK_REQUEST__INIT;
            pull.executor_id = executor_id;
            if (rpc(client, PATH("PullTask"), &pull.base,
                    &teaclave_scheduler_service_proto__pull_task_response__descriptor, &response,
                    2000) < 0)
                die("reference", "pull failed");
            run_task(client,
                     &((TeaclaveSchedulerServiceProto__PullTaskResponse *)response)->staged_task);
            protobuf_c_message_free_unpacked(response, NULL);
            break;
        }
        samples[i] = now() - start;
        free(task_id);
    }
    return percentile(samples, tasks, 0.5);
}

int main(int argc, char **argv)
{
    if (argc != 4 || !getenv("STEEP_DIR"))
        die("usage",
            "bench_scheduler LATENCY_TASKS THROUGHPUT_TASKS REFERENCE_TASKS (STEEP_DIR set)");
    int latency_tasks = atoi(argv[1]), throughput_tasks = atoi(argv[2]),
        reference_tasks = atoi(argv[3]);
    steep_log_init("bench_scheduler");
    steep_log_set_level(STEEP_LOG_WARN);
    char path[4096];
    snprintf(path, sizeof path, "%s/steep.toml", getenv("STEEP_DIR"));
    struct steep_config *config = NULL;
    if (steep_config_load(path, &config) < 0)
        die("config", steep_error_get());
    struct steep_attested *attested =
        peer_open(config, "teaclave_execution_service", "steep-execution");
    if (!attested)
        die("attestation", steep_error_get());
    for (int i = 0; i < NODES; i++)
        if (!(node_clients[i] = peer_client(attested, config, STEEP_ENDPOINT_SCHEDULER,
                                            "teaclave_scheduler_service")))
            die("scheduler client", steep_error_get());
    steep_client *c = frontend_client();
    struct steep_error err;
    struct steep_function_argument arg = {"message", "", true};
    struct steep_function_spec spec = {.name = "builtin-echo",
                                       .executor_type = "builtin",
                                       .arguments = &arg,
                                       .n_arguments = 1,
                                       .usage_quota = -1};
    char *function_id = NULL;
    if (steep_register_function(c, &spec, &function_id, &err) < 0)
        die("register function", err.message);
    int beats_stop = 0;
    pthread_t beats;
    double *samples = calloc((size_t)(latency_tasks + reference_tasks + 1), sizeof *samples);
    double *invoke_samples = calloc((size_t)latency_tasks + 1, sizeof *invoke_samples);

    /* 1. Latency with 16 idle slots waiting in PullTask. */
    start_slots();
    pthread_create(&beats, NULL, heartbeat_main, &beats_stop);
    usleep(300000);
    for (int i = 0; i < latency_tasks; i++) {
        char *task_id = create_task(c, function_id);
        double start = now();
        invoke(c, task_id);
        invoke_samples[i] = now() - start;
        double at = wait_pickup(task_id + 5, 10.0);
        if (at < 0)
            die("latency", "task not picked up within 10 s");
        samples[i] = at - start;
        free(task_id);
    }
    double p50 = percentile(samples, latency_tasks, 0.50);
    double p99 = percentile(samples, latency_tasks, 0.99);
    double invoke_p50 = percentile(invoke_samples, latency_tasks, 0.50);
    free(invoke_samples);
    stop_slots();

    /* 2. Throughput: stage tasks with no slot pulling, then let 16 slots drain them. */
    char **ids = calloc((size_t)throughput_tasks, sizeof *ids);
    for (int i = 0; i < throughput_tasks; i++) {
        ids[i] = create_task(c, function_id);
        invoke(c, ids[i]);
    }
    double start = now();
    start_slots();
    double last = 0;
    for (int i = 0; i < throughput_tasks; i++) {
        double at = wait_pickup(ids[i] + 5, 60.0);
        if (at < 0)
            die("throughput", "a staged task was not dispatched within 60 s");
        last = at > last ? at : last;
        free(ids[i]);
    }
    free(ids);
    double rate = throughput_tasks / (last - start);
    stop_slots();
    beats_stop = 1;
    pthread_join(beats, NULL);

    /* 3. Reference: Teaclave's 3 s heartbeat poll, one executor. */
    double reference =
        reference_tasks > 0 ? reference_latency(c, function_id, reference_tasks, samples) : 1.5;

    printf("scheduler dispatch, fake execution slots (%d nodes x %d slots), builtin-echo via the "
           "frontend\n",
           NODES, SLOTS_PER_NODE);
    printf("InvokeTask -> slot has the task: p50 %.2f ms, p99 %.2f ms (%d tasks, one at a time)\n",
           p50 * 1e3, p99 * 1e3, latency_tasks);
    printf("  (the InvokeTask call itself: p50 %.2f ms; the slot may get the task before it "
           "returns)\n",
           invoke_p50 * 1e3);
    printf("staged tasks dispatched (pull + Running + result): %.0f tasks/s (%d tasks)\n", rate,
           throughput_tasks);
    printf("reference, Teaclave 3 s heartbeat poll, same run: p50 %.0f ms (%d tasks); expected "
           "mean wait 1500 ms\n",
           reference * 1e3, reference_tasks);
    printf("ratio: our p50 = %.4f of the 1.5 s expected Teaclave wait (%.4f of the measured "
           "reference p50)\n",
           p50 / 1.5, p50 / reference);
    printf("budget p50 <= 5 ms: %s\n", p50 <= 0.005 ? "met" : "NOT met");
    free(samples);
    free(function_id);
    steep_client_free(c);
    for (int i = 0; i < NODES; i++)
        steep_rpc_client_free(node_clients[i]);
    steep_attested_free(attested);
    steep_config_free(config);
    return 0;
}
