/* Task files for the function inside the runner; see runner_io.h. */
#include "runner_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/aes_gcm.h"
#include "crypto/tf128.h"

#define MAX_LOG_LINE 65536

static const struct steep_runner_file *find(const struct steep_runner_file *files, size_t n,
                                            const char *name, size_t *index)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(files[i].name, name) == 0) {
            *index = i;
            return &files[i];
        }
    }
    return NULL;
}

/* A fresh descriptor on the task file, positioned at its start. */
static int reopen(int fd)
{
    int copy = dup(fd);
    ENSURE(copy >= 0, "cannot open task file: %s", strerror(errno));
    if (lseek(copy, 0, SEEK_SET) < 0) {
        close(copy);
        return steep_error_set("cannot open task file: %s", strerror(errno));
    }
    return copy;
}

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct steep_runner_io *self = ctx;
    size_t index;
    const struct steep_runner_file *file =
        find(self->request->inputs, self->request->n_inputs, name, &index);
    if (!file) {
        steep_error_set("Invalid input file identifier.");
        return NULL;
    }
    int fd = reopen(file->fd);
    if (fd < 0)
        return NULL;
    if (file->scheme == STEEP_RUNNER_SCHEME_RAW)
        return steep_plain_reader_new(fd);
    uint8_t cmac[16];
    struct steep_reader *reader = steep_tf128_reader_open(fd, file->file_name, file->key, cmac);
    if (!reader) {
        steep_error_wrap("Corrupted input file: %s", name);
        return NULL;
    }
    if (!steep_tag_equal(cmac, file->cmac)) {
        steep_reader_close(reader);
        steep_error_set("Corrupted input file: %s: cmac mismatch", name);
        return NULL;
    }
    return reader;
}

/* A platform resource: raw, read from its start. */
static struct steep_reader *open_resource(void *ctx, const char *name)
{
    struct steep_runner_io *self = ctx;
    size_t index;
    const struct steep_runner_file *file =
        find(self->request->resources, self->request->n_resources, name, &index);
    if (!file) {
        steep_error_set("this node has no %s for the function", name);
        return NULL;
    }
    int fd = reopen(file->fd);
    return fd < 0 ? NULL : steep_plain_reader_new(fd);
}

/* Wraps an output writer to report the cmac to the node on close. */
struct reporting_writer {
    struct steep_writer base;
    struct steep_writer *inner;
    struct steep_runner_io *owner;
    const char *name;
};

static ssize_t reporting_write(struct steep_writer *writer, const void *data, size_t len)
{
    struct reporting_writer *self = (struct reporting_writer *)writer;
    return steep_writer_write(self->inner, data, len);
}

static int reporting_close(struct steep_writer *writer, uint8_t cmac[16])
{
    struct reporting_writer *self = (struct reporting_writer *)writer;
    uint8_t tag[16];
    struct steep_buf frame = STEEP_BUF_INIT;
    int rc = steep_writer_close(self->inner, tag);
    if (rc == 0 && cmac)
        memcpy(cmac, tag, 16);
    if (rc == 0)
        rc = steep_runner_output_encode(self->name, tag, &frame);
    if (rc == 0)
        rc = steep_runner_frame_write(self->owner->channel, STEEP_RUNNER_OUTPUT, frame.data,
                                      frame.len);
    steep_buf_free(&frame);
    free(self);
    return rc;
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct steep_runner_io *self = ctx;
    size_t index;
    const struct steep_runner_file *file =
        find(self->request->outputs, self->request->n_outputs, name, &index);
    if (!file) {
        steep_error_set("Invalid output file identifier");
        return NULL;
    }
    if (index >= sizeof self->created || self->created[index]) {
        steep_error_set("output file %s was already created", name);
        return NULL;
    }
    int fd = reopen(file->fd);
    if (fd < 0)
        return NULL;
    struct reporting_writer *writer = calloc(1, sizeof *writer);
    if (!writer) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    if (file->scheme == STEEP_RUNNER_SCHEME_RAW)
        writer->inner = steep_plain_writer_new(fd);
    else
        writer->inner = steep_tf128_writer_new(fd, file->file_name, file->key);
    if (!writer->inner) {
        free(writer);
        return NULL;
    }
    self->created[index] = true;
    writer->base.write = reporting_write;
    writer->base.close = reporting_close;
    writer->owner = self;
    writer->name = file->name;
    return &writer->base;
}

static void log_line(void *ctx, const char *line)
{
    struct steep_runner_io *self = ctx;
    size_t len = strlen(line);
    if (!self->request->save_log)
        return;
    if (len > MAX_LOG_LINE)
        len = MAX_LOG_LINE;
    steep_runner_frame_write(self->channel, STEEP_RUNNER_LOG, line, len);
}

void steep_runner_io_init(struct steep_runner_io *runner_io,
                          const struct steep_runner_request *request, int channel)
{
    memset(runner_io, 0, sizeof *runner_io);
    runner_io->request = request;
    runner_io->channel = channel;
    runner_io->io.ctx = runner_io;
    runner_io->io.open_input = open_input;
    runner_io->io.create_output = create_output;
    runner_io->io.log = log_line;
    runner_io->io.open_resource = open_resource;
}
