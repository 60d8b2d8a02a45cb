/* The compiled-module cache and steep_wamr_prepare(); see cache.h. */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "compile.h"
#include "core/error.h"
#include "core/log.h"
#include "module.h"

#define MAX_SO_BYTES (512u << 20)
#define MEMORY_SLOTS 32

void steep_wamr_config_default(struct steep_wamr_config *config)
{
    memset(config, 0, sizeof *config);
    config->memory_mb = 256;
    config->max_module_mb = 16;
    config->compile_timeout_secs = 300;
    config->cc = "cc";
    config->wasm2c = "wasm2c";
}

struct memory_entry {
    char key[65];
    int fd;
    uint64_t used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct memory_entry entries[MEMORY_SLOTS];
static uint64_t clock_tick;

void steep_wamr_cache_forget(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MEMORY_SLOTS; i++) {
        if (entries[i].key[0] && entries[i].fd >= 0)
            close(entries[i].fd);
        memset(&entries[i], 0, sizeof entries[i]);
    }
    pthread_mutex_unlock(&lock);
}

static int memory_find(const char *key)
{
    int fd = -1;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MEMORY_SLOTS; i++) {
        if (entries[i].key[0] && strcmp(entries[i].key, key) == 0) {
            entries[i].used = ++clock_tick;
            fd = fcntl(entries[i].fd, F_DUPFD_CLOEXEC, 0);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return fd;
}

static void memory_add(const char *key, int fd)
{
    pthread_mutex_lock(&lock);
    size_t victim = 0;
    for (size_t i = 0; i < MEMORY_SLOTS; i++) {
        if (entries[i].key[0] && strcmp(entries[i].key, key) == 0) {
            pthread_mutex_unlock(&lock);
            return;
        }
        if (entries[i].used < entries[victim].used)
            victim = i;
    }
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy >= 0) {
        if (entries[victim].key[0])
            close(entries[victim].fd);
        snprintf(entries[victim].key, sizeof entries[victim].key, "%s", key);
        entries[victim].fd = copy;
        entries[victim].used = ++clock_tick;
    }
    pthread_mutex_unlock(&lock);
}

/* A sealed memfd with the module's bytes: nobody can change it any more. */
static int sealed_copy(const struct steep_buf *so, int *out)
{
    int fd = memfd_create("steep-wasm-module", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ENSURE(fd >= 0, "memfd_create: %s", strerror(errno));
    size_t done = 0;
    while (done < so->len) {
        ssize_t n = write(fd, so->data + done, so->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return steep_error_set("cannot copy the compiled module: %s", strerror(errno));
        }
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        close(fd);
        return steep_error_set("cannot seal the compiled module: %s", strerror(errno));
    }
    *out = fd;
    return 0;
}

static int mac_key(const char *dir, uint8_t key[32])
{
    char path[4200];
    struct steep_buf text = STEEP_BUF_INIT;
    snprintf(path, sizeof path, "%s/mac.key", dir);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (steep_read_file(path, 64, &text) == 0 && text.len == 32) {
            memcpy(key, text.data, 32);
            steep_buf_wipe(&text);
            steep_buf_free(&text);
            return 0;
        }
        steep_buf_free(&text);
        ENSURE(RAND_bytes(key, 32) == 1, "no randomness for the module cache key");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
            /* Another node made it, or it is damaged: a damaged key only
             * invalidates every entry. */
            struct stat st;
            if (stat(path, &st) == 0 && st.st_size != 32)
                unlink(path);
            continue;
        }
        ENSURE(fd >= 0, "cannot create %s: %s", path, strerror(errno));
        ssize_t n = write(fd, key, 32);
        int synced = fsync(fd);
        close(fd);
        ENSURE(n == 32 && synced == 0, "cannot write %s", path);
        return 0;
    }
    return steep_error_set("cannot read or create %s", path);
}

static int entry_mac(const uint8_t key[32], const char *name, const struct steep_buf *so,
                     char hex[65])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    uint8_t out[32];
    size_t out_len = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, 32, params) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)name, strlen(name)) == 1 &&
             EVP_MAC_update(ctx, so->data, so->len) == 1 &&
             EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1 && out_len == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    ENSURE(ok, "cannot compute the module cache MAC");
    steep_hex_encode(out, 32, hex);
    return 0;
}

