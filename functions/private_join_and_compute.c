/*
 * builtin-private-join-and-compute: inputs input_data0..N-1 hold lines
 * "identity : amount"; the identities present in every input are written
 * with the sum of their amounts (u32, wrapping like Teaclave's release
 * build) as "identity, sum\n" to every output_data0..N-1. Teaclave emits
 * them in HashMap order; we emit them in the order of input_data0.
 * Inputs are held in memory (maps), as Teaclave does.
 */
#include "functions/args.h"
#include "functions/builtins.h"
#include "functions/line_reader.h"

#include "core/error.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX (256u << 20)

struct entry {
    const char *id; /* points into the input text */
    size_t id_len;
    uint32_t amount;
    bool alive;
};

struct table {
    struct entry *entries;
    size_t count;
    size_t cap;
    size_t *slots; /* index + 1, 0 = empty */
    size_t slot_count;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static struct entry *table_find(const struct table *t, const char *id, size_t len)
{
    if (!t->slot_count)
        return NULL;
    for (size_t i = hash_bytes(id, len) & (t->slot_count - 1);; i = (i + 1) & (t->slot_count - 1)) {
        if (!t->slots[i])
            return NULL;
        struct entry *e = &t->entries[t->slots[i] - 1];
        if (e->id_len == len && memcmp(e->id, id, len) == 0)
            return e;
    }
}

static int table_grow(struct table *t)
{
    size_t slots = t->slot_count ? t->slot_count * 2 : 64;
    size_t *fresh = calloc(slots, sizeof(*fresh));
    ENSURE(fresh, "out of memory");
    free(t->slots);
    t->slots = fresh;
    t->slot_count = slots;
    for (size_t k = 0; k < t->count; k++) {
        size_t i = hash_bytes(t->entries[k].id, t->entries[k].id_len) & (slots - 1);
        while (t->slots[i])
            i = (i + 1) & (slots - 1);
        t->slots[i] = k + 1;
    }
    return 0;
}

/* Inserts or overwrites (Rust HashMap::insert). */
static int table_put(struct table *t, const char *id, size_t len, uint32_t amount)
{
    struct entry *e = table_find(t, id, len);
    if (e) {
        e->amount = amount;
        return 0;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct entry *fresh = realloc(t->entries, cap * sizeof(*fresh));
        ENSURE(fresh, "out of memory");
        t->entries = fresh;
        t->cap = cap;
    }
    t->entries[t->count++] = (struct entry){id, len, amount, true};
    if (t->count * 2 > t->slot_count)
        return table_grow(t);
    size_t i = hash_bytes(id, len) & (t->slot_count - 1);
    while (t->slots[i])
        i = (i + 1) & (t->slot_count - 1);
    t->slots[i] = t->count;
    return 0;
}

static void table_free(struct table *t)
{
    free(t->entries);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* Rust's str::parse::<u32>: optional '+', then only digits, no overflow. */
static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
    size_t sign = len && s[0] == '+' ? 1 : 0;
    uint64_t value;
    if (steep_parse_u64(s + sign, len - sign, UINT32_MAX, &value) < 0)
        return false;
    *out = (uint32_t)value;
    return true;
}

static int parse_text(const struct steep_buf *text, struct table *t)
{
    GUARD(steep_utf8_check(text->data, text->len));
    const char *p = (const char *)text->data, *end = p + text->len;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *pair = p;
        size_t len = (size_t)(line_end - p);
        p = line_end + 1;
        steep_trim(&pair, &len);
        if (len < 3)
            continue;
        const char *colon = memchr(pair, ':', len);
        if (!colon || memchr(colon + 1, ':', len - (size_t)(colon + 1 - pair)))
            continue;
        const char *id = pair, *amount = colon + 1;
        size_t id_len = (size_t)(colon - pair), amount_len = len - id_len - 1;
        steep_trim(&id, &id_len);
        steep_trim(&amount, &amount_len);
        uint32_t value;
        if (parse_u32(amount, amount_len, &value))
            GUARD(table_put(t, id, id_len, value));
        if (!nl)
            break;
    }
    return 0;
}

static int read_input(struct steep_fn_io *io, uint64_t index, struct steep_buf *text)
{
    char name[64];
    snprintf(name, sizeof(name), "input_data%llu", (unsigned long long)index);
    struct steep_reader *r = steep_fn_open_input(io, name);
    if (!r)
        return -1;
    uint8_t chunk[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = steep_reader_read(r, chunk, sizeof(chunk))) != 0) {
        if (n < 0)
            rc = -1;
        else if (text->len + (size_t)n > INPUT_MAX)
            rc = steep_error_set("%s is larger than %u bytes", name, INPUT_MAX);
        else
            rc = steep_buf_append(text, chunk, (size_t)n);
    }
    steep_reader_close(r);
    return rc;
}

static int join(struct steep_fn_io *io, uint64_t users, struct steep_buf *texts,
                struct steep_buf *result)
{
    struct table acc = {0}, next = {0};
    int rc = 0;
    GUARD_GOTO(read_input(io, 0, &texts[0]), out);
    GUARD_GOTO(parse_text(&texts[0], &acc), out);
    for (uint64_t i = 1; i < users; i++) {
        GUARD_GOTO(read_input(io, i, &texts[i]), out);
        GUARD_GOTO(parse_text(&texts[i], &next), out);
        for (size_t k = 0; k < acc.count; k++) {
            struct entry *e = &acc.entries[k];
            struct entry *other = e->alive ? table_find(&next, e->id, e->id_len) : NULL;
            if (other)
                e->amount += other->amount;
            else
                e->alive = false;
        }
        table_free(&next);
    }
    for (size_t k = 0; k < acc.count; k++)
        if (acc.entries[k].alive)
            GUARD_GOTO(steep_buf_printf(result, "%.*s, %u\n", (int)acc.entries[k].id_len,
                                        acc.entries[k].id, acc.entries[k].amount),
                       out);
out:
    table_free(&next);
    table_free(&acc);
    return rc;
}

static int write_outputs(struct steep_fn_io *io, uint64_t users, const struct steep_buf *result)
{
    for (uint64_t i = 0; i < users; i++) {
        char name[64];
        snprintf(name, sizeof(name), "output_data%llu", (unsigned long long)i);
        struct steep_writer *w = steep_fn_create_output(io, name);
        if (!w)
            return -1;
        GUARD(steep_fn_close_output(w, steep_writer_write_all(w, result->data, result->len)));
    }
    return 0;
}

STEEP_FN(steep_fn_private_join_and_compute)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    uint64_t users;
    int rc = steep_args_uint(args, "num_user", UINT64_MAX, &users);
    json_decref(args);
    GUARD(rc);
    ENSURE(users >= 2, "The demo requires at least two parties!");
    ENSURE(users <= 1000, "num_user %llu is larger than 1000", (unsigned long long)users);
    struct steep_buf *texts = calloc(users, sizeof(*texts));
    ENSURE(texts, "out of memory");
    struct steep_buf result = STEEP_BUF_INIT;
    GUARD_GOTO(join(io, users, texts, &result), out);
    GUARD_GOTO(write_outputs(io, users, &result), out);
    rc = steep_buf_printf(summary, "%llu users join the task in total.", (unsigned long long)users);
out:
    for (uint64_t i = 0; i < users; i++)
        steep_buf_free(&texts[i]);
    free(texts);
    steep_buf_free(&result);
    return rc;
}
