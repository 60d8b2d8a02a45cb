/* builtin-echo: returns the "message" argument and logs it (INFO, DEBUG). */
#include "functions/args.h"
#include "functions/builtins.h"

#include "core/error.h"

#include <string.h>

STEEP_FN(steep_fn_echo)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    const char *message;
    int rc = steep_args_string(args, "message", &message);
    if (rc == 0) {
        steep_fn_log(io, "INFO", "teaclave_function::echo", "%s", message);
        steep_fn_log(io, "DEBUG", "teaclave_function::echo", "%s", message);
        rc = steep_buf_append(summary, message, strlen(message));
    }
    json_decref(args);
    return rc;
}
