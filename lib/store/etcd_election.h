/*
 * Leader election through an etcd lease (issue 17 item 3, for replicated
 * schedulers): each candidate holds a lease of ttl seconds that a thread of
 * its own renews every ttl/3; leadership is the key created with that lease
 * by a transaction that succeeds only while the key is absent (compare
 * create_revision == 0). A leader that dies stops renewing, etcd deletes the
 * key when the lease expires, and the next candidate's attempt (every
 * ttl/3) creates it: a dead leader is replaced within about ttl + ttl/3.
 *
 * A leader that cannot renew (etcd out of reach) stops calling itself the
 * leader once ttl less a margin has passed since its last renewal, before
 * etcd can hand the key to another, so two candidates never both believe
 * they lead (clocks: the same monotonic rate on both sides, ttl >= 2 s).
 * The key's value is the candidate's id in clear (not a secret: it names a
 * process); its create revision, steep_etcd_election_term(), grows with
 * every new leader and can fence writes of an old one.
 */
#ifndef STEEP_STORE_ETCD_ELECTION_H
#define STEEP_STORE_ETCD_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/etcd.h"

struct steep_etcd_election;

/* Starts campaigning for key (e.g. "steep/scheduler/leader") as id. */
int steep_etcd_election_start(const struct steep_etcd_config *config, const char *key,
                              const char *id, int ttl_seconds, struct steep_etcd_election **out);
bool steep_etcd_election_is_leader(struct steep_etcd_election *election);
/* The term of this candidate's leadership (0 when it does not lead). */
int64_t steep_etcd_election_term(struct steep_etcd_election *election);
/* The current leader's id as last seen ("" when none); returns out. */
const char *steep_etcd_election_leader(struct steep_etcd_election *election, char *out, size_t len);
/* Resigns (revokes the lease, so a successor takes over at once) and frees. */
void steep_etcd_election_stop(struct steep_etcd_election *election);
/* Stops without resigning, as a crash would (tests): the lease runs out. */
void steep_etcd_election_abandon(struct steep_etcd_election *election);

#endif
