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
    if (s->json)
        return cli_json_print(json_pack("{s:o}", "data_id", cli_json_str(id)));
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
    rc = print_id(s, id);
    free(id);
    return rc;
}

static int register_io(struct cli_session *s, const char *command, const struct cli_args *args)
{
    return register_file(s, args, !strcmp(command, "input"));
}

static int fusion(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    char *id = NULL;
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
    int rc = print_id(s, id);
    free(id);
    return rc;
}

static int from_output(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    char *id = NULL;
    if (steep_register_input_from_output(s->client, args->positional[0], &id, &err) < 0)
        return cli_report("register input from output", &err);
    int rc = print_id(s, id);
    free(id);
    return rc;
}

static int update(struct cli_session *s, const char *command, const struct cli_args *args)
{
    struct steep_error err;
    char *id = NULL;
    bool input = !strcmp(command, "update-input");
    if ((input ? steep_update_input_file : steep_update_output_file)(
            s->client, args->positional[0], args->positional[1], &id, &err) < 0)
        return cli_report(command, &err);
    int rc = print_id(s, id);
    free(id);
    return rc;
}

static int get(struct cli_session *s, const char *command, const struct cli_args *args)
{
    (void)command;
    struct steep_error err;
    struct steep_file_info info;
    if (steep_get_file(s->client, args->positional[0], &info, &err) < 0)
        return cli_report("get file", &err);
    int rc = CLI_OK;
    if (s->json) {
        rc = cli_json_print(
            json_pack("{s:o,s:o}", "owners", cli_json_strings(&info.owners), "cmac",
                      info.has_cmac ? cli_json_hex(info.cmac, 16) : json_string("")));
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
    return rc;
}

static const struct cli_subcommand commands[] = {
    {"input", "scheme,key,iv,cmac", "", "scheme,cmac", 1, 1, "URL", CLI_LOGGED_IN, register_io,
     NULL},
    {"output", "scheme,key,iv", "", "scheme", 1, 1, "URL", CLI_LOGGED_IN, register_io, NULL},
    {"fusion", "owner", "", "owner", 0, 0, "", CLI_LOGGED_IN, fusion, NULL},
    {"from-output", "", "", "", 1, 1, "OUTPUT_ID", CLI_LOGGED_IN, from_output, NULL},
    {"update-input", "", "", "", 2, 2, "ID URL", CLI_LOGGED_IN, update, NULL},
    {"update-output", "", "", "", 2, 2, "ID URL", CLI_LOGGED_IN, update, NULL},
    {"get", "", "", "", 1, 1, "ID", CLI_LOGGED_IN, get, NULL},
};

int cli_data(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "data", commands, sizeof(commands) / sizeof(commands[0]),
                        usage);
}
