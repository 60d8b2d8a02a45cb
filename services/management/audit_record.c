/*
 * The audit log's storage encodings: record keys, the canonical entry
 * encoding the hash chain is computed over, and the (optionally
 * HMAC-authenticated) head. Decoding goes through a steep_cursor and
 * checks the record against what the chain expects before trusting it.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"
#include "core/error.h"
#include "rpc/rpc.h"

static const uint8_t zero_hash[AUDIT_HASH_LEN];

void audit_record_key(uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN], char key[AUDIT_KEY_MAX])
{
    char hex[2 * AUDIT_HASH_LEN + 1];
    steep_hex_encode(hash, AUDIT_HASH_LEN, hex);
    snprintf(key, AUDIT_KEY_MAX, "audit-entry-%016llx-%s", (unsigned long long)seq, hex);
}

static int append_field(struct steep_buf *out, const char *text)
{
    size_t n = strlen(text);
    ENSURE(n <= AUDIT_MAX_FIELD, "audit field longer than %d bytes", AUDIT_MAX_FIELD);
    GUARD(steep_buf_append_u32le(out, (uint32_t)n));
    return steep_buf_append(out, text, n);
}

int audit_record_encode(uint64_t seq, const uint8_t prev[AUDIT_HASH_LEN],
                        const TeaclaveCommonProto__Entry *entry, struct steep_buf *out,
                        uint8_t hash[AUDIT_HASH_LEN])
{
    ENSURE(entry->ip.len == AUDIT_IP_LEN, "ip is not %d bytes", AUDIT_IP_LEN);
    steep_buf_reset(out);
    GUARD(steep_buf_append(out, prev, AUDIT_HASH_LEN));
    GUARD(steep_buf_append_u64le(out, seq));
    GUARD(steep_buf_append_u64le(out, (uint64_t)entry->microsecond));
    GUARD(steep_buf_append(out, entry->ip.data, AUDIT_IP_LEN));
    GUARD(append_field(out, entry->user ? entry->user : ""));
    GUARD(append_field(out, entry->message ? entry->message : ""));
    GUARD(steep_buf_append_u8(out, entry->result ? 1 : 0));
    SHA256(out->data, out->len, hash);
    return 0;
}

void audit_entry_free(TeaclaveCommonProto__Entry *entry)
{
    if (entry)
        protobuf_c_message_free_unpacked(&entry->base, NULL);
}

static int read_field(struct steep_cursor *c, char **out)
{
    uint32_t n;
    const uint8_t *text;
    GUARD(steep_cursor_read_u32le(c, &n));
    ENSURE(n <= AUDIT_MAX_FIELD, "field too long");
    GUARD(steep_cursor_read_span(c, &text, n));
    ENSURE(memchr(text, '\0', n) == NULL, "NUL in field");
    *out = strndup((const char *)text, n);
    ENSURE(*out, "out of memory");
    return 0;
}

static int decode_entry(struct steep_cursor *c, TeaclaveCommonProto__Entry *entry)
{
    uint64_t microsecond;
    uint8_t result;
    GUARD(steep_cursor_read_u64le(c, &microsecond));
    entry->microsecond = (int64_t)microsecond;
    entry->ip.data = malloc(AUDIT_IP_LEN);
    ENSURE(entry->ip.data, "out of memory");
    entry->ip.len = AUDIT_IP_LEN;
    GUARD(steep_cursor_read_bytes(c, entry->ip.data, AUDIT_IP_LEN));
    GUARD(read_field(c, &entry->user));
    GUARD(read_field(c, &entry->message));
    GUARD(steep_cursor_read_u8(c, &result));
    ENSURE(result <= 1, "bad result byte");
    entry->result = result == 1;
    ENSURE(steep_cursor_remaining(c) == 0, "trailing bytes");
    return 0;
}

int audit_record_decode(const uint8_t *data, size_t len, uint64_t seq,
                        const uint8_t hash[AUDIT_HASH_LEN], uint8_t prev[AUDIT_HASH_LEN],
                        TeaclaveCommonProto__Entry **entry)
{
    uint8_t actual[AUDIT_HASH_LEN];
    SHA256(data, len, actual);
    if (CRYPTO_memcmp(actual, hash, AUDIT_HASH_LEN) != 0)
        return audit_fail(STEEP_GRPC_UNKNOWN,
                          "audit log error, reason: chain broken at entry %llu (record altered)",
                          (unsigned long long)seq);
    struct steep_cursor c = steep_cursor_make(data, len);
    uint64_t stored_seq;
    if (steep_cursor_read_bytes(&c, prev, AUDIT_HASH_LEN) < 0 ||
        steep_cursor_read_u64le(&c, &stored_seq) < 0 || stored_seq != seq ||
        (seq == 0 && memcmp(prev, zero_hash, AUDIT_HASH_LEN) != 0))
        return audit_fail(STEEP_GRPC_UNKNOWN,
                          "audit log error, reason: chain broken at entry %llu (record out of "
                          "place)",
                          (unsigned long long)seq);
    if (!entry)
        return 0;
    TeaclaveCommonProto__Entry *decoded = malloc(sizeof *decoded);
    if (!decoded)
        return audit_fail(STEEP_GRPC_INTERNAL, "service internal error");
    teaclave_common_proto__entry__init(decoded);
    decoded->user = NULL; /* filled below; NULL is safe to free if decoding stops early */
    decoded->message = NULL;
    if (decode_entry(&c, decoded) < 0) {
        audit_entry_free(decoded);
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: entry %llu is malformed",
                          (unsigned long long)seq);
    }
    *entry = decoded;
    return 0;
}

