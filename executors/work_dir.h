/*
 * The execution work directory shared by the nodes of one machine.
 *
 * Each node claims its own subdirectory <base>/node-<random> and holds an
 * exclusive flock on its .lock file for as long as it runs. At start a
 * node removes every node-* directory whose lock it can take: its owner is
 * gone (killed mid-task, say), and whatever it left behind (downloaded and
 * staged task files) must not stay on disk. Locks of live nodes are never
 * taken, so nodes sharing a data directory never touch each other's tasks.
 */
#ifndef STEEP_EXECUTORS_WORK_DIR_H
#define STEEP_EXECUTORS_WORK_DIR_H

#include <stddef.h>

/* Creates base if needed, sweeps dead nodes' directories, claims a new one
 * (its path into dir). *lock_fd must stay open while the node runs. */
int steep_work_dir_claim(const char *base, char *dir, size_t size, int *lock_fd);
/* Releases the claim and removes the node's directory. */
void steep_work_dir_release(const char *dir, int lock_fd);
/* Removes a directory tree (best effort, logs what it cannot remove). */
void steep_work_dir_remove_tree(const char *dir);

#endif
