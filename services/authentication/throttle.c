/* Failed-login windows; see throttle.h. A linear table under one mutex: a
 * login costs an argon2 hash, which dwarfs scanning 4096 entries. */
#include "authentication/throttle.h"

#include "core/error.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    bool used;
    int failures;
    int64_t next_allowed_ms;
    int64_t last_ms;
};

struct steep_auth_throttle {
    pthread_mutex_t lock;
    int64_t base_ms;
    int64_t max_ms;
    int free;
    struct entry entries[STEEP_AUTH_THROTTLE_ENTRIES];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct steep_auth_throttle *steep_auth_throttle_new(int64_t base_ms, int64_t max_ms, int free)
{
    struct steep_auth_throttle *throttle = calloc(1, sizeof *throttle);
    if (!throttle) {
        steep_error_set("out of memory");
        return NULL;
    }
    pthread_mutex_init(&throttle->lock, NULL);
    throttle->base_ms = base_ms < 0 ? 0 : base_ms;
    throttle->max_ms = max_ms < throttle->base_ms ? throttle->base_ms : max_ms;
    throttle->free = free < 0 ? 0 : free > 60 ? 60 : free;
    return throttle;
}

void steep_auth_throttle_free(struct steep_auth_throttle *throttle)
{
    if (!throttle)
        return;
    pthread_mutex_destroy(&throttle->lock);
    free(throttle);
}

/* The entry of (source, id); with create, a free or the least recently used one. */
static struct entry *find(struct steep_auth_throttle *throttle,
                          const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id, bool create)
{
    /* SHA-256(source || SHA-256(id)): fixed-size input, no separator needed. */
    uint8_t pair[STEEP_AUTH_SOURCE_LEN + SHA256_DIGEST_LENGTH], digest[SHA256_DIGEST_LENGTH];
    memcpy(pair, source, STEEP_AUTH_SOURCE_LEN);
    SHA256((const uint8_t *)id, strlen(id), pair + STEEP_AUTH_SOURCE_LEN);
    SHA256(pair, sizeof pair, digest);
    struct entry *oldest = &throttle->entries[0];
    for (size_t i = 0; i < STEEP_AUTH_THROTTLE_ENTRIES; i++) {
        struct entry *e = &throttle->entries[i];
        if (e->used && memcmp(e->digest, digest, sizeof digest) == 0)
            return e;
        if (!e->used || (oldest->used && e->last_ms < oldest->last_ms))
            oldest = e;
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    memcpy(oldest->digest, digest, sizeof digest);
    oldest->used = true;
    return oldest;
}

int64_t steep_auth_throttle_wait_ms(struct steep_auth_throttle *throttle,
                                    const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id)
{
    pthread_mutex_lock(&throttle->lock);
    struct entry *e = find(throttle, source, id, false);
    int64_t wait = e ? e->next_allowed_ms - now_ms() : 0;
    pthread_mutex_unlock(&throttle->lock);
    if (wait > throttle->max_ms)
        wait = throttle->max_ms;
    return wait > 0 ? wait : 0;
}

int64_t steep_auth_throttle_failure(struct steep_auth_throttle *throttle,
                                    const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id)
{
    pthread_mutex_lock(&throttle->lock);
    struct entry *e = find(throttle, source, id, true);
    if (e->failures < 62)
        e->failures++;
    int64_t delay = e->failures > throttle->free ? throttle->base_ms : 0;
    for (int i = throttle->free + 1; i < e->failures && delay < throttle->max_ms; i++)
        delay *= 2;
    if (delay > throttle->max_ms)
        delay = throttle->max_ms;
    e->last_ms = now_ms();
    e->next_allowed_ms = e->last_ms + delay;
    pthread_mutex_unlock(&throttle->lock);
    return delay;
}

void steep_auth_throttle_success(struct steep_auth_throttle *throttle,
                                 const uint8_t source[STEEP_AUTH_SOURCE_LEN], const char *id)
{
    pthread_mutex_lock(&throttle->lock);
    struct entry *e = find(throttle, source, id, false);
    if (e)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&throttle->lock);
}
