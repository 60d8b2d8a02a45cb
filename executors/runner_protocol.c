/* Encoding of the node <-> runner frames; see runner_protocol.h. Strings
 * are u32 length + bytes; decoding goes through struct steep_cursor. */
#include "runner_protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/error.h"

#define MAX_FILES 1024
/* Names, descriptors and limits around the arguments and the payload. */
#define REQUEST_OVERHEAD (64u << 10)

size_t steep_runner_max_frame(uint64_t message_bytes)
{
    uint64_t m = message_bytes ? message_bytes : STEEP_RUNNER_DEFAULT_MESSAGE;
    if (m > STEEP_RUNNER_MAX_MESSAGE)
        m = STEEP_RUNNER_MAX_MESSAGE;
    return (size_t)(2 * m + REQUEST_OVERHEAD);
}

static int put_bytes(struct steep_buf *out, const void *data, size_t len)
{
    ENSURE(len <= UINT32_MAX, "runner request field too large");
    GUARD(steep_buf_append_u32le(out, (uint32_t)len));
    return steep_buf_append(out, data, len);
}

static int put_string(struct steep_buf *out, const char *s)
{
    return put_bytes(out, s ? s : "", s ? strlen(s) : 0);
}

static int put_file(struct steep_buf *out, const struct steep_runner_file *file)
{
    GUARD(put_string(out, file->name));
    GUARD(put_string(out, file->file_name));
    GUARD(steep_buf_append_u32le(out, (uint32_t)file->fd));
    GUARD(steep_buf_append_u8(out, file->scheme));
    GUARD(steep_buf_append(out, file->key, sizeof file->key));
    return steep_buf_append(out, file->cmac, sizeof file->cmac);
}

int steep_runner_request_encode(const struct steep_runner_request *request, struct steep_buf *out)
{
    uint64_t message =
        request->message_bytes ? request->message_bytes : STEEP_RUNNER_DEFAULT_MESSAGE;
    size_t arguments = request->arguments ? strlen(request->arguments) : 0;
    ENSURE(arguments <= message,
           "task arguments of %zu bytes exceed the platform's message limit of %llu bytes",
           arguments, (unsigned long long)message);
    ENSURE(request->payload_len <= message,
           "function payload of %zu bytes exceeds the platform's message limit of %llu bytes",
           request->payload_len, (unsigned long long)message);
    steep_buf_wipe(out);
    GUARD(put_string(out, request->executor));
    GUARD(put_string(out, request->function_name));
    GUARD(put_string(out, request->arguments));
    GUARD(put_bytes(out, request->payload, request->payload_len));
    GUARD(put_string(out, request->jail_dir));
    GUARD(steep_buf_append_u8(out, request->save_log ? 1 : 0));
    GUARD(steep_buf_append_u32le(out, request->cpu_seconds));
    GUARD(steep_buf_append_u32le(out, request->open_files));
    GUARD(steep_buf_append_u64le(out, request->memory_bytes));
    GUARD(steep_buf_append_u64le(out, request->file_size_bytes));
    GUARD(steep_buf_append_u64le(out, message));
    GUARD(steep_buf_append_u32le(out, (uint32_t)request->n_inputs));
    for (size_t i = 0; i < request->n_inputs; i++)
        GUARD(put_file(out, &request->inputs[i]));
    GUARD(steep_buf_append_u32le(out, (uint32_t)request->n_outputs));
    for (size_t i = 0; i < request->n_outputs; i++)
        GUARD(put_file(out, &request->outputs[i]));
    GUARD(steep_buf_append_u32le(out, (uint32_t)request->n_resources));
    for (size_t i = 0; i < request->n_resources; i++)
        GUARD(put_file(out, &request->resources[i]));
    size_t max_frame = steep_runner_max_frame(message);
    ENSURE(out->len <= max_frame, "runner request of %zu bytes exceeds its limit of %zu bytes",
           out->len, max_frame);
    return 0;
}

static int get_bytes(struct steep_cursor *c, uint8_t **out, size_t *len)
{
    uint32_t n;
    const uint8_t *span;
    GUARD(steep_cursor_read_u32le(c, &n));
    GUARD(steep_cursor_read_span(c, &span, n));
    *out = malloc((size_t)n + 1);
    ENSURE(*out, "out of memory");
    memcpy(*out, span, n);
    (*out)[n] = 0;
    if (len)
        *len = n;
    return 0;
}

