/*
 * teaclave-file-128 streams over a regular-file fd (layout: tf128_format.h).
 *
 * Reader: sequential plaintext; every node is authenticated before any of
 * its bytes are returned. Memory: the metadata, one data node and one
 * decrypted MHT node per tree level (the path to the current data node).
 * Open checks the header, decrypts the metadata with the user key, checks
 * that the embedded file name equals `name` (the basename the file is
 * opened under; Teaclave's NameMismatch) and that the file has exactly the
 * number of nodes the size calls for. cmac receives the metadata gmac.
 *
 * Writer: sequential; fresh random per-file master key, key_id and per-node
 * keys on every write. Data nodes are encrypted and written as they fill;
 * each MHT node is written once its 96 data entries are known (with a fresh
 * key); at close, MHT nodes that have MHT children are rewritten bottom-up
 * (children first) with their child entries, then node 0 is written last.
 * Memory: the metadata, one data node, one MHT node, the ciphertext of one
 * MHT group (97 nodes, 388 KiB, written with one pwrite), plus 32 bytes of key
 * material per MHT node (1/12288 of the file size: 87 KiB per GiB).
 * No recovery file is written: the writer only ever creates new files, so a
 * crash leaves a file without a valid node 0, which every reader rejects.
 *
 * Both take ownership of fd (closed by close(), or on a failed open).
 */
#ifndef STEEP_CRYPTO_TF128_H
#define STEEP_CRYPTO_TF128_H

#include "crypto/stream.h"

struct steep_reader *steep_tf128_reader_open(int fd, const char *name, const uint8_t key[16],
                                             uint8_t cmac[16]);
/* Plaintext size of an opened tf128 reader (from its authenticated metadata). */
uint64_t steep_tf128_reader_size(const struct steep_reader *reader);

struct steep_writer *steep_tf128_writer_new(int fd, const char *name, const uint8_t key[16]);

#endif
