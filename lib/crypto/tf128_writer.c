/*
 * teaclave-file-128 writer (see tf128.h for the contract and memory bound).
 *
 * MHT nodes are numbered breadth-first, so an MHT node's child entries are
 * known only after much later data. The writer therefore writes each MHT
 * node as soon as its 96 data entries are complete (encrypted with a fresh
 * key, child entries zero) and keeps {key, tag} of every MHT node (32 bytes
 * each). At close, MHT nodes that have MHT children are read back, their
 * child entries filled in, and re-encrypted with a fresh key, in decreasing
 * node number (children before parents); the root's key and tag go into
 * the metadata, and node 0 is written last.
 */
#include "crypto/tf128.h"

#include "crypto/fd_util.h"
#include "crypto/tf128_format.h"

#include "core/buf.h"
#include "core/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_POOL 128

struct tf128_writer {
    struct steep_writer base;
    int fd;
    int failed;
    struct tf128_ctx crypto;
    uint64_t size;
    uint8_t user_key[16];
    uint8_t master_key[16];
    uint8_t metadata[TF128_ENCRYPTED_SIZE];
    uint8_t data_plain[TF128_NODE_SIZE];
    size_t data_fill;
    uint64_t data_count; /* data nodes written */
    uint8_t mht_plain[TF128_NODE_SIZE];
    uint64_t mht_current;
    int mht_dirty;
    struct steep_buf mht_records; /* {key, tag} per MHT node, secret */
    uint8_t cipher[TF128_NODE_SIZE];
    /* Ciphertext of the current MHT node (slot 0) and its data nodes (slots
     * 1..96): physically contiguous, written with one pwrite per group. */
    uint8_t *group;
    size_t group_data;
    uint8_t nonces[32 * NONCE_POOL];
    size_t nonce_used;
};

static int random_node_key(struct tf128_writer *w, uint64_t physical, uint8_t key[16])
{
    /* KDF nonces are drawn from the CSPRNG 128 at a time. */
    if (w->nonce_used == NONCE_POOL) {
        ENSURE(RAND_bytes(w->nonces, sizeof(w->nonces)) == 1, "random generator failed");
        w->nonce_used = 0;
    }
    const uint8_t *nonce = w->nonces + 32 * w->nonce_used++;
    return tf128_ctx_derive(&w->crypto, TF128_LABEL_RANDOM, physical, nonce, key);
}

/* Encrypts plain with a fresh key into out; returns {key, tag} in entry. */
static int seal_into(struct tf128_writer *w, const uint8_t *plain, uint64_t physical,
                     uint8_t entry[32], uint8_t *out)
{
    GUARD(random_node_key(w, physical, entry));
    return tf128_node_encrypt(&w->crypto, entry, plain, TF128_NODE_SIZE, out, entry + 16);
}

/* Encrypts plain with a fresh key and writes it at physical. */
static int seal_node(struct tf128_writer *w, const uint8_t *plain, uint64_t physical,
                     uint8_t entry[32])
{
    GUARD(seal_into(w, plain, physical, entry, w->cipher));
    return steep_fd_pwrite_all(w->fd, w->cipher, TF128_NODE_SIZE,
                               (off_t)(physical * TF128_NODE_SIZE));
}

/* Writes the current MHT node with its data entries; remembers its key and tag. */
static int flush_mht(struct tf128_writer *w)
{
    if (!w->mht_dirty)
        return 0;
    ENSURE(w->mht_records.len == w->mht_current * TF128_MHT_ENTRY_SIZE,
           "teaclave-file-128 writer: MHT bookkeeping out of order");
    uint8_t entry[32];
    uint64_t physical = tf128_mht_physical(w->mht_current);
    GUARD(seal_into(w, w->mht_plain, physical, entry, w->group));
    GUARD(steep_fd_pwrite_all(w->fd, w->group, (1 + w->group_data) * TF128_NODE_SIZE,
                              (off_t)(physical * TF128_NODE_SIZE)));
    w->group_data = 0;
    int rc = steep_buf_append(&w->mht_records, entry, sizeof(entry));
    OPENSSL_cleanse(entry, sizeof(entry));
    OPENSSL_cleanse(w->mht_plain, sizeof(w->mht_plain));
    w->mht_dirty = 0;
    return rc;
}

