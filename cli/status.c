/* `steep status`: the processes of a local platform, read from DIR/run. */
#include "cli.h"
#include "platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cli_status(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    if (cli_wants_help(argc, argv)) {
        printf("usage: steep status --dir DIR [--json]\nShows each process of the platform: "
               "running or not, and its port.\nExit status 0 when everything runs.\n");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            cli_error("status: unknown argument '%s' (see steep status --help)", argv[i]);
            return CLI_USAGE;
        }
    }
    struct platform_ports ports;
    if (!dir || platform_ports_load(dir, &ports) < 0) {
        cli_error("status: %s is not a platform directory (run steep up --dir DIR)",
                  dir ? dir : "(none)");
        return CLI_USAGE;
    }
    bool all_up = true;
    if (json)
        printf("{\"services\":[");
    for (size_t i = 0; i < platform_n_services; i++) {
        int pid = platform_pid_read(dir, platform_services[i].name);
        int port = *(const int *)((const char *)&ports + platform_services[i].port_field);
        bool alive = platform_pid_ours(dir, pid),
             listening = alive && platform_port_listening(port);
        all_up = all_up && listening;
        if (json)
            printf("%s{\"name\":\"%s\",\"pid\":%d,\"port\":%d,\"running\":%s}", i ? "," : "",
                   platform_services[i].name, alive ? pid : 0, port, listening ? "true" : "false");
        else
            printf("%-16s %s%-8s%s pid %-7d port %d\n", platform_services[i].name,
                   cli_style(listening ? CLI_STYLE_GREEN
                             : alive   ? CLI_STYLE_YELLOW
                                       : CLI_STYLE_RED),
                   listening ? "running"
                   : alive   ? "starting"
                             : "stopped",
                   cli_style(CLI_STYLE_RESET), alive ? pid : 0, port);
    }
    for (int i = 1; i <= PLATFORM_MAX_PROCESSES; i++) {
        char name[32];
        platform_pathf(name, sizeof(name), "execution-%d", i);
        int pid = platform_pid_read(dir, name);
        if (pid < 0)
            break;
        bool alive = platform_pid_ours(dir, pid);
        all_up = all_up && alive;
        if (json)
            printf(",{\"name\":\"%s\",\"pid\":%d,\"running\":%s}", name, alive ? pid : 0,
                   alive ? "true" : "false");
        else
            printf("%-16s %s%-8s%s pid %d\n", name,
                   cli_style(alive ? CLI_STYLE_GREEN : CLI_STYLE_RED),
                   alive ? "running" : "stopped", cli_style(CLI_STYLE_RESET), alive ? pid : 0);
    }
    if (json)
        printf("],\"simulation\":true}\n");
    else
        printf("TEE back-end: sim (simulation, not hardware attestation)\n");
    return all_up ? CLI_OK : CLI_FAILED;
}
