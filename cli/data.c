/* `steep data …`: register input/output/fusion/from-output files, update, get. */
#include "cli.h"
#include "connect.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: steep data COMMAND [OPTIONS]\n"
           "  input URL --scheme S [--key HEX] [--iv HEX] --cmac HEX   register an input file\n"
           "  output URL --scheme S [--key HEX] [--iv HEX]             register an output file\n"
           "  fusion --owner USER --owner USER ...   an output owned jointly (you included)\n"
           "  from-output OUTPUT_ID                   a finished output as an input\n"
           "  update-input ID URL | update-output ID URL   (new record, new id)\n"
           "  get ID                                  owners and cmac\n"
           "Each register command prints the new data id.\n");
}

static int print_id(const struct cli_session *s, const char *id)
{
    if (s->json) {
        printf("{\"data_id\":");
        cli_print_json_string(id);
        printf("}\n");
    } else
        printf("%s\n", id);
    return CLI_OK;
}

static int register_file(struct cli_session *s, const struct cli_args *args, bool input)
{
    const char *scheme = cli_arg(args, "scheme"), *cmac_hex = cli_arg(args, "cmac");
    if (args->n_positional != 1 || !scheme || (input && !cmac_hex)) {
        cli_error("data %s: needs URL, --scheme%s", input ? "input" : "output",
                  input ? " and --cmac" : "");
        return CLI_USAGE;
    }
    uint8_t key[32], iv[12], cmac[16];
    size_t key_len = 0, iv_len = 0, cmac_len = 0;
    const char *k = cli_arg(args, "key"), *v = cli_arg(args, "iv");
    if ((k && cli_hex_arg("--key", k, key, sizeof(key), &key_len) < 0) ||
        (v && cli_hex_arg("--iv", v, iv, sizeof(iv), &iv_len) < 0) ||
        (cmac_hex && cli_hex_arg("--cmac", cmac_hex, cmac, sizeof(cmac), &cmac_len) < 0))
        return CLI_USAGE;
    if (input && cmac_len != 16) {
        cli_error("--cmac must be 16 bytes (32 hex digits)");
        return CLI_USAGE;
    }
    struct steep_crypto_info crypto = {scheme, key, key_len, iv, iv_len};
    struct steep_error err;
    char *id = NULL;
    int rc =
        input ? steep_register_input_file(s->client, args->positional[0], cmac, &crypto, &id, &err)
              : steep_register_output_file(s->client, args->positional[0], &crypto, &id, &err);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0)
        return cli_report(input ? "register input" : "register output", &err);
    print_id(s, id);
    free(id);
    return CLI_OK;
}

static int run(struct cli_session *s, const char *command, const struct cli_args *args)
{
    struct steep_error err;
    char *id = NULL;
    if (!strcmp(command, "input") || !strcmp(command, "output"))
        return register_file(s, args, command[0] == 'i');
    if (!strcmp(command, "fusion")) {
        size_t n = cli_arg_count(args, "owner");
        const char *owners[64];
        if (n < 2 || n > 64) {
            cli_error("data fusion: give 2 to 64 --owner USER (you among them)");
            return CLI_USAGE;
        }
        for (size_t i = 0; i < n; i++)
            owners[i] = cli_arg_nth(args, "owner", i);
        if (steep_register_fusion_output(s->client, owners, n, &id, &err) < 0)
            return cli_report("register fusion output", &err);
    } else if (!strcmp(command, "from-output")) {
        if (args->n_positional != 1) {
            cli_error("data from-output: needs OUTPUT_ID");
            return CLI_USAGE;
        }
        if (steep_register_input_from_output(s->client, args->positional[0], &id, &err) < 0)
            return cli_report("register input from output", &err);
    } else if (!strcmp(command, "update-input") || !strcmp(command, "update-output")) {
        if (args->n_positional != 2) {
            cli_error("data %s: needs ID URL", command);
            return CLI_USAGE;
        }
        bool input = command[7] == 'i';
        if ((input ? steep_update_input_file : steep_update_output_file)(
                s->client, args->positional[0], args->positional[1], &id, &err) < 0)
            return cli_report(command, &err);
    } else if (!strcmp(command, "get")) {
        if (args->n_positional != 1) {
            cli_error("data get: needs ID");
            return CLI_USAGE;
        }
        struct steep_file_info info;
        if (steep_get_file(s->client, args->positional[0], &info, &err) < 0)
            return cli_report("get file", &err);
        if (s->json) {
            printf("{\"owners\":[");
            for (size_t i = 0; i < info.owners.count; i++) {
                printf(i ? "," : "");
                cli_print_json_string(info.owners.items[i]);
            }
            printf("],\"cmac\":\"");
            if (info.has_cmac)
                cli_print_hex(info.cmac, 16);
            printf("\"}\n");
        } else {
            printf("owners:");
            for (size_t i = 0; i < info.owners.count; i++)
                printf(" %s", info.owners.items[i]);
            printf("\ncmac:   ");
            if (info.has_cmac)
                cli_print_hex(info.cmac, 16);
            else
                printf("(not produced yet)");
            printf("\n");
        }
        steep_file_info_free(&info);
        return CLI_OK;
    } else {
        cli_error("unknown data command '%s' (see steep data --help)", command);
        return CLI_USAGE;
    }
    print_id(s, id);
    free(id);
    return CLI_OK;
}

int cli_data(int argc, char **argv)
{
    return cli_group_main(argc, argv, "scheme,key,iv,cmac,owner", "", usage, run);
}
