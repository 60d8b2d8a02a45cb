/* The builtin executor; see builtin.h. */
#include "builtin.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"

int steep_executor_select(const char *executor_type, const char *executor,
                          const char **runner_executor)
{
    if (strcasecmp(executor_type, "builtin") == 0 && strcasecmp(executor, "builtin") == 0) {
        *runner_executor = "builtin";
        return 0;
    }
    if (strcasecmp(executor_type, "WAMicroRuntime") == 0 &&
        strcasecmp(executor, "WAMicroRuntime") == 0) {
        *runner_executor = "wamr";
        return 0;
    }
    if (strcasecmp(executor_type, "python") == 0 && strcasecmp(executor, "mesapy") == 0) {
        *runner_executor = "python"; /* executors/python */
        return 0;
    }
    return steep_error_set("function not available: (%s, %s)", executor_type, executor);
}
