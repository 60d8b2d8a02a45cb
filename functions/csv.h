/*
 * A streaming CSV record reader and writer matching the Rust csv crate's
 * defaults as Teaclave uses them: no headers, ',' delimiter, '"' quotes with
 * "" escapes, records end at \n, \r or \r\n, blank lines are skipped, every
 * record must have as many fields as the first (flexible = false), fields
 * must be UTF-8. The writer quotes a field only when needed (it holds a
 * delimiter, quote, \r or \n, or is the only, empty, field) and ends
 * records with \n.
 */
#ifndef STEEP_FUNCTIONS_CSV_H
#define STEEP_FUNCTIONS_CSV_H

#include "functions/line_reader.h"

#include "core/buf.h"
#include "crypto/stream.h"

#define STEEP_CSV_MAX_FIELDS 4096

struct steep_csv_record {
    struct steep_buf bytes;
    size_t ends[STEEP_CSV_MAX_FIELDS]; /* end offset of each field in bytes */
    size_t count;
};

struct steep_csv_reader {
    struct steep_line_reader input;
    uint64_t records; /* records read so far */
    uint64_t line;    /* 1-based line of the next byte */
    uint64_t byte;    /* offset of the next byte */
    size_t expected;  /* field count of the first record, 0 before it */
    int pending;      /* a byte pushed back, or -1 */
};

void steep_csv_reader_init(struct steep_csv_reader *c, struct steep_reader *reader);
void steep_csv_reader_free(struct steep_csv_reader *c);
/* 1 with a record, 0 at end, -1 on error (csv crate's message). */
int steep_csv_read(struct steep_csv_reader *c, struct steep_csv_record *rec);

static inline size_t steep_csv_field_len(const struct steep_csv_record *r, size_t i)
{
    return r->ends[i] - (i ? r->ends[i - 1] : 0);
}

static inline const char *steep_csv_field(const struct steep_csv_record *r, size_t i)
{
    return (const char *)r->bytes.data + (i ? r->ends[i - 1] : 0);
}

/* Appends one field, quoted if needed, to out (no separator). */
int steep_csv_write_field(struct steep_buf *out, const char *field, size_t len, bool only_field);

#endif
