/*
 * teaclave-file-128 writer/reader round trips at the layout's edges (empty,
 * 1 byte, exactly node 0, one byte into the MHT, several MHT nodes, deep
 * trees) and tamper detection: header, metadata, data node, MHT node, the
 * embedded name, appended and truncated files, a wrong key.
 *
 * The 50 MiB round trip runs when STEEP_TEST_LARGE=1 (set by the release
 * ctest entry test_crypto_tf128_large); otherwise that test reports itself
 * as skipped through cmocka (never silently).
 */
#include "crypto/file_crypto.h"
#include "crypto/tf128.h"
#include "crypto/tf128_format.h"
#include "test_util.h"

#include "core/buf.h"
#include "core/error.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const uint8_t user_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static uint8_t pattern_byte(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

/* Writes size pattern bytes in uneven chunks to a tf128 file; returns the cmac. */
static void write_file(const char *path, uint64_t size, uint8_t cmac[16])
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char *name = strrchr(path, '/') + 1;
    struct steep_writer *w = steep_tf128_writer_new(fd, name, user_key);
    assert_non_null(w);
    static uint8_t chunk[70001];
    uint64_t done = 0;
    size_t step = 1;
    while (done < size) {
        size_t n = step;
        if (n > size - done)
            n = (size_t)(size - done);
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern_byte(done + i);
        assert_int_equal(steep_writer_write_all(w, chunk, n), 0);
        done += n;
        step = step * 3 + 7;
        if (step > sizeof(chunk))
            step = 1 + step % 4099;
    }
    assert_int_equal(steep_writer_close(w, cmac), 0);
}

static struct steep_reader *open_reader(const char *path, const char *name, uint8_t cmac[16])
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return steep_tf128_reader_open(fd, name, user_key, cmac);
}

static void check_file(const char *path, uint64_t size, const uint8_t cmac[16])
{
    uint8_t got_cmac[16];
    struct steep_reader *r = open_reader(path, strrchr(path, '/') + 1, got_cmac);
    if (!r)
        fail_msg("open %s: %s", path, steep_error_get());
    assert_memory_equal(got_cmac, cmac, 16);
    assert_int_equal(steep_tf128_reader_size(r), size);
    static uint8_t buf[65536 + 13];
    uint64_t pos = 0;
    for (;;) {
        ssize_t n = steep_reader_read(r, buf, sizeof(buf));
        if (n < 0)
            fail_msg("read %s at %llu: %s", path, (unsigned long long)pos, steep_error_get());
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern_byte(pos + (uint64_t)i))
                fail_msg("byte %llu differs", (unsigned long long)(pos + (uint64_t)i));
        pos += (uint64_t)n;
    }
    assert_int_equal(pos, size);
    assert_int_equal(steep_reader_close(r), 0);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, tf128_physical_nodes(size) * 4096);
}

static void round_trip(uint64_t size)
{
    char path[4096];
    test_temp_path(path, sizeof(path), "round.bin");
    uint8_t cmac[16], cmac2[16];
    write_file(path, size, cmac);
    check_file(path, size, cmac);
    /* Fresh keys every write: the same content gives another cmac. */
    write_file(path, size, cmac2);
    assert_memory_not_equal(cmac, cmac2, 16);
    check_file(path, size, cmac2);
    unlink(path);
}

static void test_round_trip_sizes(void **state)
{
    static const uint64_t sizes[] = {0, 1, 3071, 3072, 3073, 4096, 3072 + 4096, 3072 + 4096 + 1,
                                     4096 * 96 + 5000,
                                     /* 97 data nodes: a second MHT node */
                                     3072 + 4096 * 97,
                                     /* 33 MHT nodes: MHT 1 gets an MHT child (MHT 33) */
                                     3072 + 4096 * (96 * 33 + 1)};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        round_trip(sizes[i]);
}

static void test_large_round_trip(void **state)
{
    const char *large = getenv("STEEP_TEST_LARGE");
    if (!large || strcmp(large, "1") != 0)
        skip(); /* reported by cmocka as SKIPPED; run by test_crypto_tf128_large */
    round_trip(50ull << 20);
}

