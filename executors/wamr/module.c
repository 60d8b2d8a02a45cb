/* Decoding the parts of a wasm binary the node checks; see module.h. */
#include "module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

#define MAX_TYPES 100000
#define MAX_SIG   64 /* longer signatures are never ones we provide */

struct import_spec {
    const char *module, *name, *params, *results;
};

static const struct import_spec provided[] = {
#define IMPORT(m, n, p, r) {#m, #n, p, r},
#include "imports.def"
#undef IMPORT
};

struct func_type {
    char params[MAX_SIG + 1];
    char results[MAX_SIG + 1];
};

struct decoder {
    struct func_type *types;
    uint32_t n_types;
    uint32_t n_imported_funcs;
    uint32_t *func_types; /* type index of each function, imported first */
    uint32_t n_funcs;
    struct steep_wamr_module_info *info;
};

static int invalid(const char *what)
{
    return steep_error_set("invalid WebAssembly module: %s", what);
}

static int read_leb_u32(struct steep_cursor *c, uint32_t *out)
{
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        uint8_t byte;
        if (steep_cursor_read_u8(c, &byte) < 0)
            return invalid("truncated integer");
        if (shift == 28 && (byte & 0x70) != 0)
            return invalid("integer too large");
        value |= (uint32_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 0;
        }
    }
    return invalid("integer too long");
}

/* A name: checked for what would break out of a C comment. */
static int read_name(struct steep_cursor *c, char *out, size_t size)
{
    uint32_t len;
    const uint8_t *bytes;
    GUARD(read_leb_u32(c, &len));
    if (steep_cursor_read_span(c, &bytes, len) < 0)
        return invalid("truncated name");
    for (uint32_t i = 0; i < len; i++) {
        if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            return invalid("a name contains a control character");
        if (bytes[i] == '*' && i + 1 < len && bytes[i + 1] == '/')
            return invalid("a name contains \"*/\"");
    }
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(out, bytes, n);
    out[n] = 0;
    return 0;
}

static char type_letter(uint8_t code)
{
    switch (code) {
    case 0x7f:
        return 'i';
    case 0x7e:
        return 'I';
    case 0x7d:
        return 'f';
    case 0x7c:
        return 'F';
    default:
        return '?'; /* v128, references: never in a provided signature */
    }
}

static int read_types(struct steep_cursor *c, char *out)
{
    uint32_t n;
    GUARD(read_leb_u32(c, &n));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t code;
        if (steep_cursor_read_u8(c, &code) < 0)
            return invalid("truncated type");
        if (i < MAX_SIG)
            out[i] = type_letter(code);
        else
            out[MAX_SIG - 1] = '?';
    }
    out[n < MAX_SIG ? n : MAX_SIG] = 0;
    return 0;
}

static int type_section(struct decoder *d, struct steep_cursor *c)
{
    uint32_t n;
    GUARD(read_leb_u32(c, &n));
    ENSURE(n <= MAX_TYPES && n <= steep_cursor_remaining(c),
           "invalid WebAssembly module: too many types");
    d->types = calloc(n + 1, sizeof *d->types);
    ENSURE(d->types, "out of memory");
    d->n_types = n;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        if (steep_cursor_read_u8(c, &form) < 0 || form != 0x60)
            return invalid("malformed function type");
        GUARD(read_types(c, d->types[i].params));
        GUARD(read_types(c, d->types[i].results));
    }
    return 0;
}

static void describe(const char *letters, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (const char *p = letters; *p && used + 8 < size; p++) {
        const char *name = *p == 'i'   ? "i32"
                           : *p == 'I' ? "i64"
                           : *p == 'f' ? "f32"
                           : *p == 'F' ? "f64"
                                       : "?";
        used += (size_t)snprintf(out + used, size - used, "%s%s", p == letters ? "" : ", ", name);
    }
}

static int add_func(struct decoder *d, uint32_t type_index)
{
    ENSURE(type_index < d->n_types, "invalid WebAssembly module: function type index out of range");
    uint32_t *grown = realloc(d->func_types, (d->n_funcs + 1) * sizeof *grown);
    ENSURE(grown, "out of memory");
    d->func_types = grown;
    d->func_types[d->n_funcs++] = type_index;
    return 0;
}

