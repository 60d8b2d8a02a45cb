/*
 * What verifying collateral once has already proven, so that verifying the
 * next quote of the same platform does not prove it again: "these exact
 * CRL bytes are signed by this key", "this exact PCK chain (as carried in a
 * quote) chains by its signatures to this pinned root", "these exact TCB
 * info bytes are signed by this key". A fact is the SHA-256 of a label and
 * every byte it is about, so changed bytes are a different fact. Only
 * signatures are remembered: validity windows, revocation look-ups, and the
 * quote's and QE report's own signatures are checked on every verification.
 * A small ring, shared by the threads verifying with one collateral.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tee/hw/hw_internal.h"

#define MEMO_ENTRIES 64

struct memo_entry {
    uint8_t key[32];
    bool used;
    STACK_OF(X509) * chain; /* the parsed certificates the fact is about, if kept */
};

struct steep_hw_memo {
    pthread_mutex_t lock;
    struct memo_entry entries[MEMO_ENTRIES];
    size_t next;
};

static const EVP_MD *sha256_md, *sha384_md;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* Fetching an algorithm costs locks and look-ups in OpenSSL 3: do it once. */
static void fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    sha384_md = EVP_MD_fetch(NULL, "SHA384", NULL);
}

const EVP_MD *steep_hw_sha256(void)
{
    pthread_once(&fetch_once, fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

const EVP_MD *steep_hw_sha384(void)
{
    pthread_once(&fetch_once, fetch);
    return sha384_md ? sha384_md : EVP_sha384();
}

struct steep_hw_memo *steep_hw_memo_new(void)
{
    struct steep_hw_memo *m = calloc(1, sizeof(*m));
    if (m && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void steep_hw_memo_free(struct steep_hw_memo *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < MEMO_ENTRIES; i++)
        sk_X509_pop_free(m->entries[i].chain, X509_free);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int steep_hw_memo_key(uint8_t key[32], const char *label, const struct steep_hw_part *parts,
                      size_t n)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, steep_hw_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, label, strlen(label) + 1) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t size = parts[i].len; /* lengths framed: parts cannot shift into each other */
        ok = EVP_DigestUpdate(ctx, &size, sizeof(size)) == 1 &&
             EVP_DigestUpdate(ctx, parts[i].data, parts[i].len) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, key, &len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

bool steep_hw_memo_has(struct steep_hw_memo *m, const uint8_t key[32], STACK_OF(X509) * *chain)
{
    if (!m)
        return false;
    bool found = false;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < MEMO_ENTRIES && !found; i++) {
        struct memo_entry *e = &m->entries[i];
        if (e->used && CRYPTO_memcmp(e->key, key, 32) == 0) {
            found = true;
            if (chain) {
                *chain = e->chain ? X509_chain_up_ref(e->chain) : NULL;
                found = *chain != NULL;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

void steep_hw_memo_add(struct steep_hw_memo *m, const uint8_t key[32], STACK_OF(X509) * chain)
{
    if (!m)
        return;
    STACK_OF(X509) *kept = chain ? X509_chain_up_ref(chain) : NULL;
    if (chain && !kept)
        return;
    pthread_mutex_lock(&m->lock);
    struct memo_entry *e = &m->entries[m->next];
    m->next = (m->next + 1) % MEMO_ENTRIES;
    sk_X509_pop_free(e->chain, X509_free);
    memcpy(e->key, key, 32);
    e->chain = kept;
    e->used = true;
    pthread_mutex_unlock(&m->lock);
}
