/*
 * teaclave-file-128: the Intel SGX Protected-FS layout in user-key mode, as
 * written by the Teaclave SGX SDK (spec teaclave-functions.md §3.3).
 *
 * 4096-byte nodes. Node 0 holds a plaintext header (file id, version, flags,
 * the KDF nonce key_id, the gmac at 80..96) and the encrypted metadata:
 * file name (260), plaintext size (u64), root MHT key and tag, and the first
 * 3072 bytes of data. Larger files add MHT nodes (128 entries of {key, tag}:
 * 96 data children then 32 MHT children) and data nodes, numbered
 * breadth-first and interleaved on disk: data node d at physical
 * d + 2 + d/96, MHT node m at 1 + 97m. Every node is AES-128-GCM with a zero
 * IV, empty AAD and its own key; the metadata key is AES-CMAC(user key,
 * kdf_input(label METADATA, node 0, key_id)).
 */
#ifndef STEEP_CRYPTO_TF128_FORMAT_H
#define STEEP_CRYPTO_TF128_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define TF128_NODE_SIZE         4096
#define TF128_FILE_ID           0x5347585F46494C45ULL
#define TF128_MAJOR_VERSION     1
#define TF128_MINOR_VERSION     0
#define TF128_FLAG_USER_KEY     1
#define TF128_KEY_ID_OFFSET     16
#define TF128_GMAC_OFFSET       80
#define TF128_ENCRYPTED_OFFSET  96
#define TF128_ENCRYPTED_SIZE    3372
#define TF128_NAME_SIZE         260
#define TF128_USER_DATA_SIZE    3072
#define TF128_DATA_PER_MHT      96
#define TF128_CHILD_MHT_PER_MHT 32
#define TF128_MHT_ENTRY_SIZE    32
#define TF128_MAX_NAME_LEN      (TF128_NAME_SIZE - 1)

/* Offsets inside the encrypted metadata plaintext. */
#define TF128_MD_SIZE_OFFSET     260
#define TF128_MD_MHT_KEY_OFFSET  268
#define TF128_MD_MHT_GMAC_OFFSET 284
#define TF128_MD_DATA_OFFSET     300

static inline uint64_t tf128_data_physical(uint64_t d)
{
    return d + 2 + d / TF128_DATA_PER_MHT;
}

static inline uint64_t tf128_mht_physical(uint64_t m)
{
    return 1 + 97 * m;
}

static inline uint64_t tf128_mht_parent(uint64_t m)
{
    return (m - 1) / TF128_CHILD_MHT_PER_MHT;
}

/* Number of data nodes for a plaintext size (0 when it fits in node 0). */
static inline uint64_t tf128_data_nodes(uint64_t size)
{
    if (size <= TF128_USER_DATA_SIZE)
        return 0;
    return (size - TF128_USER_DATA_SIZE + TF128_NODE_SIZE - 1) / TF128_NODE_SIZE;
}

/* Number of physical 4096-byte nodes of a file of this plaintext size. */
static inline uint64_t tf128_physical_nodes(uint64_t size)
{
    uint64_t n = tf128_data_nodes(size);
    return n == 0 ? 1 : tf128_data_physical(n - 1) + 1;
}

/* Depth of MHT node m (root = 0). */
static inline unsigned tf128_mht_level(uint64_t m)
{
    unsigned level = 0;
    while (m) {
        m = tf128_mht_parent(m);
        level++;
    }
    return level;
}

/* AES-CMAC KDF of the Protected FS: key = CMAC(master, index 1 | label | 0 |
 * node_number | nonce | 0x80 | 0). label is "SGX-PROTECTED-FS-METADATA-KEY" or
 * "SGX-PROTECTED-FS-RANDOM-KEY". */
int tf128_derive_key(const uint8_t master[16], const char *label, uint64_t node_number,
                     const uint8_t nonce[32], uint8_t out[16]);

#define TF128_LABEL_METADATA "SGX-PROTECTED-FS-METADATA-KEY"
#define TF128_LABEL_RANDOM   "SGX-PROTECTED-FS-RANDOM-KEY"

/* Reusable per-stream crypto state: a GCM context (fetched AES-128-GCM)
 * and, for writers, a CMAC context keyed once with the master key, so a
 * node costs one key schedule and no algorithm fetches. */
struct tf128_ctx {
    void *gcm; /* EVP_CIPHER_CTX */
    void *kdf; /* EVP_MAC_CTX keyed with the master key, or NULL */
};

int tf128_ctx_init(struct tf128_ctx *ctx);
/* Keys the KDF context with master (writers). */
int tf128_ctx_set_master(struct tf128_ctx *ctx, const uint8_t master[16]);
int tf128_ctx_derive(struct tf128_ctx *ctx, const char *label, uint64_t node_number,
                     const uint8_t nonce[32], uint8_t out[16]);
void tf128_ctx_free(struct tf128_ctx *ctx);

/* AES-128-GCM of one node with a zero IV and empty AAD. */
int tf128_node_encrypt(struct tf128_ctx *ctx, const uint8_t key[16], const uint8_t *in, size_t len,
                       uint8_t *out, uint8_t tag[16]);
int tf128_node_decrypt(struct tf128_ctx *ctx, const uint8_t key[16], const uint8_t *in, size_t len,
                       const uint8_t tag[16], uint8_t *out);

#endif
