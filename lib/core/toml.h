/*
 * A small, strict TOML subset for Steep's configuration file.
 *
 * Supported: comments, bare and quoted keys, dotted keys, table headers
 * `[a.b]`, inline tables `{ k = v, ... }`, basic strings with escapes
 * (\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX), literal strings ('...'),
 * integers (sign, `_` between digits, no leading zeros), booleans and arrays
 * (of any of these, spanning lines, with comments and a trailing comma).
 * Not supported, and rejected with a message naming the position: floats,
 * dates, multi-line strings, arrays of tables (`[[x]]`), hex/octal/binary
 * integers. Redefining a key or a table is an error, as in TOML 1.0.
 *
 * The whole document is read through a struct steep_cursor; every error is
 * reported as "file:line:column: message" (line and column start at 1,
 * columns count bytes). Strings are valid UTF-8 without NUL bytes.
 */
#ifndef STEEP_CORE_TOML_H
#define STEEP_CORE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum steep_toml_type {
    STEEP_TOML_STRING,
    STEEP_TOML_INTEGER,
    STEEP_TOML_BOOLEAN,
    STEEP_TOML_ARRAY,
    STEEP_TOML_TABLE,
};

struct steep_toml_value;

struct steep_toml_entry {
    char *key;
    struct steep_toml_value *value;
};

struct steep_toml_value {
    enum steep_toml_type type;
    unsigned line; /* where the value (or the table's header / first key) starts */
    unsigned column;
    union {
        char *string;
        int64_t integer;
        bool boolean;
        struct {
            struct steep_toml_value **items;
            size_t count;
        } array;
        struct {
            struct steep_toml_entry *entries;
            size_t count;
            unsigned flags; /* parser bookkeeping (how the table was created) */
        } table;
    } as;
};

/* Parses a document; name is used in error messages. On success *root is a
 * table to free with steep_toml_free(). */
int steep_toml_parse(const char *name, const void *data, size_t len,
                     struct steep_toml_value **root);
/* Reads and parses a file (at most 1 MiB). */
int steep_toml_parse_file(const char *path, struct steep_toml_value **root);
void steep_toml_free(struct steep_toml_value *value);

/* The value of key in a table (one key, not dotted); NULL when absent or
 * when table is not a table. */
const struct steep_toml_value *steep_toml_get(const struct steep_toml_value *table,
                                              const char *key);
/* Follows a dotted path of bare keys ("internal_endpoints.storage.listen_address"). */
const struct steep_toml_value *steep_toml_find(const struct steep_toml_value *root,
                                               const char *path);
/* "string", "integer", "boolean", "array", "table". */
const char *steep_toml_type_name(enum steep_toml_type type);

#endif