/* Reads the whole file; returns 0, or -1 with the error message. */
static int read_everything(const char *path, const char *name)
{
    struct steep_reader *r = open_reader(path, name, NULL);
    if (!r)
        return -1;
    uint8_t buf[8192];
    ssize_t n;
    while ((n = steep_reader_read(r, buf, sizeof(buf))) > 0)
        ;
    steep_reader_close(r);
    return n < 0 ? -1 : 0;
}

static void flip_byte(const char *path, off_t offset)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, offset), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

static void expect_tamper(uint64_t size, off_t offset, const char *message)
{
    char path[4096];
    test_temp_path(path, sizeof(path), "tamper.bin");
    uint8_t cmac[16];
    write_file(path, size, cmac);
    assert_int_equal(read_everything(path, "tamper.bin"), 0);
    flip_byte(path, offset);
    assert_int_equal(read_everything(path, "tamper.bin"), -1);
    if (!strstr(steep_error_get(), message))
        fail_msg("offset %lld: expected '%s', got '%s'", (long long)offset, message,
                 steep_error_get());
    unlink(path);
}

static void test_tamper_nodes(void **state)
{
    uint64_t size = 3072 + 4096 * (96 * 33 + 1); /* MHT nodes 0..33 */
    expect_tamper(size, 0, "bad file id");
    expect_tamper(size, 8, "unsupported major version");
    expect_tamper(size, 10, "unsupported encrypt flags");
    expect_tamper(size, 11, "needs recovery");
    expect_tamper(size, 20, "metadata failed authentication");       /* key_id */
    expect_tamper(size, 85, "metadata failed authentication");       /* gmac */
    expect_tamper(size, 100, "metadata failed authentication");      /* name */
    expect_tamper(size, 96 + 262, "metadata failed authentication"); /* size */
    expect_tamper(size, 3000, "metadata failed authentication");
    expect_tamper(size, 4096 * 1 + 7, "MHT node 0 (physical node 1)");
    expect_tamper(size, 4096 * 2 + 4095, "data node 0 (physical node 2)");
    expect_tamper(size, 4096 * tf128_data_physical(200) + 1, "data node 200");
    expect_tamper(size, 4096 * tf128_mht_physical(1) + 9, "MHT node 1 (physical node 98)");
    expect_tamper(size, 4096 * tf128_mht_physical(33) + 2000, "MHT node 33");
    expect_tamper(size, 4096 * tf128_data_physical(96 * 33) + 5, "data node 3168");
}

static void test_name_size_and_key(void **state)
{
    char path[4096], other[4096];
    test_temp_path(path, sizeof(path), "named.bin");
    test_temp_path(other, sizeof(other), "renamed.bin");
    uint8_t cmac[16];
    write_file(path, 10000, cmac);

    /* Opened under another basename: NameMismatch. */
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(read_everything(other, "renamed.bin"), -1);
    assert_non_null(strstr(steep_error_get(), "NameMismatch"));
    assert_non_null(strstr(steep_error_get(), "'named.bin'"));
    struct steep_file_crypto crypto = {.scheme = STEEP_SCHEME_TEACLAVE_FILE_128, .key_len = 16};
    memcpy(crypto.key, user_key, 16);
    assert_null(steep_file_reader_open(other, &crypto, NULL, NULL));
    assert_non_null(strstr(steep_error_get(), "NameMismatch"));
    assert_int_equal(rename(other, path), 0);
    struct steep_reader *r = steep_file_reader_open(path, &crypto, cmac, NULL);
    assert_non_null(r);
    assert_int_equal(steep_reader_close(r), 0);

    /* Appended node. */
    int fd = open(path, O_WRONLY | O_APPEND);
    uint8_t node[4096] = {0};
    assert_int_equal(write(fd, node, sizeof(node)), (ssize_t)sizeof(node));
    close(fd);
    assert_int_equal(read_everything(path, "named.bin"), -1);
    assert_non_null(strstr(steep_error_get(), "trailing data"));

    /* Truncated by one node, then to a partial node 0. */
    assert_int_equal(truncate(path, 4096 * 3), 0);
    assert_int_equal(read_everything(path, "named.bin"), -1);
    assert_non_null(strstr(steep_error_get(), "truncated"));
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(read_everything(path, "named.bin"), -1);
    assert_non_null(strstr(steep_error_get(), "too short"));

    /* Wrong key. */
    write_file(path, 10, cmac);
    crypto.key[0] ^= 1;
    assert_null(steep_file_reader_open(path, &crypto, NULL, NULL));
    assert_non_null(strstr(steep_error_get(), "wrong key"));
    unlink(path);
}

