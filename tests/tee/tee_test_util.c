/*
 * Test fixture for lib/tee: one SIMULATED authority per test process (RSA
 * key generation is the slow part), an EC platform key (mr_signer only
 * hashes its SPKI, so any key type does) and a master sealing key.
 */
#include "tee_test_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "tee/keys.h"

static void die(const char *what)
{
    fprintf(stderr, "test fixture: %s: %s\n", what, steep_error_get());
    abort();
}

const char tee_fixture_endpoints[] =
    "[api_endpoints]\n"
    "authentication = { listen_address = \"127.0.0.1:7776\" }\n"
    "frontend = { listen_address = \"127.0.0.1:7777\" }\n"
    "[internal_endpoints]\n"
    "authentication = { listen_address = \"127.0.0.1:17776\", advertised_address = "
    "\"https://localhost:17776\" }\n"
    "management = { listen_address = \"127.0.0.1:17777\", advertised_address = "
    "\"https://localhost:17777\" }\n"
    "storage = { listen_address = \"127.0.0.1:17778\", advertised_address = "
    "\"https://localhost:17778\" }\n"
    "access_control = { listen_address = \"127.0.0.1:17779\", advertised_address = "
    "\"https://localhost:17779\" }\n"
    "execution = { listen_address = \"127.0.0.1:17770\", advertised_address = "
    "\"https://localhost:17770\" }\n"
    "scheduler = { listen_address = \"127.0.0.1:17780\", advertised_address = "
    "\"https://localhost:17780\" }\n";

const char *tee_fixture_path(const struct tee_fixture *fixture, const char *name, char *out,
                             size_t size)
{
    snprintf(out, size, "%s/%s", fixture->dir, name);
    return out;
}

void tee_fixture_init(struct tee_fixture *fixture)
{
    memset(fixture, 0, sizeof(*fixture));
    snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/steep-tee-test-XXXXXX");
    if (!mkdtemp(fixture->dir))
        die("mkdtemp");
    snprintf(fixture->authority_dir, sizeof(fixture->authority_dir), "%s/authority", fixture->dir);
    if (steep_authority_init_bits(fixture->authority_dir, 2048) < 0)
        die("authority init");
    snprintf(fixture->signing_key, sizeof(fixture->signing_key), "%s/%s", fixture->authority_dir,
             STEEP_AUTHORITY_SIGNING_KEY);
    snprintf(fixture->signing_cert, sizeof(fixture->signing_cert), "%s/%s", fixture->authority_dir,
             STEEP_AUTHORITY_SIGNING_CERT);
    snprintf(fixture->root_cert, sizeof(fixture->root_cert), "%s/%s", fixture->authority_dir,
             STEEP_AUTHORITY_ROOT_CERT);
    tee_fixture_path(fixture, "platform.pub.pem", fixture->platform_pub,
                     sizeof(fixture->platform_pub));
    tee_fixture_path(fixture, "master.key", fixture->master_key, sizeof(fixture->master_key));
    EVP_PKEY *platform = steep_tee_key_generate_p256();
    if (!platform || steep_tee_key_write_public(fixture->platform_pub, platform) < 0)
        die("platform key");
    EVP_PKEY_free(platform);
    if (steep_tee_master_key_create(fixture->master_key) < 0)
        die("master key");
    fixture->authority = steep_authority_open(fixture->signing_key, fixture->signing_cert);
    fixture->roots = steep_tee_roots_load(fixture->root_cert);
    if (!fixture->authority || !fixture->roots)
        die("authority open");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void tee_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tee_fixture_free(struct tee_fixture *fixture)
{
    steep_authority_free(fixture->authority);
    X509_STORE_free(fixture->roots);
    tee_remove_tree(fixture->dir);
}

struct steep_tee *tee_fixture_open(const struct tee_fixture *fixture, const char *exe_path)
{
    struct steep_tee_sim_options options = {
        .exe_path = exe_path,
        .platform_pub_path = fixture->platform_pub,
        .master_key_path = fixture->master_key,
        .authority_key_path = fixture->signing_key,
        .authority_cert_path = fixture->signing_cert,
    };
    struct steep_tee *tee = steep_tee_open_sim(&options);
    if (!tee)
        die("open sim");
    return tee;
}

void tee_fixture_policy(const struct tee_fixture *fixture, struct steep_tee_policy *policy,
                        struct steep_tee_enclave_attr *attr, const char *name,
                        const struct steep_tee_identity *identity)
{
    memset(policy, 0, sizeof(*policy));
    memset(attr, 0, sizeof(*attr));
    snprintf(attr->name, sizeof(attr->name), "%s", name);
    memcpy(attr->mr_enclave, identity->mr_enclave, 32);
    memcpy(attr->mr_signer, identity->mr_signer, 32);
    policy->roots = fixture->roots;
    policy->accepted = attr;
    policy->n_accepted = 1;
    policy->insecure_allow_simulated_evidence = true;
}

uint8_t *tee_read_all(const char *path, size_t *len)
{
    struct steep_buf b = STEEP_BUF_INIT;
    if (steep_read_file(path, 1 << 24, &b) < 0)
        die(path);
    return steep_buf_detach(&b, len);
}

const char *tee_shared_fixture(const char *name, char *out, size_t size)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    snprintf(out, size, "%s/fixtures/teaclave/%s", shared ? shared : "../shared", name);
    return out;
}
