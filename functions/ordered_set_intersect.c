/*
 * builtin-ordered-set-intersect: two inputs of hex lines, each sorted
 * ("ascending" or "desending", sic); each output gets one ASCII '0'/'1' per
 * line of its input (1 = also in the other input), no separators.
 *
 * Unlike Teaclave (which loads both files), this is a streaming two-pointer
 * merge: it holds the current and previous entry of each input and a 64 KiB
 * output buffer per output, so memory does not grow with the inputs. Once
 * one side ends the other is drained (still checked for order and hex).
 * The error texts are Teaclave's ("Invalid ordering", hex crate messages);
 * when both inputs are bad, the first error met while merging is reported.
 */
#include "functions/args.h"
#include "functions/builtins.h"
#include "functions/line_reader.h"

#include "core/error.h"
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

struct side {
    struct steep_line_reader lines;
    struct steep_writer *out;
    struct steep_buf current; /* decoded bytes */
    struct steep_buf previous;
    bool has_current;
    bool first;
    uint8_t bits[65536];
    size_t bit_count;
};

/* Rust hex::decode with its error messages. */
static int hex_decode(const char *s, size_t len, struct steep_buf *out)
{
    steep_buf_reset(out);
    ENSURE(len % 2 == 0, "Odd number of digits");
    GUARD(steep_buf_reserve(out, len / 2 + 1));
    struct steep_cursor c = steep_cursor_make(s, len);
    if (steep_cursor_read_hex_all(&c, out) < 0) {
        size_t bad = c.pos;
        unsigned char ch = (unsigned char)s[bad];
        if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\')
            return steep_error_set("Invalid character '%c' at position %zu", ch, bad);
        return steep_error_set("Invalid character '\\u{%x}' at position %zu", ch, bad);
    }
    return 0;
}

static int compare(const struct steep_buf *a, const struct steep_buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

/* Loads the next entry into side->current, checking its order. */
static int advance(struct side *s, bool ascending)
{
    const char *line;
    size_t len;
    struct steep_buf tmp = s->previous;
    s->previous = s->current;
    s->current = tmp;
    int got = steep_line_next(&s->lines, &line, &len);
    if (got < 0)
        return -1;
    s->has_current = got == 1;
    if (!s->has_current)
        return 0;
    GUARD(steep_utf8_check((const uint8_t *)line, len) == 0
              ? 0
              : steep_error_set("stream did not contain valid UTF-8"));
    GUARD(hex_decode(line, len, &s->current));
    if (!s->first) {
        int c = compare(&s->current, &s->previous);
        ENSURE(ascending ? c >= 0 : c <= 0, "Invalid ordering");
    }
    s->first = false;
    return 0;
}

static int emit(struct side *s, char bit)
{
    if (s->bit_count == sizeof(s->bits)) {
        GUARD(steep_writer_write_all(s->out, s->bits, s->bit_count));
        s->bit_count = 0;
    }
    s->bits[s->bit_count++] = (uint8_t)bit;
    return 0;
}

static int merge(struct side *a, struct side *b, bool ascending, uint64_t *common)
{
    GUARD(advance(a, ascending));
    GUARD(advance(b, ascending));
    while (a->has_current && b->has_current) {
        int c = compare(&a->current, &b->current);
        if (c == 0) {
            GUARD(emit(a, '1'));
            GUARD(emit(b, '1'));
            (*common)++;
            GUARD(advance(a, ascending));
            GUARD(advance(b, ascending));
        } else if ((c < 0) == ascending) {
            GUARD(emit(a, '0'));
            GUARD(advance(a, ascending));
        } else {
            GUARD(emit(b, '0'));
            GUARD(advance(b, ascending));
        }
    }
    for (struct side *s = a; s; s = s == a ? b : NULL) {
        while (s->has_current) {
            GUARD(emit(s, '0'));
            GUARD(advance(s, ascending));
        }
        GUARD(steep_writer_write_all(s->out, s->bits, s->bit_count));
        s->bit_count = 0;
    }
    return 0;
}

static int run(struct side *sides, const char *args_json, struct steep_fn_io *io,
               struct steep_buf *summary)
{
    static const char *const inputs[2] = {"input_data1", "input_data2"};
    static const char *const outputs[2] = {"output_result1", "output_result2"};
    struct steep_reader *readers[2] = {NULL, NULL};
    json_t *args = NULL;
    const char *order = NULL;
    uint64_t common = 0;
    int rc = 0;
    for (int i = 0; i < 2; i++)
        GUARD_GOTO((readers[i] = steep_fn_open_input(io, inputs[i])) ? 0 : -1, out);
    for (int i = 0; i < 2; i++)
        GUARD_GOTO((sides[i].out = steep_fn_create_output(io, outputs[i])) ? 0 : -1, out);
    GUARD_GOTO(steep_args_parse(args_json, &args), out);
    GUARD_GOTO(steep_args_string(args, "order", &order), out);
    bool ascending = strcmp(order, "ascending") == 0;
    ENSURE_GOTO(ascending || strcmp(order, "desending") == 0, out, "Invalid order");
    for (int i = 0; i < 2; i++) {
        steep_line_reader_init(&sides[i].lines, readers[i]);
        sides[i].first = true;
    }
    rc = merge(&sides[0], &sides[1], ascending, &common);
out:
    json_decref(args);
    for (int i = 0; i < 2; i++) {
        rc = steep_fn_close_output(sides[i].out, rc);
        steep_line_reader_free(&sides[i].lines);
        steep_buf_free(&sides[i].current);
        steep_buf_free(&sides[i].previous);
        steep_reader_close(readers[i]);
    }
    GUARD(rc);
    return steep_buf_printf(summary, "%llu common items", (unsigned long long)common);
}

STEEP_FN(steep_fn_ordered_set_intersect)
{
    struct side *sides = calloc(2, sizeof(*sides));
    ENSURE(sides, "out of memory");
    int rc = run(sides, args_json, io, summary);
    free(sides);
    return rc;
}