static int flush_data(struct tf128_writer *w)
{
    uint64_t d = w->data_count;
    uint64_t m = d / TF128_DATA_PER_MHT;
    if (m != w->mht_current) {
        GUARD(flush_mht(w));
        w->mht_current = m;
    }
    memset(w->data_plain + w->data_fill, 0, TF128_NODE_SIZE - w->data_fill);
    uint8_t *entry = w->mht_plain + (d % TF128_DATA_PER_MHT) * TF128_MHT_ENTRY_SIZE;
    size_t slot = 1 + (size_t)(d % TF128_DATA_PER_MHT);
    GUARD(seal_into(w, w->data_plain, tf128_data_physical(d), entry,
                    w->group + slot * TF128_NODE_SIZE));
    w->group_data = slot;
    w->mht_dirty = 1;
    w->data_count++;
    w->data_fill = 0;
    OPENSSL_cleanse(w->data_plain, sizeof(w->data_plain));
    return 0;
}

static ssize_t tf128_write(struct steep_writer *base, const void *buf, size_t n)
{
    struct tf128_writer *w = (struct tf128_writer *)base;
    ENSURE(!w->failed, "teaclave-file-128 writer: an earlier write failed");
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t take;
        if (w->size < TF128_USER_DATA_SIZE) {
            take = TF128_USER_DATA_SIZE - w->size;
            if (take > n - done)
                take = n - done;
            memcpy(w->metadata + TF128_MD_DATA_OFFSET + w->size, p + done, take);
        } else {
            if (w->data_fill == TF128_NODE_SIZE && flush_data(w) < 0) {
                w->failed = 1;
                return -1;
            }
            take = TF128_NODE_SIZE - w->data_fill;
            if (take > n - done)
                take = n - done;
            memcpy(w->data_plain + w->data_fill, p + done, take);
            w->data_fill += take;
        }
        done += take;
        w->size += take;
    }
    return (ssize_t)done;
}

/* Fills child entries of MHT nodes that have MHT children, bottom-up. */
static int finish_tree(struct tf128_writer *w)
{
    uint64_t count = w->mht_records.len / TF128_MHT_ENTRY_SIZE;
    if (count == 0)
        return 0;
    uint64_t last = count - 1;
    uint8_t *records = w->mht_records.data;
    for (uint64_t m = last + 1; m-- > 0;) {
        uint64_t first_child = m * TF128_CHILD_MHT_PER_MHT + 1;
        if (first_child > last)
            continue; /* a leaf of the MHT: already final */
        uint64_t physical = tf128_mht_physical(m);
        ssize_t n = steep_fd_pread_full(w->fd, w->cipher, TF128_NODE_SIZE,
                                        (off_t)(physical * TF128_NODE_SIZE));
        ENSURE(n == TF128_NODE_SIZE, "teaclave-file-128 writer: cannot read back MHT node %llu",
               (unsigned long long)m);
        uint8_t *entry = records + m * TF128_MHT_ENTRY_SIZE;
        ENSURE(tf128_node_decrypt(&w->crypto, entry, w->cipher, TF128_NODE_SIZE, entry + 16,
                                  w->mht_plain) == 0,
               "teaclave-file-128 writer: MHT node %llu changed on disk while writing",
               (unsigned long long)m);
        for (uint64_t c = first_child; c <= last && c < first_child + TF128_CHILD_MHT_PER_MHT; c++)
            memcpy(w->mht_plain + (TF128_DATA_PER_MHT + (c - 1) % TF128_CHILD_MHT_PER_MHT) *
                                      TF128_MHT_ENTRY_SIZE,
                   records + c * TF128_MHT_ENTRY_SIZE, TF128_MHT_ENTRY_SIZE);
        GUARD(seal_node(w, w->mht_plain, physical, entry));
    }
    OPENSSL_cleanse(w->mht_plain, sizeof(w->mht_plain));
    memcpy(w->metadata + TF128_MD_MHT_KEY_OFFSET, records, 32); /* root: key then tag */
    return 0;
}

