/*
 * sd_notify for the services (see notify.h). The watchdog is a detached
 * thread that pings at half the interval systemd asked for
 * (sd_watchdog_enabled reads $WATCHDOG_USEC/$WATCHDOG_PID): a process that
 * hangs so hard its threads stop running, or is stopped, is restarted by
 * systemd. Failures to notify are logged once and otherwise ignored: the
 * manager's channel must never take a working service down.
 */
#include "service/notify.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "core/log.h"

static void *watchdog_thread(void *arg)
{
    uint64_t usec = *(uint64_t *)arg;
    struct timespec period = {.tv_sec = (time_t)(usec / 2 / 1000000),
                              .tv_nsec = (long)(usec / 2 % 1000000) * 1000};
    for (;;) {
        sd_notify(0, "WATCHDOG=1");
        nanosleep(&period, NULL);
    }
    return NULL;
}

void steep_service_notify_ready(const char *status)
{
    int rc = sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "serving");
    if (rc < 0)
        log_warn("sd_notify READY: error %d", -rc);
    static uint64_t usec;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    pthread_t thread;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, watchdog_thread, &usec) != 0)
        log_warn("sd_notify: cannot start the watchdog thread");
    else
        log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)(usec / 2000));
    pthread_attr_destroy(&attr);
}

void steep_service_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}
