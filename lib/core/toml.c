/*
 * Strict TOML-subset parser (see toml.h for the accepted language).
 *
 * A recursive-descent parser over a struct steep_cursor. The parser keeps
 * the start of the current line so every error can name line and column.
 * Tables remember how they came to exist (implicitly through a longer
 * header, by their own header, through a dotted key, or inline) so that the
 * TOML 1.0 rules against redefinition can be enforced: a table is defined
 * once, an inline table is closed, dotted keys only extend tables they
 * created themselves.
 */
#include "core/toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/text.h"

#define TOML_MAX_DEPTH     32
#define TOML_MAX_KEY_PARTS 16
#define TOML_MAX_FILE      (1024 * 1024)

enum table_flag {
    TABLE_IMPLICIT = 1, /* created as a prefix of a longer header */
    TABLE_HEADER = 2,   /* defined by its own [header] */
    TABLE_DOTTED = 4,   /* created by a dotted key */
    TABLE_INLINE = 8,   /* { ... }: closed once written */
};

struct parser {
    struct steep_cursor cursor;
    const char *name;
    size_t line_start;
    unsigned line;
    int depth;
    struct steep_toml_value *root;
    struct steep_toml_value *current;
};

struct key_path {
    char *parts[TOML_MAX_KEY_PARTS];
    unsigned lines[TOML_MAX_KEY_PARTS];
    unsigned columns[TOML_MAX_KEY_PARTS];
    size_t count;
};

static int parse_value(struct parser *p, struct steep_toml_value **out);

/* ---- positions and errors ------------------------------------------------ */

static unsigned column_of(const struct parser *p)
{
    return (unsigned)(p->cursor.pos - p->line_start + 1);
}