static int get_string(struct steep_cursor *c, char **out)
{
    size_t len;
    GUARD(get_bytes(c, (uint8_t **)out, &len));
    ENSURE(strlen(*out) == len, "runner request string contains NUL");
    return 0;
}

static int get_file(struct steep_cursor *c, struct steep_runner_file *file)
{
    uint32_t fd;
    GUARD(get_string(c, &file->name));
    GUARD(get_string(c, &file->file_name));
    GUARD(steep_cursor_read_u32le(c, &fd));
    ENSURE(fd >= 3 && fd < 65536, "runner request has a bad descriptor");
    file->fd = (int)fd;
    GUARD(steep_cursor_read_u8(c, &file->scheme));
    ENSURE(file->scheme <= STEEP_RUNNER_SCHEME_TF128, "runner request has a bad scheme");
    GUARD(steep_cursor_read_bytes(c, file->key, sizeof file->key));
    return steep_cursor_read_bytes(c, file->cmac, sizeof file->cmac);
}

static int get_files(struct steep_cursor *c, struct steep_runner_file **files, size_t *n)
{
    uint32_t count;
    GUARD(steep_cursor_read_u32le(c, &count));
    ENSURE(count <= MAX_FILES, "runner request has too many files");
    *files = calloc(count ? count : 1, sizeof **files);
    ENSURE(*files, "out of memory");
    *n = count;
    for (uint32_t i = 0; i < count; i++)
        GUARD(get_file(c, &(*files)[i]));
    return 0;
}

static int decode(struct steep_cursor *c, struct steep_runner_request *request)
{
    uint8_t save_log;
    GUARD(get_string(c, &request->executor));
    GUARD(get_string(c, &request->function_name));
    GUARD(get_string(c, &request->arguments));
    GUARD(get_bytes(c, &request->payload, &request->payload_len));
    GUARD(get_string(c, &request->jail_dir));
    GUARD(steep_cursor_read_u8(c, &save_log));
    request->save_log = save_log != 0;
    GUARD(steep_cursor_read_u32le(c, &request->cpu_seconds));
    GUARD(steep_cursor_read_u32le(c, &request->open_files));
    GUARD(steep_cursor_read_u64le(c, &request->memory_bytes));
    GUARD(steep_cursor_read_u64le(c, &request->file_size_bytes));
    GUARD(steep_cursor_read_u64le(c, &request->message_bytes));
    ENSURE(request->message_bytes > 0 && request->message_bytes <= STEEP_RUNNER_MAX_MESSAGE,
           "runner request has a bad message limit");
    GUARD(get_files(c, &request->inputs, &request->n_inputs));
    GUARD(get_files(c, &request->outputs, &request->n_outputs));
    GUARD(get_files(c, &request->resources, &request->n_resources));
    ENSURE(steep_cursor_remaining(c) == 0, "runner request has trailing bytes");
    return 0;
}

int steep_runner_request_decode(const uint8_t *data, size_t len,
                                struct steep_runner_request *request)
{
    struct steep_cursor c = steep_cursor_make(data, len);
    memset(request, 0, sizeof *request);
    if (decode(&c, request) < 0) {
        steep_runner_request_free(request);
        return steep_error_wrap("malformed runner request");
    }
    return 0;
}

static void free_files(struct steep_runner_file *files, size_t n)
{
    for (size_t i = 0; files && i < n; i++) {
        free(files[i].name);
        free(files[i].file_name);
        OPENSSL_cleanse(files[i].key, sizeof files[i].key);
    }
    free(files);
}

