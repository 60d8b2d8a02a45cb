/*
 * builtin-password-check: is the first line of "password" (trimmed) among
 * the trimmed lines of "exposed_passwords"? Returns "true"/"false".
 * The password is compared line by line as exposed_passwords streams in
 * (no set is built). Teaclave panics on an empty password file; we fail.
 */
#include "functions/builtins.h"
#include "functions/line_reader.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static int read_password(struct steep_fn_io *io, struct steep_buf *password)
{
    struct steep_reader *r = steep_fn_open_input(io, "password");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    if (!lr) {
        steep_reader_close(r);
        return steep_error_set("out of memory");
    }
    steep_line_reader_init(lr, r);
    steep_buf_wipe(&lr->line);
    const char *line;
    size_t len;
    int got = steep_line_next(lr, &line, &len);
    int rc = got < 0 ? -1 : 0;
    if (got == 0)
        rc = steep_error_set("password file is empty");
    if (got == 1 && (rc = steep_utf8_check((const uint8_t *)line, len)) == 0) {
        steep_trim(&line, &len);
        rc = steep_buf_append(password, line, len);
    }
    steep_line_reader_free(lr);
    free(lr);
    steep_reader_close(r);
    return rc;
}

static int search(struct steep_fn_io *io, const struct steep_buf *password, bool *found)
{
    struct steep_reader *r = steep_fn_open_input(io, "exposed_passwords");
    if (!r)
        return -1;
    struct steep_line_reader *lr = malloc(sizeof(*lr));
    if (!lr) {
        steep_reader_close(r);
        return steep_error_set("out of memory");
    }
    steep_line_reader_init(lr, r);
    steep_buf_wipe(&lr->line);
    const char *line;
    size_t len;
    int got;
    *found = false;
    while ((got = steep_line_next(lr, &line, &len)) == 1) {
        if (steep_utf8_check((const uint8_t *)line, len) < 0) {
            got = steep_error_wrap("Could not parse line");
            break;
        }
        steep_trim(&line, &len);
        if (len == password->len && (len == 0 || CRYPTO_memcmp(line, password->data, len) == 0))
            *found = true;
    }
    steep_line_reader_free(lr);
    free(lr);
    steep_reader_close(r);
    return got < 0 ? -1 : 0;
}

STEEP_FN(steep_fn_password_check)
{
    struct steep_buf password = STEEP_BUF_INIT;
    steep_buf_wipe(&password);
    bool found = false;
    int rc = read_password(io, &password);
    if (rc == 0)
        rc = search(io, &password, &found);
    steep_buf_free(&password);
    GUARD(rc);
    return steep_buf_printf(summary, "%s", found ? "true" : "false");
}
