/*
 * A fake configfs-tsm tree that behaves like the kernel's (shared by the
 * back-end and attestation-authority tests): a "kernel" thread watches the
 * entry (inotify); when inblob is written it makes outblob (the fixture
 * quote or report with the written report data in place: writing the
 * fixture's own report data leaves the real evidence intact) and auxblob,
 * then bumps generation, twice while `races` is positive.
 */
#ifndef STEEP_TESTS_FAKE_TSM_H
#define STEEP_TESTS_FAKE_TSM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake {
    char root[256], entry[320];
    const char *provider;
    uint8_t *template_bytes;
    size_t template_len;
    size_t report_data_offset;
    int races;           /* inblob writes to answer with a double bump */
    uint8_t last_in[64]; /* the last report data written */
    bool stale;          /* Gramine: answer with the template unchanged */
    int inotify_fd;
    pthread_t thread;
    volatile bool stop;
    const uint8_t *aux; /* auxblob to hand out; NULL: "certificate table" */
    size_t aux_len;
    /* When set (after fake_tsm_start, before the first write), outblob is
     * made by make(make_arg, report data) instead (e.g. hw_synth_quote:
     * evidence signed through a test chain); malloc'ed, freed here. */
    uint8_t *(*make)(void *arg, const uint8_t report_data[64], size_t *len);
    void *make_arg;
};

void put_file(const char *dir, const char *name, const void *data, size_t len);
uint64_t read_number(const char *dir, const char *name);
void put_number(const char *dir, const char *name, uint64_t v);
void fake_tsm_start(struct fake *f, const char *name, const char *provider, const char *vector,
                    size_t report_data_offset);
void fake_stop(struct fake *f);

#endif
