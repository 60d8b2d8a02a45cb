/*
 * teaclave-file-128 reader: authenticates node 0, then streams data from
 * the metadata's 3072 bytes and the data nodes, walking the MHT path of
 * each data node (cached per level). See tf128.h for the contract.
 */
#include "crypto/tf128.h"

#include "crypto/fd_util.h"
#include "crypto/tf128_format.h"

#include "core/buf.h"
#include "core/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LEVELS 16
#define RUN_NODES  32

struct mht_cache {
    int valid;
    uint64_t number;
    uint8_t plain[TF128_NODE_SIZE];
};

struct tf128_reader {
    struct steep_reader base;
    int fd;
    struct tf128_ctx crypto;
    uint64_t size;
    uint64_t pos;
    uint8_t metadata[TF128_ENCRYPTED_SIZE];
    const uint8_t *mht_key;   /* into metadata */
    const uint8_t *mht_gmac;  /* into metadata */
    const uint8_t *user_data; /* into metadata: the first 3072 bytes */
    int64_t data_loaded;      /* index of the data node in data_plain, -1 none */
    uint8_t data_plain[TF128_NODE_SIZE];
    uint8_t cipher[TF128_NODE_SIZE];
    struct mht_cache mht[MAX_LEVELS];
    /* Read-ahead of physically contiguous data-node ciphertext (one pread
     * for up to RUN_NODES nodes); each node is still authenticated alone. */
    uint8_t run[RUN_NODES * TF128_NODE_SIZE];
    uint64_t run_first;
    size_t run_count;
};

static int read_node(struct tf128_reader *r, uint64_t physical, const char *what, uint64_t number)
{
    ssize_t n =
        steep_fd_pread_full(r->fd, r->cipher, TF128_NODE_SIZE, (off_t)(physical * TF128_NODE_SIZE));
    if (n < 0)
        return steep_error_wrap("teaclave-file-128: %s node %llu", what,
                                (unsigned long long)number);
    ENSURE(n == TF128_NODE_SIZE,
           "teaclave-file-128: file truncated: %s node %llu (physical %llu) is missing", what,
           (unsigned long long)number, (unsigned long long)physical);
    return 0;
}

/* Points key and tag at entry `index` (0..127) of a decrypted MHT node. */
static int mht_entry(const uint8_t *plain, uint64_t index, const uint8_t **key, const uint8_t **tag)
{
    struct steep_cursor c = steep_cursor_make(plain, TF128_NODE_SIZE);
    GUARD(steep_cursor_skip(&c, (size_t)index * TF128_MHT_ENTRY_SIZE));
    GUARD(steep_cursor_read_span(&c, key, 16));
    return steep_cursor_read_span(&c, tag, 16);
}

/* Decrypts MHT node m into the cache at its level, loading its ancestors. */
static int load_mht(struct tf128_reader *r, uint64_t m)
{
    uint64_t path[MAX_LEVELS];
    unsigned level = tf128_mht_level(m);
    ENSURE(level < MAX_LEVELS, "teaclave-file-128: MHT too deep");
    for (uint64_t node = m, l = level;; l--) {
        path[l] = node;
        if (l == 0)
            break;
        node = tf128_mht_parent(node);
    }
    for (unsigned l = 1; l <= level; l++) {
        struct mht_cache *c = &r->mht[l];
        if (c->valid && c->number == path[l])
            continue;
        c->valid = 0;
        const uint8_t *key, *tag;
        GUARD(mht_entry(r->mht[l - 1].plain,
                        TF128_DATA_PER_MHT + (path[l] - 1) % TF128_CHILD_MHT_PER_MHT, &key, &tag));
        uint64_t physical = tf128_mht_physical(path[l]);
        GUARD(read_node(r, physical, "MHT", path[l]));
        if (tf128_node_decrypt(&r->crypto, key, r->cipher, TF128_NODE_SIZE, tag, c->plain) < 0)
            return steep_error_set("teaclave-file-128: MHT node %llu (physical node %llu) failed "
                                   "authentication (tampered)",
                                   (unsigned long long)path[l], (unsigned long long)physical);
        c->valid = 1;
        c->number = path[l];
    }
    return 0;
}

