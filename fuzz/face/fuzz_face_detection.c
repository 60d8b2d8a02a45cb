/*
 * libFuzzer target for builtin-face-detection's untrusted input: the JPEG
 * bytes and the arguments JSON. Input: [mode byte][bytes].
 *   mode even: the bytes are a JPEG, decoded with a 1-megapixel budget and,
 *              when the SeetaFace model is found ($STEEP_SHARED_DIR or
 *              ../shared), run through the detector with coarse steps;
 *   mode odd:  the bytes are the arguments JSON of the built-in, run with
 *              the model as its "face_model" resource.
 * Every input must fail cleanly or succeed, never crash, leak or hang.
 */
#include "functions/face_detection.h"
#include "functions/function.h"

#include "core/error.h"
#include "crypto/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct steep_buf model_bytes = STEEP_BUF_INIT;
static struct steep_face_model model;
static int have_model;

static void load_model(void)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/seetaface/seeta_fd_frontal_v1.0.bin",
             shared ? shared : "../shared");
    if (steep_read_file(path, 64u << 20, &model_bytes) == 0 &&
        steep_face_model_parse(model_bytes.data, model_bytes.len, &model) == 0)
        have_model = 1;
}

static struct steep_reader *open_resource(void *ctx, const char *name)
{
    if (!have_model || strcmp(name, "face_model") != 0) {
        steep_error_set("no %s", name);
        return NULL;
    }
    return steep_memory_reader_new(model_bytes.data, model_bytes.len);
}

static void detect_jpeg(const uint8_t *data, size_t size)
{
    struct steep_face_image image;
    if (steep_face_decode_jpeg(data, size, 1u << 20, &image) < 0)
        return;
    if (have_model) {
        struct steep_face_params params;
        struct steep_face_list faces;
        steep_face_params_default(&params);
        params.step_x = params.step_y = 8;
        params.pyramid_scale_factor = 0.5f;
        if (steep_face_detect(&model, &params, &image, &faces) == 0)
            steep_face_list_free(&faces);
    }
    steep_face_image_free(&image);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int loaded;
    if (!loaded) {
        load_model();
        loaded = 1;
    }
    if (size < 1 || size > (1u << 20))
        return 0;
    if ((data[0] & 1) == 0) {
        detect_jpeg(data + 1, size - 1);
        return 0;
    }
    char *args = malloc(size);
    if (!args)
        return 0;
    memcpy(args, data + 1, size - 1);
    args[size - 1] = 0;
    struct steep_fn_io io = {.open_resource = open_resource};
    struct steep_buf summary = STEEP_BUF_INIT;
    const struct steep_builtin *fn = steep_builtin_find("builtin-face-detection");
    if (fn)
        steep_builtin_run(fn, args, &io, &summary);
    steep_buf_free(&summary);
    free(args);
    return 0;
}
