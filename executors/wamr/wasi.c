/*
 * Runner side: the WASI preview 1 subset (wasi_snapshot_preview1), so that
 * ordinary programs built with wasi-libc run as functions.
 *
 * Implemented:
 *  - args_get / args_sizes_get: argv[0] is the function's name, then the
 *    same sorted flat [k1, v1, ...] list Teaclave's entrypoint receives;
 *  - environ_get / environ_sizes_get: an empty environment;
 *  - fd_write on 1 and 2: lines into the task log (save_log); fd_read on
 *    0: EBADF;
 *  - one preopened directory, fd 3 named "/", whose files are the task's
 *    inputs and outputs by their data names: path_open of an input name
 *    reads it (cmac checked), of an output name with O_CREAT/O_TRUNC (or
 *    write rights only) creates it (a teaclave-file-128 output, as for
 *    built-ins); fd_read, fd_write, fd_close, fd_fdstat_get,
 *    fd_filestat_get (size 0: sizes are not known before reading) on them;
 *  - clock_time_get / clock_res_get (realtime, monotonic, process and
 *    thread CPU time), random_get (getrandom), sched_yield, proc_exit (the
 *    exit code becomes the task's result);
 * everything else returns ENOSYS, and any call on a descriptor that is not
 * one of the above EBADF. Pointers outside linear memory give EFAULT.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "runtime.h"

#define W(name)         Z_wasi_snapshot_preview1Z_##name
#define WI              struct Z_wasi_snapshot_preview1_instance_t *instance
#define E_SUCCESS       0
#define E_BADF          8
#define E_FAULT         21
#define E_INVAL         28
#define E_IO            29
#define E_ISDIR         31
#define E_MFILE         33
#define E_NAMETOOLONG   37
#define E_NOENT         44
#define E_NOSYS         52
#define E_SPIPE         70
#define PREOPEN_FD      3
#define FIRST_FILE_FD   4
#define MAX_FILES       64
#define MAX_LINE        4096
#define FILETYPE_CHAR   2
#define FILETYPE_DIR    3
#define FILETYPE_FILE   4
#define OFLAG_CREAT     1
#define OFLAG_DIRECTORY 2
#define OFLAG_TRUNC     8
#define RIGHT_FD_READ   (1ull << 1)
#define RIGHT_FD_WRITE  (1ull << 6)

static const char preopen_name[] = "/";

struct file {
    struct steep_reader *reader;
    struct steep_writer *writer;
};

static struct file files[MAX_FILES];

struct line {
    char text[MAX_LINE + 1];
    size_t len;
};

static struct line out_lines[2]; /* fd 1, fd 2 */

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* wasm and x86-64 are little-endian */
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static struct file *file_of(uint32_t fd)
{
    if (fd < FIRST_FILE_FD || fd >= FIRST_FILE_FD + MAX_FILES)
        return NULL;
    struct file *f = &files[fd - FIRST_FILE_FD];
    return f->reader || f->writer ? f : NULL;
}

static void flush_line(struct line *line)
{
    line->text[line->len] = 0;
    if (steep_wamr.io->log)
        steep_wamr.io->log(steep_wamr.io->ctx, line->text);
    line->len = 0;
}

static void log_bytes(struct line *line, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            flush_line(line);
            continue;
        }
        if (line->len == MAX_LINE)
            flush_line(line);
        line->text[line->len++] = (char)data[i];
    }
}

/* ---- arguments and environment --------------------------------------- */

static const char *arg(uint32_t i)
{
    return i == 0 ? steep_wamr.program : steep_wamr.args[i - 1];
}

u32 W(args_sizes_get)(WI, u32 argc_ptr, u32 size_ptr)
{
    uint8_t *argc_out = steep_wamr_span(argc_ptr, 4), *size_out = steep_wamr_span(size_ptr, 4);
    if (!argc_out || !size_out)
        return E_FAULT;
    uint32_t total = 0;
    for (uint32_t i = 0; i <= steep_wamr.n_args; i++)
        total += (uint32_t)strlen(arg(i)) + 1;
    put_u32(argc_out, steep_wamr.n_args + 1);
    put_u32(size_out, total);
    return E_SUCCESS;
}

u32 W(args_get)(WI, u32 argv_ptr, u32 buf_ptr)
{
    uint32_t count = steep_wamr.n_args + 1;
    uint8_t *pointers = steep_wamr_span(argv_ptr, count * 4);
    if (!pointers)
        return E_FAULT;
    uint32_t at = buf_ptr;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = (uint32_t)strlen(arg(i)) + 1;
        uint8_t *dst = steep_wamr_span(at, len);
        if (!dst)
            return E_FAULT;
        memcpy(dst, arg(i), len);
        put_u32(pointers + 4 * i, at);
        at += len;
    }
    return E_SUCCESS;
}

