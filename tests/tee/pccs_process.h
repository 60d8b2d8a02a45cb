/*
 * tests/tee/pccs_server.py as a child process for C tests: started on a
 * free loopback port, serving the collateral of fixture vectors.
 */
#ifndef STEEP_TESTS_PCCS_PROCESS_H
#define STEEP_TESTS_PCCS_PROCESS_H

#include <sys/types.h>

struct pccs_process {
    pid_t pid;
    int port;
    char dir[64];
    char log[128];
    char url[64];
    char cert[128]; /* with pccs_start_tls: the server's self-signed certificate */
};

/* vectors: NULL-terminated fixture directory names. Aborts on failure. */
void pccs_start(struct pccs_process *p, const char *const *vectors);
/* The same over HTTPS, with a fresh self-signed certificate for 127.0.0.1. */
void pccs_start_tls(struct pccs_process *p, const char *const *vectors);
/* Lines of the request log that contain `needle` ("" counts all). */
int pccs_requests(const struct pccs_process *p, const char *needle);
void pccs_stop(struct pccs_process *p);

#endif
