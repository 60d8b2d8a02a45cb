/*
 * What both back-ends share (LevelDB: internal.h, etcd: etcd_store.c): the
 * internal key space and the sealing of records.
 *
 * Internal key space (keys stay plaintext so the engine can order them;
 * every value is sealed, its internal key bound as associated data):
 *   "m"                                   marker record, checked at open
 *   "u" + key                             user records (get/put/scan)
 *   "q" + u32be(len) + name + "h"         queue head counter (u64be)
 *   "q" + u32be(len) + name + "t"         queue tail counter (u64be)
 *   "q" + u32be(len) + name + "e" + u64be element at that index
 * The length prefix keeps one queue's records from ever matching another's.
 */
#ifndef STEEP_STORE_RECORDS_H
#define STEEP_STORE_RECORDS_H

#include <openssl/types.h>
#include <pthread.h>

#include "core/buf.h"
#include "store/store.h"

#define STEEP_STORE_NS_MARKER 'm'
#define STEEP_STORE_NS_USER   'u'
#define STEEP_STORE_NS_QUEUE  'q'

/* AES-256-GCM under the store key, with a pool of keyed cipher contexts (seal.c). */
#define STEEP_STORE_SEALER_IDLE 32
struct steep_store_sealer {
    uint8_t key[STEEP_STORE_KEY_BYTES];
    EVP_CIPHER *cipher;
    pthread_mutex_t lock;
    EVP_CIPHER_CTX *idle[STEEP_STORE_SEALER_IDLE];
    size_t n_idle;
};

/* ---- internal keys (keyspace.c) ---- */
int steep_store_user_key(struct steep_buf *out, const void *key, size_t key_len);
int steep_store_queue_key(struct steep_buf *out, const void *queue, size_t queue_len, char part,
                          uint64_t index);
/* For the engines' in-memory tables of keys (FNV-1a). */
uint64_t steep_store_hash_key(const uint8_t *key, size_t len);
/* A printable, bounded rendering of a key for log lines. */
void steep_store_describe_key(const uint8_t *key, size_t key_len, char *out, size_t out_len);

/* ---- sealing (seal.c) ---- */
int steep_store_sealer_init(struct steep_store_sealer *sealer,
                            const uint8_t key[STEEP_STORE_KEY_BYTES]);
/* Frees the contexts and wipes the key; safe on a zeroed or freed sealer. */
void steep_store_sealer_free(struct steep_store_sealer *sealer);
int steep_store_seal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                     size_t record_key_len, const void *plain, size_t plain_len,
                     struct steep_buf *sealed);
/* Fails (without logging) when the record does not authenticate: -1.
 * STEEP_STORE_UNCHECKED when it could not be checked at all (out of
 * memory, cipher set-up), which says nothing about the record. */
#define STEEP_STORE_UNCHECKED (-2)
int steep_store_unseal(struct steep_store_sealer *sealer, const uint8_t *record_key,
                       size_t record_key_len, const uint8_t *sealed, size_t sealed_len,
                       struct steep_buf *plain);

#endif
