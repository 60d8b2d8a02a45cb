/*
 * libFuzzer target for the audit log's parsers: the query language (parse,
 * then match against a fixed entry) and the stored record and head
 * decoders, which read bytes that come back from the storage service.
 * Input: first byte selects the parser, the rest is its input.
 */
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_internal.h"

static void fuzz_query(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    struct audit_query *query = NULL;
    if (audit_query_parse(text, &query) == 0) {
        uint8_t ip[16] = {[12] = 127, [15] = 1};
        TeaclaveCommonProto__Entry entry = TEACLAVE_COMMON_PROTO__ENTRY__INIT;
        entry.ip.data = ip;
        entry.ip.len = sizeof ip;
        entry.user = "{ user: alice, role: DataOwner(\"org1\") }";
        entry.message = "authenticate to get_function: incorrent credential";
        audit_query_match(query, &entry);
        audit_query_free(query);
    }
    free(text);
}

static void fuzz_record(const uint8_t *data, size_t size)
{
    /* The decoder first checks the hash; use the input's own hash so the
     * fuzzer reaches the field parsing. */
    uint8_t hash[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
    struct steep_buf copy = STEEP_BUF_INIT;
    if (size >= AUDIT_HASH_LEN + 8) {
        SHA256(data, size, hash);
        uint64_t seq = 0;
        memcpy(&seq, data + AUDIT_HASH_LEN, sizeof seq);
        TeaclaveCommonProto__Entry *decoded = NULL;
        if (audit_record_decode(data, size, seq, hash, prev, &decoded) == 0) {
            /* a decoded entry re-encodes to the same bytes */
            if (audit_record_encode(seq, prev, decoded, &copy, hash) == 0 &&
                (copy.len != size || memcmp(copy.data, data, size) != 0))
                abort();
            audit_entry_free(decoded);
        }
    }
    steep_buf_free(&copy);
}

static void fuzz_head(const uint8_t *data, size_t size)
{
    static const uint8_t key[STEEP_AUDIT_MAC_KEY_LEN] = {1};
    struct steep_audit_store store = {0};
    struct steep_audit *audit = steep_audit_open(&store, size % 2 ? key : NULL);
    struct audit_head head;
    if (audit && audit_head_decode(audit, data, size, &head) == 0) {
        uint8_t again[AUDIT_HEAD_LEN];
        audit_head_encode(audit, &head, again);
        if (size != AUDIT_HEAD_LEN || memcmp(again, data, size) != 0)
            abort();
    }
    steep_audit_free(audit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_query(data + 1, size - 1);
        break;
    case 1:
        fuzz_record(data + 1, size - 1);
        break;
    default:
        fuzz_head(data + 1, size - 1);
        break;
    }
    return 0;
}