static void head_mac(const struct steep_audit *audit, const uint8_t *head, size_t len,
                     uint8_t mac[AUDIT_HASH_LEN])
{
    if (!audit->keyed) {
        memset(mac, 0, AUDIT_HASH_LEN);
        return;
    }
    unsigned int mac_len = AUDIT_HASH_LEN;
    HMAC(EVP_sha256(), audit->mac_key, STEEP_AUDIT_MAC_KEY_LEN, head, len, mac, &mac_len);
}

size_t audit_head_encode(const struct steep_audit *audit, const struct audit_head *head,
                         uint8_t out[AUDIT_HEAD_LEN])
{
    bool pruned = head->first > 0;
    size_t body = pruned ? AUDIT_HEAD_LEN - AUDIT_HASH_LEN : AUDIT_HEAD_V1_LEN - AUDIT_HASH_LEN;
    out[0] = pruned ? 2 : 1;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(head->count >> (8 * i));
    memcpy(out + 9, head->last, AUDIT_HASH_LEN);
    if (pruned) {
        for (int i = 0; i < 8; i++)
            out[9 + AUDIT_HASH_LEN + i] = (uint8_t)(head->first >> (8 * i));
        memcpy(out + 17 + AUDIT_HASH_LEN, head->first_prev, AUDIT_HASH_LEN);
    }
    head_mac(audit, out, body, out + body);
    return body + AUDIT_HASH_LEN;
}

int audit_head_decode(const struct steep_audit *audit, const uint8_t *data, size_t len,
                      struct audit_head *head)
{
    struct steep_cursor c = steep_cursor_make(data, len);
    uint8_t version = 0, mac[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];
    memset(head, 0, sizeof *head);
    bool ok =
        steep_cursor_read_u8(&c, &version) == 0 &&
        ((version == 1 && len == AUDIT_HEAD_V1_LEN) || (version == 2 && len == AUDIT_HEAD_LEN)) &&
        steep_cursor_read_u64le(&c, &head->count) == 0 &&
        steep_cursor_read_bytes(&c, head->last, AUDIT_HASH_LEN) == 0;
    if (ok && version == 2)
        ok = steep_cursor_read_u64le(&c, &head->first) == 0 &&
             steep_cursor_read_bytes(&c, head->first_prev, AUDIT_HASH_LEN) == 0 &&
             head->first > 0 && head->first <= head->count;
    if (!ok || steep_cursor_read_bytes(&c, mac, AUDIT_HASH_LEN) < 0)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: malformed chain head");
    head_mac(audit, data, len - AUDIT_HASH_LEN, want);
    if (CRYPTO_memcmp(mac, want, AUDIT_HASH_LEN) != 0)
        return audit_fail(STEEP_GRPC_UNKNOWN,
                          "audit log error, reason: chain head authentication failed");
    if (head->count == 0 && memcmp(head->last, zero_hash, AUDIT_HASH_LEN) != 0)
        return audit_fail(STEEP_GRPC_UNKNOWN, "audit log error, reason: malformed chain head");
    return 0;
}
