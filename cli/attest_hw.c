/*
 * `steep attest --evidence FILE --collateral DIR [--at TIME] [--json]`: the
 * auditor's offline check of saved hardware evidence (SGX DCAP quote, TDX
 * quote, SEV-SNP report; the kind from the bytes) against collateral with
 * the file names of Intel's PCS / AMD's KDS. The verdict is lib/tee/hw's:
 * authenticity at the instant given (default: now), then the fail-closed
 * policy (UpToDate only unless --accept-status, advisories listed with
 * --accept-advisory, no debug unless --allow-debug, measurements pinned
 * when --enclave-info names a file). Exit 0 accepted, 1 refused, 2 usage.
 */
#include "cli.h"
#include "args.h"
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/enclave_info.h"
#include "tee/hw/hw.h"
#include "tee/hw/hw_config.h"

#define MAX_EVIDENCE (1 << 20)

static int parse_at(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end || strcmp(end, "Z") != 0)
        return -1;
    *out = timegm(&tm);
    return 0;
}

static json_t *measurements_json(const struct steep_hw_report *r)
{
    switch (r->kind) {
    case STEEP_HW_SGX:
        return json_pack("{s:o,s:o,s:i,s:i,s:o}", "mr_enclave", cli_json_hex(r->sgx.mr_enclave, 32),
                         "mr_signer", cli_json_hex(r->sgx.mr_signer, 32), "isv_prod_id",
                         r->sgx.isv_prod_id, "isv_svn", r->sgx.isv_svn, "config_id",
                         cli_json_hex(r->sgx.config_id, 64));
    case STEEP_HW_TDX:
        return json_pack(
            "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "mr_td", cli_json_hex(r->tdx.mr_td, 48), "rtmr0",
            cli_json_hex(r->tdx.rtmr[0], 48), "rtmr1", cli_json_hex(r->tdx.rtmr[1], 48), "rtmr2",
            cli_json_hex(r->tdx.rtmr[2], 48), "rtmr3", cli_json_hex(r->tdx.rtmr[3], 48), "mr_seam",
            cli_json_hex(r->tdx.mr_seam, 48), "mr_config_id", cli_json_hex(r->tdx.mr_config_id, 48),
            "tee_tcb_svn", cli_json_hex(r->tdx.tee_tcb_svn, 16));
    case STEEP_HW_SNP: {
        char policy[17], tcb[17];
        snprintf(policy, sizeof(policy), "%016llx", (unsigned long long)r->snp.policy);
        snprintf(tcb, sizeof(tcb), "%016llx", (unsigned long long)r->snp.reported_tcb);
        return json_pack("{s:o,s:o,s:o,s:s,s:s}", "measurement",
                         cli_json_hex(r->snp.measurement, 48), "host_data",
                         cli_json_hex(r->snp.host_data, 32), "chip_id",
                         cli_json_hex(r->snp.chip_id, 64), "reported_tcb", tcb, "policy", policy);
    }
    default:
        return json_null();
    }
}

static void hex_line(const char *label, const uint8_t *data, size_t n)
{
    char hex[2 * 64 + 1];
    steep_hex_encode(data, n, hex);
    printf("%-13s %s\n", label, hex);
}