static int fail_at(const struct parser *p, unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(const struct parser *p, unsigned line, unsigned column, const char *fmt, ...)
{
    char message[STEEP_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return steep_error_set("%s:%u:%u: %s", p->name, line, column, message);
}

#define FAIL(p, ...) fail_at((p), (p)->line, column_of(p), __VA_ARGS__)

/* ---- character access ----------------------------------------------------- */

/* The byte `offset` ahead of the cursor, or -1 past the end. */
static int peek_at(const struct parser *p, size_t offset)
{
    struct steep_cursor look = p->cursor;
    uint8_t byte;
    if (steep_cursor_skip(&look, offset) < 0 || steep_cursor_read_u8(&look, &byte) < 0)
        return -1;
    return byte;
}

static int peek(const struct parser *p)
{
    return peek_at(p, 0);
}

static int advance(struct parser *p)
{
    uint8_t byte;
    if (steep_cursor_read_u8(&p->cursor, &byte) < 0)
        return -1;
    if (byte == '\n') {
        p->line++;
        p->line_start = p->cursor.pos;
    }
    return byte;
}

static bool is_bare_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static void skip_spaces(struct parser *p)
{
    while (peek(p) == ' ' || peek(p) == '\t')
        advance(p);
}

static int skip_comment(struct parser *p)
{
    if (peek(p) != '#')
        return 0;
    advance(p);
    for (int c = peek(p); c != -1 && c != '\n' && c != '\r'; c = peek(p)) {
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return FAIL(p, "control character in comment");
        advance(p);
    }
    return 0;
}

/* Consumes "\n" or "\r\n"; returns 1 if one was consumed. */
static int take_newline(struct parser *p)
{
    if (peek(p) == '\n') {
        advance(p);
        return 1;
    }
    if (peek(p) == '\r') {
        if (peek_at(p, 1) != '\n')
            return FAIL(p, "carriage return without line feed");
        advance(p);
        advance(p);
        return 1;
    }
    return 0;
}

/* Whitespace, comments and newlines (inside arrays). */
static int skip_blank(struct parser *p)
{
    for (;;) {
        skip_spaces(p);
        GUARD(skip_comment(p));
        int newline = take_newline(p);
        GUARD(newline);
        if (!newline)
            return 0;
    }
}

/* After a key/value pair or a header: only spaces, a comment, then a newline or the end. */
static int expect_line_end(struct parser *p)
{
    skip_spaces(p);
    GUARD(skip_comment(p));
    if (peek(p) == -1)
        return 0;
    int newline = take_newline(p);
    GUARD(newline);
    if (!newline)
        return FAIL(p, "expected end of line, found '%c'", peek(p));
    return 0;
}

/* ---- values --------------------------------------------------------------- */

static struct steep_toml_value *value_new(enum steep_toml_type type, unsigned line, unsigned column)
{
    struct steep_toml_value *value = calloc(1, sizeof *value);
    if (value) {
        value->type = type;
        value->line = line;
        value->column = column;
    }
    return value;
}

void steep_toml_free(struct steep_toml_value *value)
{
    if (!value)
        return;
    switch (value->type) {
    case STEEP_TOML_STRING:
        free(value->as.string);
        break;
    case STEEP_TOML_ARRAY:
        for (size_t i = 0; i < value->as.array.count; i++)
            steep_toml_free(value->as.array.items[i]);
        free(value->as.array.items);
        break;
    case STEEP_TOML_TABLE:
        for (size_t i = 0; i < value->as.table.count; i++) {
            free(value->as.table.entries[i].key);
            steep_toml_free(value->as.table.entries[i].value);
        }
        free(value->as.table.entries);
        break;
    default:
        break;
    }
    free(value);
}

static struct steep_toml_value *table_lookup(const struct steep_toml_value *table, const char *key)
{
    for (size_t i = 0; i < table->as.table.count; i++)
        if (strcmp(table->as.table.entries[i].key, key) == 0)
            return table->as.table.entries[i].value;
    return NULL;
}

/* Takes ownership of key and value on success only. */
static int table_insert(struct steep_toml_value *table, char *key, struct steep_toml_value *value)
{
    size_t n = table->as.table.count;
    struct steep_toml_entry *entries = realloc(table->as.table.entries, (n + 1) * sizeof *entries);
    ENSURE(entries, "out of memory");
    table->as.table.entries = entries;
    entries[n].key = key;
    entries[n].value = value;
    table->as.table.count = n + 1;
    return 0;
}

/* Whether text holds only valid UTF-8 (escapes were already decoded into it). */
static bool utf8_valid(const struct steep_buf *text)
{
    struct steep_cursor c = steep_cursor_make(text->data, text->len);
    return steep_cursor_check_utf8(&c) == 0;
}

static int parse_unicode_escape(struct parser *p, int digits, struct steep_buf *out)
{
    unsigned line = p->line, column = column_of(p) - 2;
    uint32_t code = 0;
    for (int i = 0; i < digits; i++) {
        int v = steep_hex_digit(peek(p));
        if (v < 0)
            return FAIL(p, "expected %d hex digits in unicode escape", digits);
        code = code * 16 + (uint32_t)v;
        advance(p);
    }
    if (code == 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return fail_at(p, line, column, "invalid unicode escape (NUL, surrogate or too large)");
    return steep_buf_append_utf8(out, code);
}

static int parse_escape(struct parser *p, struct steep_buf *out)
{
    unsigned column = column_of(p);
    advance(p); /* backslash */
    int c = advance(p);
    switch (c) {
    case 'b':
        return steep_buf_append_u8(out, '\b');
    case 't':
        return steep_buf_append_u8(out, '\t');
    case 'n':
        return steep_buf_append_u8(out, '\n');
    case 'f':
        return steep_buf_append_u8(out, '\f');
    case 'r':
        return steep_buf_append_u8(out, '\r');
    case '"':
        return steep_buf_append_u8(out, '"');
    case '\\':
        return steep_buf_append_u8(out, '\\');
    case 'u':
        return parse_unicode_escape(p, 4, out);
    case 'U':
        return parse_unicode_escape(p, 8, out);
    default:
        return fail_at(p, p->line, column, "invalid escape sequence");
    }
}

/* A basic ("...") or literal ('...') single-line string; the result is a
 * NUL-terminated, valid UTF-8 C string in *out. */
static int parse_string(struct parser *p, char **out)
{
    unsigned line = p->line, column = column_of(p);
    int quote = peek(p);
    if (peek_at(p, 1) == quote && peek_at(p, 2) == quote)
        return FAIL(p, "multi-line strings are not supported");
    advance(p);
    struct steep_buf text = STEEP_BUF_INIT;
    for (;;) {
        int c = peek(p);
        if (c == -1 || c == '\n' || c == '\r') {
            steep_buf_free(&text);
            return fail_at(p, line, column, "unterminated string");
        }
        if (c == quote) {
            advance(p);
            break;
        }
        if (c == '\\' && quote == '"') {
            if (parse_escape(p, &text) < 0) {
                steep_buf_free(&text);
                return -1;
            }
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            steep_buf_free(&text);
            return FAIL(p, "control character in string");
        }
        advance(p);
        if (steep_buf_append_u8(&text, (uint8_t)c) < 0) {
            steep_buf_free(&text);
            return -1;
        }
    }
    if (!utf8_valid(&text)) {
        steep_buf_free(&text);
        return fail_at(p, line, column, "string is not valid UTF-8");
    }
    if (steep_buf_terminate(&text) < 0) {
        steep_buf_free(&text);
        return -1;
    }
    if (!text.data) {
        *out = strdup("");
        ENSURE(*out, "out of memory");
        return 0;
    }
    *out = (char *)steep_buf_detach(&text, NULL);
    return 0;
}

static int parse_integer(struct parser *p, int64_t *out)
{
    unsigned line = p->line, column = column_of(p);
    bool negative = false;
    if (peek(p) == '+' || peek(p) == '-') {
        negative = advance(p) == '-';
    }
    if (!is_digit(peek(p)))
        return FAIL(p, "expected a digit");
    if (peek(p) == '0' && (peek_at(p, 1) == 'x' || peek_at(p, 1) == 'o' || peek_at(p, 1) == 'b'))
        return fail_at(p, line, column, "only decimal integers are supported");
    if (peek(p) == '0' && (is_digit(peek_at(p, 1)) || peek_at(p, 1) == '_'))
        return fail_at(p, line, column, "leading zeros are not allowed");
    uint64_t magnitude = 0;
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (;;) {
        int c = peek(p);
        if (is_digit(c)) {
            uint64_t digit = (uint64_t)(c - '0');
            if (magnitude > (limit - digit) / 10)
                return fail_at(p, line, column, "integer out of range");
            magnitude = magnitude * 10 + digit;
            advance(p);
        } else if (c == '_') {
            if (!is_digit(peek_at(p, 1)))
                return FAIL(p, "'_' must be between digits");
            advance(p);
        } else {
            break;
        }
    }
    int next = peek(p);
    if (next == '.' || next == 'e' || next == 'E')
        return fail_at(p, line, column, "floats are not supported");
    if (is_bare_key_char(next) || next == ':')
        return fail_at(p, line, column, "invalid integer");
    if (negative)
        *out = magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)magnitude;
    else
        *out = (int64_t)magnitude;
    return 0;
}

static int parse_boolean(struct parser *p, bool *out)
{
    static const char *const words[2] = {"false", "true"};
    for (int b = 0; b < 2; b++) {
        size_t n = strlen(words[b]);
        bool match = true;
        for (size_t i = 0; i < n && match; i++)
            match = peek_at(p, i) == words[b][i];
        if (match && !is_bare_key_char(peek_at(p, n))) {
            for (size_t i = 0; i < n; i++)
                advance(p);
            *out = b == 1;
            return 0;
        }
    }
    return FAIL(p, "expected a value");
}

static int parse_array(struct parser *p, struct steep_toml_value *array)
{
    advance(p); /* [ */
    for (;;) {
        GUARD(skip_blank(p));
        if (peek(p) == ']') {
            advance(p);
            return 0;
        }
        struct steep_toml_value *item = NULL;
        GUARD(parse_value(p, &item));
        size_t n = array->as.array.count;
        struct steep_toml_value **items = realloc(array->as.array.items, (n + 1) * sizeof *items);
        if (!items) {
            steep_toml_free(item);
            return steep_error_set("out of memory");
        }
        items[n] = item;
        array->as.array.items = items;
        array->as.array.count = n + 1;
        GUARD(skip_blank(p));
        if (peek(p) == ',') {
            advance(p);
            continue;
        }
        if (peek(p) == ']') {
            advance(p);
            return 0;
        }
        if (peek(p) == -1)
            return FAIL(p, "unterminated array");
        return FAIL(p, "expected ',' or ']' in array");
    }
}

static int parse_keyval(struct parser *p, struct steep_toml_value *table);

static void close_inline(struct steep_toml_value *table)
{
    table->as.table.flags |= TABLE_INLINE;
    for (size_t i = 0; i < table->as.table.count; i++) {
        struct steep_toml_value *v = table->as.table.entries[i].value;
        if (v->type == STEEP_TOML_TABLE)
            close_inline(v);
    }
}

static int parse_inline_table(struct parser *p, struct steep_toml_value *table)
{
    advance(p); /* { */
    skip_spaces(p);
    if (peek(p) == '}') {
        advance(p);
        close_inline(table);
        return 0;
    }
    for (;;) {
        GUARD(parse_keyval(p, table));
        skip_spaces(p);
        int c = peek(p);
        if (c == ',') {
            advance(p);
            skip_spaces(p);
            if (peek(p) == '}')
                return FAIL(p, "trailing comma in inline table");
            continue;
        }
        if (c == '}') {
            advance(p);
            close_inline(table);
            return 0;
        }
        if (c == '\n' || c == '\r' || c == -1)
            return FAIL(p, "inline table must be closed on the same line");
        return FAIL(p, "expected ',' or '}' in inline table");
    }
}

static int parse_value(struct parser *p, struct steep_toml_value **out)
{
    unsigned line = p->line, column = column_of(p);
    int c = peek(p);
    enum steep_toml_type type;
    if (c == '"' || c == '\'')
        type = STEEP_TOML_STRING;
    else if (c == '[')
        type = STEEP_TOML_ARRAY;
    else if (c == '{')
        type = STEEP_TOML_TABLE;
    else if (c == 't' || c == 'f')
        type = STEEP_TOML_BOOLEAN;
    else if (is_digit(c) || c == '+' || c == '-')
        type = STEEP_TOML_INTEGER;
    else if (c == 'i' || c == 'n')
        return FAIL(p, "floats are not supported");
    else
        return FAIL(p, "expected a value");

    if (p->depth >= TOML_MAX_DEPTH)
        return FAIL(p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
    struct steep_toml_value *value = value_new(type, line, column);
    ENSURE(value, "out of memory");
    p->depth++;
    int rc;
    switch (type) {
    case STEEP_TOML_STRING:
        rc = parse_string(p, &value->as.string);
        break;
    case STEEP_TOML_ARRAY:
        rc = parse_array(p, value);
        break;
    case STEEP_TOML_TABLE:
        rc = parse_inline_table(p, value);
        break;
    case STEEP_TOML_BOOLEAN:
        rc = parse_boolean(p, &value->as.boolean);
        break;
    default:
        rc = parse_integer(p, &value->as.integer);
        break;
    }
    p->depth--;
    if (rc < 0) {
        steep_toml_free(value);
        return -1;
    }
    *out = value;
    return 0;
}

/* ---- keys ----------------------------------------------------------------- */

static void key_path_free(struct key_path *key)
{
    for (size_t i = 0; i < key->count; i++)
        free(key->parts[i]);
    key->count = 0;
}

static int parse_key_part(struct parser *p, char **out)
{
    int c = peek(p);
    if (c == '"' || c == '\'')
        return parse_string(p, out);
    if (!is_bare_key_char(c))
        return FAIL(p, "expected a key");
    struct steep_buf text = STEEP_BUF_INIT;
    while (is_bare_key_char(peek(p))) {
        if (steep_buf_append_u8(&text, (uint8_t)advance(p)) < 0) {
            steep_buf_free(&text);
            return -1;
        }
    }
    if (steep_buf_terminate(&text) < 0) {
        steep_buf_free(&text);
        return -1;
    }
    *out = (char *)steep_buf_detach(&text, NULL);
    return 0;
}

/* key ( '.' key )*, with spaces allowed around the dots. */
static int parse_key(struct parser *p, struct key_path *key)
{
    key->count = 0;
    for (;;) {
        if (key->count == TOML_MAX_KEY_PARTS) {
            key_path_free(key);
            return FAIL(p, "key has more than %d parts", TOML_MAX_KEY_PARTS);
        }
        key->lines[key->count] = p->line;
        key->columns[key->count] = column_of(p);
        if (parse_key_part(p, &key->parts[key->count]) < 0) {
            key_path_free(key);
            return -1;
        }
        key->count++;
        skip_spaces(p);
        if (peek(p) != '.')
            return 0;
        advance(p);
        skip_spaces(p);
    }
}

/* Walks (creating) the tables named by the first `count` parts of key under
 * table, for a dotted key. */
static int walk_dotted(struct parser *p, struct steep_toml_value *table, const struct key_path *key,
                       size_t count, struct steep_toml_value **out)
{
    for (size_t i = 0; i < count; i++) {
        struct steep_toml_value *next = table_lookup(table, key->parts[i]);
        if (!next) {
            next = value_new(STEEP_TOML_TABLE, key->lines[i], key->columns[i]);
            ENSURE(next, "out of memory");
            next->as.table.flags = TABLE_DOTTED;
            char *name = strdup(key->parts[i]);
            if (!name || table_insert(table, name, next) < 0) {
                free(name);
                steep_toml_free(next);
                return steep_error_set("out of memory");
            }
        } else if (next->type != STEEP_TOML_TABLE || !(next->as.table.flags & TABLE_DOTTED) ||
                   (next->as.table.flags & TABLE_INLINE)) {
            return fail_at(p, key->lines[i], key->columns[i], "cannot extend key '%s' here",
                           key->parts[i]);
        }
        table = next;
    }
    *out = table;
    return 0;
}

static int parse_keyval(struct parser *p, struct steep_toml_value *table)
{
    struct key_path key;
    GUARD(parse_key(p, &key));
    int rc = -1;
    struct steep_toml_value *value = NULL;
    struct steep_toml_value *target = NULL;
    size_t last = key.count - 1;
    if (peek(p) != '=') {
        FAIL(p, "expected '=' after key");
        goto done;
    }
    advance(p);
    skip_spaces(p);
    if (parse_value(p, &value) < 0)
        goto done;
    if (walk_dotted(p, table, &key, last, &target) < 0)
        goto done;
    if (table_lookup(target, key.parts[last])) {
        fail_at(p, key.lines[last], key.columns[last], "duplicate key '%s'", key.parts[last]);
        goto done;
    }
    if (table_insert(target, key.parts[last], value) < 0)
        goto done;
    key.parts[last] = NULL; /* owned by the table now */
    value = NULL;
    rc = 0;
done:
    steep_toml_free(value);
    key_path_free(&key);
    return rc;
}

/* ---- headers -------------------------------------------------------------- */

static int open_header_table(struct parser *p, const struct key_path *key)
{
    struct steep_toml_value *table = p->root;
    for (size_t i = 0; i < key->count; i++) {
        bool last = i + 1 == key->count;
        struct steep_toml_value *next = table_lookup(table, key->parts[i]);
        if (!next) {
            next = value_new(STEEP_TOML_TABLE, key->lines[i], key->columns[i]);
            ENSURE(next, "out of memory");
            next->as.table.flags = last ? TABLE_HEADER : TABLE_IMPLICIT;
            char *name = strdup(key->parts[i]);
            if (!name || table_insert(table, name, next) < 0) {
                free(name);
                steep_toml_free(next);
                return steep_error_set("out of memory");
            }
        } else if (next->type != STEEP_TOML_TABLE) {
            return fail_at(p, key->lines[i], key->columns[i], "key '%s' is not a table",
                           key->parts[i]);
        } else if (next->as.table.flags & TABLE_INLINE) {
            return fail_at(p, key->lines[i], key->columns[i], "cannot extend inline table '%s'",
                           key->parts[i]);
        } else if (last) {
            if (next->as.table.flags & (TABLE_HEADER | TABLE_DOTTED))
                return fail_at(p, key->lines[i], key->columns[i], "duplicate table '%s'",
                               key->parts[i]);
            next->as.table.flags = TABLE_HEADER;
            next->line = key->lines[i];
            next->column = key->columns[i];
        }
        table = next;
    }
    p->current = table;
    return 0;
}

static int parse_header(struct parser *p)
{
    advance(p); /* [ */
    if (peek(p) == '[')
        return FAIL(p, "arrays of tables ([[...]]) are not supported");
    skip_spaces(p);
    struct key_path key;
    GUARD(parse_key(p, &key));
    int rc = -1;
    if (peek(p) != ']')
        FAIL(p, "expected ']' after table name");
    else {
        advance(p);
        rc = open_header_table(p, &key);
    }
    key_path_free(&key);
    return rc;
}

/* ---- document ------------------------------------------------------------- */

static int parse_document(struct parser *p)
{
    while (steep_cursor_remaining(&p->cursor) > 0) {
        skip_spaces(p);
        int c = peek(p);
        if (c == '#' || c == '\n' || c == '\r' || c == -1) {
            GUARD(expect_line_end(p));
            continue;
        }
        if (c == '[')
            GUARD(parse_header(p));
        else
            GUARD(parse_keyval(p, p->current));
        GUARD(expect_line_end(p));
    }
    return 0;
}

int steep_toml_parse(const char *name, const void *data, size_t len, struct steep_toml_value **root)
{
    struct parser p = {
        .cursor = steep_cursor_make(data, len),
        .name = name ? name : "<input>",
        .line = 1,
    };
    p.root = value_new(STEEP_TOML_TABLE, 1, 1);
    ENSURE(p.root, "out of memory");
    p.root->as.table.flags = TABLE_HEADER;
    p.current = p.root;
    if (parse_document(&p) < 0) {
        steep_toml_free(p.root);
        return -1;
    }
    *root = p.root;
    return 0;
}

int steep_toml_parse_file(const char *path, struct steep_toml_value **root)
{
    struct steep_buf text = STEEP_BUF_INIT;
    if (steep_read_file(path, TOML_MAX_FILE, &text) < 0)
        return steep_error_wrap("%s", path);
    int rc = steep_toml_parse(path, text.data, text.len, root);
    steep_buf_free(&text);
    return rc;
}

/* ---- lookup --------------------------------------------------------------- */

const struct steep_toml_value *steep_toml_get(const struct steep_toml_value *table, const char *key)
{
    if (!table || table->type != STEEP_TOML_TABLE)
        return NULL;
    return table_lookup(table, key);
}

const struct steep_toml_value *steep_toml_find(const struct steep_toml_value *root,
                                               const char *path)
{
    const struct steep_toml_value *value = root;
    char part[256];
    while (value) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        value = steep_toml_get(value, part);
        if (!dot)
            return value;
        path = dot + 1;
    }
    return NULL;
}

const char *steep_toml_type_name(enum steep_toml_type type)
{
    switch (type) {
    case STEEP_TOML_STRING:
        return "string";
    case STEEP_TOML_INTEGER:
        return "integer";
    case STEEP_TOML_BOOLEAN:
        return "boolean";
    case STEEP_TOML_ARRAY:
        return "array";
    case STEEP_TOML_TABLE:
        return "table";
    }
    return "unknown";
}
