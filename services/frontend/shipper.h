/*
 * Ships the frontend's audit entries to management (SaveLogs) so that each
 * entry is durable before the request it describes is answered.
 *
 * One shipper thread keeps at most one SaveLogs in flight; entries logged
 * while it is in flight are sent together in the next one (group commit).
 * steep_frontend_shipper_log() blocks until management acknowledged the
 * SaveLogs carrying the entry; steep_frontend_shipper_log_async() calls
 * back instead, so a held call's answer waits for its entry on no thread.
 * Teaclave instead buffered entries for 30 s and lost them when the
 * frontend died.
 */
#ifndef STEEP_FRONTEND_SHIPPER_H
#define STEEP_FRONTEND_SHIPPER_H

#include "rpc/rpc.h"
#include "teaclave_common.pb-c.h"

struct steep_frontend_shipper;

struct steep_frontend_shipper *steep_frontend_shipper_start(struct steep_rpc_client *management,
                                                            int timeout_ms);
/* Waits until entry is acknowledged: 0, or -1 (the SaveLogs failed). The
 * entry is only read, and only until this returns. */
int steep_frontend_shipper_log(struct steep_frontend_shipper *shipper,
                               const TeaclaveCommonProto__Entry *entry);
/*
 * The same without a waiting thread, for answers that hold their call
 * (long polls): queues entry and returns at once; fn(arg, rc) runs later on
 * the shipper thread with the outcome, exactly once, and must not block
 * (resume the held call). -1 when stopping or out of memory: fn never
 * runs. entry must stay readable until fn runs.
 */
typedef void (*steep_frontend_shipper_done_fn)(void *arg, int rc);
int steep_frontend_shipper_log_async(struct steep_frontend_shipper *shipper,
                                     const TeaclaveCommonProto__Entry *entry,
                                     steep_frontend_shipper_done_fn fn, void *arg);
/* Ships what is pending, then stops the thread and frees. */
void steep_frontend_shipper_stop(struct steep_frontend_shipper *shipper);

#endif