static int check_import(struct decoder *d, const char *module, const char *name,
                        uint32_t type_index)
{
    ENSURE(type_index < d->n_types, "invalid WebAssembly module: import type index out of range");
    const struct func_type *type = &d->types[type_index];
    for (size_t i = 0; i < sizeof provided / sizeof provided[0]; i++) {
        const struct import_spec *spec = &provided[i];
        if (strcmp(spec->module, module) != 0 || strcmp(spec->name, name) != 0)
            continue;
        if (strcmp(spec->params, type->params) != 0 || strcmp(spec->results, type->results) != 0) {
            char got_p[128], got_r[64], want_p[128], want_r[64];
            describe(type->params, got_p, sizeof got_p);
            describe(type->results, got_r, sizeof got_r);
            describe(spec->params, want_p, sizeof want_p);
            describe(spec->results, want_r, sizeof want_r);
            return steep_error_set("import %s.%s has type (%s) -> (%s); the executor provides (%s) "
                                   "-> (%s)",
                                   module, name, got_p, got_r, want_p, want_r);
        }
        if (strcmp(module, "env") == 0)
            d->info->imports_env = true;
        else
            d->info->imports_wasi = true;
        return 0;
    }
    return steep_error_set("unknown import %s.%s (the executor provides Teaclave's env.teaclave_* "
                           "functions and WASI preview 1)",
                           module, name);
}

static int import_section(struct decoder *d, struct steep_cursor *c)
{
    uint32_t n;
    GUARD(read_leb_u32(c, &n));
    for (uint32_t i = 0; i < n; i++) {
        char module[256], name[256];
        uint8_t kind;
        GUARD(read_name(c, module, sizeof module));
        GUARD(read_name(c, name, sizeof name));
        if (steep_cursor_read_u8(c, &kind) < 0)
            return invalid("truncated import");
        if (kind != 0)
            return steep_error_set("unknown import %s.%s (only functions can be imported)", module,
                                   name);
        uint32_t type_index;
        GUARD(read_leb_u32(c, &type_index));
        GUARD(check_import(d, module, name, type_index));
        GUARD(add_func(d, type_index));
        d->n_imported_funcs++;
    }
    return 0;
}

static int function_section(struct decoder *d, struct steep_cursor *c)
{
    uint32_t n;
    GUARD(read_leb_u32(c, &n));
    ENSURE(n <= steep_cursor_remaining(c), "invalid WebAssembly module: too many functions");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t type_index;
        GUARD(read_leb_u32(c, &type_index));
        GUARD(add_func(d, type_index));
    }
    return 0;
}

static int export_section(struct decoder *d, struct steep_cursor *c)
{
    uint32_t n;
    GUARD(read_leb_u32(c, &n));
    for (uint32_t i = 0; i < n; i++) {
        char name[256];
        uint8_t kind;
        uint32_t index;
        GUARD(read_name(c, name, sizeof name));
        if (steep_cursor_read_u8(c, &kind) < 0)
            return invalid("truncated export");
        GUARD(read_leb_u32(c, &index));
        if (kind != 0)
            continue;
        ENSURE(index < d->n_funcs, "invalid WebAssembly module: export of an unknown function");
        const struct func_type *type = &d->types[d->func_types[index]];
        if (strcmp(name, "entrypoint") == 0) {
            ENSURE(strcmp(type->params, "ii") == 0 && strcmp(type->results, "i") == 0,
                   "the exported entrypoint must be int entrypoint(int argc, char **argv)");
            d->info->has_entrypoint = true;
        } else if (strcmp(name, "_start") == 0) {
            ENSURE(type->params[0] == 0 && type->results[0] == 0,
                   "the exported _start must take and return nothing");
            d->info->has_start = true;
        }
    }
    return 0;
}

static int decode(struct decoder *d, const uint8_t *wasm, size_t len)
{
    struct steep_cursor c = steep_cursor_make(wasm, len);
    uint32_t magic, version;
    if (steep_cursor_read_u32le(&c, &magic) < 0 || magic != 0x6d736100)
        return invalid("not a WebAssembly binary (bad magic number)");
    if (steep_cursor_read_u32le(&c, &version) < 0 || version != 1)
        return invalid("unsupported binary version");
    uint32_t seen = 0;
    while (steep_cursor_remaining(&c) > 0) {
        uint8_t id;
        uint32_t size;
        struct steep_cursor section;
        GUARD(steep_cursor_read_u8(&c, &id));
        GUARD(read_leb_u32(&c, &size));
        if (steep_cursor_read_sub(&c, &section, size) < 0)
            return invalid("section extends past the end of the module");
        if (id != 0 && id < 32) {
            if (seen & (1u << id))
                return invalid("a section appears twice");
            seen |= 1u << id;
        }
        switch (id) {
        case 1:
            GUARD(type_section(d, &section));
            break;
        case 2:
            GUARD(import_section(d, &section));
            break;
        case 3:
            GUARD(function_section(d, &section));
            break;
        case 7:
            GUARD(export_section(d, &section));
            break;
        default:
            break; /* the rest is wasm2c's to validate */
        }
    }
    ENSURE(d->info->has_entrypoint || d->info->has_start,
           "the module exports neither entrypoint(argc, argv) nor a WASI _start");
    return 0;
}

int steep_wamr_module_check(const uint8_t *wasm, size_t len, struct steep_wamr_module_info *info)
{
    struct decoder d = {.info = info};
    memset(info, 0, sizeof *info);
    int rc = decode(&d, wasm, len);
    free(d.types);
    free(d.func_types);
    return rc;
}
