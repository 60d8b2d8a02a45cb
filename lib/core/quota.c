/*
 * Per-name admission counts (quota.h): a short list of names with a
 * non-zero count, searched under one lock. The lists stay short because
 * the per-name and total ceilings bound them.
 */
#include "core/quota.h"

#include <stdlib.h>
#include <string.h>

struct steep_quota_entry {
    struct steep_quota_entry *next;
    int count;
    char name[];
};

void steep_quota_init(struct steep_quota *quota, int max_total, int max_per_name)
{
    pthread_mutex_init(&quota->lock, NULL);
    quota->entries = NULL;
    quota->total = 0;
    quota->max_total = max_total;
    quota->max_per_name = max_per_name;
}

static struct steep_quota_entry **find(struct steep_quota *quota, const char *name)
{
    struct steep_quota_entry **link = &quota->entries;
    while (*link && strcmp((*link)->name, name) != 0)
        link = &(*link)->next;
    return link;
}

bool steep_quota_acquire(struct steep_quota *quota, const char *name)
{
    pthread_mutex_lock(&quota->lock);
    struct steep_quota_entry *entry = *find(quota, name);
    bool admitted =
        quota->total < quota->max_total && (entry ? entry->count : 0) < quota->max_per_name;
    if (admitted && !entry) {
        size_t length = strlen(name) + 1;
        entry = calloc(1, sizeof(*entry) + length);
        if (entry) {
            memcpy(entry->name, name, length);
            entry->next = quota->entries;
            quota->entries = entry;
        } else {
            admitted = false;
        }
    }
    if (admitted) {
        entry->count++;
        quota->total++;
    }
    pthread_mutex_unlock(&quota->lock);
    return admitted;
}

void steep_quota_release(struct steep_quota *quota, const char *name)
{
    pthread_mutex_lock(&quota->lock);
    struct steep_quota_entry **link = find(quota, name);
    struct steep_quota_entry *entry = *link;
    if (entry) {
        quota->total--;
        if (--entry->count == 0) {
            *link = entry->next;
            free(entry);
        }
    }
    pthread_mutex_unlock(&quota->lock);
}

int steep_quota_count(struct steep_quota *quota, const char *name)
{
    pthread_mutex_lock(&quota->lock);
    struct steep_quota_entry *entry = *find(quota, name);
    int count = entry ? entry->count : 0;
    pthread_mutex_unlock(&quota->lock);
    return count;
}

void steep_quota_free(struct steep_quota *quota)
{
    while (quota->entries) {
        struct steep_quota_entry *entry = quota->entries;
        quota->entries = entry->next;
        free(entry);
    }
    pthread_mutex_destroy(&quota->lock);
}
