/*
 * The hardware evidence back-ends against fake trees that behave like the
 * kernel's configfs-tsm and Gramine's /dev/attestation:
 *  - configfs-tsm: a "kernel" thread watches the entry (inotify); when
 *    inblob is written it makes outblob (the real TDX quote or SNP report of
 *    the fixtures with the written report data in place) and auxblob, then
 *    bumps generation, as the kernel does per write. In race mode it bumps
 *    generation twice, as when another process writes the same entry.
 *  - Gramine: quote is a FIFO, so reading it waits for the "library OS"
 *    thread, which answers the user_report_data just written with the real
 *    SGX quote carrying that report data.
 * Checked: the report data written is the one asked for; the evidence read
 * is of the right kind and carries it; a provider of the wrong kind, an
 * attestation type that is not dcap, a quote for other report data and a
 * generation race are each refused with their reason; one race is retried.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "hw_test_util.h"
#include "fake_tsm.h"
#include "tee/hw/backend.h"

static void report_data_for(uint8_t out[64], uint8_t seed)
{
    for (int i = 0; i < 64; i++)
        out[i] = (uint8_t)(seed + i * 7);
}

static void test_tsm_tdx_and_snp(void **state)
{
    (void)state;
    const struct {
        const char *backend, *provider, *vector;
        size_t offset;
        enum steep_hw_kind kind;
    } cases[] = {
        {"tdx", "tdx_guest", "tdx_v4_dcapqvl", 568, STEEP_HW_TDX},
        {"snp", "sev_guest", "snp_milan_virtee", 0x50, STEEP_HW_SNP},
    };
    for (size_t i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof(name), "steep-%ld", (long)getpid());
        struct fake f;
        fake_tsm_start(&f, name, cases[i].provider, cases[i].vector, cases[i].offset);
        struct steep_tee_hw_options options = {.backend = cases[i].backend, .root = f.root};
        struct steep_tee *tee = steep_tee_open_hw(&options);
        assert_non_null(tee);
        assert_string_equal(steep_tee_backend_name(tee), cases[i].backend);
        uint8_t rd[64];
        report_data_for(rd, (uint8_t)(i + 1));
        struct steep_tee_evidence evidence;
        if (steep_tee_evidence(tee, rd, &evidence) != 0)
            fail_msg("%s: %s", cases[i].backend, steep_error_get());
        assert_memory_equal(f.last_in, rd, 64); /* the report data written */
        assert_int_equal(steep_hw_detect(evidence.hardware.data, evidence.hardware.len),
                         cases[i].kind);
        assert_true(evidence.hardware.len > cases[i].offset + 64);
        assert_memory_equal(evidence.hardware.data + cases[i].offset, rd, 64);
        assert_int_equal(evidence.hardware_aux.len, 17);
        assert_int_equal(read_number(f.entry, "generation"), 1);
        steep_tee_evidence_free(&evidence);

        /* Sealing is refused: no sealing primitive in these guests. */
        uint8_t key[32];
        assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_SIGNER, "db", key), -1);
        assert_non_null(strstr(steep_error_get(), "no sealing key"));
        struct steep_tee_identity id;
        assert_int_equal(steep_tee_measure(tee, &id), 0);
        steep_tee_free(tee);
        fake_stop(&f);
    }
}

static void test_tsm_generation_race(void **state)
{
    (void)state;
    struct fake f;
    fake_tsm_start(&f, "entry", "tdx_guest", "tdx_v4_dcapqvl", 568);
    uint8_t rd[64];
    report_data_for(rd, 9);
    struct steep_tsm_report r;
    /* One interfering write: detected, retried, then our own report. */
    __atomic_store_n(&f.races, 1, __ATOMIC_SEQ_CST);
    if (steep_tsm_get_report(f.root, "entry", rd, &r) != 0)
        fail_msg("one race: %s", steep_error_get());
    assert_memory_equal(r.outblob.data + 568, rd, 64);
    assert_int_equal(read_number(f.entry, "generation"), 3); /* 2 (the race) + 1 (ours) */
    steep_tsm_report_free(&r);
    /* Interference on every attempt: refused, naming it. */
    __atomic_store_n(&f.races, STEEP_TSM_ATTEMPTS, __ATOMIC_SEQ_CST);
    steep_error_clear();
    assert_int_equal(steep_tsm_get_report(f.root, "entry", rd, &r), -1);
    assert_non_null(strstr(steep_error_get(), "another writer is using entry entry"));
    /* The wrong provider for the back-end. */
    fake_stop(&f);
    char name[64];
    snprintf(name, sizeof(name), "steep-%ld", (long)getpid());
    fake_tsm_start(&f, name, "sev_guest", "tdx_v4_dcapqvl", 568);
    struct steep_tee_hw_options options = {.backend = "tdx", .root = f.root};
    struct steep_tee *tee = steep_tee_open_hw(&options);
    struct steep_tee_evidence evidence;
    assert_int_equal(steep_tee_evidence(tee, rd, &evidence), -1);
    assert_non_null(strstr(steep_error_get(), "provider is 'sev_guest'"));
    steep_tee_free(tee);
    fake_stop(&f);
    /* No configfs at all. */
    assert_int_equal(steep_tsm_get_report("/nonexistent/tsm/report", "x", rd, &r), -1);
    assert_non_null(strstr(steep_error_get(), "cannot create"));
}

/* ---- Gramine ---- */

