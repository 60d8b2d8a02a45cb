/* The test PCCS as a child process; see pccs_process.h. */
#include "pccs_process.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hw_test_util.h"

static void start(struct pccs_process *p, const char *const *vectors, bool tls)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/steep-pccs-XXXXXX");
    if (!mkdtemp(p->dir))
        abort();
    char key[128], command[1024];
    if (tls) {
        snprintf(p->cert, sizeof(p->cert), "%s/cert.pem", p->dir);
        snprintf(key, sizeof(key), "%s/key.pem", p->dir);
        snprintf(command, sizeof(command),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '%s' "
                 "-out '%s' 2>/dev/null",
                 key, p->cert);
        if (system(command) != 0)
            abort();
    }
    char port_file[128], script[1024];
    snprintf(port_file, sizeof(port_file), "%s/port", p->dir);
    snprintf(p->log, sizeof(p->log), "%s/requests.log", p->dir);
    const char *source = getenv("STEEP_SOURCE_DIR");
    snprintf(script, sizeof(script), "%s/tests/tee/pccs_server.py", source ? source : ".");
    char paths[8][512];
    char *argv[20] = {"/usr/bin/python3", script};
    int n = 2;
    if (tls) {
        argv[n++] = "--tls";
        argv[n++] = p->cert;
        argv[n++] = key;
    }
    argv[n++] = port_file;
    argv[n++] = p->log;
    for (int i = 0; vectors[i] && i < 8; i++)
        argv[n++] = (char *)hw_fixture(vectors[i], paths[i], sizeof(paths[i]));
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        abort();
    if (p->pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* 20 s at most */
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &p->port);
            fclose(f);
            if (ok == 1)
                break;
        }
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (p->port <= 0) {
        fprintf(stderr, "the test PCCS did not start\n");
        abort();
    }
    snprintf(p->url, sizeof(p->url), "%s://127.0.0.1:%d", tls ? "https" : "http", p->port);
}

void pccs_start(struct pccs_process *p, const char *const *vectors)
{
    start(p, vectors, false);
}

void pccs_start_tls(struct pccs_process *p, const char *const *vectors)
{
    start(p, vectors, true);
}

int pccs_requests(const struct pccs_process *p, const char *needle)
{
    FILE *f = fopen(p->log, "r");
    int count = 0;
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        count += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return count;
}

void pccs_stop(struct pccs_process *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", p->dir);
    if (system(command) != 0)
        fprintf(stderr, "cannot remove %s\n", p->dir);
}
