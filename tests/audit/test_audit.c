/*
 * Unit tests of the hash-chained audit log over the in-process storage
 * engine: append and query (every query form, limit, newest first),
 * rejection of bad entries, verification, and detection of a doctored
 * chain (edited, removed, swapped, injected records; rewritten head; a
 * second writer), persistence across reopen and concurrent appends.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"
#include "audit_internal.h"
#include "core/error.h"
#include "rpc/rpc.h"
#include "store/store.h"

struct fixture {
    char dir[64];
    struct steep_store *store;
    struct steep_audit_store seam;
    struct steep_audit *audit;
};

static const uint8_t store_key[STEEP_STORE_KEY_BYTES] = {1, 2, 3};
static const uint8_t mac_key[STEEP_AUDIT_MAC_KEY_LEN] = {9, 8, 7};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/steep-audit-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (steep_store_open(f->dir, store_key, STEEP_STORE_CREATE, &f->store) != 0)
        return -1;
    f->seam = steep_audit_store_over_engine(f->store);
    f->audit = steep_audit_open(&f->seam, mac_key);
    *state = f;
    return f->audit ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    steep_audit_free(f->audit);
    steep_store_close(f->store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", f->dir);
    int rc = system(command);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* An entry as the frontend makes it; ip is "::a.b.c.d" for IPv4 text. */
static TeaclaveCommonProto__Entry *make_entry(int64_t microsecond, const char *ip, const char *user,
                                              const char *message, bool result)
{
    static uint8_t addresses[64][16];
    static int next;
    uint8_t *address = addresses[next++ % 64];
    memset(address, 0, 16);
    struct in_addr v4;
    if (inet_pton(AF_INET, ip, &v4) == 1)
        memcpy(address + 12, &v4, 4);
    else
        assert_int_equal(inet_pton(AF_INET6, ip, address), 1);
    TeaclaveCommonProto__Entry *e = calloc(1, sizeof *e);
    teaclave_common_proto__entry__init(e);
    e->microsecond = microsecond;
    e->ip.data = address;
    e->ip.len = 16;
    e->user = (char *)user;
    e->message = (char *)message;
    e->result = result;
    return e;
}

static void append_one(struct steep_audit *audit, TeaclaveCommonProto__Entry *e)
{
    if (steep_audit_append(audit, &e, 1) != 0)
        fail_msg("append: %s", steep_error_get());
    free(e);
}

static const char *alice = "{ user: alice, role: DataOwner(\"org1\") }";
static const char *bob = "{ user: bob, role: FunctionOwner }";

/* Six entries, oldest first. */
static void populate(struct steep_audit *audit)
{
    TeaclaveCommonProto__Entry *batch[2] = {
        make_entry(1000, "127.0.0.1", bob, "register_function", true),
        make_entry(2000, "10.0.0.7", "", "authenticate to get_function: incorrent credential",
                   false),
    };
    assert_int_equal(steep_audit_append(audit, batch, 2), 0);
    free(batch[0]);
    free(batch[1]);
    append_one(audit, make_entry(3000, "127.0.0.1", alice, "register_input_file", true));
    append_one(audit, make_entry(4000, "::1", alice,
                                 "get_function:status: InvalidArgument, message: \"invalid "
                                 "function id\"",
                                 false));
    append_one(audit,
               make_entry(5000, "127.0.0.1", "", "authenticate to register_function", false));
    append_one(audit, make_entry(6000, "10.0.0.7", alice, "create_task", true));
}

/* Microseconds of the query's results, as "6000,5000,...". */
static char *query_times(struct steep_audit *audit, const char *query, uint64_t limit)
{
    TeaclaveCommonProto__Entry **entries = NULL;
    size_t n = 0;
    if (steep_audit_query(audit, query, limit, &entries, &n) != 0)
        fail_msg("query '%s': %s", query, steep_error_get());
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char item[32];
        snprintf(item, sizeof item, "%s%lld", i ? "," : "", (long long)entries[i]->microsecond);
        strcat(out, item);
        assert_int_equal(entries[i]->ip.len, 16);
    }
    steep_audit_entries_free(entries, n);
    return out;
}

static void test_append_and_query_all(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 6);
    assert_string_equal(query_times(f->audit, "*", 100), "6000,5000,4000,3000,2000,1000");

    TeaclaveCommonProto__Entry **entries = NULL;
    size_t n = 0;
    assert_int_equal(steep_audit_query(f->audit, "*", 1, &entries, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(entries[0]->user, alice);
    assert_string_equal(entries[0]->message, "create_task");
    assert_true(entries[0]->result);
    static const uint8_t want_ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 7};
    assert_memory_equal(entries[0]->ip.data, want_ip, 16);
    steep_audit_entries_free(entries, n);
}

