/*
 * What an operator watches a service by (issue 18, items 2 and 4): its
 * health and its admin port.
 *
 * Health: a service is SERVING once it runs and while every service it
 * calls answers. A prober thread asks each dependency's
 * grpc.health.v1.Health/Check every second over the same mutually attested
 * channel the service uses (its own connection, 1 s deadline); a
 * dependency that does not answer makes this service NOT_SERVING until it
 * answers again (a dependency that answers NOT_SERVING itself is reachable:
 * health does not cascade). Who depends on whom is the platform's call
 * graph: frontend -> authentication, access control, management;
 * management -> storage, access control; scheduler -> storage; execution
 * -> scheduler. Metrics: steep_dependency_up and steep_dependency_serving
 * per dependency.
 *
 * Admin port: [admin] NAME = "127.0.0.1:PORT" in steep.toml (NAME the
 * service: authentication, frontend, management, storage, access_control,
 * scheduler, execution), or the environment's STEEP_ADMIN_LISTEN, which
 * wins (`steep up` gives each process its own, port 0, and asks for the
 * port chosen in the file STEEP_ADMIN_PORT_FILE). No address: no admin port.
 */
#ifndef STEEP_SERVICE_OPS_H
#define STEEP_SERVICE_OPS_H

#include <stdbool.h>

#include "core/config.h"
#include "tee/attested.h"

struct steep_service_ops;

/* Starts the prober and the admin port for service name ("storage", …,
 * "execution"). NULL with steep_error_get() when the admin address is
 * wrong or cannot be bound. */
struct steep_service_ops *steep_service_ops_start(const struct steep_config *config,
                                                  struct steep_attested *attested,
                                                  const char *name);
/* For health checks: true while SERVING (ops is a struct steep_service_ops). */
bool steep_service_ops_serving(void *ops);
/* The service runs (every endpoint listens): SERVING from now on while its
 * dependencies answer. Until then it is NOT_SERVING. */
void steep_service_ops_ready(struct steep_service_ops *ops);
/* NOT_SERVING from now on (a stop began). */
void steep_service_ops_stopping(struct steep_service_ops *ops);
void steep_service_ops_stop(struct steep_service_ops *ops);

#endif
