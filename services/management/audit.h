/*
 * The durable, hash-chained audit log behind TeaclaveManagement/SaveLogs and
 * QueryAuditLogs (Steep's replacement for Teaclave's tantivy index).
 *
 * Storage layout (through the storage service, or the engine in tests):
 *   "audit-head"                      -> version 1 | count u64le | last hash (32)
 *                                        | HMAC-SHA256(mac_key, head) or zeros
 *                                        (version 2, after a retention prune:
 *                                        ... | first u64le | first prev hash (32)
 *                                        | HMAC)
 *   "audit-entry-<seq %016x>-<hash hex>" -> prev hash (32) | canonical entry
 * where canonical entry = seq u64le | microsecond u64le | ip (16) |
 * user (u32le length + bytes) | message (u32le length + bytes) | result u8,
 * and hash = SHA-256(prev hash | canonical entry); the first prev hash is
 * 32 zero bytes. The record's key names its own hash, so a record cannot be
 * edited, removed, swapped or reordered without breaking the chain that
 * runs back from the head; with a mac_key (a sealed key of the management
 * enclave) the head itself cannot be rewritten by the storage either.
 *
 * The log has one writer (the management service; appends are serialized
 * in-process): an append writes its records and the new head in ONE atomic
 * Batch and returns only after storage acknowledged it, so a SaveLogs
 * answered OK is durable and costs one synced write. Queries read the
 * newest entries (up to 65 536) from an in-memory cache of entries this
 * process wrote or already verified, and walk the chain in storage below
 * them, checking every hash on the way; steep_audit_verify() ignores the
 * cache, walks the stored chain from the stored head and also fails on any
 * stored record the chain does not reach (injected, or left by a second
 * writer). Run it to detect tampering with records already cached.
 *
 * Errors: functions return 0, or -1 with steep_audit_last_code() giving the
 * gRPC code and steep_error_get() the client-facing text (Teaclave's):
 * an entry whose ip is not 16 bytes rejects the whole batch with UNKNOWN
 * "audit log error"; a bad query or a broken chain is UNKNOWN
 * "audit log error, reason: ..."; a storage failure is INTERNAL
 * "service internal error" (details are logged, not returned).
 *
 * For the management service (management engineer): open one steep_audit at
 * start-up over the storage client, then answer
 *   SaveLogs:       code = steep_audit_save_logs(audit, request)
 *   QueryAuditLogs: code = steep_audit_query_logs(audit, caller_role, request, &response)
 * replying steep_rpc_fail(call, code, "%s", steep_error_get()) when code != 0.
 * CMake: include(${CMAKE_CURRENT_SOURCE_DIR}/audit.cmake) and link steep_audit.
 */
#ifndef STEEP_MANAGEMENT_AUDIT_H
#define STEEP_MANAGEMENT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/result.h"
#include "teaclave_common.pb-c.h"
#include "teaclave_frontend_service.pb-c.h"
#include "teaclave_management_service.pb-c.h"

#define STEEP_AUDIT_MAC_KEY_LEN 32

/* The three storage operations the log needs (enum steep_store_result). */
struct steep_audit_store {
    void *ctx;
    /* OK with *value replaced, or NOT_FOUND. */
    int (*get)(void *ctx, const void *key, size_t key_len, struct steep_buf *value);
    /* All operations or none, durably. */
    int (*batch)(void *ctx, const struct steep_store_op *ops, size_t n);
    /* Every key starting with prefix + "-" (Teaclave's GetKeysByPrefix). */
    int (*keys)(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg);
};

struct steep_store;
struct steep_store_client;
/* Over the in-process engine (lib/store/store.h). */
struct steep_audit_store steep_audit_store_over_engine(struct steep_store *engine);
/* Over the storage service (lib/store/store_client.h); built when the
 * steep_store_client target exists. */
struct steep_audit_store steep_audit_store_over_client(struct steep_store_client *client);

struct steep_audit;

/* mac_key: STEEP_AUDIT_MAC_KEY_LEN bytes authenticating the head, or NULL. */
struct steep_audit *steep_audit_open(const struct steep_audit_store *store, const uint8_t *mac_key);
void steep_audit_free(struct steep_audit *audit);

/* Retention: keep about max_entries (0: all, the default). An append that
 * finds more than max_entries + max(max_entries / 16, 16) removes the
 * oldest (up to 256 at a time) in its own atomic batch; the head then
 * names the first kept entry and its prev hash (authenticated with the
 * head), so verification and queries stop there and a removed record
 * cannot be told from a pruned one only below it. */
