/*
 * configfs-tsm report entries (see backend.h). Every file is opened by
 * name under the entry with O_NOFOLLOW; numbers are read as the kernel
 * writes them (decimal and a newline); blobs are bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "tee/hw/backend.h"

#define MAX_BLOB (1 << 20)

static int entry_path(char *out, size_t size, const char *root, const char *name, const char *file)
{
    int n = snprintf(out, size, "%s/%s%s%s", root, name, file ? "/" : "", file ? file : "");
    ENSURE(n > 0 && (size_t)n < size, "configfs-tsm: path too long");
    return 0;
}

static int read_small(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ENSURE(fd >= 0, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, out, size - 1);
    int saved = errno;
    close(fd);
    ENSURE(n >= 0, "configfs-tsm: cannot read %s: %s", path, strerror(saved));
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return 0;
}

static int read_generation(const char *root, const char *name, uint64_t *out)
{
    char path[4096], text[32], *end;
    GUARD(entry_path(path, sizeof(path), root, name, "generation"));
    GUARD(read_small(path, text, sizeof(text)));
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    ENSURE(text[0] && !*end && errno == 0, "configfs-tsm: generation '%s' is not a number", text);
    *out = v;
    return 0;
}

static int write_inblob(const char *root, const char *name, const uint8_t data[64])
{
    char path[4096];
    GUARD(entry_path(path, sizeof(path), root, name, "inblob"));
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    ENSURE(fd >= 0, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, data, 64);
    int saved = errno;
    int closed = close(fd);
    ENSURE(n == 64, "configfs-tsm: writing the report data to %s: %s", path,
           n < 0 ? strerror(saved) : "short write");
    ENSURE(closed == 0, "configfs-tsm: closing %s: %s", path, strerror(errno));
    return 0;
}

/* 1 read, 0 absent (auxblob is optional), -1 error. */
static int read_blob(const char *root, const char *name, const char *file, bool optional,
                     struct steep_buf *out)
{
    char path[4096];
    GUARD(entry_path(path, sizeof(path), root, name, file));
    if (optional && access(path, F_OK) != 0)
        return 0;
    steep_buf_reset(out);
    if (steep_read_file(path, MAX_BLOB, out) < 0)
        return steep_error_wrap("configfs-tsm %s", file);
    return 1;
}

/* The kernel bumps generation synchronously on the write; a provider that
 * completes asynchronously gets a short, bounded wait. */
static int wait_generation(const char *root, const char *name, uint64_t before, uint64_t *after)
{
    for (int i = 0; i < 2000; i++) {
        GUARD(read_generation(root, name, after));
        if (*after != before)
            return 0;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    return steep_error_set("configfs-tsm: generation stayed %llu after writing inblob: the "
                           "provider did not take the report data",
                           (unsigned long long)before);
}

/* 0 report read for our data; 1 another writer interfered (retry); -1 error. */
static int attempt(const char *root, const char *name, const uint8_t report_data[64],
                   struct steep_tsm_report *out)
{
    uint64_t before, written, after;
    GUARD(read_generation(root, name, &before));
    GUARD(write_inblob(root, name, report_data));
    GUARD(wait_generation(root, name, before, &written));
    if (written != before + 1)
        return steep_error_set("configfs-tsm: generation went from %llu to %llu over one "
                               "write: another writer is using entry %s",
                               (unsigned long long)before, (unsigned long long)written, name),
               1;
    if (read_blob(root, name, "outblob", false, &out->outblob) < 0 ||
        read_blob(root, name, "auxblob", true, &out->auxblob) < 0)
        return -1;
    GUARD(read_generation(root, name, &after));
    if (after != written)
        return steep_error_set("configfs-tsm: generation moved from %llu to %llu while the "
                               "report was read: another writer is using entry %s",
                               (unsigned long long)written, (unsigned long long)after, name),
               1;
    out->generation = after;
    return 0;
}

int steep_tsm_get_report(const char *root, const char *name,
                         const uint8_t report_data[STEEP_TEE_REPORT_DATA_LEN],
                         struct steep_tsm_report *out)
{
    memset(out, 0, sizeof(*out));
    root = root ? root : STEEP_TSM_DEFAULT_ROOT;
    ENSURE(name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."),
           "configfs-tsm: bad entry name");
    char dir[4096], path[4096];
    GUARD(entry_path(dir, sizeof(dir), root, name, NULL));
    bool created = mkdir(dir, 0700) == 0;
    ENSURE(created || errno == EEXIST,
           "configfs-tsm: cannot create %s: %s (is this a TDX or "
           "SEV-SNP guest with configfs mounted?)",
           dir, strerror(errno));
    int rc = entry_path(path, sizeof(path), root, name, "provider");
    if (rc == 0)
        rc = read_small(path, out->provider, sizeof(out->provider));
    for (int i = 0; rc == 0 && i < STEEP_TSM_ATTEMPTS; i++) {
        rc = attempt(root, name, report_data, out);
        if (rc == 1 && i + 1 < STEEP_TSM_ATTEMPTS)
            rc = 0; /* interfered: try again */
        else if (rc == 1)
            rc = steep_error_wrap("after %d attempts", STEEP_TSM_ATTEMPTS);
        else if (rc == 0)
            break;
    }
    if (rc == 0 && out->outblob.len == 0)
        rc = steep_error_set("configfs-tsm: %s gave an empty outblob", out->provider);
    if (created)
        rmdir(dir); /* the kernel frees the entry; a fake tree may refuse: harmless */
    if (rc < 0)
        steep_tsm_report_free(out);
    return rc < 0 ? -1 : 0;
}

void steep_tsm_report_free(struct steep_tsm_report *r)
{
    steep_buf_free(&r->outblob);
    steep_buf_free(&r->auxblob);
}
