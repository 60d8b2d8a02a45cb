/*
 * ordered-set-intersect and ordered-set-join stream: with generated inputs
 * of 300000 lines each (never materialised), the first output bytes are
 * written long before the inputs are consumed, and the results are right.
 */
#include "functions/function.h"

#include "core/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LINES 300000

struct generator {
    struct steep_reader base;
    uint64_t line, step, lines;
    int csv;
    char pending[64];
    size_t pending_len, pending_pos;
    uint64_t *consumed; /* shared byte counter */
};

static ssize_t generate(struct steep_reader *base, void *buf, size_t n)
{
    struct generator *g = (struct generator *)base;
    size_t done = 0;
    while (done < n) {
        if (g->pending_pos == g->pending_len) {
            if (g->line == g->lines)
                break;
            uint64_t v = g->line * g->step;
            g->pending_len =
                (size_t)(g->csv ? snprintf(g->pending, sizeof(g->pending), "%016llx,%llu\n",
                                           (unsigned long long)v, (unsigned long long)g->line)
                                : snprintf(g->pending, sizeof(g->pending), "%016llx\n",
                                           (unsigned long long)v));
            g->pending_pos = 0;
            g->line++;
        }
        size_t take = g->pending_len - g->pending_pos;
        if (take > n - done)
            take = n - done;
        memcpy((char *)buf + done, g->pending + g->pending_pos, take);
        g->pending_pos += take;
        done += take;
    }
    *g->consumed += done;
    return (ssize_t)done;
}

static int generator_close(struct steep_reader *base)
{
    free(base);
    return 0;
}

struct counter {
    struct steep_writer base;
    struct stream_io *io;
    uint64_t ones, bytes;
};

struct stream_io {
    int csv;
    uint64_t consumed;
    uint64_t consumed_at_first_write; /* UINT64_MAX until the first write */
    struct counter *last;
    uint64_t ones[2], bytes[2];
    int outputs;
};

static ssize_t count_write(struct steep_writer *base, const void *buf, size_t n)
{
    struct counter *c = (struct counter *)base;
    if (c->io->consumed_at_first_write == UINT64_MAX)
        c->io->consumed_at_first_write = c->io->consumed;
    for (size_t i = 0; i < n; i++)
        c->ones += ((const char *)buf)[i] == '1';
    c->bytes += n;
    return (ssize_t)n;
}

static int count_close(struct steep_writer *base, uint8_t cmac[16])
{
    struct counter *c = (struct counter *)base;
    int k = c->io->outputs++;
    if (k < 2) {
        c->io->ones[k] = c->ones;
        c->io->bytes[k] = c->bytes;
    }
    free(c);
    return 0;
}

static struct steep_reader *open_input(void *ctx, const char *name)
{
    struct stream_io *io = ctx;
    struct generator *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->base.read = generate;
    g->base.close = generator_close;
    g->step = strcmp(name, "input_data1") == 0 ? 3 : 5;
    g->lines = LINES;
    g->csv = io->csv;
    g->consumed = &io->consumed;
    return &g->base;
}

static struct steep_writer *create_output(void *ctx, const char *name)
{
    struct counter *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->base.write = count_write;
    c->base.close = count_close;
    c->io = ctx;
    return &c->base;
}

static void run(int csv, const char *function, const char *args, const char *want)
{
    struct stream_io state = {.csv = csv, .consumed_at_first_write = UINT64_MAX};
    struct steep_fn_io io = {&state, open_input, create_output, NULL, NULL};
    struct steep_buf summary = STEEP_BUF_INIT;
    if (steep_builtin_run(steep_builtin_find(function), args, &io, &summary) < 0)
        fail_msg("%s", steep_error_get());
    assert_int_equal(steep_buf_terminate(&summary), 0);
    assert_string_equal((char *)summary.data, want);
    /* Streaming: output began before half of the input was read (intersect
     * buffers 64 KiB of result bits per output). */
    uint64_t total = state.consumed;
    assert_true(total >= (uint64_t)LINES * 2 * 17);
    assert_true(state.consumed_at_first_write < total / 2);
    if (!csv) {
        assert_int_equal(state.bytes[0], LINES);
        assert_int_equal(state.bytes[1], LINES);
        assert_int_equal(state.ones[0], state.ones[1]);
    }
    steep_buf_free(&summary);
}

static void test_intersect_streams(void **state)
{
    /* Multiples of 15 below 3 * LINES: 200000 common items. */
    run(0, "builtin-ordered-set-intersect", "{\"order\":\"ascending\"}", "60000 common items");
}

static void test_join_streams(void **state)
{
    run(1, "builtin-ordered-set-join",
        "{\"left_column\":0,\"right_column\":0,\"ascending\":true,\"drop\":true}", "60000 records");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intersect_streams),
        cmocka_unit_test(test_join_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
