/* The builtin executor inside the runner (links the function library);
 * see builtin.h. The payload is ignored, as in Teaclave's builtin.rs. */
#include "builtin.h"

#include <string.h>

#include "core/error.h"
#include "functions/function.h"
#include "runner_protocol.h"
#include "wamr/wamr_run.h"

int steep_executor_load(struct steep_runner_request *request)
{
    if (strcmp(request->executor, "wamr") == 0)
        return steep_wamr_runner_load(request);
    return 0;
}

int steep_executor_run(const char *runner_executor, const char *function_name,
                       const char *arguments, struct steep_fn_io *io, struct steep_buf *summary)
{
    if (strcmp(runner_executor, "wamr") == 0)
        return steep_wamr_runner_run(function_name, arguments, io, summary);
    ENSURE(strcmp(runner_executor, "builtin") == 0, "function not available: (%s)",
           runner_executor);
    const struct steep_builtin *function = steep_builtin_find(function_name);
    if (!function)
        return -1;
    return steep_builtin_run(function, arguments, io, summary);
}
