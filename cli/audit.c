/* `steep audit query` and `steep attest`: what the platform did, and what it runs. */
#include "cli.h"
#include "connect.h"
#include "platform.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tee/attested.h"

int cli_audit(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv) || strcmp(argv[1], "query")) {
        printf("usage: steep audit query [QUERY] [--limit N]   (PlatformAdmin only)\n"
               "QUERY: a word of the message (e.g. invoke_task), field:word (user:alice,\n"
               "result:false), or * (default). Newest first, at most N entries (default 100).\n");
        return argc >= 2 && cli_wants_help(argc, argv) ? CLI_OK : CLI_USAGE;
    }
    struct cli_args args;
    if (cli_args_parse(argc - 1, argv + 1, "limit", "", &args) < 0)
        return CLI_USAGE;
    const char *limit = cli_arg(&args, "limit");
    struct cli_session s;
    int rc = cli_session_open(&args, &s);
    if (rc == CLI_OK && (rc = cli_session_login_saved(&s, &args)) == CLI_OK) {
        struct steep_audit_entry *entries = NULL;
        size_t n = 0;
        struct steep_error err;
        if (steep_query_audit_logs(s.client, args.n_positional ? args.positional[0] : "*",
                                   limit ? strtoull(limit, NULL, 10) : 100, &entries, &n, &err) < 0)
            rc = cli_report("audit query", &err);
        for (size_t i = 0; i < n; i++) {
            char ip[INET6_ADDRSTRLEN] = "?", when[32];
            inet_ntop(AF_INET6, entries[i].ip, ip, sizeof(ip));
            time_t secs = (time_t)(entries[i].microsecond / 1000000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
            if (s.json) {
                printf("%s{\"microsecond\":%lld,\"ip\":\"%s\",\"user\":", i ? "," : "[",
                       (long long)entries[i].microsecond, ip);
                cli_print_json_string(entries[i].user);
                printf(",\"message\":");
                cli_print_json_string(entries[i].message);
                printf(",\"result\":%s}", entries[i].result ? "true" : "false");
            } else
                printf("%s.%06lldZ %-16s %-5s %s %s\n", when,
                       (long long)(entries[i].microsecond % 1000000), ip,
                       entries[i].result ? "ok" : "DENY", entries[i].message, entries[i].user);
        }
        if (s.json && rc == CLI_OK)
            printf(n ? "]\n" : "[]\n");
        steep_audit_entries_free(entries, n);
    }
    cli_session_close(&s);
    return rc;
}

int cli_attest(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        printf("usage: steep attest HOST:PORT [--dir DIR | --root PEM --enclave-info FILE]\n"
               "                    [--allow-simulation]\n"
               "Prints the service's attestation evidence (service, mr_enclave, mr_signer,\n"
               "quote status, report age, SIMULATED or hardware) and the verdict against the\n"
               "attestation root and enclave_info. Exit status 0 accepted, 1 refused,\n"
               "3 unreachable. With --dir (a `steep up` platform) simulation is accepted.\n");
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    struct cli_args args;
    if (cli_args_parse(argc, argv, "", "", &args) < 0 || args.n_positional != 1)
        return CLI_USAGE;
    char root[4096], info[4096];
    const char *dir = cli_arg(&args, "dir");
    bool allow = cli_flag(&args, "allow-simulation");
    if (dir) {
        snprintf(root, sizeof(root), "%s/as_root_ca_cert.pem", dir);
        snprintf(info, sizeof(info), "%s/enclave_info.toml", dir);
        allow = true;
    } else if (cli_arg(&args, "root") && cli_arg(&args, "enclave-info")) {
        snprintf(root, sizeof(root), "%s", cli_arg(&args, "root"));
        snprintf(info, sizeof(info), "%s", cli_arg(&args, "enclave-info"));
    } else {
        cli_error("attest: give --dir DIR, or --root and --enclave-info");
        return CLI_USAGE;
    }
    struct steep_tee_attest_options options = {
        .root_ca = root,
        .enclave_info = info,
        .insecure_allow_simulation = allow,
    };
    struct steep_tee_attest_result result;
    if (steep_tee_attest_peer(args.positional[0], &options, &result) < 0) {
        cli_error("attest: cannot reach %s: %s", args.positional[0], steep_error_get());
        return CLI_UNREACHABLE;
    }
    steep_tee_attest_print(stdout, args.positional[0], &result);
    return result.accepted ? CLI_OK : CLI_FAILED;
}