static void print_text(const char *path, size_t len, enum steep_hw_kind kind, bool verified,
                       const struct steep_hw_report *r, bool accepted, const char *reason)
{
    printf("%-13s %s (%s), %zu bytes\n", "evidence", steep_hw_kind_name(kind), path, len);
    if (verified) {
        printf("%-13s %s\n", "TCB status", steep_hw_tcb_status_name(r->status));
        printf("%-13s", "advisories");
        for (size_t i = 0; i < r->n_advisories; i++)
            printf("%s %s", i ? "," : "", r->advisories[i]);
        printf("%s\n", r->n_advisories ? "" : " none");
        if (r->kind == STEEP_HW_SNP)
            printf("%-13s %s, report v%u, firmware %u.%u build %u, VMPL %u\n", "platform",
                   r->snp_product, r->version, r->snp.current_major, r->snp.current_minor,
                   r->snp.current_build, r->snp.vmpl);
        else {
            char fmspc[13];
            steep_hex_encode(r->fmspc, 6, fmspc);
            printf("%-13s FMSPC %s, PCE-ID %04x, quote v%u\n", "platform", fmspc, r->pce_id,
                   r->version);
        }
        if (r->kind == STEEP_HW_SGX) {
            hex_line("mr_enclave", r->sgx.mr_enclave, 32);
            hex_line("mr_signer", r->sgx.mr_signer, 32);
            printf("%-13s %u / %u\n", "isv prod/svn", r->sgx.isv_prod_id, r->sgx.isv_svn);
        } else if (r->kind == STEEP_HW_TDX) {
            hex_line("mr_td", r->tdx.mr_td, 48);
            for (int i = 0; i < 4; i++) {
                char label[8];
                snprintf(label, sizeof(label), "rtmr%d", i);
                hex_line(label, r->tdx.rtmr[i], 48);
            }
        } else
            hex_line("measurement", r->snp.measurement, 48);
        hex_line("report data", r->report_data, 64);
        printf("%-13s %s\n", "debug", r->debug ? "YES (memory open to the host)" : "no");
    }
    printf("%-13s %s%s%s\n", "verdict", accepted ? "ACCEPTED" : "REFUSED", accepted ? "" : ": ",
           accepted ? "" : reason);
}

static int print_json(enum steep_hw_kind kind, bool verified, const struct steep_hw_report *r,
                      bool accepted, const char *reason)
{
    json_t *out = json_pack("{s:s,s:b}", "kind", steep_hw_kind_name(kind), "accepted", accepted);
    if (out && verified) {
        json_t *advisories = json_array();
        for (size_t i = 0; advisories && i < r->n_advisories; i++)
            json_array_append_new(advisories, json_string(r->advisories[i]));
        char until[32] = "";
        struct tm tm;
        if (r->valid_until && gmtime_r(&r->valid_until, &tm))
            strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(out, "version", json_integer(r->version));
        json_object_set_new(out, "status", json_string(steep_hw_tcb_status_name(r->status)));
        json_object_set_new(out, "advisories", advisories ? advisories : json_null());
        json_object_set_new(out, "debug", json_boolean(r->debug));
        json_object_set_new(out, "measurements", measurements_json(r));
        json_object_set_new(out, "report_data", cli_json_hex(r->report_data, 64));
        json_object_set_new(out, "valid_until", until[0] ? json_string(until) : json_null());
        if (r->kind == STEEP_HW_SNP)
            json_object_set_new(out, "product", json_string(r->snp_product));
        else
            json_object_set_new(out, "fmspc", cli_json_hex(r->fmspc, 6));
    } else if (out)
        json_object_set_new(out, "status", json_null());
    if (out)
        json_object_set_new(out, "reason", accepted ? json_null() : json_string(reason));
    return cli_json_print(out);
}

/* Measurements from --enclave-info (all entries are candidates). */
static int load_pins(const char *path, struct steep_enclave_info *info,
                     struct steep_hw_measurements **pins)
{
    struct steep_buf text = STEEP_BUF_INIT;
    if (steep_read_file(path, 1 << 20, &text) < 0 ||
        steep_enclave_info_parse(path, text.data, text.len, info) < 0) {
        steep_buf_free(&text);
        return -1;
    }
    steep_buf_free(&text);
    *pins = calloc(info->count, sizeof(**pins));
    ENSURE(*pins != NULL, "out of memory");
    for (size_t i = 0; i < info->count; i++) {
        (*pins)[i] = info->attrs[i].hw;
        if (!info->attrs[i].no_sgx_pair) {
            (*pins)[i].have_mr_enclave = (*pins)[i].have_mr_signer = true;
            memcpy((*pins)[i].mr_enclave, info->attrs[i].mr_enclave, 32);
            memcpy((*pins)[i].mr_signer, info->attrs[i].mr_signer, 32);
        }
    }
    return 0;
}