static void test_query_forms(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    /* bare words search message; a word with '_' is a phrase of its parts */
    assert_string_equal(query_times(f->audit, "register_function", 100), "5000,1000");
    assert_string_equal(query_times(f->audit, "authenticate", 100), "5000,2000");
    assert_string_equal(query_times(f->audit, "message:authenticate", 100), "5000,2000");
    assert_string_equal(query_times(f->audit, "CREATE_TASK", 100), "6000");
    assert_string_equal(query_times(f->audit, "function", 100), "5000,4000,2000,1000");
    assert_string_equal(query_times(f->audit, "\"to register_function\"", 100), "5000");
    assert_string_equal(query_times(f->audit, "\"register to\"", 100), "");
    assert_string_equal(query_times(f->audit, "nothing_like_this", 100), "");
    /* fields */
    assert_string_equal(query_times(f->audit, "user:alice", 100), "6000,4000,3000");
    assert_string_equal(query_times(f->audit, "user:FunctionOwner", 100), "1000");
    assert_string_equal(query_times(f->audit, "ip:127.0.0.1", 100), "5000,3000,1000");
    assert_string_equal(query_times(f->audit, "ip:::7f00:1", 100), "5000,3000,1000");
    assert_string_equal(query_times(f->audit, "ip:::1", 100), "4000");
    assert_string_equal(query_times(f->audit, "result:false", 100), "5000,4000,2000");
    assert_string_equal(query_times(f->audit, "result:true", 100), "6000,3000,1000");
    /* combinations */
    assert_string_equal(query_times(f->audit, "create_task register_input_file", 100), "6000,3000");
    assert_string_equal(query_times(f->audit, "+result:true -user:bob", 100), "6000,3000");
    assert_string_equal(query_times(f->audit, "user:alice AND result:false", 100), "4000");
    assert_string_equal(query_times(f->audit, "-result:true", 100), "");
    assert_string_equal(query_times(f->audit, "", 100), "");
    assert_string_equal(query_times(f->audit, "  ", 100), "");
    /* limit and order */
    assert_string_equal(query_times(f->audit, "result:false", 2), "5000,4000");
    assert_string_equal(query_times(f->audit, "*", 0), "");
}

static void expect_query_error(struct steep_audit *audit, const char *query, const char *error)
{
    TeaclaveCommonProto__Entry **entries = (void *)1;
    size_t n = 99;
    assert_int_equal(steep_audit_query(audit, query, 10, &entries, &n), -1);
    assert_int_equal(steep_audit_last_code(), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), error);
    assert_null(entries);
    assert_int_equal(n, 0);
}

static void test_query_errors(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    expect_query_error(f->audit, "date:2020", "audit log error, reason: unknown field 'date'");
    expect_query_error(f->audit, "result:maybe",
                       "audit log error, reason: result must be true or false");
    expect_query_error(f->audit, "ip:300.1.1.1", "audit log error, reason: invalid ip '300.1.1.1'");
    expect_query_error(f->audit, "\"open", "audit log error, reason: unterminated quote");
    expect_query_error(f->audit, "user:", "audit log error, reason: empty query term");
}

static void test_limit_zero_on_empty_log(void **state)
{
    struct fixture *f = *state;
    assert_string_equal(query_times(f->audit, "*", 0), "");
    assert_string_equal(query_times(f->audit, "*", 10), "");
    uint64_t count = 99;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 0);
}

static void test_bad_ip_rejects_batch(void **state)
{
    struct fixture *f = *state;
    TeaclaveCommonProto__Entry *batch[2] = {
        make_entry(1, "127.0.0.1", alice, "get_task", true),
        make_entry(2, "127.0.0.1", alice, "get_task", true),
    };
    batch[1]->ip.len = 4;
    assert_int_equal(steep_audit_append(f->audit, batch, 2), -1);
    assert_int_equal(steep_audit_last_code(), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "audit log error");
    batch[1]->ip.len = 0;
    assert_int_equal(steep_audit_append(f->audit, batch, 2), -1);
    assert_string_equal(steep_error_get(), "audit log error");
    free(batch[0]);
    free(batch[1]);
    uint64_t count = 99;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 0); /* nothing of the batch was written */
}

/* ---- doctored chains ------------------------------------------------------ */

struct record_keys {
    char keys[16][128];
    size_t n;
};

static int collect_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
    struct record_keys *r = arg;
    assert_true(key_len < 128 && r->n < 16);
    memcpy(r->keys[r->n], key, key_len);
    r->keys[r->n][key_len] = '\0';
    r->n++;
    return 0;
}

