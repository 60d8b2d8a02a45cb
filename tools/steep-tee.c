/*
 * steep-tee: the operator's attestation tool (wrapped by the CLI as
 * `steep attest`). Every subcommand is a thin layer over lib/tee; the
 * attest logic lives in steep_tee_attest_peer() so the CLI reuses it.
 * Everything the sim back-end and the simulated authority produce is a
 * SIMULATION and is labelled so in the output.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/attested.h"
#include "tee/authority.h"
#include "tee/enclave_info.h"
#include "tee/keys.h"
#include "tee/ratls.h"
#include "tee/tee.h"

#include "steep-tee-serve.h"
#include "steep_version.h"

#define MAX_LIST 16

struct args {
    const char *dir, *out, *key, *bin_dir, *signer_pub, *root, *enclave_info, *listen;
    const char *authority_dir, *platform_pub, *cert_out, *key_out;
    const char *positional[4];
    int n_positional;
    const char *sigs[MAX_LIST], *auditor_pubs[MAX_LIST], *entries[MAX_LIST];
    int n_sigs, n_auditor_pubs, n_entries;
    bool allow_simulation, skip_missing, help;
    long max_report_age, timeout_ms, validity, bits;
};

static const char usage_text[] =
    "usage: steep-tee COMMAND [options]   (sim back-end: all evidence is SIMULATED)\n"
    "  authority init --dir D [--bits N] create the SIMULATED attestation authority\n"
    "                                    (D/as_root_ca_cert.pem + report-signing key/cert)\n"
    "  platform-key init --dir D [--bits N]  the platform signing key pair (mr_signer)\n"
    "  master-key init --out FILE        create the 32-byte master sealing key (0600)\n"
    "  auditor keygen NAME --dir D [--bits N]  D/NAME.private.pem and D/NAME.public.pem\n"
    "  auditor sign --key K FILE [--out F]  raw RSA-SHA256 signature (default: stdout)\n"
    "  enclave-info --bin-dir B --signer-pub P [--skip-missing] [--entry NAME=EXE]...\n"
    "                                    write enclave_info.toml to stdout\n"
    "  verify-enclave-info FILE --sig S... --auditor-pub K...\n"
    "  attest HOST:PORT --root as_root_ca_cert.pem --enclave-info F [--allow-simulation]\n"
    "         [--max-report-age S] [--timeout MS]   exit 0 accepted, 1 refused, 2 error\n"
    "  ratls-cert --authority-dir D --platform-pub P --cert-out C --key-out K\n"
    "                                    a SIMULATED RA-TLS certificate of this executable\n"
    "  serve --listen HOST:PORT --authority-dir D --platform-pub P [--validity S]\n"
    "                                    a one-way RA-TLS test server (prints its port)\n"
    "RSA keys are 3072 bits unless --bits 2048|4096 is given. Each command takes --help.\n";

static int usage(int code)
{
    fputs(usage_text, code ? stderr : stdout);
    return code;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                                                                           \
    if (strcmp(arg, name) == 0) {                                                                  \
        ENSURE(value, "%s needs a value", name);                                                   \
        a->field = value;                                                                          \
        i++;                                                                                       \
        continue;                                                                                  \
    }
#define LIST(name, field, count)                                                                   \
    if (strcmp(arg, name) == 0) {                                                                  \
        ENSURE(value && a->count < MAX_LIST, "%s needs a value", name);                            \
        a->field[a->count++] = value;                                                              \
        i++;                                                                                       \
        continue;                                                                                  \
    }
#define NUM(name, field)                                                                           \
    if (strcmp(arg, name) == 0) {                                                                  \
        ENSURE(value, "%s needs a value", name);                                                   \
        a->field = strtol(value, NULL, 10);                                                        \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        OPT("--dir", dir) OPT("--out", out) OPT("--key", key) OPT("--bin-dir", bin_dir);
        OPT("--signer-pub", signer_pub) OPT("--root", root) OPT("--enclave-info", enclave_info);
        OPT("--listen", listen) OPT("--authority-dir", authority_dir);
        OPT("--platform-pub", platform_pub) OPT("--cert-out", cert_out);
        OPT("--key-out", key_out);
        LIST("--sig", sigs, n_sigs) LIST("--auditor-pub", auditor_pubs, n_auditor_pubs);
        LIST("--entry", entries, n_entries);
        NUM("--max-report-age", max_report_age) NUM("--timeout", timeout_ms);
        NUM("--validity", validity);
        NUM("--bits", bits);
        if (strcmp(arg, "--allow-simulation") == 0) {
            a->allow_simulation = true;
            continue;
        }
        if (strcmp(arg, "--skip-missing") == 0) {
            a->skip_missing = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            continue;
        }
        ENSURE(arg[0] != '-', "unknown option %s", arg);
        ENSURE(a->n_positional < 4, "too many arguments");
        a->positional[a->n_positional++] = arg;
    }
    return 0;
}

static int write_stdout_or_file(const char *out, const struct steep_buf *data, int mode)
{
    if (out)
        return steep_write_file_atomic(out, data->data, data->len, mode);
    ENSURE(fwrite(data->data, 1, data->len, stdout) == data->len && fflush(stdout) == 0,
           "cannot write to stdout");
    return 0;
}

static int key_bits(const struct args *a)
{
    return a->bits == 2048 || a->bits == 4096 ? (int)a->bits : 3072;
}

static int cmd_authority(struct args *a)
{
    ENSURE(a->n_positional == 1 && strcmp(a->positional[0], "init") == 0 && a->dir,
           "usage: steep-tee authority init --dir D");
    ENSURE(a->bits == 0 || a->bits == 2048 || a->bits == 3072 || a->bits == 4096,
           "--bits must be 2048, 3072 or 4096");
    GUARD(steep_authority_init_bits(a->dir, a->bits ? (int)a->bits : 3072));
    printf("SIMULATED attestation authority created in %s (trust %s/%s; it proves nothing about "
           "hardware)\n",
           a->dir, a->dir, STEEP_AUTHORITY_ROOT_CERT);
    return 0;
}

static int write_key_pair(const char *private_path, const char *public_path, EVP_PKEY *key)
{
    int rc = key ? 0 : -1;
    if (rc == 0)
        rc = steep_tee_key_write_private(private_path, key);
    if (rc == 0)
        rc = steep_tee_key_write_public(public_path, key);
    EVP_PKEY_free(key);
    return rc;
}

static int cmd_platform_key(struct args *a)
{
    ENSURE(a->n_positional == 1 && strcmp(a->positional[0], "init") == 0 && a->dir,
           "usage: steep-tee platform-key init --dir D");
    char private_path[4096], public_path[4096];
    snprintf(private_path, sizeof(private_path), "%s/platform_signing.key.pem", a->dir);
    snprintf(public_path, sizeof(public_path), "%s/platform_signing.pub.pem", a->dir);
    GUARD(steep_tee_make_dir(a->dir));
    GUARD(steep_tee_path_must_not_exist(public_path));
    GUARD(write_key_pair(private_path, public_path, steep_tee_key_generate_rsa(key_bits(a))));
    printf("platform signing key: %s (public: %s)\n", private_path, public_path);
    return 0;
}

static int cmd_master_key(struct args *a)
{
    ENSURE(a->n_positional == 1 && strcmp(a->positional[0], "init") == 0 && a->out,
           "usage: steep-tee master-key init --out FILE");
    GUARD(steep_tee_master_key_create(a->out));
    printf("master sealing key: %s (mode 0600)\n", a->out);
    return 0;
}

static int cmd_auditor(struct args *a)
{
    ENSURE(a->n_positional >= 1, "usage: steep-tee auditor keygen|sign ...");
    if (strcmp(a->positional[0], "keygen") == 0) {
        ENSURE(a->n_positional == 2 && a->dir, "usage: steep-tee auditor keygen NAME --dir D");
        const char *name = a->positional[1];
        ENSURE(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                   strlen(name),
               "auditor name '%s' must be letters, digits, '-' or '_'", name);
        char private_path[4096], public_path[4096];
        snprintf(private_path, sizeof(private_path), "%s/%s.private.pem", a->dir, name);
        snprintf(public_path, sizeof(public_path), "%s/%s.public.pem", a->dir, name);
        GUARD(steep_tee_make_dir(a->dir));
        GUARD(steep_tee_path_must_not_exist(public_path));
        GUARD(write_key_pair(private_path, public_path, steep_tee_key_generate_rsa(key_bits(a))));
        printf("auditor %s: %s (public: %s)\n", name, private_path, public_path);
        return 0;
    }
    ENSURE(strcmp(a->positional[0], "sign") == 0 && a->n_positional == 2 && a->key,
           "usage: steep-tee auditor sign --key K FILE [--out F]");
    struct steep_buf file = STEEP_BUF_INIT, signature = STEEP_BUF_INIT;
    int rc = steep_read_file(a->positional[1], 1 << 20, &file);
    if (rc == 0)
        rc = steep_enclave_info_sign(a->key, file.data, file.len, &signature);
    if (rc == 0)
        rc = write_stdout_or_file(a->out, &signature, 0644);
    steep_buf_free(&file);
    steep_buf_free(&signature);
    return rc;
}

static int cmd_enclave_info(struct args *a)
{
    ENSURE(a->signer_pub && (a->bin_dir || a->n_entries),
           "usage: steep-tee enclave-info --bin-dir B --signer-pub P [--entry NAME=EXE]");
    struct steep_buf out = STEEP_BUF_INIT;
    int rc = a->bin_dir
                 ? steep_enclave_info_generate(a->bin_dir, a->signer_pub, a->skip_missing, &out)
                 : 0;
    for (int i = 0; rc == 0 && i < a->n_entries; i++) {
        char name[128];
        const char *eq = strchr(a->entries[i], '=');
        if (!eq || (size_t)(eq - a->entries[i]) >= sizeof(name)) {
            rc = steep_error_set("--entry wants NAME=EXECUTABLE, not '%s'", a->entries[i]);
            break;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(eq - a->entries[i]), a->entries[i]);
        const char *names[1] = {name}, *paths[1] = {eq + 1};
        rc = steep_enclave_info_generate_entries(names, paths, 1, a->signer_pub, &out);
    }
    if (rc == 0)
        rc = write_stdout_or_file(a->out, &out, 0644);
    steep_buf_free(&out);
    return rc;
}

static int cmd_verify_enclave_info(struct args *a)
{
    ENSURE(a->n_positional == 1,
           "usage: steep-tee verify-enclave-info FILE --sig S... --auditor-pub K...");
    struct steep_buf file = STEEP_BUF_INIT, sig_files[MAX_LIST] = {0};
    struct steep_enclave_info_signature sigs[MAX_LIST];
    EVP_PKEY *keys[MAX_LIST] = {0};
    struct steep_enclave_info info = {0};
    int rc = steep_read_file(a->positional[0], 1 << 20, &file);
    for (int i = 0; rc == 0 && i < a->n_sigs; i++) {
        rc = steep_read_file(a->sigs[i], 65536, &sig_files[i]);
        sigs[i] =
            (struct steep_enclave_info_signature){sig_files[i].data, sig_files[i].len, a->sigs[i]};
    }
    for (int i = 0; rc == 0 && i < a->n_auditor_pubs; i++)
        rc = (keys[i] = steep_tee_key_read_public(a->auditor_pubs[i])) ? 0 : -1;
    if (rc == 0)
        rc = steep_enclave_info_verify(file.data, file.len, sigs, (size_t)a->n_sigs, keys,
                                       (size_t)a->n_auditor_pubs);
    if (rc == 0)
        rc = steep_enclave_info_parse(a->positional[0], file.data, file.len, &info);
    if (rc == 0)
        printf("%s: %d signature(s) verified, %zu service(s) listed\n", a->positional[0], a->n_sigs,
               info.count);
    steep_enclave_info_free(&info);
    for (int i = 0; i < MAX_LIST; i++) {
        steep_buf_free(&sig_files[i]);
        EVP_PKEY_free(keys[i]);
    }
    steep_buf_free(&file);
    return rc;
}

static int cmd_attest(struct args *a)
{
    ENSURE(a->n_positional == 1 && a->root && a->enclave_info,
           "usage: steep-tee attest HOST:PORT --root R --enclave-info F [--allow-simulation]");
    struct steep_tee_attest_options options = {
        .root_ca = a->root,
        .enclave_info = a->enclave_info,
        .insecure_allow_simulation = a->allow_simulation,
        .max_report_age = a->max_report_age,
        .timeout_ms = (int)a->timeout_ms,
    };
    struct steep_tee_attest_result result;
    GUARD(steep_tee_attest_peer(a->positional[0], &options, &result));
    steep_tee_attest_print(stdout, a->positional[0], &result);
    return result.accepted ? 0 : 1;
}

static struct steep_tee *open_sim(struct args *a, char *key_path, char *cert_path, size_t size)
{
    if (!a->authority_dir || !a->platform_pub) {
        steep_error_set("--authority-dir and --platform-pub are required");
        return NULL;
    }
    snprintf(key_path, size, "%s/%s", a->authority_dir, STEEP_AUTHORITY_SIGNING_KEY);
    snprintf(cert_path, size, "%s/%s", a->authority_dir, STEEP_AUTHORITY_SIGNING_CERT);
    struct steep_tee_sim_options options = {
        .platform_pub_path = a->platform_pub,
        .authority_key_path = key_path,
        .authority_cert_path = cert_path,
    };
    return steep_tee_open_sim(&options);
}

static int cmd_ratls_cert(struct args *a)
{
    ENSURE(a->cert_out && a->key_out, "--cert-out and --key-out are required");
    char key_path[4096], cert_path[4096];
    struct steep_tee *tee = open_sim(a, key_path, cert_path, sizeof(key_path));
    if (!tee)
        return -1;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = steep_ratls_create(tee, &cert, &key);
    if (rc == 0)
        rc = steep_tee_cert_write(a->cert_out, cert);
    if (rc == 0)
        rc = steep_tee_key_write_private(a->key_out, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    steep_tee_free(tee);
    if (rc == 0)
        printf("SIMULATED RA-TLS certificate: %s\n", a->cert_out);
    return rc;
}

static int cmd_serve(struct args *a)
{
    ENSURE(a->listen, "--listen HOST:PORT is required");
    char key_path[4096], cert_path[4096];
    struct steep_tee *tee = open_sim(a, key_path, cert_path, sizeof(key_path));
    if (!tee)
        return -1;
    int rc = steep_tee_serve(tee, a->listen, (int)a->validity);
    steep_tee_free(tee);
    return rc;
}

struct command {
    const char *name;
    int (*run)(struct args *);
};

static const struct command commands[] = {
    {"authority", cmd_authority},
    {"platform-key", cmd_platform_key},
    {"master-key", cmd_master_key},
    {"auditor", cmd_auditor},
    {"enclave-info", cmd_enclave_info},
    {"verify-enclave-info", cmd_verify_enclave_info},
    {"attest", cmd_attest},
    {"ratls-cert", cmd_ratls_cert},
    {"serve", cmd_serve},
};

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("steep-tee %s\n", STEEP_VERSION);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage(argc < 2 ? 2 : 0);
    struct args args = {0};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (parse_args(argc - 2, argv + 2, &args) < 0) {
            fprintf(stderr, "steep-tee %s: %s\n", argv[1], steep_error_get());
            return 2;
        }
        if (args.help) {
            /* Each command's usage is its lines of the overview. */
            const char *line = usage_text;
            while ((line = strstr(line, "\n  ")) != NULL) {
                line += 3;
                size_t len = strlen(commands[i].name);
                if (strncmp(line, commands[i].name, len) == 0 && line[len] == ' ') {
                    const char *end = strstr(line, "\n  ");
                    while (end && end[3] == ' ')
                        end = strstr(end + 1, "\n  ");
                    printf("steep-tee %.*s\n", end ? (int)(end - line) : (int)strlen(line), line);
                }
            }
            return 0;
        }
        int rc = commands[i].run(&args);
        if (rc < 0) {
            fprintf(stderr, "steep-tee %s: %s\n", argv[1], steep_error_get());
            return 2;
        }
        return rc;
    }
    fprintf(stderr, "steep-tee: unknown command '%s'\n", argv[1]);
    return usage(2);
}
