/*
 * Stub backends for the frontend tests, all on one in-process RPC server:
 * TeaclaveAuthenticationInternal/UserAuthenticate (fixed id/token table),
 * TeaclaveAccessControl/AuthorizeApi (Teaclave's role x API matrix) and
 * TeaclaveManagement (every method answers an empty message of its type,
 * GetFunction echoes the id or fails for "function-missing", GetTask with
 * steep-wait-ms W sleeps W ms (at most 2 s) first; SaveLogs and
 * QueryAuditLogs run the real audit log over the storage engine). The stubs
 * record what they were sent so tests can check what the frontend forwards.
 */
#ifndef STEEP_TESTS_FRONTEND_STUBS_H
#define STEEP_TESTS_FRONTEND_STUBS_H

#include <pthread.h>
#include <stdbool.h>

#include "audit.h"
#include "rpc/rpc.h"
#include "test_tls.h"
#include "store/store.h"

struct stub_seen {
    char path[160];
    char id[64];
    char token[64];
    char role[64];
    char acs_role[64];
    char acs_api[64];
};

struct stubs {
    struct steep_rpc_server *server;
    struct steep_tls_config tls;
    int port;
    char store_dir[64];
    struct steep_store *store;
    struct steep_audit_store seam;
    struct steep_audit *audit;
    pthread_mutex_t lock;
    struct stub_seen seen; /* last management call and AuthorizeApi */
    int save_logs_calls;
    int management_calls;
    bool fail_save_logs; /* SaveLogs answers INTERNAL */
    bool hold_save_logs; /* SaveLogs waits until this is cleared (released) */
    bool save_logs_waiting;
    pthread_cond_t changed;     /* any of the above changed */
    size_t save_logs_sizes[64]; /* entries per SaveLogs, in arrival order */
    bool fail_acs;              /* AuthorizeApi answers UNAVAILABLE */
    /* Management writes the carried entry (metadata steep-audit) itself,
     * as a write would, and answers steep-audited. */
    bool audit_in_management;
    int carried_entries; /* calls that carried a valid entry */
};

int stubs_start(struct stubs *s);
void stubs_stop(struct stubs *s);

#endif
