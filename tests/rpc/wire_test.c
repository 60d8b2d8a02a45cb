/*
 * Unit tests of the gRPC wire helpers: message framing (whole, split at
 * every byte, compressed, oversize, truncated, several messages), status
 * code names, grpc-message percent-encoding, grpc-timeout values, and the
 * metadata list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/internal.h"

static void frame(uint8_t flags, const char *message, size_t len, struct steep_buf *out)
{
    steep_buf_append_u8(out, flags);
    steep_buf_append_u32be(out, (uint32_t)len);
    steep_buf_append(out, message, len);
}

static void test_frame_whole_and_split(void **state)
{
    struct steep_buf wire = STEEP_BUF_INIT;
    frame(0, "hello world", 11, &wire);
    /* Fed whole, and fed split at every position. */
    for (size_t split = 0; split <= wire.len; split++) {
        struct steep_rpc_frame_reader reader;
        steep_rpc_frame_reader_init(&reader, 100);
        assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, split), 0);
        assert_int_equal(steep_rpc_frame_feed(&reader, wire.data + split, wire.len - split), 0);
        assert_int_equal(steep_rpc_frame_finish(&reader), 0);
        assert_int_equal(reader.message.len, 11);
        assert_memory_equal(reader.message.data, "hello world", 11);
        steep_rpc_frame_reader_free(&reader);
    }
    /* Byte by byte. */
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 100);
    for (size_t i = 0; i < wire.len; i++)
        assert_int_equal(steep_rpc_frame_feed(&reader, wire.data + i, 1), 0);
    assert_int_equal(steep_rpc_frame_finish(&reader), 0);
    assert_memory_equal(reader.message.data, "hello world", 11);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_empty_message(void **state)
{
    struct steep_buf wire = STEEP_BUF_INIT;
    frame(0, "", 0, &wire);
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 0);
    assert_int_equal(reader.max_message, STEEP_RPC_DEFAULT_MAX_MESSAGE);
    assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, wire.len), 0);
    assert_int_equal(steep_rpc_frame_finish(&reader), 0);
    assert_int_equal(reader.message.len, 0);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_partial_is_truncated(void **state)
{
    struct steep_buf wire = STEEP_BUF_INIT;
    frame(0, "abcdef", 6, &wire);
    for (size_t cut = 1; cut < wire.len; cut++) {
        struct steep_rpc_frame_reader reader;
        steep_rpc_frame_reader_init(&reader, 100);
        assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, cut), 0);
        assert_int_equal(steep_rpc_frame_finish(&reader), STEEP_GRPC_INVALID_ARGUMENT);
        steep_rpc_frame_reader_free(&reader);
    }
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_finish(&reader), STEEP_GRPC_INVALID_ARGUMENT);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_compressed_flag(void **state)
{
    struct steep_buf wire = STEEP_BUF_INIT;
    frame(1, "zz", 2, &wire);
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, wire.len), STEEP_GRPC_UNIMPLEMENTED);
    assert_int_equal(steep_rpc_frame_finish(&reader), STEEP_GRPC_UNIMPLEMENTED);
    assert_null(reader.message.data);
    steep_rpc_frame_reader_free(&reader);
    wire.data[0] = 0x80; /* undefined flag bits */
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, wire.len),
                     STEEP_GRPC_INVALID_ARGUMENT);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_oversize_refused_before_buffering(void **state)
{
    /* Only the prefix is sent: the declared length alone is refused. */
    uint8_t prefix[5] = {0, 0, 0, 0, 101};
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_feed(&reader, prefix, 5), STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_null(reader.message.data);
    uint8_t more[64] = {0};
    assert_int_equal(steep_rpc_frame_feed(&reader, more, sizeof(more)),
                     STEEP_GRPC_RESOURCE_EXHAUSTED);
    assert_null(reader.message.data);
    steep_rpc_frame_reader_free(&reader);
    uint8_t huge[5] = {0, 0xff, 0xff, 0xff, 0xff};
    steep_rpc_frame_reader_init(&reader, 0);
    assert_int_equal(steep_rpc_frame_feed(&reader, huge, 5), STEEP_GRPC_RESOURCE_EXHAUSTED);
    steep_rpc_frame_reader_free(&reader);
    /* Exactly at the limit is fine. */
    struct steep_buf wire = STEEP_BUF_INIT;
    char body[100];
    memset(body, 'b', sizeof(body));
    frame(0, body, sizeof(body), &wire);
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, wire.len), 0);
    assert_int_equal(steep_rpc_frame_finish(&reader), 0);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_two_messages_refused(void **state)
{
    struct steep_buf wire = STEEP_BUF_INIT;
    frame(0, "one", 3, &wire);
    frame(0, "two", 3, &wire);
    struct steep_rpc_frame_reader reader;
    steep_rpc_frame_reader_init(&reader, 100);
    assert_int_equal(steep_rpc_frame_feed(&reader, wire.data, wire.len),
                     STEEP_GRPC_INVALID_ARGUMENT);
    steep_rpc_frame_reader_free(&reader);
    steep_buf_free(&wire);
}

static void test_frame_encode(void **state)
{
    /* An empty protobuf message: prefix only. */
    ProtobufCMessageDescriptor descriptor = {.magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                             .sizeof_message = sizeof(ProtobufCMessage)};
    ProtobufCMessage message = {.descriptor = &descriptor};
    struct steep_buf out = STEEP_BUF_INIT;
    assert_int_equal(steep_rpc_frame_encode(&message, &out), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "\0\0\0\0\0", 5);
    steep_buf_free(&out);
}

