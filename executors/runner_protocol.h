/*
 * The tiny protocol between the execution node and one sandboxed task
 * process (steep-task-runner).
 *
 * One stream socket per task. Every message is a frame: u32 little-endian
 * payload length, u8 type, payload. Sizes follow the platform's RPC message
 * limit ([rpc] max_message_bytes, carried in the request): the arguments,
 * the payload and the function's result may each be as large as one
 * message, so a frame may hold up to steep_runner_max_frame() bytes. The
 * node sends exactly one REQUEST; the runner answers with any number of
 * LOG and OUTPUT frames and finally OK or ERROR (or VIOLATION / MEMORY when
 * the sandbox stopped the function), then EXIT from the supervisor once the
 * worker that ran the function ended (runner_confine.c). The task's files
 * (and the platform's resources, such as the face detector's model or a
 * compiled WebAssembly module) are inherited as
 * already-open descriptors whose numbers the request names; the runner
 * opens no path itself.
 *
 * Everything the runner sends is untrusted: the node parses it through
 * struct steep_cursor with every length checked.
 */
#ifndef STEEP_EXECUTORS_RUNNER_PROTOCOL_H
#define STEEP_EXECUTORS_RUNNER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define STEEP_RUNNER_FRAME_HEADER 5
/* The RPC layer's default message limit, when a request names none. */
#define STEEP_RUNNER_DEFAULT_MESSAGE (4u << 20)
/* The largest message limit a platform may configure. */
#define STEEP_RUNNER_MAX_MESSAGE (64u << 20)

/* The largest frame for a message limit (0: the default): a request holds
 * the arguments and the payload (one message each) and some names. */
size_t steep_runner_max_frame(uint64_t message_bytes);

enum steep_runner_frame_type {
    STEEP_RUNNER_REQUEST = 1,
    STEEP_RUNNER_LOG = 2,       /* one log line */
    STEEP_RUNNER_OUTPUT = 3,    /* u32 name length, name, 16-byte cmac */
    STEEP_RUNNER_OK = 4,        /* the function's summary */
    STEEP_RUNNER_ERROR = 5,     /* the failure reason */
    STEEP_RUNNER_VIOLATION = 6, /* u32 syscall number the seccomp filter refused */
    STEEP_RUNNER_MEMORY = 7,    /* the function ran out of address space */
    STEEP_RUNNER_EXIT = 8,      /* u32 wait status of the worker, from its supervisor */
    /* Pre-started runners (runner_pool.h): the node sends PREPARE (a
     * request naming the executor, the empty root, the limits and, for
     * wamr, the module; no task), the runner confines itself completely
     * and answers READY, and only then does the REQUEST come, its
     * descriptors attached to its header as SCM_RIGHTS in the order the
     * request numbers them (STEEP_RUNNER_FIRST_FILE_FD, +1, ...). */
    STEEP_RUNNER_PREPARE = 9,
    STEEP_RUNNER_READY = 10,
};

/* The channel is descriptor 3 in every runner; a one-shot runner inherits
 * the task's files from 4 on, a pre-started one receives them. */
#define STEEP_RUNNER_CHANNEL_FD    3
#define STEEP_RUNNER_FIRST_FILE_FD 4
/* Files one SCM_RIGHTS message can carry (SCM_MAX_FD is 253); a task with
 * more runs in a runner started for it. */
#define STEEP_RUNNER_POOL_MAX_FILES 250

enum steep_runner_scheme {
    STEEP_RUNNER_SCHEME_RAW = 0,
    STEEP_RUNNER_SCHEME_TF128 = 1, /* teaclave-file-128 with key (and cmac for inputs) */
};

struct steep_runner_file {
    char *name;      /* the function's name for the file, e.g. "input_file" */
    char *file_name; /* the basename embedded in a teaclave-file-128 file */
    int fd;          /* descriptor number in the runner */
    uint8_t scheme;  /* enum steep_runner_scheme */
    uint8_t key[16];
    uint8_t cmac[16]; /* inputs: the expected cmac */
};

struct steep_runner_request {
    char *executor;      /* "builtin" */
    char *function_name; /* e.g. "builtin-echo" */
    char *arguments;     /* the arguments JSON object */
    uint8_t *payload;
    size_t payload_len;
    char *jail_dir; /* empty directory to chroot into ("" for none) */
    bool save_log;
    uint32_t cpu_seconds;
    uint32_t open_files;
    uint64_t memory_bytes;
    uint64_t file_size_bytes;
    uint64_t message_bytes; /* the platform's message limit (0: the default) */
    size_t n_inputs, n_outputs;
    struct steep_runner_file *inputs;
    struct steep_runner_file *outputs;
    /* Files the platform supplies besides the task's, raw and read-only
     * (builtin-face-detection's "face_model"). */
    size_t n_resources;
    struct steep_runner_file *resources;
};

/* Fails, naming both sizes, when the arguments or the payload are larger
 * than the request's message limit. */
int steep_runner_request_encode(const struct steep_runner_request *request, struct steep_buf *out);
/* Fills request with allocated copies; free with steep_runner_request_free. */
int steep_runner_request_decode(const uint8_t *data, size_t len,
                                struct steep_runner_request *request);
/* Frees the members (wiping keys); the struct itself is the caller's. */
void steep_runner_request_free(struct steep_runner_request *request);
/* The highest descriptor the runner holds: channel or a task file. */
int steep_runner_request_highest_fd(const struct steep_runner_request *request, int channel);

/* Writes one frame, looping over short writes; never raises SIGPIPE. */
int steep_runner_frame_write(int fd, uint8_t type, const void *data, size_t len);
/* Reads one whole frame of at most max_frame bytes (blocking). Returns 1, 0
 * at a clean end of stream, -1. */
int steep_runner_frame_read(int fd, size_t max_frame, uint8_t *type, struct steep_buf *payload);
/* Takes the next complete frame off the front of an accumulation buffer.
 * Returns 1 (type and span set, pointing into acc), 0 when more bytes are
 * needed, -1 on a frame over max_frame bytes. *consumed is the frame's
 * total size. */
int steep_runner_frame_parse(const struct steep_buf *acc, size_t max_frame, uint8_t *type,
                             const uint8_t **payload, size_t *payload_len, size_t *consumed);

int steep_runner_output_encode(const char *name, const uint8_t cmac[16], struct steep_buf *out);
int steep_runner_output_decode(const uint8_t *data, size_t len, char *name, size_t name_size,
                               uint8_t cmac[16]);

#endif
