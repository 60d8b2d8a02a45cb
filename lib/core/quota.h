/*
 * Counted admissions per name under two ceilings: at most max_per_name for
 * one name (a user, a peer service) and max_total for all. For held long
 * polls (issue 14, item 7): a caller past its share is refused instead of
 * crowding out the others. Thread-safe; a name's entry exists only while
 * its count is non-zero, so memory follows the holds.
 */
#ifndef STEEP_CORE_QUOTA_H
#define STEEP_CORE_QUOTA_H

#include <pthread.h>
#include <stdbool.h>

struct steep_quota_entry;

struct steep_quota {
    pthread_mutex_t lock;
    struct steep_quota_entry *entries;
    int total, max_total, max_per_name;
};

void steep_quota_init(struct steep_quota *quota, int max_total, int max_per_name);
/* Counts one more for name: false (nothing counted) when name or the total
 * is at its ceiling, or memory is short. */
bool steep_quota_acquire(struct steep_quota *quota, const char *name);
/* Gives back one acquired for name. */
void steep_quota_release(struct steep_quota *quota, const char *name);
/* The count of name now (tests, logs). */
int steep_quota_count(struct steep_quota *quota, const char *name);
void steep_quota_free(struct steep_quota *quota);

#endif
