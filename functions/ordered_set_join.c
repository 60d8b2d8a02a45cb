/*
 * builtin-ordered-set-join: a streaming merge join of two CSV inputs sorted
 * on a key column (compared as byte strings). On equal keys it writes
 * (drop ? left minus left_column : left) ++ (right minus right_column) and
 * advances both; otherwise it advances the smaller side (the larger when
 * descending); it stops when either input ends. One record per input is
 * held in memory.
 */
#include "functions/args.h"
#include "functions/builtins.h"
#include "functions/csv.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

struct join_state {
    struct steep_csv_reader readers[2];
    struct steep_csv_record records[2];
    struct steep_buf row;
};

struct join_args {
    uint64_t left_column;
    uint64_t right_column;
    bool ascending;
    bool drop;
};

static int parse_args(const char *text, struct join_args *a)
{
    json_t *args;
    GUARD(steep_args_parse(text, &args));
    int rc = 0;
    GUARD_GOTO(steep_args_uint(args, "left_column", UINT64_MAX, &a->left_column), out);
    GUARD_GOTO(steep_args_uint(args, "right_column", UINT64_MAX, &a->right_column), out);
    GUARD_GOTO(steep_args_bool(args, "ascending", &a->ascending), out);
    GUARD_GOTO(steep_args_bool(args, "drop", &a->drop), out);
out:
    json_decref(args);
    return rc;
}

static int append_fields(struct steep_buf *row, const struct steep_csv_record *rec, uint64_t skip,
                         bool *first, size_t total)
{
    for (size_t i = 0; i < rec->count; i++) {
        if (i == skip)
            continue;
        if (!*first)
            GUARD(steep_buf_append_u8(row, ','));
        *first = false;
        GUARD(steep_csv_write_field(row, steep_csv_field(rec, i), steep_csv_field_len(rec, i),
                                    total == 1));
    }
    return 0;
}

static int write_joined(struct join_state *s, const struct join_args *a, struct steep_writer *w)
{
    const struct steep_csv_record *left = &s->records[0], *right = &s->records[1];
    size_t total = (a->drop ? left->count - 1 : left->count) + right->count - 1;
    bool first = true;
    steep_buf_reset(&s->row);
    GUARD(append_fields(&s->row, left, a->drop ? a->left_column : UINT64_MAX, &first, total));
    GUARD(append_fields(&s->row, right, a->right_column, &first, total));
    if (total == 0) /* the csv crate writes an empty record as one quoted empty field */
        GUARD(steep_buf_append(&s->row, "\"\"", 2));
    GUARD(steep_buf_append_u8(&s->row, '\n'));
    return steep_writer_write_all(w, s->row.data, s->row.len);
}

static int merge(struct join_state *s, const struct join_args *a, struct steep_writer *w,
                 uint64_t *count)
{
    int got = steep_csv_read(&s->readers[0], &s->records[0]);
    GUARD(got);
    ENSURE(got == 1, "input1 is empty");
    got = steep_csv_read(&s->readers[1], &s->records[1]);
    GUARD(got);
    ENSURE(got == 1, "input2 is empty");
    for (;;) {
        ENSURE(a->left_column < s->records[0].count && a->right_column < s->records[1].count,
               "invalid index");
        const char *k1 = steep_csv_field(&s->records[0], a->left_column);
        const char *k2 = steep_csv_field(&s->records[1], a->right_column);
        size_t l1 = steep_csv_field_len(&s->records[0], a->left_column);
        size_t l2 = steep_csv_field_len(&s->records[1], a->right_column);
        int c = memcmp(k1, k2, l1 < l2 ? l1 : l2);
        if (c == 0)
            c = l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
        int advance; /* 0 left, 1 right, 2 both */
        if (c == 0) {
            GUARD(write_joined(s, a, w));
            (*count)++;
            advance = 2;
        } else {
            advance = ((c < 0) == a->ascending) ? 0 : 1;
        }
        for (int side = 0; side < 2; side++) {
            if (advance != 2 && advance != side)
                continue;
            got = steep_csv_read(&s->readers[side], &s->records[side]);
            GUARD(got);
            if (got == 0)
                return 0;
        }
    }
}

STEEP_FN(steep_fn_ordered_set_join)
{
    struct join_args a;
    GUARD(parse_args(args_json, &a));
    struct steep_reader *in1 = steep_fn_open_input(io, "input_data1");
    if (!in1)
        return -1;
    struct steep_reader *in2 = steep_fn_open_input(io, "input_data2");
    if (!in2) {
        steep_reader_close(in1);
        return -1;
    }
    struct steep_writer *w = steep_fn_create_output(io, "output_result");
    struct join_state *s = calloc(1, sizeof(*s));
    uint64_t count = 0;
    int rc = 0;
    ENSURE_GOTO(s, out, "out of memory");
    GUARD_GOTO(w ? 0 : -1, out);
    steep_csv_reader_init(&s->readers[0], in1);
    steep_csv_reader_init(&s->readers[1], in2);
    rc = merge(s, &a, w, &count);
    for (int i = 0; i < 2; i++) {
        steep_csv_reader_free(&s->readers[i]);
        steep_buf_free(&s->records[i].bytes);
    }
    steep_buf_free(&s->row);
out:
    free(s);
    rc = steep_fn_close_output(w, rc);
    steep_reader_close(in1);
    steep_reader_close(in2);
    GUARD(rc);
    return steep_buf_printf(summary, "%llu records", (unsigned long long)count);
}