u32 W(environ_sizes_get)(WI, u32 count_ptr, u32 size_ptr)
{
    uint8_t *count = steep_wamr_span(count_ptr, 4), *size = steep_wamr_span(size_ptr, 4);
    if (!count || !size)
        return E_FAULT;
    put_u32(count, 0);
    put_u32(size, 0);
    return E_SUCCESS;
}

u32 W(environ_get)(WI, u32 environ_ptr, u32 buf_ptr)
{
    return E_SUCCESS;
}

/* ---- descriptors ------------------------------------------------------- */

u32 W(fd_write)(WI, u32 fd, u32 iovs, u32 iovs_len, u32 written_ptr)
{
    struct file *f = file_of(fd);
    if (fd != 1 && fd != 2 && !(f && f->writer))
        return E_BADF;
    uint8_t *vec = steep_wamr_span(iovs, iovs_len * 8u), *written = steep_wamr_span(written_ptr, 4);
    if (!vec || !written || iovs_len > (1u << 20))
        return E_FAULT;
    uint32_t total = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf, len;
        memcpy(&buf, vec + 8 * i, 4);
        memcpy(&len, vec + 8 * i + 4, 4);
        const uint8_t *data = steep_wamr_span(buf, len);
        if (!data)
            return E_FAULT;
        if (f) {
            if (steep_writer_write_all(f->writer, data, len) < 0)
                return E_IO;
        } else {
            log_bytes(&out_lines[fd - 1], data, len);
        }
        total += len;
    }
    put_u32(written, total);
    return E_SUCCESS;
}

u32 W(fd_read)(WI, u32 fd, u32 iovs, u32 iovs_len, u32 read_ptr)
{
    struct file *f = file_of(fd);
    if (!f || !f->reader)
        return E_BADF;
    uint8_t *vec = steep_wamr_span(iovs, iovs_len * 8u), *nread = steep_wamr_span(read_ptr, 4);
    if (!vec || !nread || iovs_len > (1u << 20))
        return E_FAULT;
    uint32_t total = 0;
    for (uint32_t i = 0; i < iovs_len; i++) {
        uint32_t buf, len;
        memcpy(&buf, vec + 8 * i, 4);
        memcpy(&len, vec + 8 * i + 4, 4);
        uint8_t *data = steep_wamr_span(buf, len);
        if (!data)
            return E_FAULT;
        ssize_t n = steep_reader_read_full(f->reader, data, len);
        if (n < 0)
            return E_IO;
        total += (uint32_t)n;
        if ((uint32_t)n < len)
            break;
    }
    put_u32(nread, total);
    return E_SUCCESS;
}

u32 W(fd_close)(WI, u32 fd)
{
    if (fd <= PREOPEN_FD)
        return E_SUCCESS;
    struct file *f = file_of(fd);
    if (!f)
        return E_BADF;
    int rc = f->reader ? steep_reader_close(f->reader) : steep_writer_close(f->writer, NULL);
    f->reader = NULL;
    f->writer = NULL;
    return rc == 0 ? E_SUCCESS : E_IO;
}

u32 W(fd_seek)(WI, u32 fd, u64 offset, u32 whence, u32 result_ptr)
{
    return fd <= 2 || file_of(fd) ? E_SPIPE : fd == PREOPEN_FD ? E_ISDIR : E_BADF;
}

u32 W(fd_tell)(WI, u32 fd, u32 result_ptr)
{
    return fd <= 2 || file_of(fd) ? E_SPIPE : E_BADF;
}

u32 W(fd_fdstat_get)(WI, u32 fd, u32 stat_ptr)
{
    uint8_t filetype;
    uint64_t rights;
    struct file *f = file_of(fd);
    if (fd <= 2) {
        filetype = FILETYPE_CHAR;
        rights = fd == 0 ? RIGHT_FD_READ : RIGHT_FD_WRITE;
    } else if (fd == PREOPEN_FD) {
        filetype = FILETYPE_DIR;
        rights = ~0ull;
    } else if (f) {
        filetype = FILETYPE_FILE;
        rights = f->reader ? RIGHT_FD_READ : RIGHT_FD_WRITE;
    } else {
        return E_BADF;
    }
    uint8_t *stat = steep_wamr_span(stat_ptr, 24);
    if (!stat)
        return E_FAULT;
    memset(stat, 0, 24);
    stat[0] = filetype;
    put_u64(stat + 8, rights);
    put_u64(stat + 16, fd == PREOPEN_FD ? ~0ull : 0);
    return E_SUCCESS;
}

