/*
 * A frontend request's audit entry written in the request's own storage
 * write (issue 15 item 1: one durable write, not the request's and then
 * SaveLogs').
 *
 * The frontend sends the entry it would log on success as metadata
 * STEEP_AUDIT_ATTACH_METADATA (hex of a packed TeaclaveCommonProto.Entry;
 * the time is set here). steep_audit_attach_begin wraps the request's kv:
 * the first write that lands (a put, a delete, a batch, a compare-and-swap
 * that swaps) carries the entry's pending record (audit.h), and the entry
 * is queued for the chain once storage acknowledged it. A handler that
 * answers OK after such a write has its entry durable: the service then
 * answers with metadata STEEP_AUDIT_ATTACHED_METADATA and the frontend
 * logs nothing more. Reads write nothing, and a request that fails sends
 * no such metadata: the frontend logs those entries by SaveLogs as before
 * (a request that wrote and then failed thus has its success entry and its
 * failure entry).
 */
#ifndef STEEP_MANAGEMENT_AUDIT_ATTACH_H
#define STEEP_MANAGEMENT_AUDIT_ATTACH_H

#include <stdbool.h>

#include "audit.h"
#include "store/kv.h"

#define STEEP_AUDIT_ATTACH_METADATA   "steep-audit"
#define STEEP_AUDIT_ATTACHED_METADATA "steep-audited"

struct steep_audit_attach {
    struct steep_kv kv; /* the request's kv: inner's, with the entry attached */
    const struct steep_kv *inner;
    struct steep_audit *audit;
    TeaclaveCommonProto__Entry *entry;
    struct steep_audit_pending pending;
    bool made, written, failed;
};

/* 0 with attach->kv ready, or -1 when carried is not a valid entry (the
 * request then runs on inner, unaudited here). */
int steep_audit_attach_begin(struct steep_audit_attach *attach, struct steep_audit *audit,
                             const struct steep_kv *inner, const char *carried);
void steep_audit_attach_end(struct steep_audit_attach *attach);

#endif