void steep_runner_request_free(struct steep_runner_request *request)
{
    free(request->executor);
    free(request->function_name);
    free(request->arguments);
    free(request->payload);
    free(request->jail_dir);
    free_files(request->inputs, request->n_inputs);
    free_files(request->outputs, request->n_outputs);
    free_files(request->resources, request->n_resources);
    memset(request, 0, sizeof *request);
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, "runner channel closed: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int steep_runner_frame_write(int fd, uint8_t type, const void *data, size_t len)
{
    uint8_t header[STEEP_RUNNER_FRAME_HEADER];
    ENSURE(len <= UINT32_MAX, "runner frame too large");
    header[0] = (uint8_t)len;
    header[1] = (uint8_t)(len >> 8);
    header[2] = (uint8_t)(len >> 16);
    header[3] = (uint8_t)(len >> 24);
    header[4] = type;
    GUARD(write_all(fd, header, sizeof header));
    return write_all(fd, data, len);
}

/* 1 when n bytes were read, 0 at end of stream before any byte, -1 otherwise. */
static int read_exact(int fd, uint8_t *data, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, data + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && got == 0)
            return 0;
        ENSURE(r > 0, "runner channel closed mid-frame");
        got += (size_t)r;
    }
    return 1;
}

int steep_runner_frame_read(int fd, size_t max_frame, uint8_t *type, struct steep_buf *payload)
{
    uint8_t header[STEEP_RUNNER_FRAME_HEADER] = {0};
    struct steep_cursor c = steep_cursor_make(header, sizeof header);
    uint32_t len;
    int r = read_exact(fd, header, sizeof header);
    if (r <= 0)
        return r;
    GUARD(steep_cursor_read_u32le(&c, &len));
    GUARD(steep_cursor_read_u8(&c, type));
    ENSURE(len <= max_frame, "runner frame of %u bytes exceeds its limit of %zu bytes", len,
           max_frame);
    steep_buf_reset(payload);
    GUARD(steep_buf_reserve(payload, len + 1));
    if (len > 0) {
        r = read_exact(fd, payload->data, len);
        ENSURE(r > 0, "runner channel closed mid-frame");
    }
    payload->len = len;
    return steep_buf_terminate(payload) < 0 ? -1 : 1;
}

int steep_runner_frame_parse(const struct steep_buf *acc, size_t max_frame, uint8_t *type,
                             const uint8_t **payload, size_t *payload_len, size_t *consumed)
{
    struct steep_cursor c = steep_cursor_make(acc->data, acc->len);
    uint32_t len;
    if (steep_cursor_remaining(&c) < STEEP_RUNNER_FRAME_HEADER)
        return 0;
    GUARD(steep_cursor_read_u32le(&c, &len));
    GUARD(steep_cursor_read_u8(&c, type));
    ENSURE(len <= max_frame, "runner frame of %u bytes exceeds its limit of %zu bytes", len,
           max_frame);
    if (steep_cursor_remaining(&c) < len)
        return 0;
    GUARD(steep_cursor_read_span(&c, payload, len));
    *payload_len = len;
    *consumed = c.pos;
    return 1;
}

int steep_runner_output_encode(const char *name, const uint8_t cmac[16], struct steep_buf *out)
{
    GUARD(put_string(out, name));
    return steep_buf_append(out, cmac, 16);
}

int steep_runner_output_decode(const uint8_t *data, size_t len, char *name, size_t name_size,
                               uint8_t cmac[16])
{
    struct steep_cursor c = steep_cursor_make(data, len);
    uint32_t n;
    const uint8_t *span;
    GUARD(steep_cursor_read_u32le(&c, &n));
    ENSURE(n < name_size, "runner output name too long");
    GUARD(steep_cursor_read_span(&c, &span, n));
    memcpy(name, span, n);
    name[n] = 0;
    GUARD(steep_cursor_read_bytes(&c, cmac, 16));
    ENSURE(steep_cursor_remaining(&c) == 0, "runner output frame has trailing bytes");
    return 0;
}

int steep_runner_request_highest_fd(const struct steep_runner_request *request, int channel)
{
    int highest = channel;
    for (size_t i = 0; i < request->n_inputs; i++)
        highest = request->inputs[i].fd > highest ? request->inputs[i].fd : highest;
    for (size_t i = 0; i < request->n_outputs; i++)
        highest = request->outputs[i].fd > highest ? request->outputs[i].fd : highest;
    for (size_t i = 0; i < request->n_resources; i++)
        highest = request->resources[i].fd > highest ? request->resources[i].fd : highest;
    return highest;
}
