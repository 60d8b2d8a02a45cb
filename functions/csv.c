/* CSV record reading and field writing; see csv.h. */
#include "functions/csv.h"

#include "core/error.h"

#include <string.h>

void steep_csv_reader_init(struct steep_csv_reader *c, struct steep_reader *reader)
{
    steep_line_reader_init(&c->input, reader);
    c->records = 0;
    c->line = 1;
    c->byte = 0;
    c->expected = 0;
    c->pending = -1;
}

void steep_csv_reader_free(struct steep_csv_reader *c)
{
    steep_line_reader_free(&c->input);
}

/* 1 with a byte, 0 at end, -1 on error. */
static int next_byte(struct steep_csv_reader *c, uint8_t *b)
{
    if (c->pending >= 0) {
        *b = (uint8_t)c->pending;
        c->pending = -1;
    } else {
        int got = steep_line_getc(&c->input, b);
        if (got <= 0)
            return got;
    }
    c->byte++;
    if (*b == '\n')
        c->line++;
    return 1;
}

static void push_back(struct steep_csv_reader *c, uint8_t b)
{
    c->pending = b;
    c->byte--;
    if (b == '\n')
        c->line--;
}

static int end_field(struct steep_csv_record *rec)
{
    ENSURE(rec->count < STEEP_CSV_MAX_FIELDS, "CSV record has more than %d fields",
           STEEP_CSV_MAX_FIELDS);
    rec->ends[rec->count++] = rec->bytes.len;
    return 0;
}

int steep_csv_read(struct steep_csv_reader *c, struct steep_csv_record *rec)
{
    steep_buf_reset(&rec->bytes);
    rec->count = 0;
    uint8_t b;
    int got;
    /* Skip blank lines. */
    for (;;) {
        got = next_byte(c, &b);
        if (got <= 0)
            return got;
        if (b != '\n' && b != '\r')
            break;
    }
    uint64_t start_line = c->line, start_byte = c->byte - 1;
    push_back(c, b);
    bool quoted = false, in_quotes = false, at_field_start = true;
    for (;;) {
        got = next_byte(c, &b);
        if (got < 0)
            return -1;
        if (got == 0) {
            GUARD(end_field(rec));
            break;
        }
        if (in_quotes) {
            if (b == '"') {
                uint8_t n;
                int more = next_byte(c, &n);
                if (more < 0)
                    return -1;
                if (more == 1 && n == '"') {
                    GUARD(steep_buf_append_u8(&rec->bytes, '"'));
                    continue;
                }
                if (more == 1)
                    push_back(c, n);
                in_quotes = false;
                continue;
            }
            GUARD(steep_buf_append_u8(&rec->bytes, b));
            continue;
        }
        if (b == ',') {
            GUARD(end_field(rec));
            at_field_start = true;
            quoted = false;
            continue;
        }
        if (b == '\n' || b == '\r') {
            if (b == '\r') {
                uint8_t n;
                int more = next_byte(c, &n);
                if (more < 0)
                    return -1;
                if (more == 1 && n != '\n')
                    push_back(c, n);
            }
            GUARD(end_field(rec));
            break;
        }
        if (b == '"' && at_field_start && !quoted) {
            quoted = in_quotes = true;
            at_field_start = false;
            continue;
        }
        at_field_start = false;
        ENSURE(rec->bytes.len < STEEP_LINE_MAX, "CSV record too long");
        GUARD(steep_buf_append_u8(&rec->bytes, b));
    }
    for (size_t i = 0; i < rec->count; i++)
        if (steep_utf8_check((const uint8_t *)steep_csv_field(rec, i),
                             steep_csv_field_len(rec, i)) < 0)
            return steep_error_set("CSV parse error: record %llu (line %llu, field: %zu, byte: "
                                   "%llu): invalid utf-8",
                                   (unsigned long long)c->records, (unsigned long long)start_line,
                                   i, (unsigned long long)start_byte);
    if (c->expected == 0)
        c->expected = rec->count;
    else if (rec->count != c->expected)
        return steep_error_set("CSV error: record %llu (line: %llu, byte: %llu): found record with "
                               "%zu fields, but the previous record has %zu fields",
                               (unsigned long long)c->records, (unsigned long long)start_line,
                               (unsigned long long)start_byte, rec->count, c->expected);
    c->records++;
    return 1;
}

int steep_csv_write_field(struct steep_buf *out, const char *field, size_t len, bool only_field)
{
    bool quote = len == 0 && only_field;
    for (size_t i = 0; i < len && !quote; i++)
        quote = field[i] == ',' || field[i] == '"' || field[i] == '\n' || field[i] == '\r';
    if (!quote)
        return steep_buf_append(out, field, len);
    GUARD(steep_buf_append_u8(out, '"'));
    for (size_t i = 0; i < len; i++) {
        if (field[i] == '"')
            GUARD(steep_buf_append_u8(out, '"'));
        GUARD(steep_buf_append_u8(out, (uint8_t)field[i]));
    }
    return steep_buf_append_u8(out, '"');
}
