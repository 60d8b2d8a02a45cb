/*
 * _teaclave: the script's task files, as Teaclave's MesaPy C ABI offered
 * them (c_open_input, c_create_output, c_read_file, c_write_file,
 * c_close_file; teaclave-functions.md §2.4), over the runner's struct
 * steep_fn_io (runner_io.c: inputs authenticated by their cmac when
 * opened, outputs encrypted and their cmac reported when closed).
 *
 * Handles come from one sequence 1..1023 shared by reads and writes; a
 * write handle has bit 30 set. Errors raise OSError with the runner's
 * reason; the prelude turns them into Teaclave's RuntimeError texts.
 * The runner is single-threaded, so the table needs no lock.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/error.h"
#include "python_runner.h"

#define MAX_HANDLES 1024
#define WRITE_BIT   0x40000000L
#define MAX_READ    (16L << 20)

static struct steep_fn_io *task_io;
static struct steep_reader *readers[MAX_HANDLES];
static struct steep_writer *writers[MAX_HANDLES];
static long next_handle = 1;

void steep_python_files_bind(struct steep_fn_io *io)
{
    task_io = io;
}

static PyObject *fail(const char *reason)
{
    PyErr_SetString(PyExc_OSError, reason);
    return NULL;
}

static PyObject *open_file(PyObject *arg, bool output)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    if (!task_io)
        return fail("no task files");
    if (next_handle >= MAX_HANDLES)
        return fail("too many files opened (at most 1023 per task)");
    long handle = next_handle;
    if (output) {
        struct steep_writer *writer = task_io->create_output(task_io->ctx, name);
        if (!writer)
            return fail(steep_error_get());
        writers[handle] = writer;
        next_handle++;
        return PyLong_FromLong(handle | WRITE_BIT);
    }
    struct steep_reader *reader = task_io->open_input(task_io->ctx, name);
    if (!reader)
        return fail(steep_error_get());
    readers[handle] = reader;
    next_handle++;
    return PyLong_FromLong(handle);
}

static PyObject *files_open_input(PyObject *self, PyObject *arg)
{
    return open_file(arg, false);
}

static PyObject *files_create_output(PyObject *self, PyObject *arg)
{
    return open_file(arg, true);
}

/* The slot of a handle, or -1 with an OSError set. */
static long slot(long handle, bool write)
{
    long index = handle & ~WRITE_BIT;
    bool is_write = (handle & WRITE_BIT) != 0;
    if (index <= 0 || index >= MAX_HANDLES || is_write != write ||
        (write ? writers[index] == NULL : readers[index] == NULL)) {
        fail(write ? "invalid write handle" : "invalid read handle");
        return -1;
    }
    return index;
}

static PyObject *files_read(PyObject *self, PyObject *args)
{
    long handle;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "ln", &handle, &size))
        return NULL;
    long index = slot(handle, false);
    if (index < 0)
        return NULL;
    if (size < 0)
        return fail("negative read size");
    if (size > MAX_READ)
        size = MAX_READ;
    PyObject *data = PyBytes_FromStringAndSize(NULL, size);
    if (!data)
        return NULL;
    ssize_t n = steep_reader_read(readers[index], PyBytes_AS_STRING(data), (size_t)size);
    if (n < 0) {
        Py_DECREF(data);
        return fail(steep_error_get());
    }
    if (n < size && _PyBytes_Resize(&data, n) < 0)
        return NULL;
    return data;
}

static PyObject *files_write(PyObject *self, PyObject *args)
{
    long handle;
    Py_buffer buffer;
    if (!PyArg_ParseTuple(args, "ly*", &handle, &buffer))
        return NULL;
    long index = slot(handle, true);
    if (index < 0) {
        PyBuffer_Release(&buffer);
        return NULL;
    }
    int rc = steep_writer_write_all(writers[index], buffer.buf, (size_t)buffer.len);
    Py_ssize_t len = buffer.len;
    PyBuffer_Release(&buffer);
    if (rc < 0)
        return fail(steep_error_get());
    return PyLong_FromSsize_t(len);
}

static int close_slot(long index, bool write)
{
    int rc;
    if (write) {
        rc = steep_writer_close(writers[index], NULL);
        writers[index] = NULL;
    } else {
        rc = steep_reader_close(readers[index]);
        readers[index] = NULL;
    }
    return rc;
}

static PyObject *files_close(PyObject *self, PyObject *arg)
{
    long handle = PyLong_AsLong(arg);
    if (handle == -1 && PyErr_Occurred())
        return NULL;
    bool write = (handle & WRITE_BIT) != 0;
    long index = slot(handle, write);
    if (index < 0)
        return NULL;
    if (close_slot(index, write) < 0)
        return fail(steep_error_get());
    Py_RETURN_NONE;
}

int steep_python_files_close_all(void)
{
    int rc = 0;
    for (long i = 1; i < MAX_HANDLES; i++) {
        if (readers[i])
            close_slot(i, false);
        if (writers[i] && close_slot(i, true) < 0 && rc == 0)
            rc = steep_error_wrap("cannot finish an output file");
    }
    return rc;
}

static PyObject *files_log(PyObject *self, PyObject *arg)
{
    const char *line = PyUnicode_AsUTF8(arg);
    if (!line)
        return NULL;
    if (task_io && task_io->log)
        task_io->log(task_io->ctx, line);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"open_input", files_open_input, METH_O, "open_input(file_id) -> read handle"},
    {"create_output", files_create_output, METH_O, "create_output(file_id) -> write handle"},
    {"read", files_read, METH_VARARGS, "read(handle, size) -> bytes (b'' at the end)"},
    {"write", files_write, METH_VARARGS, "write(handle, data) -> bytes written"},
    {"close", files_close, METH_O, "close(handle)"},
    {"log", files_log, METH_O, "log(line): one line of the task log"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_teaclave",
    "The task's files (runner side)",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyObject *steep_python_files_init(void)
{
    return PyModule_Create(&module);
}