static void test_status_names(void **state)
{
    assert_string_equal(steep_grpc_code_name(STEEP_GRPC_OK), "OK");
    assert_string_equal(steep_grpc_code_name(STEEP_GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    assert_string_equal(steep_grpc_code_name(STEEP_GRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
    assert_string_equal(steep_grpc_code_name(STEEP_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(steep_grpc_code_name(17), "UNKNOWN");
    assert_string_equal(steep_grpc_code_name(-1), "UNKNOWN");
}

static void test_percent_encoding(void **state)
{
    struct steep_buf out = STEEP_BUF_INIT;
    assert_int_equal(steep_rpc_percent_encode("plain text: ok", &out), 0);
    assert_string_equal((char *)out.data, "plain text: ok");
    steep_buf_reset(&out);
    assert_int_equal(steep_rpc_percent_encode("100% \xc3\xa9\n", &out), 0);
    assert_string_equal((char *)out.data, "100%25 %C3%A9%0A");
    char decoded[64];
    steep_rpc_percent_decode((char *)out.data, out.len, decoded, sizeof(decoded));
    assert_string_equal(decoded, "100% \xc3\xa9\n");
    steep_buf_free(&out);
    /* Malformed escapes stay literal; lowercase hex decodes. */
    steep_rpc_percent_decode("a%zzb%4", 7, decoded, sizeof(decoded));
    assert_string_equal(decoded, "a%zzb%4");
    steep_rpc_percent_decode("%e2%82%ac%", 10, decoded, sizeof(decoded));
    assert_string_equal(decoded, "\xe2\x82\xac%");
    /* Truncation keeps the output terminated. */
    steep_rpc_percent_decode("abcdef", 6, decoded, 4);
    assert_string_equal(decoded, "abc");
}

static void test_timeout_parse(void **state)
{
    struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"1H", 3600000}, {"2M", 120000},
        {"3S", 3000},    {"250m", 250},
        {"1500u", 2},    {"1000u", 1},
        {"1n", 1},       {"2000000n", 2},
        {"0m", 0},       {"99999999S", 99999999000LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = -7;
        assert_int_equal(steep_rpc_timeout_parse(good[i].text, strlen(good[i].text), &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    const char *bad[] = {"", "m", "5", "5x", "-5m", "123456789m", "1.5S", " 5m", "5 m", "5mm"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        assert_int_equal(steep_rpc_timeout_parse(bad[i], strlen(bad[i]), &ms), -1);
    }
}

static void test_timeout_format(void **state)
{
    char text[16];
    int64_t ms;
    steep_rpc_timeout_format(250, text, sizeof(text));
    assert_string_equal(text, "250m");
    steep_rpc_timeout_format(0, text, sizeof(text));
    assert_string_equal(text, "1m");
    steep_rpc_timeout_format(100000000, text, sizeof(text)); /* 9 digits of ms: seconds */
    assert_string_equal(text, "100000S");
    steep_rpc_timeout_format(123456789012LL, text, sizeof(text)); /* 9 digits of s: hours */
    assert_string_equal(text, "34294H");
    assert_int_equal(steep_rpc_timeout_parse(text, strlen(text), &ms), 0);
    assert_true(ms >= 123456789012LL);
    steep_rpc_timeout_format(99999999, text, sizeof(text));
    assert_int_equal(steep_rpc_timeout_parse(text, strlen(text), &ms), 0);
    assert_int_equal(ms, 99999999);
}

static void test_metadata_list(void **state)
{
    struct steep_rpc_headers headers = {0};
    for (int i = 0; i < 20; i++) {
        char key[16], value[16];
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        assert_int_equal(steep_rpc_headers_add(&headers, key, strlen(key), value, strlen(value)),
                         0);
    }
    assert_int_equal(headers.count, 20);
    assert_string_equal(steep_rpc_headers_get(&headers, "key-13"), "value-13");
    assert_string_equal(steep_rpc_headers_get(&headers, "KEY-0"), "value-0");
    /* Keys are stored lowercase, as HTTP/2 requires. */
    assert_int_equal(steep_rpc_headers_add(&headers, "X-Token", 7, "v", 1), 0);
    assert_string_equal(headers.items[headers.count - 1].key, "x-token");
    assert_null(steep_rpc_headers_get(&headers, "key-20"));
    /* Lengths, not NULs, delimit: a value may contain anything printable. */
    assert_int_equal(steep_rpc_headers_add(&headers, "idX", 2, "a=b;c", 3), 0);
    assert_string_equal(steep_rpc_headers_get(&headers, "id"), "a=b");
    steep_rpc_headers_free(&headers);
    assert_int_equal(headers.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_whole_and_split),
        cmocka_unit_test(test_frame_empty_message),
        cmocka_unit_test(test_frame_partial_is_truncated),
        cmocka_unit_test(test_frame_compressed_flag),
        cmocka_unit_test(test_frame_oversize_refused_before_buffering),
        cmocka_unit_test(test_frame_two_messages_refused),
        cmocka_unit_test(test_frame_encode),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_percent_encoding),
        cmocka_unit_test(test_timeout_parse),
        cmocka_unit_test(test_timeout_format),
        cmocka_unit_test(test_metadata_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
