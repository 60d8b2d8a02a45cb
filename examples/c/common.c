/* Helpers shared by the C examples; see common.h. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void check(int rc, const char *what, const struct steep_error *err)
{
    if (rc == 0)
        return;
    fprintf(stderr, "FAILED: %s: %s (code %d)\n", what, err->message, err->code);
    exit(1);
}

const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static steep_client *connect_platform(void)
{
    static char root[4096], info[4096], keys[3][4096], sigs[3][4096];
    static const char *key_ptrs[3], *sig_ptrs[3];
    static const char *const auditors[] = {"godzilla", "optimus_prime", "albus_dumbledore"};
    const char *dir = getenv("STEEP_DIR");
    if (!dir) {
        fprintf(stderr, "set STEEP_DIR to a platform directory (steep up --dir DIR)\n");
        exit(2);
    }
    snprintf(root, sizeof(root), "%s/as_root_ca_cert.pem", dir);
    snprintf(info, sizeof(info), "%s/enclave_info.toml", dir);
    for (int i = 0; i < 3; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%s/auditors/%s.public.pem", dir, auditors[i]);
        snprintf(sigs[i], sizeof(sigs[i]), "%s/auditors/%s.sign.sha256", dir, auditors[i]);
        key_ptrs[i] = keys[i];
        sig_ptrs[i] = sigs[i];
    }
    struct steep_client_options options = {
        .authentication_address = env_or("STEEP_AUTH_ADDRESS", "localhost:7776"),
        .frontend_address = env_or("STEEP_FRONTEND_ADDRESS", "localhost:7777"),
        .as_root_ca_cert = root,
        .enclave_info = info,
        .auditor_public_keys = key_ptrs,
        .n_auditor_public_keys = 3,
        .auditor_signatures = sig_ptrs,
        .n_auditor_signatures = 3,
        /* A `steep up` platform runs the sim back-end: SIMULATED evidence. */
        .allow_simulation = true,
    };
    struct steep_error err;
    steep_client *client = steep_client_new(&options, &err);
    check(client ? 0 : -1, "connect", &err);
    return client;
}

steep_client *connect_as(const char *user, const char *password, const char *role,
                         const char *attribute)
{
    struct steep_error err;
    steep_client *client = connect_platform();
    if (role) {
        steep_client *admin = connect_platform();
        check(steep_user_login(admin, "admin", env_or("ADMIN_PASSWORD", "teaclave"), NULL, &err),
              "admin login", &err);
        /* A rerun finds the user already there. */
        if (steep_user_register(admin, user, password, role, attribute, &err) < 0 &&
            !strstr(err.message, "user id exist"))
            check(-1, "register user", &err);
        steep_client_free(admin);
    }
    check(steep_user_login(client, user, password, NULL, &err), "login", &err);
    return client;
}

char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 16);
    if (!f || !text) {
        fprintf(stderr, "FAILED: cannot read %s\n", path);
        exit(1);
    }
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

char *example_text(const char *name)
{
    char path[4096];
    const char *dir = getenv("EXAMPLE_DIR");
    if (!dir) {
        fprintf(stderr, "set EXAMPLE_DIR (run examples/prepare_inputs.sh first)\n");
        exit(2);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = read_text(path);
    text[strcspn(text, "\n")] = '\0';
    return text;
}

void hex_bytes(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len) {
        fprintf(stderr, "FAILED: '%s' is not %zu hex bytes\n", hex, len);
        exit(1);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            fprintf(stderr, "FAILED: '%s' is not hex\n", hex);
            exit(1);
        }
        out[i] = (uint8_t)byte;
    }
}

char *example_input(steep_client *client, const char *name)
{
    char file[256], url[4096];
    uint8_t key[16], cmac[16];
    snprintf(file, sizeof(file), "%s.key", name);
    char *text = example_text(file);
    hex_bytes(text, key, sizeof key);
    free(text);
    snprintf(file, sizeof(file), "%s.cmac", name);
    text = example_text(file);
    hex_bytes(text, cmac, sizeof cmac);
    free(text);
    snprintf(url, sizeof(url), "%s/example-inputs/%s.enc",
             env_or("FILES_URL", "http://localhost:6789"), name);
    struct steep_crypto_info crypto = {"teaclave-file-128", key, 16, NULL, 0};
    struct steep_error err;
    char *id;
    check(steep_register_input_file(client, url, cmac, &crypto, &id, &err), "register input", &err);
    return id;
}

void random_key(uint8_t key[16])
{
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(key, 1, 16, f) != 16) {
        fprintf(stderr, "FAILED: cannot read /dev/urandom\n");
        exit(1);
    }
    fclose(f);
}

char *tf128_output(steep_client *client, const char *rel, const uint8_t key[16])
{
    char url[4096];
    snprintf(url, sizeof(url), "%s/%s", env_or("FILES_URL", "http://localhost:6789"), rel);
    struct steep_crypto_info crypto = {"teaclave-file-128", key, 16, NULL, 0};
    struct steep_error err;
    char *id;
    check(steep_register_output_file(client, url, &crypto, &id, &err), "register output", &err);
    return id;
}

char *tf128_decrypt_text(const char *rel, const uint8_t key[16])
{
    char cmd[8192], out[4096], hex[33];
    const char *dir = env_or("FILES_DIR", ".");
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(out, sizeof(out), "%s/%s.txt", dir, rel);
    snprintf(cmd, sizeof(cmd),
             "'%s/steep' file decrypt --scheme teaclave-file-128 --key %s '%s/%s' '%s' "
             ">/dev/null",
             env_or("STEEP_BIN", "build/bin"), hex, dir, rel, out);
    if (system(cmd) != 0) {
        fprintf(stderr, "FAILED: cannot decrypt %s\n", rel);
        exit(1);
    }
    return read_text(out);
}
