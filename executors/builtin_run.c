/* The builtin executor inside the runner (links the function library);
 * see builtin.h. The payload is ignored, as in Teaclave's builtin.rs. */
#include "builtin.h"

#include <string.h>

#include "core/error.h"
#include "functions/function.h"

int steep_executor_run(const char *runner_executor, const char *function_name,
                       const char *arguments, struct steep_fn_io *io, struct steep_buf *summary)
{
    ENSURE(strcmp(runner_executor, "builtin") == 0, "function not available: (%s)",
           runner_executor);
    const struct steep_builtin *function = steep_builtin_find(function_name);
    if (!function)
        return -1;
    return steep_builtin_run(function, arguments, io, summary);
}
