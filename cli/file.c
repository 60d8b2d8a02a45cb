/* `steep file encrypt|decrypt|cmac`: local file crypto in every Teaclave scheme. */
#include "cli.h"
#include "connect.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/file_crypto.h"

static void usage(void)
{
    printf("usage: steep file COMMAND --scheme S --key HEX [--iv HEX] IN [OUT]\n"
           "  encrypt IN OUT    prints the cmac to register the file with\n"
           "  decrypt IN OUT    refuses (and writes nothing) unless the file authenticates\n"
           "  cmac IN           prints the file's cmac after authenticating it\n"
           "S: aes-gcm-128 (key 16 bytes, iv 12), aes-gcm-256 (key 32, iv 12),\n"
           "   teaclave-file-128 (key 16, no iv; the file name is bound inside: keep OUT's\n"
           "   basename the same as the URL's), raw.\n"
           "--key random / --iv random draw fresh values and print them.\n"
           "A progress bar is shown on a terminal for files over 16 MiB; --quiet hides it.\n");
}

struct progress {
    bool enabled;
    int last_percent;
};

static void show_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    if (!p->enabled || total == 0)
        return;
    int percent = (int)(done * 100 / total);
    if (percent == p->last_percent)
        return;
    p->last_percent = percent;
    char bar[41];
    int filled = percent * 40 / 100;
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(40 - filled));
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  %llu / %llu MiB", bar, percent, (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
    if (done >= total)
        fputc('\n', stderr);
}

/* HEX or "random" (then n_random bytes are drawn and printed). */
static int key_arg(const char *what, const char *value, size_t n_random, uint8_t *out, size_t max,
                   size_t *len)
{
    if (value && !strcmp(value, "random")) {
        if (RAND_bytes(out, (int)n_random) != 1)
            return -1;
        *len = n_random;
        fprintf(stderr, "%s: ", what);
        for (size_t i = 0; i < n_random; i++)
            fprintf(stderr, "%02x", out[i]);
        fputc('\n', stderr);
        return 0;
    }
    *len = 0;
    return value ? cli_hex_arg(what, value, out, max, len) : 0;
}

static int run(struct cli_session *session, const char *command, const struct cli_args *args)
{
    (void)session;
    bool cmac_only = !strcmp(command, "cmac");
    bool encrypt = !strcmp(command, "encrypt");
    const char *scheme = cli_arg(args, "scheme");
    uint8_t key[32], iv[12];
    size_t key_len = 0, iv_len = 0;
    size_t want_key = !strcmp(scheme, "aes-gcm-256") ? 32 : 16;
    size_t want_iv = strncmp(scheme, "aes-gcm", 7) ? 0 : 12;
    if (key_arg("key", cli_arg(args, "key"), want_key, key, sizeof(key), &key_len) < 0 ||
        key_arg("iv", cli_arg(args, "iv"), want_iv, iv, sizeof(iv), &iv_len) < 0)
        return CLI_USAGE;
    struct steep_file_crypto crypto;
    int rc = CLI_OK;
    if (steep_file_crypto_init(&crypto, scheme, key, key_len, iv, iv_len) < 0) {
        cli_error("file %s: %s", command, steep_error_get());
        OPENSSL_cleanse(key, sizeof(key));
        return CLI_USAGE;
    }
    OPENSSL_cleanse(key, sizeof(key));
    struct stat st;
    struct progress progress = {
        .enabled = !cli_flag(args, "quiet") && isatty(STDERR_FILENO) &&
                   stat(args->positional[0], &st) == 0 && st.st_size > (16 << 20),
        .last_percent = -1,
    };
    uint8_t cmac[16];
    int ok;
    if (cmac_only)
        ok = steep_file_cmac(args->positional[0], &crypto, cmac);
    else if (encrypt)
        ok = steep_file_encrypt(args->positional[0], args->positional[1], &crypto, show_progress,
                                &progress, cmac);
    else
        ok = steep_file_decrypt(args->positional[0], args->positional[1], &crypto, show_progress,
                                &progress, cmac);
    steep_file_crypto_wipe(&crypto);
    if (ok < 0) {
        cli_error("file %s: %s", command, steep_error_get());
        return CLI_FAILED;
    }
    if (cli_flag(args, "json"))
        rc = cli_json_print(json_pack("{s:o}", "cmac", cli_json_hex(cmac, 16)));
    else if (strcmp(scheme, "raw")) {
        printf(cmac_only ? "" : "cmac ");
        cli_print_hex(cmac, 16);
        printf("\n");
    }
    return rc;
}

static const struct cli_subcommand commands[] = {
    {"encrypt", "scheme,key,iv", "quiet", "scheme", 2, 2, "IN OUT", CLI_LOCAL, run, NULL},
    {"decrypt", "scheme,key,iv", "quiet", "scheme", 2, 2, "IN OUT", CLI_LOCAL, run, NULL},
    {"cmac", "scheme,key,iv", "quiet", "scheme", 1, 1, "IN", CLI_LOCAL, run, NULL},
};

int cli_file(int argc, char **argv)
{
    return cli_dispatch(argc, argv, "file", commands, sizeof(commands) / sizeof(commands[0]),
                        usage);
}
