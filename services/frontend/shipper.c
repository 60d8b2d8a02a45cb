/*
 * The audit shipper (shipper.h): waiters queue themselves with a pointer to
 * their entry; the shipper thread takes the whole queue, sends one SaveLogs,
 * and wakes the waiters of that batch with its outcome. A transport failure
 * (UNAVAILABLE) is retried a few times before the batch fails.
 */
#include "shipper.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "google/protobuf/empty.pb-c.h"
#include "teaclave_management_service.pb-c.h"

#define SHIPPER_ATTEMPTS 3
#define SAVE_LOGS_PATH   "/teaclave_management_service_proto.TeaclaveManagement/SaveLogs"

struct waiter {
    const TeaclaveCommonProto__Entry *entry;
    struct waiter *next;
    bool done;
    int rc;
    /* An asynchronous waiter (steep_frontend_shipper_log_async): called
     * with the outcome, on the shipper thread, after the lock is let go. */
    steep_frontend_shipper_done_fn done_fn;
    void *done_arg;
    struct waiter *done_next;
};

struct steep_frontend_shipper {
    struct steep_rpc_client *management;
    int timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* the queue became non-empty, or stopping */
    pthread_cond_t finished; /* a batch was acknowledged or failed */
    struct waiter *head, *tail;
    bool stopping;
    pthread_t thread;
};

static int save_logs(struct steep_frontend_shipper *s, TeaclaveCommonProto__Entry **entries,
                     size_t n)
{
    TeaclaveManagementServiceProto__SaveLogsRequest request =
        TEACLAVE_MANAGEMENT_SERVICE_PROTO__SAVE_LOGS_REQUEST__INIT;
    request.logs = entries;
    request.n_logs = n;
    for (int attempt = 1;; attempt++) {
        ProtobufCMessage *response = NULL;
        struct steep_rpc_status status;
        if (steep_rpc_call(s->management, SAVE_LOGS_PATH, &request.base,
                           &google__protobuf__empty__descriptor, &response, NULL, 0, s->timeout_ms,
                           &status) == 0) {
            protobuf_c_message_free_unpacked(response, NULL);
            return 0;
        }
        log_error("audit: SaveLogs of %zu entries failed (attempt %d): %s: %s", n, attempt,
                  steep_grpc_code_name(status.code), status.message);
        if (status.code != STEEP_GRPC_UNAVAILABLE || attempt == SHIPPER_ATTEMPTS)
            return -1;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
}

/* Sends one batch (the waiters from first on) and wakes its waiters. */
static void ship(struct steep_frontend_shipper *s, struct waiter *first)
{
    size_t n = 0;
    for (struct waiter *w = first; w; w = w->next)
        n++;
    TeaclaveCommonProto__Entry **entries = malloc(n * sizeof *entries);
    int rc = -1;
    if (entries) {
        size_t i = 0;
        for (struct waiter *w = first; w; w = w->next)
            entries[i++] = (TeaclaveCommonProto__Entry *)w->entry;
        rc = save_logs(s, entries, n);
        free(entries);
    } else {
        log_error("audit: out of memory shipping %zu entries", n);
    }
    struct waiter *async = NULL;
    pthread_mutex_lock(&s->lock);
    for (struct waiter *w = first, *next; w; w = next) {
        next = w->next; /* a blocking waiter's w is on its stack: read before waking */
        w->rc = rc;
        if (w->done_fn) {
            w->done_next = async;
            async = w;
        } else {
            w->done = true;
        }
    }
    pthread_cond_broadcast(&s->finished);
    pthread_mutex_unlock(&s->lock);
    for (struct waiter *w = async, *next; w; w = next) {
        next = w->done_next;
        w->done_fn(w->done_arg, rc);
        free(w);
    }
}

static void *run(void *arg)
{
    struct steep_frontend_shipper *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->lock);
        if (!s->head)
            break; /* stopping with nothing pending */
        struct waiter *batch = s->head;
        s->head = s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        ship(s, batch);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct steep_frontend_shipper *steep_frontend_shipper_start(struct steep_rpc_client *management,
                                                            int timeout_ms)
{
    struct steep_frontend_shipper *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->management = management;
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->finished, NULL);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->finished);
        free(s);
        return NULL;
    }
    return s;
}

/* Queues w (under the lock): false when stopping. */
static bool enqueue(struct steep_frontend_shipper *s, struct waiter *w)
{
    if (s->stopping)
        return false;
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    pthread_cond_signal(&s->work);
    return true;
}

int steep_frontend_shipper_log(struct steep_frontend_shipper *s,
                               const TeaclaveCommonProto__Entry *entry)
{
    struct waiter w = {.entry = entry};
    pthread_mutex_lock(&s->lock);
    if (!enqueue(s, &w)) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    while (!w.done)
        pthread_cond_wait(&s->finished, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return w.rc;
}

int steep_frontend_shipper_log_async(struct steep_frontend_shipper *s,
                                     const TeaclaveCommonProto__Entry *entry,
                                     steep_frontend_shipper_done_fn fn, void *arg)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    *w = (struct waiter){.entry = entry, .done_fn = fn, .done_arg = arg};
    pthread_mutex_lock(&s->lock);
    bool queued = enqueue(s, w);
    pthread_mutex_unlock(&s->lock);
    if (!queued) {
        free(w);
        return -1;
    }
    return 0;
}

void steep_frontend_shipper_stop(struct steep_frontend_shipper *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->finished);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
