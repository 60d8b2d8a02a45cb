/*
 * The service manager's side channel (systemd's sd_notify protocol through
 * libsystemd): READY=1 once every endpoint listens, WATCHDOG=1 from a timer
 * thread while the process lives when the unit sets WatchdogSec=, STOPPING=1
 * when a stop signal arrives. Outside systemd (no $NOTIFY_SOCKET, e.g. under
 * `steep up`) every call does nothing, so services call them unconditionally.
 */
#ifndef STEEP_SERVICE_NOTIFY_H
#define STEEP_SERVICE_NOTIFY_H

/* READY=1 with a status line; starts the watchdog timer when asked for. */
void steep_service_notify_ready(const char *status);
/* STOPPING=1; the watchdog keeps running through the graceful stop. */
void steep_service_notify_stopping(void);

#endif
