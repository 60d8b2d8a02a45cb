/* The fake configfs-tsm tree; see fake_tsm.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_tsm.h"
#include "hw_test_util.h"

void put_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512], tmp[520];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(rename(tmp, path), 0); /* readers see old or new, never half */
}

uint64_t read_number(const char *dir, const char *name)
{
    char path[512], text[32] = "";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    return strtoull(text, NULL, 10);
}

void put_number(const char *dir, const char *name, uint64_t v)
{
    char text[32];
    snprintf(text, sizeof(text), "%llu\n", (unsigned long long)v);
    put_file(dir, name, text, strlen(text));
}

/* The "kernel": answers each write of inblob. */
static void *tsm_kernel(void *arg)
{
    struct fake *f = arg;
    char buf[4096] __attribute__((aligned(8)));
    while (!f->stop) {
        ssize_t n = read(f->inotify_fd, buf, sizeof(buf));
        for (ssize_t i = 0; n > 0 && i < n;) {
            struct inotify_event *e = (struct inotify_event *)(buf + i);
            i += (ssize_t)(sizeof(*e) + e->len);
            if (!(e->mask & IN_CLOSE_WRITE) || strcmp(e->name, "inblob") != 0)
                continue;
            char path[512];
            snprintf(path, sizeof(path), "%s/inblob", f->entry);
            int fd = open(path, O_RDONLY);
            if (fd < 0 || read(fd, f->last_in, 64) != 64)
                abort();
            close(fd);
            size_t out_len = f->template_len;
            uint8_t *out = f->make ? f->make(f->make_arg, f->last_in, &out_len) : NULL;
            if (!f->make) {
                out = malloc(f->template_len);
                memcpy(out, f->template_bytes, f->template_len);
                memcpy(out + f->report_data_offset, f->last_in, 64);
            }
            put_file(f->entry, "outblob", out, out_len);
            if (f->aux)
                put_file(f->entry, "auxblob", f->aux, f->aux_len);
            else
                put_file(f->entry, "auxblob", "certificate table", 17);
            free(out);
            /* Decided before the answer is visible, so the test's next
             * setting of races applies to its next write. */
            bool race = __atomic_load_n(&f->races, __ATOMIC_SEQ_CST) > 0;
            if (race)
                __atomic_sub_fetch(&f->races, 1, __ATOMIC_SEQ_CST);
            uint64_t g = read_number(f->entry, "generation");
            put_number(f->entry, "generation", g + (race ? 2 : 1));
        }
    }
    return NULL;
}

void fake_tsm_start(struct fake *f, const char *name, const char *provider, const char *vector,
                    size_t report_data_offset)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/steep-tsm-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->entry, sizeof(f->entry), "%s/%s", f->root, name);
    assert_int_equal(mkdir(f->entry, 0700), 0);
    put_file(f->entry, "provider", provider, strlen(provider));
    put_file(f->entry, "inblob", "", 0);
    put_number(f->entry, "generation", 0);
    put_file(f->entry, "outblob", "", 0);
    f->template_bytes = hw_evidence(vector, &f->template_len);
    f->report_data_offset = report_data_offset;
    f->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    assert_true(f->inotify_fd >= 0);
    assert_true(inotify_add_watch(f->inotify_fd, f->entry, IN_CLOSE_WRITE) >= 0);
    /* blocking reads with a short poll so stop is seen */
    int flags = fcntl(f->inotify_fd, F_GETFL);
    fcntl(f->inotify_fd, F_SETFL, flags & ~O_NONBLOCK);
    assert_int_equal(pthread_create(&f->thread, NULL, tsm_kernel, f), 0);
}

void fake_stop(struct fake *f)
{
    f->stop = true;
    /* wake the thread: a write it ignores */
    char path[512];
    snprintf(path, sizeof(path), "%s/wake", f->entry);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
    pthread_join(f->thread, NULL);
    close(f->inotify_fd);
    free(f->template_bytes);
    char command[600];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->root);
    assert_int_equal(system(command), 0);
}