static void test_convert_aes_gcm_to_tf128(void **state)
{
    char plain[4096], gcm[4096], staged[4096];
    test_temp_path(plain, sizeof(plain), "in.txt");
    test_temp_path(gcm, sizeof(gcm), "in.gcm");
    test_temp_path(staged, sizeof(staged), "staged");
    struct steep_buf text = STEEP_BUF_INIT;
    for (int i = 0; i < 2000; i++)
        assert_int_equal(steep_buf_printf(&text, "line %d\n", i), 0);
    assert_int_equal(steep_write_file_atomic(plain, text.data, text.len, 0600), 0);
    struct steep_file_crypto gcm_crypto, tf_crypto;
    uint8_t key[32] = {7}, iv[12] = {9}, tag[16], staged_cmac[16];
    assert_int_equal(steep_file_crypto_init(&gcm_crypto, "aes-gcm-256", key, 32, iv, 12), 0);
    assert_int_equal(steep_file_crypto_random_tf128(&tf_crypto), 0);
    assert_int_equal(steep_file_encrypt(plain, gcm, &gcm_crypto, NULL, NULL, tag), 0);

    assert_int_equal(steep_file_convert(gcm, &gcm_crypto, tag, staged, &tf_crypto, staged_cmac), 0);
    struct steep_reader *r = steep_file_reader_open(staged, &tf_crypto, staged_cmac, NULL);
    assert_non_null(r);
    struct steep_buf got = STEEP_BUF_INIT;
    assert_int_equal(test_read_all(r, &got), 0);
    steep_reader_close(r);
    assert_int_equal(got.len, text.len);
    assert_memory_equal(got.data, text.data, text.len);

    /* A raw output is refused like Teaclave's upload conversion. */
    struct steep_file_crypto raw = {.scheme = STEEP_SCHEME_RAW};
    assert_int_equal(steep_file_convert(staged, &tf_crypto, staged_cmac, plain, &raw, tag), -1);
    assert_string_equal(steep_error_get(), "OutputFile: unsupported type");
    /* Wrong registered tag: refused before anything is written. */
    tag[3] ^= 1;
    assert_int_equal(steep_file_convert(gcm, &gcm_crypto, tag, staged, &tf_crypto, staged_cmac),
                     -1);
    assert_string_equal(steep_error_get(), "invalid tag");
    tag[3] ^= 1;
    /* Tampered ciphertext: the tag fails at the end and the staged file is removed. */
    flip_byte(gcm, 5000);
    assert_int_equal(steep_file_convert(gcm, &gcm_crypto, tag, staged, &tf_crypto, staged_cmac),
                     -1);
    assert_non_null(strstr(steep_error_get(), "authentication tag mismatch"));
    assert_int_not_equal(access(staged, F_OK), 0);
    /* The verifying reader refuses it up front. */
    assert_null(steep_file_reader_open(gcm, &gcm_crypto, NULL, NULL));
    steep_buf_free(&text);
    steep_buf_free(&got);
}

int main(void)
{
    test_temp_dir_init("steep-crypto-tf128");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_large_round_trip),
        cmocka_unit_test(test_tamper_nodes),
        cmocka_unit_test(test_name_size_and_key),
        cmocka_unit_test(test_convert_aes_gcm_to_tf128),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_temp_dir_cleanup();
    return rc;
}