static int load_data(struct tf128_reader *r, uint64_t d)
{
    uint64_t m = d / TF128_DATA_PER_MHT;
    GUARD(load_mht(r, m));
    const uint8_t *key, *tag;
    GUARD(mht_entry(r->mht[tf128_mht_level(m)].plain, d % TF128_DATA_PER_MHT, &key, &tag));
    uint64_t physical = tf128_data_physical(d);
    r->data_loaded = -1;
    if (d < r->run_first || d >= r->run_first + r->run_count) {
        /* Data nodes of one MHT group are contiguous on disk. */
        uint64_t count = TF128_DATA_PER_MHT - d % TF128_DATA_PER_MHT;
        uint64_t left = tf128_data_nodes(r->size) - d;
        count = count < left ? count : left;
        count = count < RUN_NODES ? count : RUN_NODES;
        r->run_count = 0;
        ssize_t n = steep_fd_pread_full(r->fd, r->run, (size_t)count * TF128_NODE_SIZE,
                                        (off_t)(physical * TF128_NODE_SIZE));
        if (n < 0)
            return steep_error_wrap("teaclave-file-128: data node %llu", (unsigned long long)d);
        ENSURE((size_t)n == (size_t)count * TF128_NODE_SIZE,
               "teaclave-file-128: file truncated: data node %llu (physical %llu) is missing",
               (unsigned long long)d, (unsigned long long)physical);
        r->run_first = d;
        r->run_count = (size_t)count;
    }
    const uint8_t *cipher = r->run + (d - r->run_first) * TF128_NODE_SIZE;
    if (tf128_node_decrypt(&r->crypto, key, cipher, TF128_NODE_SIZE, tag, r->data_plain) < 0)
        return steep_error_set("teaclave-file-128: data node %llu (physical node %llu) failed "
                               "authentication (tampered)",
                               (unsigned long long)d, (unsigned long long)physical);
    r->data_loaded = (int64_t)d;
    return 0;
}

static ssize_t tf128_read(struct steep_reader *base, void *buf, size_t n)
{
    struct tf128_reader *r = (struct tf128_reader *)base;
    size_t done = 0;
    while (done < n && r->pos < r->size) {
        const uint8_t *src;
        size_t avail;
        if (r->pos < TF128_USER_DATA_SIZE) {
            src = r->user_data + r->pos;
            avail = TF128_USER_DATA_SIZE - r->pos;
        } else {
            uint64_t offset = r->pos - TF128_USER_DATA_SIZE;
            uint64_t d = offset / TF128_NODE_SIZE;
            if (r->data_loaded != (int64_t)d && load_data(r, d) < 0)
                return -1;
            src = r->data_plain + offset % TF128_NODE_SIZE;
            avail = TF128_NODE_SIZE - offset % TF128_NODE_SIZE;
        }
        if (avail > r->size - r->pos)
            avail = r->size - r->pos;
        if (avail > n - done)
            avail = n - done;
        memcpy((uint8_t *)buf + done, src, avail);
        done += avail;
        r->pos += avail;
    }
    return (ssize_t)done;
}

static int tf128_close(struct steep_reader *base)
{
    struct tf128_reader *r = (struct tf128_reader *)base;
    if (!r)
        return 0;
    if (r->fd >= 0)
        close(r->fd);
    tf128_ctx_free(&r->crypto);
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
    return 0;
}

uint64_t steep_tf128_reader_size(const struct steep_reader *reader)
{
    return ((const struct tf128_reader *)reader)->size;
}

