/*
 * builtin-face-detection (Teaclave's function/src/face_detection.rs): the
 * JPEG travels inside the arguments as "image", an array of byte values;
 * the optional detector settings are applied as rustface's setters apply
 * them (the slide-window step only when both steps are given; window_size
 * and min_face_size are validated but, as in rustface, do not change the
 * detection); the result is serde_json of Vec<FaceInfo>:
 * [{"bbox":{"x","y","width","height"},"roll","pitch","yaw","score"}].
 *
 * The model is not part of the task: the execution node hands the file
 * configured as [execution] face_model to the runner as the resource
 * "face_model" (functions/function.h). Where rustface panics on a bad
 * setting, the task fails with the setting and its allowed range.
 */
#include "functions/face_detection.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "crypto/stream.h"
#include "functions/args.h"
#include "functions/builtins.h"
#include "functions/float_format.h"

#define MODEL_MAX  (64u << 20)
#define MAX_PIXELS (40u * 1000 * 1000)
#define MIN_WINDOW 20

static int read_model(struct steep_fn_io *io, struct steep_buf *bytes)
{
    struct steep_reader *r =
        io && io->open_resource ? io->open_resource(io->ctx, "face_model") : NULL;
    if (!r) {
        if (!io || !io->open_resource)
            steep_error_set("face detection: no face model on this node "
                            "(set [execution] face_model)");
        return -1;
    }
    uint8_t chunk[65536];
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = steep_reader_read(r, chunk, sizeof chunk)) != 0) {
        if (n < 0)
            rc = steep_error_wrap("face detection: reading the face model");
        else if (bytes->len + (size_t)n > MODEL_MAX)
            rc = steep_error_set("face detection: the face model is larger than %u MiB",
                                 MODEL_MAX >> 20);
        else
            rc = steep_buf_append(bytes, chunk, (size_t)n);
    }
    steep_reader_close(r);
    return rc;
}

static int read_image(const json_t *args, struct steep_buf *jpeg)
{
    const json_t *image = json_object_get(args, "image");
    ENSURE(json_is_array(image), STEEP_ARGS_ERROR ": image must be an array of bytes");
    size_t n = json_array_size(image);
    GUARD(steep_buf_reserve(jpeg, n));
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(image, i);
        ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255,
               STEEP_ARGS_ERROR ": image[%zu] is not a byte (0..255)", i);
        jpeg->data[jpeg->len++] = (uint8_t)json_integer_value(v);
    }
    return 0;
}

/* Option<u32>: 0 when absent or null, 1 with *out set, -1 on a bad type. */
static int optional_u32(const json_t *args, const char *key, uint32_t *out)
{
    const json_t *v = json_object_get(args, key);
    if (!v || json_is_null(v))
        return 0;
    ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 &&
               json_integer_value(v) <= (json_int_t)UINT32_MAX,
           STEEP_ARGS_ERROR ": %s must be an integer in 0..4294967295", key);
    *out = (uint32_t)json_integer_value(v);
    return 1;
}

static int optional_number(const json_t *args, const char *key, double *out)
{
    const json_t *v = json_object_get(args, key);
    if (!v || json_is_null(v))
        return 0;
    ENSURE(json_is_number(v), STEEP_ARGS_ERROR ": %s must be a number", key);
    *out = json_number_value(v);
    return 1;
}

static int read_params(const json_t *args, struct steep_face_params *params)
{
    uint32_t value, step_x = 0, step_y = 0;
    double number;
    int rc, has_x, has_y;
    steep_face_params_default(params);
    GUARD(rc = optional_u32(args, "window_size", &value));
    ENSURE(!rc || value >= MIN_WINDOW, "face detection: window_size %u is below %d", value,
           MIN_WINDOW);
    GUARD(has_x = optional_u32(args, "slide_window_step_x", &step_x));
    GUARD(has_y = optional_u32(args, "slide_window_step_y", &step_y));
    if (has_x && has_y) {
        ENSURE(step_x > 0, "face detection: slide_window_step_x must be positive");
        ENSURE(step_y > 0, "face detection: slide_window_step_y must be positive");
        params->step_x = step_x;
        params->step_y = step_y;
    }
    GUARD(rc = optional_u32(args, "min_face_size", &value));
    ENSURE(!rc || value >= MIN_WINDOW, "face detection: min_face_size %u is below %d", value,
           MIN_WINDOW);
    GUARD(rc = optional_u32(args, "max_face_size", &value));
    if (rc)
        params->max_face_size = (int32_t)value; /* rustface: max_face_size as i32 */
    GUARD(rc = optional_number(args, "pyramid_scale_factor", &number));
    if (rc) {
        float factor = (float)number;
        ENSURE(!(factor < 0.01f || factor > 0.99f),
               "face detection: pyramid_scale_factor %g is outside 0.01..0.99", number);
        params->pyramid_scale_factor = factor;
    }
    GUARD(rc = optional_number(args, "score_thresh", &number));
    if (rc) {
        ENSURE(number > 0.0, "face detection: score_thresh %g must be positive", number);
        params->score_thresh = number;
    }
    return 0;
}

static int format_faces(const struct steep_face_list *faces, struct steep_buf *out)
{
    GUARD(steep_buf_append(out, "[", 1));
    for (size_t i = 0; i < faces->count; i++) {
        const struct steep_face *f = &faces->items[i];
        GUARD(steep_buf_printf(out,
                               "%s{\"bbox\":{\"x\":%d,\"y\":%d,\"width\":%u,\"height\":%u},"
                               "\"roll\":0.0,\"pitch\":0.0,\"yaw\":0.0,\"score\":",
                               i ? "," : "", f->x, f->y, f->width, f->height));
        GUARD(steep_format_f64_json(out, f->score));
        GUARD(steep_buf_append(out, "}", 1));
    }
    return steep_buf_append(out, "]", 1);
}

static int run(const json_t *args, struct steep_fn_io *io, struct steep_buf *summary)
{
    struct steep_face_params params;
    struct steep_buf jpeg = STEEP_BUF_INIT, model_bytes = STEEP_BUF_INIT;
    struct steep_face_model model = {0};
    struct steep_face_image image = {0};
    struct steep_face_list faces = {0};
    int rc = 0;
    GUARD_GOTO(read_image(args, &jpeg), out);
    GUARD_GOTO(read_params(args, &params), out);
    GUARD_GOTO(steep_face_decode_jpeg(jpeg.data, jpeg.len, MAX_PIXELS, &image), out);
    steep_buf_free(&jpeg); /* the pixels are kept, not the file */
    GUARD_GOTO(read_model(io, &model_bytes), out);
    GUARD_GOTO(steep_face_model_parse(model_bytes.data, model_bytes.len, &model), out);
    steep_buf_free(&model_bytes);
    GUARD_GOTO(steep_face_detect(&model, &params, &image, &faces), out);
    rc = format_faces(&faces, summary);
out:
    steep_buf_free(&jpeg);
    steep_buf_free(&model_bytes);
    steep_face_list_free(&faces);
    steep_face_image_free(&image);
    steep_face_model_free(&model);
    return rc;
}

STEEP_FN(steep_fn_face_detection)
{
    json_t *args;
    GUARD(steep_args_parse(args_json, &args));
    int rc = run(args, io, summary);
    json_decref(args);
    return rc;
}