static void record_keys(struct fixture *f, struct record_keys *r)
{
    r->n = 0;
    assert_int_equal(steep_store_scan(f->store, "audit-entry-", 12, collect_key, r), 0);
}

static void get_value(struct fixture *f, const char *key, struct steep_buf *value)
{
    assert_int_equal(steep_store_get(f->store, key, strlen(key), value), STEEP_STORE_OK);
}

static void put_value(struct fixture *f, const char *key, const struct steep_buf *value)
{
    assert_int_equal(steep_store_put(f->store, key, strlen(key), value->data, value->len),
                     STEEP_STORE_OK);
}

static void expect_broken(struct fixture *f, const char *error)
{
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), -1);
    assert_int_equal(steep_audit_last_code(), STEEP_GRPC_UNKNOWN);
    if (strcmp(steep_error_get(), error) != 0)
        fail_msg("got \"%s\", want \"%s\"", steep_error_get(), error);
    /* A query that reads the doctored record from storage fails the same
     * way (a fresh handle: nothing cached)... */
    struct steep_audit *fresh = steep_audit_open(&f->seam, mac_key);
    TeaclaveCommonProto__Entry **entries = NULL;
    size_t n = 0;
    assert_int_equal(steep_audit_query(fresh, "*", 100, &entries, &n), -1);
    assert_string_equal(steep_error_get(), error);
    steep_audit_free(fresh);
    /* ...while the writer's cache still serves the entries it wrote. */
    assert_string_equal(query_times(f->audit, "*", 100), "6000,5000,4000,3000,2000,1000");
}

static void test_edited_entry_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    struct record_keys r;
    record_keys(f, &r);
    assert_int_equal(r.n, 6);
    struct steep_buf value = STEEP_BUF_INIT;
    get_value(f, r.keys[2], &value);
    /* flip the result byte (the last one) of entry 2: false -> true */
    value.data[value.len - 1] ^= 1;
    put_value(f, r.keys[2], &value);
    steep_buf_free(&value);
    expect_broken(f, "audit log error, reason: chain broken at entry 2 (record altered)");
    /* newer entries are still readable up to the doctored one */
    struct steep_audit *fresh = steep_audit_open(&f->seam, mac_key);
    assert_string_equal(query_times(fresh, "*", 3), "6000,5000,4000");
    steep_audit_free(fresh);
}

static void test_removed_entry_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    struct record_keys r;
    record_keys(f, &r);
    assert_int_equal(steep_store_delete(f->store, r.keys[1], strlen(r.keys[1])), STEEP_STORE_OK);
    expect_broken(f, "audit log error, reason: chain broken at entry 1 (record missing)");
}

static void test_swapped_entries_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    struct record_keys r;
    record_keys(f, &r);
    struct steep_buf a = STEEP_BUF_INIT, b = STEEP_BUF_INIT;
    get_value(f, r.keys[3], &a);
    get_value(f, r.keys[4], &b);
    put_value(f, r.keys[3], &b);
    put_value(f, r.keys[4], &a);
    steep_buf_free(&a);
    steep_buf_free(&b);
    expect_broken(f, "audit log error, reason: chain broken at entry 4 (record altered)");
}

static void test_forged_head_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    /* Truncate: a head pointing at entry 4 with count 5, written without the MAC key. */
    struct steep_buf head = STEEP_BUF_INIT;
    get_value(f, "audit-head", &head);
    assert_int_equal(head.len, 1 + 8 + 32 + 32);
    struct record_keys r;
    record_keys(f, &r);
    head.data[1] = 5;
    assert_int_equal(steep_hex_decode(strrchr(r.keys[4], '-') + 1, head.data + 9, 32), 0);
    put_value(f, "audit-head", &head);
    steep_buf_free(&head);
    expect_broken(f, "audit log error, reason: chain head authentication failed");

    /* Without a MAC key a consistent truncation cannot be told apart: the
     * keyed head is what protects the tail. */
    get_value(f, "audit-head", &head);
    memset(head.data + 9 + 32, 0, 32);
    put_value(f, "audit-head", &head);
    steep_buf_free(&head);
    struct steep_audit *unkeyed = steep_audit_open(&f->seam, NULL);
    uint64_t count = 0;
    /* the dropped record is still stored: not on the chain */
    assert_int_equal(steep_audit_verify(unkeyed, &count), -1);
    assert_string_equal(steep_error_get(),
                        "audit log error, reason: a stored record is not on the chain");
    /* ...and once it is deleted too, only the MAC tells */
    assert_int_equal(steep_store_delete(f->store, r.keys[5], strlen(r.keys[5])), STEEP_STORE_OK);
    assert_int_equal(steep_audit_verify(unkeyed, &count), 0);
    assert_int_equal(count, 5);
    steep_audit_free(unkeyed);
    expect_broken(f, "audit log error, reason: chain head authentication failed");
}

