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

static void audit_usage(void)
{
    printf("usage: steep audit query [QUERY] [--limit N]   (PlatformAdmin only)\n"
           "QUERY: a word of the message (e.g. invoke_task), field:word (user:alice,\n"
           "result:false), or * (default). Newest first, at most N entries (default 100).\n");
}

static int query(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    const char *limit = cli_arg(args, "limit");
    unsigned long long max = 100;
    if (limit) {
        char *end;
        max = strtoull(limit, &end, 10);
        if (!*limit || *end || limit[0] == '-') {
            cli_error("audit query: --limit %s is not a count", limit);
            return CLI_USAGE;
        }
    }
    struct steep_audit_entry *entries = NULL;
    size_t n = 0;
    struct steep_error err;
    if (steep_query_audit_logs(s->client, args->n_positional ? args->positional[0] : "*", max,
                               &entries, &n, &err) < 0)
        return cli_report("audit query", &err);
    json_t *list = s->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        char ip[INET6_ADDRSTRLEN] = "?", when[32];
        inet_ntop(AF_INET6, entries[i].ip, ip, sizeof(ip));
        time_t secs = (time_t)(entries[i].microsecond / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        if (s->json) {
            if (list &&
                json_array_append_new(list, json_pack("{s:I,s:s,s:o,s:o,s:b}", "microsecond",
                                                      (json_int_t)entries[i].microsecond, "ip", ip,
                                                      "user", cli_json_str(entries[i].user),
                                                      "message", cli_json_str(entries[i].message),
                                                      "result", entries[i].result)) < 0) {
                json_decref(list);
                list = NULL;
            }
        } else
            printf("%s.%06lldZ %-16s %-5s %s %s\n", when,
                   (long long)(entries[i].microsecond % 1000000), ip,
                   entries[i].result ? "ok" : "DENY", entries[i].message, entries[i].user);
    }
    steep_audit_entries_free(entries, n);
    return s->json ? cli_json_print(list) : CLI_OK;
}

static const struct cli_subcommand commands[] = {
    {"query", "limit", "", "", 0, 1, "at most one QUERY", CLI_LOGGED_IN, query, "limit"},
};

int cli_audit(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "audit", commands, sizeof(commands) / sizeof(commands[0]),
                        audit_usage);
}

static void attest_usage(void)
{
    printf("usage: steep attest HOST:PORT [--dir DIR | --root PEM --enclave-info FILE]\n"
           "                    [--allow-simulation] [--json]\n"
           "       steep attest --evidence FILE --collateral DIR [--at RFC3339-TIME]\n"
           "                    [--accept-status S]... [--accept-advisory ID]...\n"
           "                    [--allow-debug] [--enclave-info FILE] [--json]\n"
           "Prints the service's attestation evidence (service, mr_enclave, mr_signer,\n"
           "quote status, report age, SIMULATED or hardware) and the verdict against the\n"
           "attestation root and enclave_info. Exit status 0 accepted, 1 refused,\n"
           "3 unreachable. With --dir or $STEEP_DIR (a `steep up` platform) simulation is\n"
           "accepted.\n"
           "With --evidence, verifies saved hardware evidence offline (SGX DCAP quote v3,\n"
           "TDX quote v4/v5 or SEV-SNP report, the kind told by the bytes) against the\n"
           "Intel/AMD collateral in DIR at TIME (default now): TEE kind, TCB status and\n"
           "advisories, platform, measurements, debug flag and the verdict with its\n"
           "reason. Only UpToDate is accepted unless --accept-status lists more\n"
           "(with their advisories); debug only with --allow-debug; measurements are\n"
           "pinned when --enclave-info is given. Exit 0 accepted, 1 refused.\n");
}

static int print_attestation_json(const char *peer, const struct steep_tee_attest_result *r)
{
    json_t *out = json_pack("{s:o,s:s,s:s,s:b}", "peer", cli_json_str(peer), "tls_version",
                            r->tls_version, "alpn", r->alpn, "accepted", r->accepted);
    const struct steep_tee_verdict *v = &r->verdict;
    if (out && r->have_evidence) {
        json_t *evidence =
            json_pack("{s:o,s:o,s:o,s:o,s:I,s:b}", "service",
                      r->known_as[0] ? cli_json_str(r->known_as) : json_null(), "mr_enclave",
                      v->have_quote ? cli_json_hex(v->mr_enclave, 32) : json_null(), "mr_signer",
                      v->have_quote ? cli_json_hex(v->mr_signer, 32) : json_null(), "status",
                      cli_json_str(v->status), "report_age_seconds",
                      (json_int_t)(time(NULL) - v->report_time), "simulated", v->simulated);
        if (json_object_set_new(out, "evidence", evidence) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    if (out && json_object_set_new(out, r->accepted ? "accepted_as" : "reason",
                                   cli_json_str(r->accepted ? v->name : r->reason)) < 0) {
        json_decref(out);
        out = NULL;
    }
    return cli_json_print(out);
}

int cli_attest(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        if (argc < 2)
            cli_error("attest: HOST:PORT is needed");
        attest_usage();
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    struct cli_args args;
    if (cli_args_parse(argc, argv, "evidence,collateral,at,accept-status,accept-advisory",
                       "allow-debug", &args) < 0)
        return CLI_USAGE;
    if (cli_arg(&args, "evidence") || cli_arg(&args, "collateral"))
        return cli_attest_evidence(&args);
    if (args.n_positional != 1) {
        cli_error("attest: expected one HOST:PORT, got %zu operands", args.n_positional);
        return CLI_USAGE;
    }
    char root[4096], info[4096];
    const char *dir = cli_arg(&args, "dir");
    bool allow = cli_flag(&args, "allow-simulation");
    bool explicit_files = cli_arg(&args, "root") || cli_arg(&args, "enclave-info");
    /* $STEEP_DIR names the platform as it does for every other command, unless
     * the files are named explicitly. */
    if (!dir && !explicit_files && getenv("STEEP_DIR") && *getenv("STEEP_DIR"))
        dir = getenv("STEEP_DIR");
    if (dir) {
        struct platform_ports ports;
        if (platform_ports_load(dir, &ports) < 0) {
            cli_error("attest: %s is not a platform directory (made by `steep up --dir`)", dir);
            return CLI_USAGE;
        }
        snprintf(root, sizeof(root), "%s/as_root_ca_cert.pem", dir);
        snprintf(info, sizeof(info), "%s/enclave_info.toml", dir);
        allow = true;
    } else if (cli_arg(&args, "root") && cli_arg(&args, "enclave-info")) {
        snprintf(root, sizeof(root), "%s", cli_arg(&args, "root"));
        snprintf(info, sizeof(info), "%s", cli_arg(&args, "enclave-info"));
    } else {
        cli_error("attest: give --dir DIR (or $STEEP_DIR), or --root and --enclave-info");
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
    if (cli_flag(&args, "json")) {
        if (print_attestation_json(args.positional[0], &result) != CLI_OK)
            return CLI_FAILED;
    } else
        steep_tee_attest_print(stdout, args.positional[0], &result);
    return result.accepted ? CLI_OK : CLI_FAILED;
}
