/*
 * builtin_online_decrypt: AES-GCM-128/256 of base64 arguments (tag at the
 * end, empty AAD, first 12 nonce bytes); returns the UTF-8 plaintext.
 * Teaclave panics on a nonce shorter than 12 bytes; we fail the task.
 */
#include "functions/args.h"
#include "core/text.h"
#include "functions/builtins.h"
#include "functions/line_reader.h"

#include "crypto/aes_gcm.h"

#include "core/error.h"

#include <string.h>

/* The Rust base64 crate's STANDARD decoding (0.13: padding optional), with its messages. */
static int base64_arg(const char *text, struct steep_buf *out)
{
    struct steep_cursor c = steep_cursor_make(text, strlen(text));
    return steep_cursor_read_base64(&c, STEEP_BASE64_PAD_OPTIONAL, out);
}

static int decrypt(const json_t *args, struct steep_buf *summary, struct steep_buf *key,
                   struct steep_buf *nonce, struct steep_buf *data)
{
    const char *key_text, *nonce_text, *data_text, *algorithm;
    GUARD(steep_args_string(args, "key", &key_text));
    GUARD(steep_args_string(args, "nonce", &nonce_text));
    GUARD(steep_args_string(args, "encrypted_data", &data_text));
    GUARD(steep_args_string(args, "algorithm", &algorithm));
    GUARD(base64_arg(key_text, key));
    GUARD(base64_arg(nonce_text, nonce));
    GUARD(base64_arg(data_text, data));
    size_t key_len;
    if (strcmp(algorithm, "aes128gcm") == 0)
        key_len = 16;
    else if (strcmp(algorithm, "aes256gcm") == 0)
        key_len = 32;
    else
        return steep_error_set("Invalid algorithm");
    ENSURE(nonce->len >= 12, "nonce must be at least 12 bytes, got %zu", nonce->len);
    ENSURE(key->len == key_len && data->len >= 16, "decryption error");
    size_t plain_len = data->len - 16;
    GUARD(steep_buf_reserve(summary, plain_len + 1));
    ENSURE(steep_aes_gcm_open(key->data, key_len, nonce->data, NULL, 0, data->data, plain_len,
                              data->data + plain_len, summary->data + summary->len) == 0,
           "decryption error");
    GUARD(steep_utf8_check(summary->data + summary->len, plain_len));
    summary->len += plain_len;
    return 0;
}

STEEP_FN(steep_fn_online_decrypt)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    struct steep_buf key = STEEP_BUF_INIT, nonce = STEEP_BUF_INIT, data = STEEP_BUF_INIT;
    steep_buf_wipe(&key);
    int rc = decrypt(args, summary, &key, &nonce, &data);
    steep_buf_free(&key);
    steep_buf_free(&nonce);
    steep_buf_free(&data);
    json_decref(args);
    return rc;
}
