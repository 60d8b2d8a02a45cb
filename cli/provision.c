/*
 * Provisioning of a local platform, done by `steep up` before anything
 * starts: the simulated attestation authority, the platform signing key,
 * the master sealing key and three auditors' keys (once, by `steep-tee`,
 * the command an operator would use by hand); enclave_info.toml measured
 * from the executables and signed by every auditor (every start, so a
 * rebuilt binary is re-measured); the policies and steep.toml (once, then
 * the operator's to edit).
 */
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

static const char *const auditors[] = {"godzilla", "optimus_prime", "albus_dumbledore"};
#define N_AUDITORS (sizeof(auditors) / sizeof(auditors[0]))

int provision_keys(const char *dir)
{
    char keys[PATH_MAX], auditor_dir[PATH_MAX], path[PATH_MAX];
    platform_pathf(keys, sizeof(keys), "%s/keys", dir);
    platform_pathf(auditor_dir, sizeof(auditor_dir), "%s/auditors", dir);
    if (platform_make_dir(keys, 0700) < 0 || platform_make_dir(auditor_dir, 0700) < 0)
        return -1;

    platform_pathf(path, sizeof(path), "%s/as_root_ca_cert.pem", dir);
    if (!platform_exists(path)) {
        if (platform_run_tool(NULL, "steep-tee", "authority", "init", "--dir", keys, NULL) < 0)
            return -1;
        char src[PATH_MAX];
        platform_pathf(src, sizeof(src), "%s/as_root_ca_cert.pem", keys);
        if (link(src, path) < 0 && symlink(src, path) < 0) {
            cli_error("cannot publish %s: %s", path, strerror(errno));
            return -1;
        }
    }
    platform_pathf(path, sizeof(path), "%s/platform_signing.pub.pem", keys);
    if (!platform_exists(path) &&
        platform_run_tool(NULL, "steep-tee", "platform-key", "init", "--dir", keys, NULL) < 0)
        return -1;
    platform_pathf(path, sizeof(path), "%s/master.key", keys);
    if (!platform_exists(path) &&
        platform_run_tool(NULL, "steep-tee", "master-key", "init", "--out", path, NULL) < 0)
        return -1;
    for (size_t i = 0; i < N_AUDITORS; i++) {
        platform_pathf(path, sizeof(path), "%s/%s.public.pem", auditor_dir, auditors[i]);
        if (!platform_exists(path) &&
            platform_run_tool(NULL, "steep-tee", "auditor", "keygen", auditors[i], "--dir",
                              auditor_dir, NULL) < 0)
            return -1;
    }
    return 0;
}

/* Measures the executables and has every auditor sign the result. */
int provision_measure_and_sign(const char *dir)
{
    char info[PATH_MAX], signer[PATH_MAX], key[PATH_MAX], sig[PATH_MAX];
    platform_pathf(info, sizeof(info), "%s/enclave_info.toml", dir);
    platform_pathf(signer, sizeof(signer), "%s/keys/platform_signing.pub.pem", dir);
    if (platform_run_tool(info, "steep-tee", "enclave-info", "--bin-dir", cli_bin_dir(),
                          "--signer-pub", signer, NULL) < 0)
        return -1;
    for (size_t i = 0; i < N_AUDITORS; i++) {
        platform_pathf(key, sizeof(key), "%s/auditors/%s.private.pem", dir, auditors[i]);
        platform_pathf(sig, sizeof(sig), "%s/auditors/%s.sign.sha256", dir, auditors[i]);
        if (platform_run_tool(sig, "steep-tee", "auditor", "sign", "--key", key, info, NULL) < 0)
            return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) {
        cli_error("cannot read %s: %s", from, strerror(errno));
        return -1;
    }
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        cli_error("cannot write %s: %s", to, strerror(errno));
        return -1;
    }
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

/* Where the shipped policies are: installed, BIN_DIR/../share/steep/policies
 * (relative to this binary, so an unpacked package works wherever it lies);
 * else the build tree's source policies/. */
static const char *shipped_policy_dir(void)
{
    static char installed[PATH_MAX];
    platform_pathf(installed, sizeof(installed), "%s/%s", cli_bin_dir(),
                   STEEP_INSTALLED_POLICY_DIR);
    return platform_exists(installed) ? installed : STEEP_POLICY_DIR;
}