static void test_relocated_record_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    struct record_keys r;
    record_keys(f, &r);
    /* Copy record 0 under the key of record 1 with record 1's hash: altered. */
    struct steep_buf value = STEEP_BUF_INIT;
    get_value(f, r.keys[0], &value);
    put_value(f, r.keys[1], &value);
    steep_buf_free(&value);
    expect_broken(f, "audit log error, reason: chain broken at entry 1 (record altered)");
}

/* ---- durability and concurrency -------------------------------------------- */

static void test_reopen_continues_chain(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    steep_audit_free(f->audit);
    steep_store_close(f->store);
    assert_int_equal(steep_store_open(f->dir, store_key, 0, &f->store), 0);
    f->seam = steep_audit_store_over_engine(f->store);
    f->audit = steep_audit_open(&f->seam, mac_key);
    append_one(f->audit, make_entry(7000, "127.0.0.1", alice, "get_task", true));
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 7);
    assert_string_equal(query_times(f->audit, "*", 2), "7000,6000");

    /* The wrong MAC key refuses the head. */
    static const uint8_t other_key[STEEP_AUDIT_MAC_KEY_LEN] = {1};
    struct steep_audit *wrong = steep_audit_open(&f->seam, other_key);
    assert_int_equal(steep_audit_verify(wrong, &count), -1);
    assert_string_equal(steep_error_get(),
                        "audit log error, reason: chain head authentication failed");
    TeaclaveCommonProto__Entry *e = make_entry(1, "127.0.0.1", alice, "x", true);
    assert_int_equal(steep_audit_append(wrong, &e, 1), -1);
    free(e);
    steep_audit_free(wrong);
}

static void test_second_writer_detected(void **state)
{
    struct fixture *f = *state;
    /* The log has one writer. A second handle on the same store (a second
     * management instance) overwrites the head: the first writer's later
     * record orphans the second's, and verification says so. */
    struct steep_audit *other = steep_audit_open(&f->seam, mac_key);
    append_one(f->audit, make_entry(100, "127.0.0.1", alice, "first", true));
    append_one(other, make_entry(200, "127.0.0.1", bob, "second", true));
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 2);
    append_one(f->audit, make_entry(101, "127.0.0.1", alice, "first", true));
    steep_audit_free(other);
    assert_int_equal(steep_audit_verify(f->audit, &count), -1);
    assert_int_equal(steep_audit_last_code(), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(),
                        "audit log error, reason: a stored record is not on the chain");
}

static void test_injected_record_detected(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    struct steep_buf value = STEEP_BUF_INIT;
    struct record_keys r;
    record_keys(f, &r);
    get_value(f, r.keys[5], &value);
    /* a well-formed record at the next position, never linked by the head */
    char key[128];
    snprintf(key, sizeof key, "audit-entry-%016x-%064x", 6, 0);
    put_value(f, key, &value);
    steep_buf_free(&value);
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), -1);
    assert_string_equal(steep_error_get(),
                        "audit log error, reason: a stored record is not on the chain");
    /* queries only follow the chain, so they are unaffected */
    assert_string_equal(query_times(f->audit, "*", 1), "6000");
}

static void set_cache(struct steep_audit *audit, uint64_t capacity);

struct writer {
    struct steep_audit *audit;
    int id;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < 20; i++) {
        uint8_t ip[16] = {[15] = 1};
        TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT;
        entry.microsecond = w->id * 1000 + i;
        entry.ip.data = ip;
        entry.ip.len = sizeof ip;
        entry.user = (char *)alice;
        entry.message = "get_task";
        entry.result = true;
        TeaclaveCommonProto__Entry *e = &entry;
        if (steep_audit_append(w->audit, &e, 1) != 0)
            fail_msg("append: %s", steep_error_get());
    }
    return NULL;
}

struct reader {
    struct steep_audit *audit;
    atomic_bool stop;
    int queries;
    int failures;
};

