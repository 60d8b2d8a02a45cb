/*
 * The embedded interpreter and one task in it.
 *
 * steep_python_init() runs once per runner: CPython in its isolated
 * configuration (no site, no user site, no environment variables read,
 * PYTHONHOME fixed to /usr, a fixed read-only module path: Debian's
 * standard library and its numpy), no signal handlers of its own (the
 * sandbox's crash and violation handlers stay in charge, SIGXFSZ stays
 * fatal), then the prelude (prelude.py, compiled in), which loads the
 * allowed modules and closes the import system. BLAS and OpenMP are told
 * to use one thread before numpy loads: the zygote must stay
 * single-threaded to fork, and the task to confine itself.
 *
 * steep_python_task() runs in the task's own process (pid 1 of a new PID
 * namespace): request, then the sandbox chain of steep-task-runner
 * (steep_runner_enter, steep_runner_supervise, steep_runner_confine), then
 * the payload in the worker. A result is sent as the OK
 * frame (at most result_limit bytes, never more than one frame); an
 * exception fails the task with the prelude's "<Type>: <message>" plus
 * traceback; MemoryError reads as the memory limit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "executors/runner_confine.h"
#include "executors/runner_io.h"
#include "executors/runner_protocol.h"
#include "prelude_py.h"
#include "python_runner.h"

static PyObject *run_task, *format_failure, *is_memory_error;

static int config_fail(PyConfig *config, PyStatus status)
{
    PyConfig_Clear(config);
    return steep_error_set("cannot start Python: %s", status.err_msg ? status.err_msg : "?");
}

static int threads_now(void)
{
    char line[256];
    int threads = -1;
    FILE *status = fopen("/proc/self/status", "re");
    if (!status)
        return -1;
    while (fgets(line, sizeof line, status))
        if (sscanf(line, "Threads: %d", &threads) == 1)
            break;
    fclose(status);
    return threads;
}

static int start_interpreter(void)
{
    static const wchar_t *paths[] = {L"/usr/lib/python3.11", L"/usr/lib/python3.11/lib-dynload",
                                     L"/usr/lib/python3/dist-packages"};
    PyConfig config;
    PyStatus status;
    ENSURE(PyImport_AppendInittab("_teaclave", steep_python_files_init) == 0,
           "cannot register the _teaclave module");
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.user_site_directory = 0;
    config.use_environment = 0;
    config.install_signal_handlers = 0;
    config.write_bytecode = 0;
    config.pathconfig_warnings = 0;
    config.safe_path = 1;
    config.parse_argv = 0;
    status = PyConfig_SetString(&config, &config.home, L"/usr");
    if (PyStatus_Exception(status))
        return config_fail(&config, status);
    status = PyConfig_SetString(&config, &config.program_name, L"steep-python-runner");
    if (PyStatus_Exception(status))
        return config_fail(&config, status);
    config.module_search_paths_set = 1;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        status = PyWideStringList_Append(&config.module_search_paths, paths[i]);
        if (PyStatus_Exception(status))
            return config_fail(&config, status);
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        return config_fail(&config, status);
    PyConfig_Clear(&config);
    return 0;
}

/* The Python error as text for a runner log line. */
static void log_python_error(const char *what)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *message = text ? PyUnicode_AsUTF8(text) : NULL;
    steep_error_set("%s: %s", what, message ? message : "unknown error");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Clear();
}

int steep_python_init(void)
{
    /* Read by OpenBLAS and OpenMP when numpy loads them. */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MKL_NUM_THREADS", "1", 1);
    GUARD(start_interpreter());
    PyObject *code =
        Py_CompileString((const char *)steep_python_prelude, "<steep prelude>", Py_file_input);
    PyObject *module = code ? PyImport_ExecCodeModule("_steep_prelude", code) : NULL;
    Py_XDECREF(code);
    if (!module) {
        log_python_error("cannot load the Python prelude");
        return -1;
    }
    run_task = PyObject_GetAttrString(module, "run_task");
    format_failure = PyObject_GetAttrString(module, "format_failure");
    is_memory_error = PyObject_GetAttrString(module, "is_memory_error");
    Py_DECREF(module);
    ENSURE(run_task && format_failure && is_memory_error, "the Python prelude is incomplete");
    int threads = threads_now();
    ENSURE(threads == 1, "the Python runner has %d threads after start-up (must be 1)", threads);
    return 0;
}