u32 W(fd_filestat_get)(WI, u32 fd, u32 stat_ptr)
{
    uint8_t filetype = fd <= 2 ? FILETYPE_CHAR : fd == PREOPEN_FD ? FILETYPE_DIR : FILETYPE_FILE;
    if (fd > PREOPEN_FD && !file_of(fd))
        return E_BADF;
    uint8_t *stat = steep_wamr_span(stat_ptr, 64);
    if (!stat)
        return E_FAULT;
    memset(stat, 0, 64);
    put_u64(stat + 8, fd + 1); /* inode: distinct per descriptor */
    stat[16] = filetype;
    put_u64(stat + 24, 1);
    return E_SUCCESS;
}

u32 W(fd_prestat_get)(WI, u32 fd, u32 prestat_ptr)
{
    if (fd != PREOPEN_FD)
        return E_BADF;
    uint8_t *prestat = steep_wamr_span(prestat_ptr, 8);
    if (!prestat)
        return E_FAULT;
    memset(prestat, 0, 8);
    put_u32(prestat + 4, (uint32_t)strlen(preopen_name));
    return E_SUCCESS;
}

u32 W(fd_prestat_dir_name)(WI, u32 fd, u32 path_ptr, u32 len)
{
    if (fd != PREOPEN_FD)
        return E_BADF;
    uint8_t *path = steep_wamr_span(path_ptr, len);
    if (!path)
        return E_FAULT;
    size_t n = strlen(preopen_name);
    if (len < n)
        return E_NAMETOOLONG;
    memcpy(path, preopen_name, n);
    return E_SUCCESS;
}

/* A data name from a path relative to the preopened directory. */
static int data_name(u32 path_ptr, u32 path_len, char *out, size_t size)
{
    const uint8_t *path = steep_wamr_span(path_ptr, path_len);
    if (!path)
        return E_FAULT;
    while (path_len > 0 && path[0] == '/') {
        path++;
        path_len--;
    }
    while (path_len >= 2 && path[0] == '.' && path[1] == '/') {
        path += 2;
        path_len -= 2;
    }
    if (path_len >= size)
        return E_NAMETOOLONG;
    if (memchr(path, 0, path_len))
        return E_INVAL;
    memcpy(out, path, path_len);
    out[path_len] = 0;
    return E_SUCCESS;
}

u32 W(path_open)(WI, u32 dirfd, u32 dirflags, u32 path_ptr, u32 path_len, u32 oflags,
                 u64 rights_base, u64 rights_inheriting, u32 fdflags, u32 fd_ptr)
{
    char name[1024];
    if (dirfd != PREOPEN_FD)
        return E_BADF;
    uint8_t *fd_out = steep_wamr_span(fd_ptr, 4);
    if (!fd_out)
        return E_FAULT;
    u32 rc = (u32)data_name(path_ptr, path_len, name, sizeof name);
    if (rc != E_SUCCESS)
        return rc;
    if (name[0] == 0 || strcmp(name, ".") == 0)
        return (oflags & OFLAG_DIRECTORY) ? E_NOSYS : E_ISDIR;
    size_t slot = 0;
    while (slot < MAX_FILES && (files[slot].reader || files[slot].writer))
        slot++;
    if (slot == MAX_FILES)
        return E_MFILE;
    bool write = (oflags & (OFLAG_CREAT | OFLAG_TRUNC)) ||
                 ((rights_base & RIGHT_FD_WRITE) && !(rights_base & RIGHT_FD_READ));
    struct steep_fn_io *io = steep_wamr.io;
    if (write) {
        files[slot].writer = io->create_output(io->ctx, name);
        if (!files[slot].writer)
            return E_NOENT;
    } else {
        files[slot].reader = io->open_input(io->ctx, name);
        if (!files[slot].reader)
            return E_NOENT;
    }
    put_u32(fd_out, FIRST_FILE_FD + (uint32_t)slot);
    return E_SUCCESS;
}

/* ---- clocks, randomness, process --------------------------------------- */

static int clock_of(u32 id, clockid_t *clock)
{
    static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                       CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof clocks / sizeof clocks[0])
        return -1;
    *clock = clocks[id];
    return 0;
}