/* Queries while appends run: each answer is a well-formed, duplicate-free list. */
static void *read_many(void *arg)
{
    struct reader *r = arg;
    while (!r->stop) {
        TeaclaveCommonProto__Entry **entries = NULL;
        size_t n = 0;
        if (steep_audit_query(r->audit, "get_task", 30, &entries, &n) != 0 || n > 30)
            r->failures++;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < i; k++)
                if (entries[i]->microsecond == entries[k]->microsecond)
                    r->failures++;
        steep_audit_entries_free(entries, n);
        r->queries++;
    }
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    struct fixture *f = *state;
    set_cache(f->audit, 16); /* small: appends evict while queries read */
    pthread_t threads[4], reader_thread;
    struct writer writers[4];
    struct reader reader = {.audit = f->audit};
    pthread_create(&reader_thread, NULL, read_many, &reader);
    for (int i = 0; i < 4; i++) {
        writers[i] = (struct writer){f->audit, i + 1};
        pthread_create(&threads[i], NULL, write_many, &writers[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    reader.stop = true;
    pthread_join(reader_thread, NULL);
    assert_int_equal(reader.failures, 0);
    assert_true(reader.queries > 0);
    assert_int_equal(strlen(query_times(f->audit, "get_task", 3)) > 0, 1);
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 80);
}

static void set_cache(struct steep_audit *audit, uint64_t capacity)
{
    audit_cache_free(&audit->cache);
    assert_int_equal(audit_cache_init(&audit->cache, capacity), 0);
}

static void test_cache_window(void **state)
{
    struct fixture *f = *state;
    /* The writer caches only its 3 newest entries: queries go on in storage. */
    set_cache(f->audit, 3);
    populate(f->audit);
    assert_int_equal(f->audit->cache.top - f->audit->cache.base, 3);
    assert_string_equal(query_times(f->audit, "*", 100), "6000,5000,4000,3000,2000,1000");
    assert_string_equal(query_times(f->audit, "register_function", 100), "5000,1000");
    assert_string_equal(query_times(f->audit, "result:false", 2), "5000,4000");

    /* A restarted reader fills its cache from storage, newest first, then
     * keeps appending on top of it. */
    struct steep_audit *reader = steep_audit_open(&f->seam, mac_key);
    set_cache(reader, 4);
    assert_string_equal(query_times(reader, "*", 2), "6000,5000");
    assert_true(reader->cache.known);
    assert_int_equal(reader->cache.top, 6);
    assert_int_equal(reader->cache.base, 4);
    assert_string_equal(query_times(reader, "*", 100), "6000,5000,4000,3000,2000,1000");
    assert_int_equal(reader->cache.base, 2); /* full: 4 entries */
    steep_audit_free(f->audit);
    f->audit = reader;
    append_one(reader, make_entry(7000, "127.0.0.1", alice, "get_task", true));
    assert_int_equal(reader->cache.top, 7);
    assert_int_equal(reader->cache.base, 3);
    assert_string_equal(query_times(reader, "*", 100), "7000,6000,5000,4000,3000,2000,1000");
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(reader, &count), 0);
    assert_int_equal(count, 7);

    /* no cache at all */
    set_cache(reader, 0);
    assert_string_equal(query_times(reader, "get_task", 100), "7000");
    append_one(reader, make_entry(8000, "127.0.0.1", alice, "get_task", true));
    assert_string_equal(query_times(reader, "get_task", 100), "8000,7000");
}

/* ---- storage failures -------------------------------------------------------- */

struct flaky {
    struct steep_audit_store inner;
    bool apply_then_fail; /* next batch is applied, but reported failed */
    bool fail;            /* next batch fails without being applied */
};

static int flaky_get(void *ctx, const void *key, size_t key_len, struct steep_buf *value)
{
    struct flaky *f = ctx;
    return f->inner.get(f->inner.ctx, key, key_len, value);
}

static int flaky_batch(void *ctx, const struct steep_store_op *ops, size_t n)
{
    struct flaky *f = ctx;
    if (f->fail) {
        f->fail = false;
        steep_error_set("storage Batch: UNAVAILABLE: connection refused");
        return STEEP_STORE_ERROR;
    }
    int rc = f->inner.batch(f->inner.ctx, ops, n);
    if (f->apply_then_fail) {
        f->apply_then_fail = false;
        steep_error_set("storage Batch: DEADLINE_EXCEEDED");
        return STEEP_STORE_ERROR;
    }
    return rc;
}

static int flaky_keys(void *ctx, const char *prefix, steep_store_scan_fn fn, void *arg)
{
    struct flaky *f = ctx;
    return f->inner.keys(f->inner.ctx, prefix, fn, arg);
}

