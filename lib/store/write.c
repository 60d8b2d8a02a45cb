/*
 * Writes on user records: put, delete, atomic batch and compare-and-swap.
 * The public functions check their arguments and submit a request to the
 * group committer (commit.c); the apply functions run inside the leader.
 */
#include <string.h>

#include "store/internal.h"

int steep_store_leveldb_batch(struct steep_store_leveldb *store, const struct steep_store_op *ops,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        GUARD(steep_store_check_key(ops[i].key, ops[i].key_len));
    if (n == 0)
        return STEEP_STORE_OK;
    struct steep_store_request request = {
        .kind = STEEP_STORE_REQUEST_BATCH, .ops = ops, .n_ops = n};
    return steep_store_submit(store, &request);
}

int steep_store_leveldb_compare_and_swap(struct steep_store_leveldb *store,
                                         struct steep_store_cas *cas)
{
    GUARD(steep_store_check_key(cas->key, cas->key_len));
    for (size_t i = 0; i < cas->n_then; i++)
        GUARD(steep_store_check_key(cas->then[i].key, cas->then[i].key_len));
    cas->swapped = false;
    cas->current_absent = false;
    struct steep_store_request request = {.kind = STEEP_STORE_REQUEST_CAS, .cas = cas};
    return steep_store_submit(store, &request);
}

int steep_store_apply_batch(struct steep_store_group *group, struct steep_store_request *request)
{
    struct steep_buf ikey = STEEP_BUF_INIT;
    int rc = STEEP_STORE_OK;
    for (size_t i = 0; rc == STEEP_STORE_OK && i < request->n_ops; i++) {
        const struct steep_store_op *op = &request->ops[i];
        if (steep_store_user_key(&ikey, op->key, op->key_len) < 0)
            rc = STEEP_STORE_ERROR;
        else if (op->is_delete)
            rc = steep_store_group_delete(group, &ikey);
        else
            rc = steep_store_group_put(group, &ikey, op->value, op->value_len);
    }
    steep_buf_free(&ikey);
    return rc;
}

static bool cas_matches(const struct steep_store_cas *cas, int found,
                        const struct steep_buf *current)
{
    if (cas->expect_absent)
        return found == STEEP_STORE_NOT_FOUND;
    return found == STEEP_STORE_OK && current->len == cas->expected_len &&
           (cas->expected_len == 0 || memcmp(current->data, cas->expected, cas->expected_len) == 0);
}

int steep_store_apply_cas(struct steep_store_group *group, struct steep_store_request *request)
{
    struct steep_store_cas *cas = request->cas;
    struct steep_buf ikey = STEEP_BUF_INIT, current = STEEP_BUF_INIT;
    int rc = steep_store_user_key(&ikey, cas->key, cas->key_len);
    int found = rc < 0 ? rc : steep_store_group_read(group, &ikey, &current);
    if (found == STEEP_STORE_ERROR) {
        rc = STEEP_STORE_ERROR;
    } else {
        cas->current_absent = found == STEEP_STORE_NOT_FOUND;
        if (cas->current) {
            steep_buf_reset(cas->current);
            steep_buf_wipe(cas->current);
            rc = steep_buf_append(cas->current, current.data, current.len);
        }
        if (rc == 0 && cas_matches(cas, found, &current)) {
            rc = steep_store_group_put(group, &ikey, cas->value, cas->value_len);
            struct steep_store_request then = {.ops = cas->then, .n_ops = cas->n_then};
            if (rc == 0 && cas->n_then)
                rc = steep_store_apply_batch(group, &then);
            cas->swapped = rc == 0;
        }
    }
    steep_buf_free(&ikey);
    steep_buf_free(&current);
    return rc < 0 ? STEEP_STORE_ERROR : STEEP_STORE_OK;
}