static int send_frame(uint8_t type, const void *data, size_t len)
{
    return steep_runner_frame_write(STEEP_PYTHON_CHANNEL_FD, type, data, len);
}

static int fail(const char *reason)
{
    send_frame(STEEP_RUNNER_ERROR, reason, strnlen(reason, STEEP_RUNNER_DEFAULT_MESSAGE));
    return 0;
}

/* The pending exception as the task's failure. */
static int fail_with_exception(void)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (!value)
        return fail("function raised an unknown exception");
    if (traceback)
        PyException_SetTraceback(value, traceback);
    PyObject *memory = PyObject_CallOneArg(is_memory_error, value);
    if (memory == Py_True)
        send_frame(STEEP_RUNNER_MEMORY, NULL, 0);
    Py_XDECREF(memory);
    PyObject *text = PyObject_CallOneArg(format_failure, value);
    const char *reason = text ? PyUnicode_AsUTF8(text) : NULL;
    int rc = fail(reason ? reason : "function raised an exception");
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Clear();
    return rc;
}

static int report_result(PyObject *result, uint64_t result_limit)
{
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(result, &data, &len) < 0)
        return fail_with_exception();
    if ((uint64_t)len > result_limit) {
        char reason[256];
        snprintf(reason, sizeof reason,
                 "function result too large: %zd bytes, the limit is %llu bytes "
                 "([execution] python_result_bytes)",
                 len, (unsigned long long)result_limit);
        return fail(reason);
    }
    if (steep_python_files_close_all() < 0)
        return fail(steep_error_get());
    return send_frame(STEEP_RUNNER_OK, data, (size_t)len);
}

static int run(const struct steep_runner_request *request, uint64_t result_limit)
{
    struct steep_runner_io runner_io;
    steep_runner_io_init(&runner_io, request, STEEP_PYTHON_CHANNEL_FD);
    steep_python_files_bind(&runner_io.io);
    PyObject *source =
        PyBytes_FromStringAndSize((const char *)request->payload, (Py_ssize_t)request->payload_len);
    PyObject *arguments = PyUnicode_FromString(request->arguments ? request->arguments : "{}");
    PyObject *result = source && arguments
                           ? PyObject_CallFunctionObjArgs(run_task, source, arguments, NULL)
                           : NULL;
    Py_XDECREF(source);
    Py_XDECREF(arguments);
    int rc = result ? report_result(result, result_limit) : fail_with_exception();
    Py_XDECREF(result);
    steep_python_files_bind(NULL);
    return rc;
}

/* Before the sandbox (steep_runner_start). */
static int prepare(struct steep_runner_request *request)
{
    ENSURE(strcmp(request->executor, "python") == 0,
           "the Python runner serves only the python executor");
    /* The script must not write into the node's log: stderr becomes the
     * read-only /dev/null the runner has as stdin (failures go as frames). */
    ENSURE(dup2(STDIN_FILENO, STDERR_FILENO) >= 0, "cannot detach the task from the node's log");
    return 0;
}

int steep_python_task(uint64_t result_limit, const struct steep_runner_options *options)
{
    struct steep_runner_request request;
    /* The chain of steep-task-runner (runner_confine.c): this process is
     * pid 1 of a new PID namespace; it enters the namespaces, the empty
     * root and the sandbox user, forks the worker and supervises it; the
     * worker confines itself and runs the payload (a pre-started one
     * waits for its task first). Everything the payload can import was
     * loaded before the fork: nothing is opened after. */
    int rc = steep_runner_start(STEEP_PYTHON_CHANNEL_FD, options, prepare, &request);
    if (rc == -2)
        return 2;
    if (rc < 0) {
        fail(steep_error_get());
        return 2;
    }
    rc = run(&request, result_limit);
    steep_runner_request_free(&request);
    return rc < 0 ? 2 : 0;
}