static void test_storage_failures(void **state)
{
    struct fixture *f = *state;
    struct flaky flaky = {.inner = f->seam};
    struct steep_audit_store seam = {&flaky, flaky_get, flaky_batch, flaky_keys};
    struct steep_audit *audit = steep_audit_open(&seam, mac_key);
    append_one(audit, make_entry(1, "127.0.0.1", alice, "one", true));

    /* a failed batch: INTERNAL, nothing written */
    flaky.fail = true;
    TeaclaveCommonProto__Entry *e = make_entry(2, "127.0.0.1", alice, "two", true);
    assert_int_equal(steep_audit_append(audit, &e, 1), -1);
    assert_int_equal(steep_audit_last_code(), STEEP_GRPC_INTERNAL);
    assert_string_equal(steep_error_get(), "service internal error");
    free(e);

    /* an applied batch whose answer was lost: the next append follows it */
    flaky.apply_then_fail = true;
    e = make_entry(3, "127.0.0.1", alice, "three", true);
    assert_int_equal(steep_audit_append(audit, &e, 1), -1);
    free(e);
    append_one(audit, make_entry(4, "127.0.0.1", alice, "four", true));
    uint64_t count = 0;
    if (steep_audit_verify(audit, &count) != 0)
        fail_msg("verify: %s", steep_error_get());
    assert_int_equal(count, 3);
    assert_string_equal(query_times(audit, "*", 10), "4,3,1");
    steep_audit_free(audit);
}

/* ---- handler wrappers ------------------------------------------------------ */

/* ---- pending entries (issue 15 item 1) ---- */

/* Writes a request's record and entry's pending record in one batch, as
 * management's audited kv does; queues the entry when queue is set. */
static void write_with_entry(struct fixture *f, const char *record, TeaclaveCommonProto__Entry *e,
                             bool queue, char pending_key[STEEP_AUDIT_PENDING_KEY_MAX])
{
    struct steep_audit_pending pending;
    assert_int_equal(steep_audit_pending_make(f->audit, e, &pending), 0);
    free(e);
    struct steep_store_op ops[2] = {
        {false, record, strlen(record), "v", 1},
        steep_audit_pending_op(&pending),
    };
    assert_int_equal(steep_store_batch(f->store, ops, 2), 0);
    snprintf(pending_key, STEEP_AUDIT_PENDING_KEY_MAX, "%s", pending.key);
    if (queue)
        steep_audit_pending_written(f->audit, &pending);
    steep_audit_pending_free(&pending);
}

static bool stored(struct fixture *f, const char *key)
{
    struct steep_buf value = STEEP_BUF_INIT;
    int rc = steep_store_get(f->store, key, strlen(key), &value);
    steep_buf_free(&value);
    return rc == STEEP_STORE_OK;
}

/* A request's entry rides on its own write and is chained, before the
 * next appended entry, by that append, which also deletes the pending record. */
static void test_pending_chained_by_next_append(void **state)
{
    struct fixture *f = *state;
    char key1[STEEP_AUDIT_PENDING_KEY_MAX], key2[STEEP_AUDIT_PENDING_KEY_MAX];
    write_with_entry(f, "task-1", make_entry(1000, "127.0.0.1", alice, "create_task", true), true,
                     key1);
    write_with_entry(f, "task-2", make_entry(2000, "127.0.0.1", alice, "invoke_task", true), true,
                     key2);
    assert_true(stored(f, key1));
    append_one(f->audit, make_entry(3000, "127.0.0.1", alice, "get_task", true));
    assert_false(stored(f, key1));
    assert_false(stored(f, key2));
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 3);
    assert_string_equal(query_times(f->audit, "*", 10), "3000,2000,1000");
    assert_string_equal(query_times(f->audit, "message:invoke_task", 10), "2000");

    /* A query chains what is queued: an answered request is found at once. */
    write_with_entry(f, "task-3", make_entry(4000, "127.0.0.1", alice, "create_task", true), true,
                     key1);
    assert_string_equal(query_times(f->audit, "*", 1), "4000");
    assert_false(stored(f, key1));

    /* The flusher chains an entry nothing else would. */
    assert_int_equal(steep_audit_set_flush_interval(f->audit, 20), 0);
    write_with_entry(f, "task-4", make_entry(5000, "127.0.0.1", alice, "create_task", true), true,
                     key1);
    for (int i = 0; i < 200 && stored(f, key1); i++)
        usleep(10 * 1000);
    assert_false(stored(f, key1));
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 5);
}

/* Pending records a process left when it died are chained by the next one;
 * an altered one is not (its MAC fails) and stays for inspection. */
