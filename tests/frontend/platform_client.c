/* libsteep clients for a `steep up` platform (platform_client.h). */
#include "platform_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback)
{
    const char *value = getenv(name);
    return value && *value ? value : fallback;
}

const char *platform_admin_password(void)
{
    return env_or("ADMIN_PASSWORD", "teaclave");
}

static void die(const char *what, const struct steep_error *err)
{
    fprintf(stderr, "FAILED: %s: %s (code %d)\n", what, err->message, err->code);
    exit(1);
}

steep_client *platform_client(void)
{
    static char root[4096], info[4096], keys[3][4096], signatures[3][4096];
    static const char *key_paths[3], *signature_paths[3];
    static const char *const auditors[] = {"godzilla", "optimus_prime", "albus_dumbledore"};
    const char *dir = getenv("STEEP_DIR");
    if (!dir) {
        fprintf(stderr, "set STEEP_DIR to a platform directory (steep up --dir DIR)\n");
        exit(2);
    }
    snprintf(root, sizeof root, "%s/as_root_ca_cert.pem", dir);
    snprintf(info, sizeof info, "%s/enclave_info.toml", dir);
    for (int i = 0; i < 3; i++) {
        snprintf(keys[i], sizeof keys[i], "%s/auditors/%s.public.pem", dir, auditors[i]);
        snprintf(signatures[i], sizeof signatures[i], "%s/auditors/%s.sign.sha256", dir,
                 auditors[i]);
        key_paths[i] = keys[i];
        signature_paths[i] = signatures[i];
    }
    struct steep_client_options options = {
        .authentication_address = env_or("STEEP_AUTH_ADDRESS", "localhost:7776"),
        .frontend_address = env_or("STEEP_FRONTEND_ADDRESS", "localhost:7777"),
        .as_root_ca_cert = root,
        .enclave_info = info,
        .auditor_public_keys = key_paths,
        .n_auditor_public_keys = 3,
        .auditor_signatures = signature_paths,
        .n_auditor_signatures = 3,
        .allow_simulation = true, /* steep up runs the sim back-end */
    };
    struct steep_error err;
    steep_client *client = steep_client_new(&options, &err);
    if (!client)
        die("connect", &err);
    return client;
}

steep_client *platform_login(const char *user, const char *password, const char *role,
                             const char *attribute)
{
    struct steep_error err;
    if (role) {
        steep_client *admin = platform_client();
        if (steep_user_login(admin, "admin", platform_admin_password(), NULL, &err) < 0)
            die("admin login", &err);
        if (steep_user_register(admin, user, password, role, attribute, &err) < 0 &&
            !strstr(err.message, "user id exist"))
            die("register user", &err);
        steep_client_free(admin);
    }
    steep_client *client = platform_client();
    if (steep_user_login(client, user, password, NULL, &err) < 0)
        die("login", &err);
    return client;
}