int cli_attest_evidence(const struct cli_args *args)
{
    const char *path = cli_arg(args, "evidence"), *dir = cli_arg(args, "collateral");
    if (!path || !dir || args->n_positional) {
        cli_error("attest: offline verification takes --evidence FILE --collateral DIR "
                  "(and no HOST:PORT)");
        return CLI_USAGE;
    }
    time_t now = time(NULL);
    if (cli_arg(args, "at") && parse_at(cli_arg(args, "at"), &now) < 0) {
        cli_error("attest: --at %s is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)",
                  cli_arg(args, "at"));
        return CLI_USAGE;
    }
    const char *statuses[STEEP_HW_MAX_ACCEPTED_STATUSES + 1];
    const char *advisories[64];
    size_t n_statuses = cli_arg_count(args, "accept-status");
    size_t n_advisories = cli_arg_count(args, "accept-advisory");
    if (n_statuses > STEEP_HW_MAX_ACCEPTED_STATUSES || n_advisories > 64) {
        cli_error("attest: too many --accept-status / --accept-advisory");
        return CLI_USAGE;
    }
    for (size_t i = 0; i < n_statuses; i++)
        statuses[i] = cli_arg_nth(args, "accept-status", i);
    for (size_t i = 0; i < n_advisories; i++)
        advisories[i] = cli_arg_nth(args, "accept-advisory", i);
    enum steep_hw_tcb_status accepted_statuses[STEEP_HW_MAX_ACCEPTED_STATUSES];
    size_t n_accepted = 0;
    if (steep_tee_hw_statuses_parse(statuses, n_statuses, accepted_statuses, &n_accepted) < 0) {
        cli_error("attest: --accept-status: %s", steep_error_get());
        return CLI_USAGE;
    }

    struct steep_buf evidence = STEEP_BUF_INIT;
    if (steep_read_file(path, MAX_EVIDENCE, &evidence) < 0) {
        cli_error("attest: %s", steep_error_get());
        return CLI_FAILED;
    }
    struct steep_hw_collateral collateral;
    if (steep_hw_collateral_load_dir(dir, &collateral) < 0) {
        cli_error("attest: %s", steep_error_get());
        steep_buf_free(&evidence);
        return CLI_FAILED;
    }
    struct steep_enclave_info info = {0};
    struct steep_hw_measurements *pins = NULL;
    const char *pin_path = cli_arg(args, "enclave-info");
    int rc = pin_path ? load_pins(pin_path, &info, &pins) : 0;
    if (rc < 0) {
        cli_error("attest: --enclave-info: %s", steep_error_get());
        steep_hw_collateral_free(&collateral);
        steep_buf_free(&evidence);
        return CLI_USAGE;
    }

    enum steep_hw_kind kind = steep_hw_detect(evidence.data, evidence.len);
    struct steep_hw_report report;
    bool verified =
        steep_hw_verify(evidence.data, evidence.len, &collateral, NULL, now, &report) == 0;
    bool accepted = false;
    char reason[STEEP_ERROR_MAX] = "";
    if (verified) {
        struct steep_hw_policy policy = {
            .accepted_statuses = accepted_statuses,
            .n_accepted_statuses = n_accepted,
            .accepted_advisories = advisories,
            .n_accepted_advisories = n_advisories,
            .allow_debug = cli_flag(args, "allow-debug"),
            .measurements = pins,
            .n_measurements = info.count,
        };
        size_t index = 0;
        accepted = steep_hw_policy_check(&policy, &report, &index) == 0;
        if (accepted && pins)
            snprintf(reason, sizeof(reason), "%s", info.attrs[index].name);
    }
    if (!accepted)
        snprintf(reason, sizeof(reason), "%s", steep_error_get());
    int out =
        cli_flag(args, "json")
            ? print_json(kind, verified, &report, accepted, reason)
            : (print_text(path, evidence.len, kind, verified, &report, accepted, reason), CLI_OK);
    free(pins);
    steep_enclave_info_free(&info);
    steep_hw_collateral_free(&collateral);
    steep_buf_free(&evidence);
    if (out != CLI_OK)
        return out;
    return accepted ? CLI_OK : CLI_FAILED;
}
