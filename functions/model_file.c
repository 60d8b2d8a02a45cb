/* JSON model loading for the ML built-ins; see model_file.h. */
#include "functions/model_file.h"

#include "functions/builtins.h"

#include "core/error.h"

int steep_model_load(struct steep_fn_io *io, const char *name, json_t **out)
{
    struct steep_reader *r = steep_fn_open_input(io, name);
    if (!r)
        return -1;
    struct steep_buf text = STEEP_BUF_INIT;
    uint8_t chunk[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = steep_reader_read(r, chunk, sizeof(chunk))) != 0) {
        if (n < 0)
            rc = -1;
        else if (text.len + (size_t)n > STEEP_MODEL_MAX)
            rc = steep_error_set("%s is larger than %u bytes", name, STEEP_MODEL_MAX);
        else
            rc = steep_buf_append(&text, chunk, (size_t)n);
    }
    steep_reader_close(r);
    GUARD_GOTO(rc, done);
    ENSURE_GOTO(text.len > 0, done, "%s: empty file, expected a JSON model", name);
    json_error_t err;
    *out = json_loadb((const char *)text.data, text.len, 0, &err);
    ENSURE_GOTO(*out, done, "%s: %s at line %d column %d", name, err.text, err.line, err.column);
    if (!json_is_object(*out)) {
        json_decref(*out);
        rc = steep_error_set("%s: invalid model: not a JSON object", name);
    }
done:
    steep_buf_free(&text);
    return rc;
}