/* Copies the shipped policy files once, so the operator can edit them. */
int provision_policies(const char *dir)
{
    char target[PATH_MAX], cmd[PATH_MAX * 2 + 64];
    const char *shipped = shipped_policy_dir();
    platform_pathf(target, sizeof(target), "%s/policies", dir);
    if (platform_exists(target))
        return 0;
    if (platform_make_dir(target, 0700) < 0)
        return -1;
    platform_pathf(cmd, sizeof(cmd), "ls -1 '%s'", shipped);
    FILE *ls = popen(cmd, "r");
    if (!ls)
        return -1;
    char name[256];
    int rc = 0;
    while (rc == 0 && fgets(name, sizeof(name), ls)) {
        name[strcspn(name, "\n")] = '\0';
        size_t len = strlen(name);
        if (len < 8 || strcmp(name + len - 7, ".policy"))
            continue;
        char from[PATH_MAX], to[PATH_MAX];
        platform_pathf(from, sizeof(from), "%s/%s", shipped, name);
        platform_pathf(to, sizeof(to), "%s/%s", target, name);
        rc = copy_file(from, to);
    }
    pclose(ls);
    return rc;
}

int provision_config(const char *dir, const struct platform_ports *p, int executor_slots,
                     bool test_payloads, const char *face_model, bool etcd, int port_base)
{
    char path[PATH_MAX];
    platform_pathf(path, sizeof(path), "%s/steep.toml", dir);
    if (platform_exists(path))
        return 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# Steep platform configuration, written once by `steep up`; edit freely.\n"
            "# Teaclave's runtime-config keys where they exist, Steep's own below.\n\n"
            "[api_endpoints]\n"
            "authentication = { listen_address = \"127.0.0.1:%d\" }\n"
            "frontend = { listen_address = \"127.0.0.1:%d\" }\n\n"
            "[internal_endpoints]\n"
            "authentication = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n"
            "management = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n"
            "storage = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n"
            "access_control = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n"
            "execution = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n"
            "scheduler = { listen_address = \"127.0.0.1:%d\", advertised_address = "
            "\"https://localhost:%d\" }\n\n"
            "[audit]\n"
            "enclave_info = { path = \"enclave_info.toml\" }\n"
            "auditor_signatures = [\n"
            "  { path = \"auditors/godzilla.sign.sha256\" },\n"
            "  { path = \"auditors/optimus_prime.sign.sha256\" },\n"
            "  { path = \"auditors/albus_dumbledore.sign.sha256\" },\n"
            "]\n\n"
            "[attestation]\n"
            "# The simulated attestation authority (TEE back-end \"sim\"): NOT hardware.\n"
            "algorithm = \"sim\"\n\n"
            "[mount]\n"
            "fusion_base_dir = \"data/fusion\"\n\n"
            "[steep]\n"
            "data_dir = \"data\"\n\n"
            "[tee]\n"
            "backend = \"sim\"\n"
            "# Simulated evidence is accepted only because this platform is a simulation.\n"
            "allow_simulation = true\n"
            "as_root_ca_cert = \"as_root_ca_cert.pem\"\n"
            "authority_key = \"keys/authority_signing.key.pem\"\n"
            "authority_cert = \"keys/authority_signing.cert.pem\"\n"
            "platform_public_key = \"keys/platform_signing.pub.pem\"\n"
            "master_key = \"keys/master.key\"\n"
            "auditor_public_keys = [\"auditors/godzilla.public.pem\", "
            "\"auditors/optimus_prime.public.pem\", \"auditors/albus_dumbledore.public.pem\"]\n\n"
            "[access_control]\n"
            "policy_dir = \"policies\"\n\n"
            "# [rpc] max_message_bytes = 4194304: the largest call a client may make\n"
            "# (a task's arguments, a function's payload); internal calls allow more.\n\n"
            "# [log] format = \"json\": one JSON object per log line (default \"text\").\n"
            "# [admin] storage = \"127.0.0.1:PORT\" (and each other service): its\n"
            "# loopback metrics and health port; steep up gives every process one.\n\n",
            p->authentication_api, p->frontend, p->authentication_internal,
            p->authentication_internal, p->management, p->management, p->storage, p->storage,
            p->access_control, p->access_control, p->execution, p->execution, p->scheduler,
            p->scheduler);
    if (etcd && provision_etcd_storage_config(f, port_base) < 0) {
        fclose(f);
        return -1;
    }
    fprintf(f,
            "[execution]\n"
            "slots = %d\n"
            "%s%s%s%s",
            executor_slots,
            test_payloads ? "# A TEST platform: hostile test functions (test-*) may run and\n"
                            "# tasks may use file:// URLs on this host.\n"
                            "insecure_test_payloads = true\ninsecure_file_urls = true\n"
                          : "",
            face_model ? "# The SeetaFace model builtin-face-detection reads.\nface_model = \""
                       : "",
            face_model ? face_model : "", face_model ? "\"\n" : "");
    return fclose(f) == 0 ? 0 : -1;
}