/* The "library OS": after each write of user_report_data, one quote. */
static void *gramine_los(void *arg)
{
    struct fake *f = arg;
    char path[512], buf[4096] __attribute__((aligned(8)));
    snprintf(path, sizeof(path), "%s/quote", f->root);
    while (!f->stop) {
        ssize_t n = read(f->inotify_fd, buf, sizeof(buf));
        bool asked = false;
        for (ssize_t i = 0; n > 0 && i < n;) {
            struct inotify_event *e = (struct inotify_event *)(buf + i);
            i += (ssize_t)(sizeof(*e) + e->len);
            asked |= (e->mask & IN_CLOSE_WRITE) && strcmp(e->name, "user_report_data") == 0;
        }
        if (!asked || f->stop)
            continue;
        char in[512];
        snprintf(in, sizeof(in), "%s/user_report_data", f->root);
        int rfd = open(in, O_RDONLY);
        if (rfd < 0 || read(rfd, f->last_in, 64) != 64)
            abort();
        close(rfd);
        int fd = open(path, O_WRONLY); /* waits for the reader */
        if (fd < 0)
            break;
        uint8_t *out = malloc(f->template_len);
        memcpy(out, f->template_bytes, f->template_len);
        if (!f->stale)
            memcpy(out + f->report_data_offset, f->last_in, 64);
        if (write(fd, out, f->template_len) != (ssize_t)f->template_len)
            abort();
        free(out);
        close(fd);
    }
    return NULL;
}

static void fake_gramine_start(struct fake *f, const char *type)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/steep-gramine-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->entry, sizeof(f->entry), "%s", f->root);
    put_file(f->root, "attestation_type", type, strlen(type));
    put_file(f->root, "user_report_data", "", 0);
    char keys[400];
    snprintf(keys, sizeof(keys), "%s/keys", f->root);
    assert_int_equal(mkdir(keys, 0700), 0);
    put_file(keys, "_sgx_mrsigner", "0123456789abcdef", 16);
    put_file(keys, "_sgx_mrenclave", "fedcba9876543210", 16);
    char quote[400];
    snprintf(quote, sizeof(quote), "%s/quote", f->root);
    assert_int_equal(mkfifo(quote, 0600), 0);
    f->template_bytes = hw_evidence("sgx_v3_dcapqvl", &f->template_len);
    f->report_data_offset = 368;
    f->inotify_fd = inotify_init1(IN_CLOEXEC);
    assert_true(f->inotify_fd >= 0);
    assert_true(inotify_add_watch(f->inotify_fd, f->root, IN_CLOSE_WRITE) >= 0);
    assert_int_equal(pthread_create(&f->thread, NULL, gramine_los, f), 0);
}

static void fake_gramine_stop(struct fake *f)
{
    f->stop = true;
    put_file(f->root, "wake", "", 0); /* an event the thread sees, then stops */
    pthread_join(f->thread, NULL);
    close(f->inotify_fd);
    free(f->template_bytes);
    char command[600];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->root);
    assert_int_equal(system(command), 0);
}

static void test_gramine(void **state)
{
    (void)state;
    struct fake f;
    fake_gramine_start(&f, "dcap\n");
    struct steep_tee_hw_options options = {.backend = "sgx", .root = f.root};
    struct steep_tee *tee = steep_tee_open_hw(&options);
    assert_non_null(tee);
    uint8_t rd[64];
    report_data_for(rd, 3);
    struct steep_tee_evidence evidence;
    if (steep_tee_evidence(tee, rd, &evidence) != 0)
        fail_msg("gramine: %s", steep_error_get());
    assert_memory_equal(f.last_in, rd, 64);
    assert_int_equal(steep_hw_detect(evidence.hardware.data, evidence.hardware.len), STEEP_HW_SGX);
    assert_memory_equal(evidence.hardware.data + 368, rd, 64);
    steep_tee_evidence_free(&evidence);
    /* Identity from the quote: MRENCLAVE / MRSIGNER as they are. */
    struct steep_tee_identity id;
    assert_int_equal(steep_tee_measure(tee, &id), 0);
    assert_memory_equal(id.mr_enclave, f.template_bytes + 112, 32);
    assert_memory_equal(id.mr_signer, f.template_bytes + 176, 32);
    /* Sealing keys: per policy and label, stable. */
    uint8_t a[32], b[32], c[32];
    assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_SIGNER, "db", a), 0);
    assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_SIGNER, "db", b), 0);
    assert_int_equal(steep_tee_seal_key(tee, STEEP_TEE_SEAL_MEASUREMENT, "db", c), 0);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    struct steep_buf sealed = STEEP_BUF_INIT, opened = STEEP_BUF_INIT;
    assert_int_equal(steep_tee_seal(tee, STEEP_TEE_SEAL_SIGNER, "db", "secret", 6, &sealed), 0);
    assert_int_equal(steep_tee_unseal(tee, "db", sealed.data, sealed.len, &opened), 0);
    assert_int_equal(opened.len, 6);
    steep_buf_free(&sealed);
    steep_buf_free(&opened);
    /* A quote for other report data (stale): refused. */
    f.stale = true;
    assert_int_equal(steep_tee_evidence(tee, rd, &evidence), -1);
    assert_non_null(strstr(steep_error_get(), "for other report data"));
    steep_tee_free(tee);
    fake_gramine_stop(&f);

    fake_gramine_start(&f, "epid\n");
    options.root = f.root;
    tee = steep_tee_open_hw(&options);
    assert_int_equal(steep_tee_evidence(tee, rd, &evidence), -1);
    assert_non_null(strstr(steep_error_get(), "not \"dcap\""));
    steep_tee_free(tee);
    fake_gramine_stop(&f);
    assert_null(steep_tee_open_hw(&(struct steep_tee_hw_options){.backend = "sev"}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsm_tdx_and_snp),
        cmocka_unit_test(test_tsm_generation_race),
        cmocka_unit_test(test_gramine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
