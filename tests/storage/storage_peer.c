/*
 * A stand-in for a service that calls steep-storage over mutually attested
 * TLS: the sim back-end measures this executable, so copies of it with
 * different trailing bytes are listed in enclave_info as management,
 * scheduler or frontend (test_storage_attested.py).
 *
 * usage: storage_peer CONFIG SERVICE_NAME put KEY VALUE | get KEY
 * Exit: 0 done (get prints "value <VALUE>"), 3 not found, 1 error (stderr).
 */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store_client.h"
#include "tee/attested.h"

static int call(struct steep_store_client *client, int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[3], "put") == 0)
        return steep_store_client_put(client, argv[4], strlen(argv[4]), argv[5], strlen(argv[5]),
                                      5000);
    if (argc == 5 && strcmp(argv[3], "get") == 0) {
        struct steep_buf value = STEEP_BUF_INIT;
        int rc = steep_store_client_get(client, argv[4], strlen(argv[4]), &value, 5000);
        if (rc == STEEP_STORE_OK)
            printf("value %.*s\n", (int)value.len, (const char *)value.data);
        steep_buf_free(&value);
        return rc;
    }
    return steep_error_set("usage: storage_peer CONFIG SERVICE_NAME put KEY VALUE | get KEY");
}

int main(int argc, char **argv)
{
    steep_log_init("storage-peer");
    if (argc < 5) {
        fprintf(stderr, "usage: storage_peer CONFIG SERVICE_NAME put KEY VALUE | get KEY\n");
        return 2;
    }
    struct steep_config *config = NULL;
    struct steep_attested *attested = NULL;
    struct steep_store_client *client = NULL;
    char address[256];
    int rc = STEEP_STORE_ERROR;
    struct steep_store_client_config client_config = {.address = address, .timeout_ms = 5000};
    if (steep_config_load(argv[1], &config) == 0 &&
        (attested = steep_attested_open_from_config(config, argv[2])) != NULL &&
        steep_attested_client_tls(attested, "teaclave_storage_service", &client_config.tls) == 0 &&
        steep_config_connect_address(config->internal[STEEP_ENDPOINT_STORAGE].advertised_address,
                                     address, sizeof address) == 0 &&
        (client = steep_store_client_new(&client_config)) != NULL)
        rc = call(client, argc, argv);
    if (rc == STEEP_STORE_ERROR)
        fprintf(stderr, "error: %s\n", steep_error_get());
    steep_store_client_free(client);
    steep_attested_free(attested);
    steep_config_free(config);
    return rc == STEEP_STORE_OK ? 0 : rc == STEEP_STORE_NOT_FOUND ? 3 : 1;
}
