/*
 * Bounded auditing of failed authentications (auth_audit.h). A timer thread
 * closes each window: if failures were counted in it, it ships one summary
 * entry through the shipper (and logs a line), then opens the next window.
 * Addresses are counted exactly up to ADDRESSES_MAX distinct ones per
 * window, then as "at least".
 */
#include "auth_audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "entry.h"

#define ADDRESSES_MAX 64

/* Windows are timed on the monotonic clock; entries carry wall-clock time. */
static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct steep_frontend_auth_audit {
    struct steep_frontend_shipper *shipper;
    unsigned per_window;
    int window_ms;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    /* the current window */
    int64_t window_start_us;
    unsigned audited;
    uint64_t counted;
    uint8_t addresses[ADDRESSES_MAX][16];
    unsigned n_addresses;
    bool more_addresses;
    uint8_t last_ip[16];
    char last_message[512];
    uint64_t total_counted;
};

static void note_address(struct steep_frontend_auth_audit *a, const uint8_t ip[16])
{
    for (unsigned i = 0; i < a->n_addresses; i++)
        if (memcmp(a->addresses[i], ip, 16) == 0)
            return;
    if (a->n_addresses < ADDRESSES_MAX)
        memcpy(a->addresses[a->n_addresses++], ip, 16);
    else
        a->more_addresses = true;
}

bool steep_frontend_auth_audit_admit(struct steep_frontend_auth_audit *a, const uint8_t ip[16],
                                     const char *message)
{
    pthread_mutex_lock(&a->lock);
    bool audit = a->audited < a->per_window;
    if (audit) {
        a->audited++;
    } else {
        a->counted++;
        a->total_counted++;
        note_address(a, ip);
        memcpy(a->last_ip, ip, 16);
        snprintf(a->last_message, sizeof a->last_message, "%s", message);
    }
    pthread_mutex_unlock(&a->lock);
    return audit;
}

uint64_t steep_frontend_auth_audit_suppressed(struct steep_frontend_auth_audit *a)
{
    pthread_mutex_lock(&a->lock);
    uint64_t n = a->total_counted;
    pthread_mutex_unlock(&a->lock);
    return n;
}

/* With the lock held: ends the window, shipping its summary (the lock is
 * released meanwhile: the SaveLogs waits for management). */
static void close_window(struct steep_frontend_auth_audit *a)
{
    int64_t now = monotonic_us();
    uint64_t counted = a->counted;
    char message[1024];
    uint8_t ip[16];
    if (counted > 0) {
        snprintf(message, sizeof message,
                 "authenticate: %llu more failed authentications not audited one by one in "
                 "%.0f s (from %s%u addresses; the first %u were); the last: %s",
                 (unsigned long long)counted, (double)(now - a->window_start_us) / 1e6,
                 a->more_addresses ? "more than " : "", a->n_addresses, a->per_window,
                 a->last_message);
        memcpy(ip, a->last_ip, 16);
    }
    a->window_start_us = now;
    a->audited = 0;
    a->counted = 0;
    a->n_addresses = 0;
    a->more_addresses = false;
    if (counted == 0)
        return;
    pthread_mutex_unlock(&a->lock);
    log_warn("audit: %llu failed authentications counted, not audited one by one",
             (unsigned long long)counted);
    TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT;
    entry.microsecond = steep_frontend_now_us();
    entry.ip.data = ip;
    entry.ip.len = 16;
    entry.user = "";
    entry.message = message;
    entry.result = false;
    if (steep_frontend_shipper_log(a->shipper, &entry) < 0)
        log_error("audit: the summary of %llu failed authentications was not saved",
                  (unsigned long long)counted);
    pthread_mutex_lock(&a->lock);
}

static void *run(void *arg)
{
    struct steep_frontend_auth_audit *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        int64_t end_us = a->window_start_us + (int64_t)a->window_ms * 1000;
        struct timespec until = {(time_t)(end_us / 1000000), (long)(end_us % 1000000) * 1000};
        int rc = 0;
        while (!a->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&a->wake, &a->lock, &until);
        close_window(a);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

struct steep_frontend_auth_audit *
steep_frontend_auth_audit_start(struct steep_frontend_shipper *shipper, int per_window,
                                int window_ms)
{
    struct steep_frontend_auth_audit *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->shipper = shipper;
    a->per_window = per_window < 0 ? 0 : (unsigned)per_window;
    a->window_ms = window_ms > 0 ? window_ms : 60000;
    a->window_start_us = monotonic_us();
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
    }
    return a;
}

void steep_frontend_auth_audit_stop(struct steep_frontend_auth_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL); /* its last close_window shipped the summary */
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
