/*
 * Per-queue FIFOs. A queue is a head and a tail counter (u64, big-endian)
 * and the elements at indexes [head, tail), in the queue key space
 * (internal.h). Enqueue writes the element and tail+1 in the same synced
 * WriteBatch; dequeue deletes the element and writes head+1 in one, so an
 * element is handed out exactly once even across crashes. A queue that
 * drains loses its counters, so empty queues leave no records behind.
 */
#include <string.h>

#include "store/internal.h"

static int check_queue(const void *queue, size_t queue_len)
{
    ENSURE(queue != NULL && queue_len > 0, "empty queue name");
    return 0;
}

int steep_store_leveldb_enqueue(struct steep_store_leveldb *store, const void *queue,
                                size_t queue_len, const void *value, size_t value_len)
{
    GUARD(check_queue(queue, queue_len));
    struct steep_store_request request = {.kind = STEEP_STORE_REQUEST_ENQUEUE,
                                          .queue = queue,
                                          .queue_len = queue_len,
                                          .value = value,
                                          .value_len = value_len};
    return steep_store_submit(store, &request);
}

int steep_store_leveldb_dequeue(struct steep_store_leveldb *store, const void *queue,
                                size_t queue_len, struct steep_buf *value)
{
    GUARD(check_queue(queue, queue_len));
    struct steep_store_request request = {
        .kind = STEEP_STORE_REQUEST_DEQUEUE, .queue = queue, .queue_len = queue_len, .out = value};
    return steep_store_submit(store, &request);
}

static void encode_u64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

/* Reads a counter (absent = 0) through the group's view. */
static int read_counter(struct steep_store_group *group, struct steep_buf *ikey,
                        const struct steep_store_request *request, char part, uint64_t *out)
{
    struct steep_buf plain = STEEP_BUF_INIT;
    GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, part, 0));
    int rc = steep_store_group_read(group, ikey, &plain);
    *out = 0;
    if (rc == STEEP_STORE_OK && plain.len != 8)
        rc = steep_error_set("corrupt queue counter");
    for (size_t i = 0; rc == STEEP_STORE_OK && i < 8; i++)
        *out = (*out << 8) | plain.data[i];
    steep_buf_free(&plain);
    return rc == STEEP_STORE_ERROR ? -1 : 0;
}

static int write_counter(struct steep_store_group *group, struct steep_buf *ikey,
                         const struct steep_store_request *request, char part, uint64_t value)
{
    uint8_t encoded[8];
    encode_u64(value, encoded);
    GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, part, 0));
    return steep_store_group_put(group, ikey, encoded, sizeof encoded);
}

static int enqueue(struct steep_store_group *group, struct steep_store_request *request,
                   struct steep_buf *ikey)
{
    uint64_t tail;
    GUARD(read_counter(group, ikey, request, 't', &tail));
    GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, 'e', tail));
    GUARD(steep_store_group_put(group, ikey, request->value, request->value_len));
    return write_counter(group, ikey, request, 't', tail + 1);
}

int steep_store_apply_enqueue(struct steep_store_group *group, struct steep_store_request *request)
{
    struct steep_buf ikey = STEEP_BUF_INIT;
    int rc = enqueue(group, request, &ikey);
    steep_buf_free(&ikey);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}

static int dequeue(struct steep_store_group *group, struct steep_store_request *request,
                   struct steep_buf *ikey)
{
    uint64_t head, tail;
    GUARD(read_counter(group, ikey, request, 'h', &head));
    GUARD(read_counter(group, ikey, request, 't', &tail));
    if (head == tail)
        return STEEP_STORE_EMPTY;
    ENSURE(head < tail, "corrupt queue counters");
    GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, 'e', head));
    int found = steep_store_group_read(group, ikey, request->out);
    GUARD(found);
    ENSURE(found == STEEP_STORE_OK, "corrupt queue: element missing");
    GUARD(steep_store_group_delete(group, ikey));
    if (head + 1 < tail)
        GUARD(write_counter(group, ikey, request, 'h', head + 1));
    else {
        GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, 'h', 0));
        GUARD(steep_store_group_delete(group, ikey));
        GUARD(steep_store_queue_key(ikey, request->queue, request->queue_len, 't', 0));
        GUARD(steep_store_group_delete(group, ikey));
    }
    return STEEP_STORE_OK;
}

int steep_store_apply_dequeue(struct steep_store_group *group, struct steep_store_request *request)
{
    struct steep_buf ikey = STEEP_BUF_INIT;
    int rc = dequeue(group, request, &ikey);
    steep_buf_free(&ikey);
    return rc < 0 ? STEEP_STORE_ERROR : rc;
}