static void test_pending_recovered_after_crash(void **state)
{
    struct fixture *f = *state;
    populate(f->audit);
    char kept[STEEP_AUDIT_PENDING_KEY_MAX], altered[STEEP_AUDIT_PENDING_KEY_MAX];
    write_with_entry(f, "task-1", make_entry(7000, "10.0.0.7", alice, "create_task", true), false,
                     kept);
    write_with_entry(f, "task-2", make_entry(8000, "10.0.0.7", alice, "invoke_task", true), false,
                     altered);
    struct steep_buf value = STEEP_BUF_INIT;
    assert_int_equal(steep_store_get(f->store, altered, strlen(altered), &value), 0);
    value.data[value.len - 1] ^= 1; /* the result byte: false -> true or back */
    struct steep_store_op edit = {false, altered, strlen(altered), value.data, value.len};
    assert_int_equal(steep_store_batch(f->store, &edit, 1), 0);
    steep_buf_free(&value);

    steep_audit_free(f->audit); /* what the dead process had queued is gone */
    steep_store_close(f->store);
    assert_int_equal(steep_store_open(f->dir, store_key, 0, &f->store), 0);
    f->seam = steep_audit_store_over_engine(f->store);
    f->audit = steep_audit_open(&f->seam, mac_key);
    uint64_t count = 0;
    assert_int_equal(steep_audit_verify(f->audit, &count), 0);
    assert_int_equal(count, 7);
    assert_string_equal(query_times(f->audit, "*", 2), "7000,6000");
    assert_false(stored(f, kept));
    assert_true(stored(f, altered));
}

/* A queued entry whose chaining batch failed is chained by the next append;
 * one whose batch landed though its answer was lost is not chained twice. */
static void test_pending_survive_storage_failures(void **state)
{
    struct fixture *f = *state;
    struct flaky flaky = {.inner = f->seam};
    struct steep_audit_store seam = {&flaky, flaky_get, flaky_batch, flaky_keys};
    struct steep_audit *audit = steep_audit_open(&seam, mac_key);
    struct steep_audit *plain = f->audit;
    f->audit = audit; /* write_with_entry queues on the flaky log */
    char key[STEEP_AUDIT_PENDING_KEY_MAX];
    append_one(audit, make_entry(1, "127.0.0.1", alice, "one", true));

    write_with_entry(f, "task-1", make_entry(2, "127.0.0.1", alice, "create_task", true), true,
                     key);
    flaky.fail = true;
    assert_int_equal(steep_audit_flush(audit), -1);
    assert_true(stored(f, key));
    append_one(audit, make_entry(3, "127.0.0.1", alice, "three", true));
    assert_false(stored(f, key));

    write_with_entry(f, "task-2", make_entry(4, "127.0.0.1", alice, "invoke_task", true), true,
                     key);
    flaky.apply_then_fail = true;
    assert_int_equal(steep_audit_flush(audit), -1);
    append_one(audit, make_entry(5, "127.0.0.1", alice, "five", true));
    uint64_t count = 0;
    if (steep_audit_verify(audit, &count) != 0)
        fail_msg("verify: %s", steep_error_get());
    assert_int_equal(count, 5);
    assert_string_equal(query_times(audit, "*", 10), "5,4,3,2,1");
    f->audit = plain;
    steep_audit_free(audit);
}

static void test_handlers(void **state)
{
    struct fixture *f = *state;
    TeaclaveCommonProto__Entry *logs[1] = {make_entry(42, "127.0.0.1", alice, "get_task", true)};
    TeaclaveManagementServiceProto__SaveLogsRequest save =
        TEACLAVE_MANAGEMENT_SERVICE_PROTO__SAVE_LOGS_REQUEST__INIT;
    save.logs = logs;
    save.n_logs = 1;
    assert_int_equal(steep_audit_save_logs(f->audit, &save), 0);
    logs[0]->ip.len = 15;
    assert_int_equal(steep_audit_save_logs(f->audit, &save), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "audit log error");
    free(logs[0]);

    TeaclaveFrontendServiceProto__QueryAuditLogsRequest query =
        TEACLAVE_FRONTEND_SERVICE_PROTO__QUERY_AUDIT_LOGS_REQUEST__INIT;
    query.query = "get_task";
    query.limit = 10;
    TeaclaveFrontendServiceProto__QueryAuditLogsResponse *response = NULL;
    assert_int_equal(steep_audit_query_logs(f->audit, "DataOwner-org1", &query, &response),
                     STEEP_GRPC_PERMISSION_DENIED);
    assert_string_equal(steep_error_get(), "permission denied");
    assert_int_equal(steep_audit_query_logs(f->audit, NULL, &query, &response), STEEP_GRPC_UNKNOWN);
    assert_string_equal(steep_error_get(), "missing user role");
    assert_null(response);
    assert_int_equal(steep_audit_query_logs(f->audit, "PlatformAdmin", &query, &response), 0);
    assert_int_equal(response->n_logs, 1);
    assert_int_equal(response->logs[0]->microsecond, 42);
    /* The response packs as a wire message. */
    size_t size = protobuf_c_message_get_packed_size(&response->base);
    assert_true(size > 20);
    protobuf_c_message_free_unpacked(&response->base, NULL);

    query.limit = 0;
    response = NULL;
    assert_int_equal(steep_audit_query_logs(f->audit, "PlatformAdmin", &query, &response), 0);
    assert_int_equal(response->n_logs, 0);
    protobuf_c_message_free_unpacked(&response->base, NULL);
    query.query = "date:1";
    assert_int_equal(steep_audit_query_logs(f->audit, "PlatformAdmin", &query, &response),
                     STEEP_GRPC_UNKNOWN);
}