/* 1: a verified entry in so; 0: none (or a bad one, which was removed). */
static int disk_load(const char *dir, const char *name, const uint8_t mkey[32],
                     struct steep_buf *so)
{
    char so_path[4200], mac_path[4200], expected[65];
    struct steep_buf recorded = STEEP_BUF_INIT;
    snprintf(so_path, sizeof so_path, "%s/%s.so", dir, name);
    snprintf(mac_path, sizeof mac_path, "%s/%s.mac", dir, name);
    bool have_so = steep_read_file(so_path, MAX_SO_BYTES, so) == 0;
    bool have_mac = steep_read_file(mac_path, 128, &recorded) == 0;
    if (!have_so && !have_mac) {
        steep_buf_free(so);
        return 0;
    }
    int good = have_so && have_mac && recorded.len == 64 &&
               entry_mac(mkey, name, so, expected) == 0 &&
               CRYPTO_memcmp(expected, recorded.data, 64) == 0;
    steep_buf_free(&recorded);
    if (good)
        return 1;
    log_warn("compiled module %s in %s failed verification (truncated or tampered); rebuilding",
             name, dir);
    unlink(so_path);
    unlink(mac_path);
    steep_buf_reset(so);
    return 0;
}

static int disk_store(const char *dir, const char *name, const uint8_t mkey[32],
                      const struct steep_buf *so)
{
    char so_path[4200], mac_path[4200], mac[65];
    snprintf(so_path, sizeof so_path, "%s/%s.so", dir, name);
    snprintf(mac_path, sizeof mac_path, "%s/%s.mac", dir, name);
    GUARD(entry_mac(mkey, name, so, mac));
    /* The .so first: a crash between the two leaves a pair that fails
     * verification and is rebuilt. */
    GUARD(steep_write_file_atomic(so_path, so->data, so->len, 0600));
    return steep_write_file_atomic(mac_path, mac, 64, 0600);
}

static int cache_key(const struct steep_wamr_config *config, const uint8_t *payload, size_t len,
                     char hex[65])
{
    struct steep_buf id = STEEP_BUF_INIT;
    GUARD(steep_wamr_toolchain_id(config, &id));
    uint8_t digest[32];
    unsigned int digest_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, payload, len) == 1 &&
             EVP_DigestUpdate(ctx, id.data, id.len) == 1 &&
             EVP_DigestFinal_ex(ctx, digest, &digest_len) == 1;
    EVP_MD_CTX_free(ctx);
    steep_buf_free(&id);
    ENSURE(ok, "cannot hash the module");
    steep_hex_encode(digest, 32, hex);
    return 0;
}

int steep_wamr_prepare(const struct steep_wamr_config *config, const uint8_t *payload,
                       size_t payload_len, int *fd)
{
    struct steep_wamr_module_info info;
    char name[65];
    ENSURE(config->cache_dir, "the WebAssembly executor has no cache directory");
    ENSURE(payload_len > 0, "the function has no WebAssembly payload");
    ENSURE(payload_len <= (size_t)config->max_module_mb << 20,
           "WebAssembly module too large (%.1f MiB; the limit is %u MiB)", payload_len / 1048576.0,
           config->max_module_mb);
    GUARD(steep_wamr_module_check(payload, payload_len, &info));
    if (mkdir(config->cache_dir, 0700) < 0 && errno != EEXIST)
        return steep_error_set("cannot create %s: %s", config->cache_dir, strerror(errno));
    GUARD(cache_key(config, payload, payload_len, name));
    *fd = memory_find(name);
    if (*fd >= 0)
        return 0;

    uint8_t mkey[32];
    struct steep_buf so = STEEP_BUF_INIT;
    GUARD(mac_key(config->cache_dir, mkey));
    int rc = disk_load(config->cache_dir, name, mkey, &so);
    if (rc == 0) {
        rc = steep_wamr_compile(config, &info, payload, payload_len, &so);
        if (rc == 0 && disk_store(config->cache_dir, name, mkey, &so) < 0)
            log_warn("cannot cache compiled module %s: %s", name, steep_error_get());
    }
    OPENSSL_cleanse(mkey, sizeof mkey);
    if (rc >= 0)
        rc = sealed_copy(&so, fd);
    steep_buf_free(&so);
    if (rc == 0)
        memory_add(name, *fd);
    return rc < 0 ? -1 : 0;
}