/* clock_time_get and clock_res_get differ only in the libc call. */
static u32 clock_query(u32 id, u32 ptr, int (*query)(clockid_t, struct timespec *))
{
    clockid_t clock;
    struct timespec ts;
    if (clock_of(id, &clock) < 0)
        return E_INVAL;
    uint8_t *out = steep_wamr_span(ptr, 8);
    if (!out)
        return E_FAULT;
    if (query(clock, &ts) < 0)
        return E_IO;
    put_u64(out, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    return E_SUCCESS;
}

u32 W(clock_time_get)(WI, u32 id, u64 precision, u32 time_ptr)
{
    return clock_query(id, time_ptr, clock_gettime);
}

u32 W(clock_res_get)(WI, u32 id, u32 res_ptr)
{
    return clock_query(id, res_ptr, clock_getres);
}

u32 W(random_get)(WI, u32 buf, u32 len)
{
    uint8_t *out = steep_wamr_span(buf, len);
    if (!out)
        return E_FAULT;
    while (len > 0) {
        ssize_t n = getrandom(out, len, 0);
        if (n <= 0)
            return E_IO;
        out += n;
        len -= (uint32_t)n;
    }
    return E_SUCCESS;
}

u32 W(sched_yield)(WI)
{
    return E_SUCCESS;
}

void W(proc_exit)(WI, u32 code)
{
    steep_wamr_exit((int32_t)code);
}

void steep_wamr_wasi_close_all(void)
{
    for (size_t i = 0; i < 2; i++)
        if (out_lines[i].len > 0)
            flush_line(&out_lines[i]);
    for (size_t i = 0; i < MAX_FILES; i++) {
        if (files[i].reader)
            steep_reader_close(files[i].reader);
        if (files[i].writer)
            steep_writer_close(files[i].writer, NULL);
        files[i].reader = NULL;
        files[i].writer = NULL;
    }
}

/* ---- not provided: ENOSYS ----------------------------------------------- */

#define NOSYS(name, ...)                                                                           \
    u32 W(name)(WI, __VA_ARGS__)                                                                   \
    {                                                                                              \
        return E_NOSYS;                                                                            \
    }

NOSYS(fd_advise, u32 fd, u64 offset, u64 len, u32 advice)
NOSYS(fd_allocate, u32 fd, u64 offset, u64 len)
NOSYS(fd_datasync, u32 fd)
NOSYS(fd_fdstat_set_flags, u32 fd, u32 flags)
NOSYS(fd_fdstat_set_rights, u32 fd, u64 base, u64 inheriting)
NOSYS(fd_filestat_set_size, u32 fd, u64 size)
NOSYS(fd_filestat_set_times, u32 fd, u64 atim, u64 mtim, u32 flags)
NOSYS(fd_pread, u32 fd, u32 iovs, u32 iovs_len, u64 offset, u32 nread)
NOSYS(fd_pwrite, u32 fd, u32 iovs, u32 iovs_len, u64 offset, u32 nwritten)
NOSYS(fd_readdir, u32 fd, u32 buf, u32 buf_len, u64 cookie, u32 used)
NOSYS(fd_renumber, u32 fd, u32 to)
NOSYS(fd_sync, u32 fd)
NOSYS(path_create_directory, u32 fd, u32 path, u32 len)
NOSYS(path_filestat_get, u32 fd, u32 flags, u32 path, u32 len, u32 stat)
NOSYS(path_filestat_set_times, u32 fd, u32 flags, u32 path, u32 len, u64 atim, u64 mtim, u32 fst)
NOSYS(path_link, u32 fd, u32 flags, u32 path, u32 len, u32 to_fd, u32 to, u32 to_len)
NOSYS(path_readlink, u32 fd, u32 path, u32 len, u32 buf, u32 buf_len, u32 used)
NOSYS(path_remove_directory, u32 fd, u32 path, u32 len)
NOSYS(path_rename, u32 fd, u32 path, u32 len, u32 to_fd, u32 to, u32 to_len)
NOSYS(path_symlink, u32 path, u32 len, u32 fd, u32 to, u32 to_len)
NOSYS(path_unlink_file, u32 fd, u32 path, u32 len)
NOSYS(poll_oneoff, u32 in, u32 out, u32 n, u32 nevents)
NOSYS(proc_raise, u32 sig)
NOSYS(sock_accept, u32 fd, u32 flags, u32 result)
NOSYS(sock_recv, u32 fd, u32 iovs, u32 iovs_len, u32 flags, u32 nread, u32 oflags)
NOSYS(sock_send, u32 fd, u32 iovs, u32 iovs_len, u32 flags, u32 nwritten)
NOSYS(sock_shutdown, u32 fd, u32 how)