/* The oldest stored record's key (the first kept entry). */
static int collect_first(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                         size_t value_len)
{
    memcpy(arg, key, key_len);
    ((char *)arg)[key_len] = '\0';
    return 1;
}

static int count_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len)
{
    (*(uint64_t *)arg)++;
    return 0;
}

static uint64_t stored_records(struct fixture *f)
{
    uint64_t n = 0;
    assert_int_equal(steep_store_scan(f->store, "audit-entry-", 12, count_key, &n), 0);
    return n;
}

/* Retention: the log keeps about max entries, verification and queries
 * stop at the first kept one, a reopened log carries on, and a removed
 * record above the first kept one or a forged first is still detected. */
static void test_retention(void **state)
{
    struct fixture *f = *state;
    const uint64_t max = 40, slack = 16;
    steep_audit_set_retention(f->audit, max);
    for (int i = 0; i < 300; i++)
        append_one(f->audit, make_entry(1000 + i, "10.0.0.1", alice, "get_task", true));
    uint64_t kept = 0;
    assert_int_equal(steep_audit_verify(f->audit, &kept), 0);
    assert_true(kept >= max && kept <= max + slack + 1);
    assert_int_equal(stored_records(f), kept);
    /* Queries see exactly the kept entries, newest first; a fresh handle
     * (nothing cached) reads them from storage. */
    struct steep_audit *fresh = steep_audit_open(&f->seam, mac_key);
    struct steep_audit *handles[] = {f->audit, fresh};
    for (int h = 0; h < 2; h++) {
        TeaclaveCommonProto__Entry **entries = NULL;
        size_t n = 0;
        assert_int_equal(steep_audit_query(handles[h], "*", 1000, &entries, &n), 0);
        assert_int_equal(n, kept);
        assert_int_equal(entries[0]->microsecond, 1299);
        assert_int_equal(entries[n - 1]->microsecond, 1300 - (int64_t)kept);
        steep_audit_entries_free(entries, n);
    }
    /* The reopened log prunes too and stays verifiable. */
    steep_audit_set_retention(fresh, max);
    for (int i = 300; i < 400; i++)
        append_one(fresh, make_entry(1000 + i, "10.0.0.1", alice, "get_task", true));
    assert_int_equal(steep_audit_verify(fresh, &kept), 0);
    assert_true(kept >= max && kept <= max + slack + 1);
    assert_int_equal(stored_records(f), kept);
    steep_audit_free(fresh);
    struct steep_buf head = STEEP_BUF_INIT;
    get_value(f, "audit-head", &head);
    assert_int_equal(head.len, 1 + 8 + 32 + 8 + 32 + 32);
    assert_int_equal(head.data[0], 2);
    /* Raising first without the MAC key fails the head's authentication. */
    head.data[41]++;
    put_value(f, "audit-head", &head);
    struct steep_audit *reader = steep_audit_open(&f->seam, mac_key);
    assert_int_equal(steep_audit_verify(reader, &kept), -1);
    assert_string_equal(steep_error_get(),
                        "audit log error, reason: chain head authentication failed");
    steep_audit_free(reader);
    head.data[41]--;
    put_value(f, "audit-head", &head);
    steep_buf_free(&head);
    /* A kept record removed is still a broken chain. */
    char key[AUDIT_KEY_MAX];
    assert_int_equal(steep_store_scan(f->store, "audit-entry-", 12, collect_first, key), 0);
    assert_int_equal(steep_store_delete(f->store, key, strlen(key)), STEEP_STORE_OK);
    reader = steep_audit_open(&f->seam, mac_key);
    assert_int_equal(steep_audit_verify(reader, &kept), -1);
    assert_non_null(strstr(steep_error_get(), "record missing"));
    steep_audit_free(reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_query_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_zero_on_empty_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ip_rejects_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edited_entry_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_entry_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_entries_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_head_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relocated_record_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_record_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handlers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_chained_by_next_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_recovered_after_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_survive_storage_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
