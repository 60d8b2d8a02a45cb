/*
 * The SeetaFace model parser (functions/face_detection_model.c): the real
 * seeta_fd_frontal_v1.0.bin reads as the cascade rustface builds from it
 * (3 LAB views, a 2-stage SURF-MLP group, the final 4-layer MLP), and every
 * truncation point and corrupted field fails with a message naming the
 * field and its byte offset instead of crashing or allocating what the
 * file claims.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "functions/face_detection.h"

struct model_file {
    uint8_t *data;
    size_t len;
};

static int setup(void **state)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/seetaface/seeta_fd_frontal_v1.0.bin",
             shared ? shared : "../shared");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct model_file *m = calloc(1, sizeof *m);
    fseek(f, 0, SEEK_END);
    m->len = (size_t)ftell(f);
    rewind(f);
    m->data = malloc(m->len);
    assert_int_equal(fread(m->data, 1, m->len, f), m->len);
    fclose(f);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    struct model_file *m = *state;
    free(m->data);
    free(m);
    return 0;
}

static void put_i32(uint8_t *at, int32_t v)
{
    uint32_t u = (uint32_t)v;
    at[0] = (uint8_t)u;
    at[1] = (uint8_t)(u >> 8);
    at[2] = (uint8_t)(u >> 16);
    at[3] = (uint8_t)(u >> 24);
}

static void test_real_model(void **state)
{
    struct model_file *m = *state;
    struct steep_face_model model;
    assert_int_equal(steep_face_model_parse(m->data, m->len, &model), 0);
    assert_int_equal(model.hierarchy_count, 3);
    assert_int_equal(model.hierarchy_sizes[0], 3);
    assert_int_equal(model.hierarchy_sizes[1], 1);
    assert_int_equal(model.hierarchy_sizes[2], 1);
    assert_int_equal(model.classifier_count, 6);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(model.classifiers[i].kind, STEEP_FACE_LAB);
        assert_int_equal(model.classifiers[i].lab.count, 150);
    }
    assert_int_equal(model.groups[3].stages, 2);
    assert_int_equal(model.groups[3].source_count, 3);
    const struct steep_face_mlp *last = &model.classifiers[5].mlp;
    assert_int_equal(model.classifiers[5].kind, STEEP_FACE_SURF_MLP);
    assert_int_equal(last->feature_count, 16);
    assert_int_equal(last->layer_count, 4);
    assert_int_equal(last->layers[0].input_dim, 512);
    assert_int_equal(last->layers[3].output_dim, 4);
    assert_true(last->layers[3].sigmoid && !last->layers[2].sigmoid);
    assert_true(last->thresh > 0.49f && last->thresh < 0.51f);
    assert_int_equal(steep_face_surf_pool(NULL, 0), 56);
    steep_face_model_free(&model);
}

/* Every prefix fails, with "truncated" and an offset inside the prefix. */
static void test_every_truncation(void **state)
{
    struct model_file *m = *state;
    struct steep_face_model model;
    size_t step = 4099; /* coprime with the 4-byte fields: cuts land mid-field too */
    for (size_t len = 0; len < m->len; len += len < 64 ? 1 : step) {
        assert_int_equal(steep_face_model_parse(m->data, len, &model), -1);
        const char *msg = steep_error_get();
        if (strstr(msg, "truncated at byte") == NULL) {
            fprintf(stderr, "prefix %zu: %s\n", len, msg);
            fail();
        }
        size_t at = strtoull(strstr(msg, "byte ") + 5, NULL, 10);
        assert_true(at <= len);
        assert_null(model.classifiers);
    }
}

static void expect_error(struct model_file *m, size_t offset, int32_t value, const char *text)
{
    uint8_t *copy = malloc(m->len);
    memcpy(copy, m->data, m->len);
    put_i32(copy + offset, value);
    struct steep_face_model model;
    assert_int_equal(steep_face_model_parse(copy, m->len, &model), -1);
    if (strstr(steep_error_get(), text) == NULL) {
        fprintf(stderr, "offset %zu value %d: got \"%s\", wanted \"%s\"\n", offset, value,
                steep_error_get(), text);
        fail();
    }
    free(copy);
}

/* Offsets of the first classifier: hierarchy count 0, first hierarchy size
 * 4, stage count 8, kind 12, LAB count 16, bins 20, first (x, y) at 24. */
static void test_corrupt_fields(void **state)
{
    struct model_file *m = *state;
    expect_error(m, 0, 0, "hierarchy count 0 at byte 0 is outside 1..1024");
    expect_error(m, 0, -7, "hierarchy count -7 at byte 0");
    expect_error(m, 0, 1000, "truncated"); /* claims more hierarchies than the bytes hold */
    expect_error(m, 4, 0x7fffffff, "hierarchy size 2147483647 at byte 4 is outside 1..1024");
    expect_error(m, 8, 0, "stage count 0 at byte 8");
    expect_error(m, 12, 7, "unknown classifier kind 7 at byte 12");
    expect_error(m, 16, 155, "LAB base classifier count 155 at byte 16 is not a multiple of 10");
    expect_error(m, 16, 0x7ffffff0, "truncated at byte 16 (LAB base classifier count");
    expect_error(m, 20, 100, "LAB bin count 100 at byte 20 is outside 255..");
    expect_error(m, 24, 32, "LAB feature (32,");
    expect_error(m, 28, -1, "is outside the 40-pixel window");
    /* The first hierarchy must be single LAB stages: make group 0 a SURF one. */
    expect_error(m, 12, 1, "SURF-MLP layer count");
}

/* Trailing bytes are refused (a concatenated or padded file). */
static void test_trailing_bytes(void **state)
{
    struct model_file *m = *state;
    uint8_t *copy = malloc(m->len + 3);
    memcpy(copy, m->data, m->len);
    memset(copy + m->len, 0, 3);
    struct steep_face_model model;
    assert_int_equal(steep_face_model_parse(copy, m->len + 3, &model), -1);
    assert_non_null(strstr(steep_error_get(), "3 bytes after the last hierarchy"));
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
