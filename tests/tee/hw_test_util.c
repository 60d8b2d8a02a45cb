/* Helpers for the hardware-evidence tests; see hw_test_util.h. */
#include "hw_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "hw test set-up: %s: %s\n", what, detail);
    abort();
}

const char *hw_fixture(const char *rel, char *out, size_t size)
{
    const char *shared = getenv("STEEP_SHARED_DIR");
    snprintf(out, size, "%s/fixtures/hw-attestation/%s", shared ? shared : "../shared", rel);
    return out;
}

uint8_t *hw_read(const char *path, size_t *len)
{
    struct steep_buf b = STEEP_BUF_INIT;
    if (steep_read_file(path, 1 << 22, &b) < 0)
        die(path, steep_error_get());
    return steep_buf_detach(&b, len);
}

json_t *hw_expected(void)
{
    static json_t *root;
    if (!root) {
        char path[1024];
        json_error_t err;
        root = json_load_file(hw_fixture("expected.json", path, sizeof(path)), 0, &err);
        if (!root)
            die("expected.json", err.text);
    }
    return root;
}

json_t *hw_vector(const char *name)
{
    json_t *v = json_object_get(json_object_get(hw_expected(), "vectors"), name);
    if (!v)
        die("no vector", name);
    return v;
}

const char *hw_vector_string(const char *name, const char *key)
{
    const char *s = json_string_value(json_object_get(hw_vector(name), key));
    if (!s)
        die(name, key);
    return s;
}

time_t hw_time(const char *text)
{
    struct tm tm = {0};
    if (!text || !strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm))
        die("bad time", text ? text : "(null)");
    return timegm(&tm);
}

time_t hw_pinned(const char *name)
{
    return hw_time(hw_vector_string(name, "pinned_time"));
}

uint8_t *hw_evidence(const char *name, size_t *len)
{
    char rel[256], path[1024];
    const char *file = json_string_value(json_object_get(hw_vector(name), "file"));
    snprintf(rel, sizeof(rel), "%s", file ? file : "");
    if (!file)
        die(name, "no evidence file");
    return hw_read(hw_fixture(rel, path, sizeof(path)), len);
}

void hw_collateral(const char *name, struct steep_hw_collateral *out)
{
    char path[1024];
    if (steep_hw_collateral_load_dir(hw_fixture(name, path, sizeof(path)), out) < 0)
        die(name, steep_error_get());
}

int hw_verify(const uint8_t *evidence, size_t len, const struct steep_hw_collateral *c, time_t now,
              struct steep_hw_report *out)
{
    steep_error_clear();
    return steep_hw_verify(evidence, len, c, NULL, now, out);
}
