/* Helpers for the storage tests (see helpers.h). */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

char *test_temp_dir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char template[512];
    snprintf(template, sizeof template, "%s/steep-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *dir = mkdtemp(template);
    return dir ? strdup(dir) : NULL;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

void test_remove_tree(const char *path)
{
    if (path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char **test_list_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    char **list = calloc(1, sizeof *list);
    size_t n = 0;
    struct dirent *entry;
    while (d && list && (entry = readdir(d)) != NULL) {
        size_t len = strlen(entry->d_name), slen = strlen(suffix);
        if (len < slen || strcmp(entry->d_name + len - slen, suffix) != 0)
            continue;
        char **grown = realloc(list, (n + 2) * sizeof *list);
        if (!grown)
            break;
        list = grown;
        size_t size = strlen(dir) + len + 2;
        list[n] = malloc(size);
        snprintf(list[n], size, "%s/%s", dir, entry->d_name);
        list[++n] = NULL;
    }
    if (d)
        closedir(d);
    return list;
}

void test_free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

long test_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int test_flip_bytes(const char *path, long offset, size_t count)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (fseek(f, offset + (long)i, SEEK_SET) != 0)
            break;
        int c = fgetc(f);
        if (c == EOF)
            break;
        fseek(f, offset + (long)i, SEEK_SET);
        fputc(c ^ 0xff, f);
    }
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    return 0;
}