void steep_audit_set_retention(struct steep_audit *audit, uint64_t max_entries);

/* Appends entries in order, all or none. */
int steep_audit_append(struct steep_audit *audit, TeaclaveCommonProto__Entry *const *entries,
                       size_t n);
/*
 * Pending entries (issue 15 item 1: a request's storage write and its audit
 * entry are ONE durable write). The chain's head has one writer and an
 * append holds it across its synced write, so a request's records cannot
 * carry a chained record without serialising every task write behind the
 * log. Instead the request's own atomic write (a compare-and-swap's
 * follow-up writes, a batch) carries a pending record
 *   "audit-pending-<microsecond %016x>-<random %016x>"
 *      -> HMAC-SHA256(mac_key, key | body) or zeros | body
 * where body is the canonical record at position 0 with a zero prev hash.
 * Once that write is acknowledged, steep_audit_pending_written queues the
 * entry; the next append (a SaveLogs, a query, or the flusher) puts the
 * queued entries on the chain, before its own, and deletes their pending
 * records, in its one batch. Records an earlier process left are read back
 * (MAC checked; an altered one is logged and left alone) and chained first.
 * What this gives up: until chained (at most the flush interval), storage
 * can delete a pending record unnoticed; it cannot alter or forge one.
 * Queries and verification chain what is queued first.
 */
#define STEEP_AUDIT_PENDING_KEY_MAX 64
struct steep_audit_pending {
    char key[STEEP_AUDIT_PENDING_KEY_MAX];
    struct steep_buf value;
    TeaclaveCommonProto__Entry *entry; /* a copy, owned */
};
/* Builds the pending record of entry (copied; its ip must be 16 bytes). */
int steep_audit_pending_make(const struct steep_audit *audit,
                             const TeaclaveCommonProto__Entry *entry,
                             struct steep_audit_pending *pending);
/* The put to add to the request's write. */
struct steep_store_op steep_audit_pending_op(const struct steep_audit_pending *pending);
/* The write carrying the op was acknowledged: queues the entry for the chain
 * (takes it from pending). */
void steep_audit_pending_written(struct steep_audit *audit, struct steep_audit_pending *pending);
void steep_audit_pending_free(struct steep_audit_pending *pending);
/* Chains what is queued now (0 when nothing is). */
int steep_audit_flush(struct steep_audit *audit);
/* Starts a thread that chains entries queued longer than interval_ms
 * (once; stopped by steep_audit_free). */
int steep_audit_set_flush_interval(struct steep_audit *audit, int interval_ms);

/*
 * Teaclave's query forms: a bare word or "quoted phrase" matches the words
 * of `message`; `field:word` for user, message, ip (an address; IPv4 also
 * matches its ::a.b.c.d form), result (true/false); `*` matches all.
 * Several clauses match when any does; `+clause` must match, `-clause` must
 * not; AND between clauses makes them all required. Words are compared as
 * tantivy's default tokenizer does (alphanumeric runs, lowercased), a
 * multi-word value as a phrase. Newest first, at most limit (0: none).
 * *entries is a malloc'd array of malloc'd messages: steep_audit_entries_free().
 */
int steep_audit_query(struct steep_audit *audit, const char *query, uint64_t limit,
                      TeaclaveCommonProto__Entry ***entries, size_t *n);
void steep_audit_entries_free(TeaclaveCommonProto__Entry **entries, size_t n);
/* Walks the whole chain from the head and checks that every stored record
 * is on it; 0 with *count entries (those the retention kept), or -1. (Lists all record keys in one
 * GetKeysByPrefix: fine up to ~40 000 entries over RPC.) */
int steep_audit_verify(struct steep_audit *audit, uint64_t *count);

/* gRPC code of this thread's last failure. */
int steep_audit_last_code(void);

/* Handler-shaped wrappers: 0 or a gRPC code (message in steep_error_get()). */
int steep_audit_save_logs(struct steep_audit *audit,
                          const TeaclaveManagementServiceProto__SaveLogsRequest *request);
/* Requires role == "PlatformAdmin" (PERMISSION_DENIED "permission denied").
 * *response: free with protobuf_c_message_free_unpacked(response, NULL). */
int steep_audit_query_logs(struct steep_audit *audit, const char *role,
                           const TeaclaveFrontendServiceProto__QueryAuditLogsRequest *request,
                           TeaclaveFrontendServiceProto__QueryAuditLogsResponse **response);

#endif