/* Header checks, metadata decryption and name check. */
static int open_metadata(struct tf128_reader *r, const char *name, const uint8_t key[16],
                         uint8_t cmac[16])
{
    uint8_t node0[TF128_NODE_SIZE];
    ssize_t n = steep_fd_pread_full(r->fd, node0, sizeof(node0), 0);
    if (n < 0)
        return steep_error_wrap("teaclave-file-128");
    ENSURE(n == TF128_NODE_SIZE,
           "teaclave-file-128: file too short (%zd bytes, need at least 4096)", n);

    struct steep_cursor c = steep_cursor_make(node0, sizeof(node0));
    uint64_t file_id;
    uint8_t major, minor, flags, update_flag;
    const uint8_t *key_id, *gmac, *encrypted;
    GUARD(steep_cursor_read_u64le(&c, &file_id));
    GUARD(steep_cursor_read_u8(&c, &major));
    GUARD(steep_cursor_read_u8(&c, &minor));
    GUARD(steep_cursor_read_u8(&c, &flags));
    GUARD(steep_cursor_read_u8(&c, &update_flag));
    GUARD(steep_cursor_skip(&c, 4)); /* key_policy, isv_svn */
    GUARD(steep_cursor_read_span(&c, &key_id, 32));
    GUARD(steep_cursor_skip(&c, 32)); /* cpu_svn, attribute_mask */
    GUARD(steep_cursor_read_span(&c, &gmac, 16));
    GUARD(steep_cursor_read_span(&c, &encrypted, TF128_ENCRYPTED_SIZE));

    ENSURE(file_id == TF128_FILE_ID, "teaclave-file-128: not a protected file (bad file id)");
    ENSURE(major == TF128_MAJOR_VERSION, "teaclave-file-128: unsupported major version %u", major);
    ENSURE(flags == TF128_FLAG_USER_KEY,
           "teaclave-file-128: unsupported encrypt flags %u (only user-key files)", flags);
    ENSURE(update_flag == 0,
           "teaclave-file-128: file needs recovery (update flag set); recovery is not supported");

    uint8_t metadata_key[16];
    GUARD(tf128_derive_key(key, TF128_LABEL_METADATA, 0, key_id, metadata_key));
    int rc = tf128_node_decrypt(&r->crypto, metadata_key, encrypted, TF128_ENCRYPTED_SIZE, gmac,
                                r->metadata);
    OPENSSL_cleanse(metadata_key, sizeof(metadata_key));
    ENSURE(rc == 0, "teaclave-file-128: metadata failed authentication (wrong key or tampered "
                    "node 0)");
    if (cmac)
        memcpy(cmac, gmac, 16);

    struct steep_cursor md = steep_cursor_make(r->metadata, sizeof(r->metadata));
    const uint8_t *stored_name;
    GUARD(steep_cursor_read_span(&md, &stored_name, TF128_NAME_SIZE));
    GUARD(steep_cursor_read_u64le(&md, &r->size));
    GUARD(steep_cursor_read_span(&md, &r->mht_key, 16));
    GUARD(steep_cursor_read_span(&md, &r->mht_gmac, 16));
    GUARD(steep_cursor_read_span(&md, &r->user_data, TF128_USER_DATA_SIZE));
    size_t stored_len = strnlen((const char *)stored_name, TF128_NAME_SIZE);
    ENSURE(stored_len < TF128_NAME_SIZE,
           "teaclave-file-128: file name in metadata is not terminated");
    ENSURE(stored_len == strlen(name) && memcmp(stored_name, name, stored_len) == 0,
           "teaclave-file-128: file name mismatch (NameMismatch): encrypted as '%.*s', opened as "
           "'%s'",
           (int)stored_len, (const char *)stored_name, name);
    return 0;
}

static int check_length(struct tf128_reader *r)
{
    struct stat st;
    ENSURE(fstat(r->fd, &st) == 0, "teaclave-file-128: fstat failed: %s", strerror(errno));
    ENSURE(S_ISREG(st.st_mode), "teaclave-file-128: not a regular file");
    ENSURE(r->size <= (UINT64_MAX / 2), "teaclave-file-128: size %llu out of range",
           (unsigned long long)r->size);
    uint64_t expected = tf128_physical_nodes(r->size) * TF128_NODE_SIZE;
    ENSURE((uint64_t)st.st_size >= expected,
           "teaclave-file-128: file truncated: %lld bytes on disk, %llu expected for %llu bytes of "
           "data",
           (long long)st.st_size, (unsigned long long)expected, (unsigned long long)r->size);
    ENSURE((uint64_t)st.st_size == expected,
           "teaclave-file-128: size mismatch: %lld bytes on disk, %llu expected for %llu bytes of "
           "data (trailing data)",
           (long long)st.st_size, (unsigned long long)expected, (unsigned long long)r->size);
    return 0;
}

static int open_root(struct tf128_reader *r)
{
    if (r->size <= TF128_USER_DATA_SIZE)
        return 0;
    GUARD(read_node(r, 1, "MHT", 0));
    ENSURE(tf128_node_decrypt(&r->crypto, r->mht_key, r->cipher, TF128_NODE_SIZE, r->mht_gmac,
                              r->mht[0].plain) == 0,
           "teaclave-file-128: MHT node 0 (physical node 1) failed authentication (tampered)");
    r->mht[0].valid = 1;
    r->mht[0].number = 0;
    return 0;
}

struct steep_reader *steep_tf128_reader_open(int fd, const char *name, const uint8_t key[16],
                                             uint8_t cmac[16])
{
    struct tf128_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        close(fd);
        steep_error_set("out of memory");
        return NULL;
    }
    r->base.read = tf128_read;
    r->base.close = tf128_close;
    r->fd = fd;
    r->data_loaded = -1;
    if (tf128_ctx_init(&r->crypto) < 0 || open_metadata(r, name, key, cmac) < 0 ||
        check_length(r) < 0 || open_root(r) < 0) {
        tf128_close(&r->base);
        return NULL;
    }
    return &r->base;
}