static int write_metadata(struct tf128_writer *w, uint8_t cmac[16])
{
    uint8_t node0[TF128_NODE_SIZE] = {0};
    struct steep_buf header = STEEP_BUF_INIT;
    uint8_t key_id[32];
    ENSURE(RAND_bytes(key_id, sizeof(key_id)) == 1, "random generator failed");
    uint8_t zeros[36] = {0};
    int rc = steep_buf_append(&header, "\x45\x4c\x49\x46\x5f\x58\x47\x53", 8);
    if (rc == 0)
        rc = steep_buf_append_u8(&header, TF128_MAJOR_VERSION);
    if (rc == 0)
        rc = steep_buf_append_u8(&header, TF128_MINOR_VERSION);
    if (rc == 0)
        rc = steep_buf_append_u8(&header, TF128_FLAG_USER_KEY);
    if (rc == 0)
        rc = steep_buf_append(&header, zeros, 5); /* update_flag, key_policy, isv_svn */
    if (rc == 0)
        rc = steep_buf_append(&header, key_id, sizeof(key_id));
    if (rc == 0)
        rc = steep_buf_append(&header, zeros, 32); /* cpu_svn, attribute_mask */
    if (rc < 0 || header.len != TF128_GMAC_OFFSET) {
        steep_buf_free(&header);
        return steep_error_set("teaclave-file-128 writer: header layout error");
    }
    memcpy(node0, header.data, header.len);
    steep_buf_free(&header);

    /* size */
    for (int i = 0; i < 8; i++)
        w->metadata[TF128_MD_SIZE_OFFSET + i] = (uint8_t)(w->size >> (8 * i));
    uint8_t metadata_key[16];
    GUARD(tf128_derive_key(w->user_key, TF128_LABEL_METADATA, 0, key_id, metadata_key));
    rc = tf128_node_encrypt(&w->crypto, metadata_key, w->metadata, TF128_ENCRYPTED_SIZE,
                            node0 + TF128_ENCRYPTED_OFFSET, node0 + TF128_GMAC_OFFSET);
    OPENSSL_cleanse(metadata_key, sizeof(metadata_key));
    GUARD(rc);
    GUARD(steep_fd_pwrite_all(w->fd, node0, sizeof(node0), 0));
    if (cmac)
        memcpy(cmac, node0 + TF128_GMAC_OFFSET, 16);
    return 0;
}

static int finish(struct tf128_writer *w, uint8_t cmac[16])
{
    ENSURE(!w->failed, "teaclave-file-128 writer: an earlier write failed");
    if (w->data_fill > 0)
        GUARD(flush_data(w));
    GUARD(flush_mht(w));
    GUARD(finish_tree(w));
    GUARD(write_metadata(w, cmac));
    uint64_t expected = tf128_physical_nodes(w->size) * TF128_NODE_SIZE;
    ENSURE(ftruncate(w->fd, (off_t)expected) == 0, "teaclave-file-128 writer: truncate failed: %s",
           strerror(errno));
    return 0;
}

static int tf128_writer_close(struct steep_writer *base, uint8_t cmac[16])
{
    struct tf128_writer *w = (struct tf128_writer *)base;
    if (!w)
        return 0;
    int rc = finish(w, cmac);
    if (close(w->fd) < 0 && rc == 0)
        rc = steep_error_set("teaclave-file-128 writer: close failed: %s", strerror(errno));
    steep_buf_free(&w->mht_records);
    free(w->group);
    tf128_ctx_free(&w->crypto);
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
    return rc;
}

struct steep_writer *steep_tf128_writer_new(int fd, const char *name, const uint8_t key[16])
{
    size_t name_len = strlen(name);
    struct stat st;
    if (name_len == 0 || name_len > TF128_MAX_NAME_LEN) {
        steep_error_set("teaclave-file-128: file name must be 1..%d bytes", TF128_MAX_NAME_LEN);
        close(fd);
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || ftruncate(fd, 0) < 0) {
        steep_error_set("teaclave-file-128: output must be a regular file");
        close(fd);
        return NULL;
    }
    struct tf128_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->group = malloc((1 + TF128_DATA_PER_MHT) * TF128_NODE_SIZE)) ||
        RAND_bytes(w->master_key, sizeof(w->master_key)) != 1 || tf128_ctx_init(&w->crypto) < 0 ||
        tf128_ctx_set_master(&w->crypto, w->master_key) < 0) {
        if (w) {
            tf128_ctx_free(&w->crypto);
            free(w->group);
        }
        free(w);
        close(fd);
        steep_error_set("out of memory or random generator failed");
        return NULL;
    }
    w->nonce_used = NONCE_POOL;
    w->base.write = tf128_write;
    w->base.close = tf128_writer_close;
    w->fd = fd;
    memcpy(w->user_key, key, 16);
    memcpy(w->metadata, name, name_len);
    steep_buf_wipe(&w->mht_records);
    return &w->base;
}
