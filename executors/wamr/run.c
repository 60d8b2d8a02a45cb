/*
 * Runner side of the WebAssembly executor: load the compiled module,
 * instantiate it, call it, turn traps into failures (wamr.h).
 *
 * Before confinement (steep_wamr_runner_load): the module arrives as the
 * sealed memfd of the STEEP_WAMR_MODULE_RESOURCE resource; it is
 * dlopened through /proc/self/fd (the last path the runner opens), its
 * glue symbols are looked up, wasm-rt is initialised (its SIGSEGV handler
 * is replaced by the runner's own when the runner confines itself: with
 * explicit bounds checks a SIGSEGV is a crash, never a wasm trap), and the
 * module's stack is mapped. Nothing of the module runs yet.
 *
 * Confined (steep_wamr_runner_run): on its own 64 MiB stack (20000 wasm
 * frames of up to ~3 KiB each; the call-depth check traps before it runs
 * out), inside wasm-rt's setjmp: init_module, instantiate (data segments,
 * the start function), then entrypoint(argc, argv) with the argv strings
 * and their offset array copied into fresh pages grown at the end of
 * linear memory, or WASI _start. A trap fails the task naming the trap.
 *
 * Linear memory (the --wrap'd wasm_rt_*_memory below): one reservation of
 * the module's maximum, at most the configured cap, made PROT_NONE and
 * opened page by page as the module grows; memory.grow beyond the cap
 * returns -1 as the spec says. The reservation counts against the task's
 * RLIMIT_AS, so the memory limit of the task bounds it too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <jansson.h>

#include "core/error.h"
#include "runtime.h"
#include "wamr.h"
#include "wamr_run.h"

#define PAGE        65536u
#define STACK_BYTES (64u << 20)
#define EXIT_CODE   0x1000 /* longjmp value of proc_exit, beyond trap codes */

/* wasm-rt's trap target (Debian's library) and our depth counter (the
 * library was built without one; see wamr.h). */
extern jmp_buf wasm_rt_jmp_buf;
uint32_t wasm_rt_call_stack_depth;

struct steep_wamr_state steep_wamr;

static struct {
    void *handle;
    size_t (*instance_size)(void);
    void (*init)(void);
    void (*instantiate)(void *);
    uint32_t (*entrypoint)(void *, uint32_t, uint32_t);
    void (*start)(void *);
    const uint32_t *max_pages;
    uint8_t *stack;
    bool loaded;
} module;

static struct {
    void *instance;
    uint32_t argv;
    int trap;
    uint32_t result;
    bool memory_refused;
    uint32_t wanted_pages;
    char error[256];
} call;

static ucontext_t runner_context, module_context;

/* ---- linear memory ------------------------------------------------------ */

void __wrap_wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial, uint32_t max);
uint32_t __wrap_wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta);
void __wrap_wasm_rt_free_memory(wasm_rt_memory_t *memory);

static uint32_t memory_cap(void)
{
    return module.max_pages ? *module.max_pages : 4096;
}

void __wrap_wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial, uint32_t max)
{
    uint32_t cap = memory_cap();
    uint32_t reserve = max < cap ? max : cap;
    if (initial > reserve || steep_wamr.memory) {
        call.memory_refused = true;
        call.wanted_pages = initial;
        wasm_rt_trap(WASM_RT_TRAP_OOB);
    }
    /* One page at least so data is never NULL. */
    size_t bytes = (size_t)(reserve ? reserve : 1) * PAGE;
    void *data = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (data == MAP_FAILED ||
        (initial > 0 && mprotect(data, (size_t)initial * PAGE, PROT_READ | PROT_WRITE) < 0)) {
        call.memory_refused = true;
        call.wanted_pages = reserve;
        wasm_rt_trap(WASM_RT_TRAP_OOB);
    }
    memory->data = data;
    memory->pages = initial;
    memory->max_pages = reserve;
    memory->size = initial * PAGE;
    steep_wamr.memory = memory;
}

uint32_t __wrap_wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta)
{
    uint32_t old = memory->pages;
    if (delta == 0)
        return old;
    if (delta > memory->max_pages || old > memory->max_pages - delta)
        return (uint32_t)-1;
    if (mprotect(memory->data + (size_t)old * PAGE, (size_t)delta * PAGE, PROT_READ | PROT_WRITE) <
        0)
        return (uint32_t)-1;
    memory->pages = old + delta;
    memory->size = memory->pages * PAGE;
    return old;
}

void __wrap_wasm_rt_free_memory(wasm_rt_memory_t *memory)
{
    /* The process ends with the task. */
}

uint8_t *steep_wamr_span(uint32_t ptr, uint32_t len)
{
    wasm_rt_memory_t *memory = steep_wamr.memory;
    if (!memory || (uint64_t)ptr + len > memory->size)
        return NULL;
    return memory->data + ptr;
}

int steep_wamr_string(uint32_t ptr, char *out, size_t size)
{
    wasm_rt_memory_t *memory = steep_wamr.memory;
    if (!memory || ptr >= memory->size)
        return -1;
    size_t avail = memory->size - ptr;
    const uint8_t *start = memory->data + ptr;
    const uint8_t *end = memchr(start, 0, avail < size ? avail : size);
    if (!end)
        return -1;
    memcpy(out, start, (size_t)(end - start) + 1);
    return 0;
}

void steep_wamr_exit(int32_t code)
{
    steep_wamr.exited = true;
    steep_wamr.exit_code = code;
    longjmp(wasm_rt_jmp_buf, EXIT_CODE);
}

/* ---- loading (before confinement) --------------------------------------- */

static int symbol(const char *name, void **out, bool required)
{
    *out = dlsym(module.handle, name);
    ENSURE(*out || !required, "compiled module lacks %s", name);
    return 0;
}

static int load(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    module.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ENSURE(module.handle, "cannot load the compiled module: %s", dlerror());
    GUARD(symbol("steep_wasm_instance_size", (void **)&module.instance_size, true));
    GUARD(symbol("steep_wasm_init", (void **)&module.init, true));
    GUARD(symbol("steep_wasm_instantiate", (void **)&module.instantiate, true));
    GUARD(symbol("steep_wasm_max_pages", (void **)&module.max_pages, true));
    GUARD(symbol("steep_wasm_entrypoint", (void **)&module.entrypoint, false));
    GUARD(symbol("steep_wasm_start", (void **)&module.start, false));
    ENSURE(module.entrypoint || module.start, "compiled module has no entry point");
    wasm_rt_init();
    module.stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    ENSURE(module.stack != MAP_FAILED, "cannot map the module's stack: %s", strerror(errno));
    /* A guard page below it: running off the end is a crash, not a write
     * into something else. */
    mprotect(module.stack, 4096, PROT_NONE);
    module.loaded = true;
    return 0;
}

int steep_wamr_runner_load(struct steep_runner_request *request)
{
    for (size_t i = 0; i < request->n_resources; i++) {
        struct steep_runner_file *file = &request->resources[i];
        if (strcmp(file->name, STEEP_WAMR_MODULE_RESOURCE) != 0)
            continue;
        int rc = load(file->fd);
        close(file->fd);
        /* The function never sees it. */
        free(file->name);
        free(file->file_name);
        memmove(file, file + 1, (request->n_resources - i - 1) * sizeof *file);
        request->n_resources--;
        return rc;
    }
    return steep_error_set("the node sent no compiled module");
}

/* ---- arguments ------------------------------------------------------------ */

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Teaclave's into_vec(): sorted keys; a string value raw, any other value
 * as its JSON text. */
static int flatten_arguments(const char *arguments, char ***out, uint32_t *count)
{
    json_error_t error;
    json_t *root = json_loads(arguments ? arguments : "{}", 0, &error);
    ENSURE(root && json_is_object(root), "function arguments are not a JSON object");
    size_t n = json_object_size(root);
    const char **keys = calloc(n + 1, sizeof *keys);
    char **flat = calloc(2 * n + 1, sizeof *flat);
    int rc = keys && flat ? 0 : steep_error_set("out of memory");
    size_t k = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (rc == 0)
            keys[k++] = key;
    }
    if (rc == 0)
        qsort(keys, k, sizeof *keys, compare_keys);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        value = json_object_get(root, keys[i]);
        flat[2 * i] = strdup(keys[i]);
        flat[2 * i + 1] = json_is_string(value) ? strdup(json_string_value(value))
                                                : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!flat[2 * i] || !flat[2 * i + 1])
            rc = steep_error_set("out of memory");
    }
    free(keys);
    json_decref(root);
    *out = flat;
    *count = (uint32_t)(2 * k);
    return rc;
}

/* The argv strings and their offsets, in pages grown for them. */
static int copy_argv(void)
{
    wasm_rt_memory_t *memory = steep_wamr.memory;
    uint32_t argc = steep_wamr.n_args;
    if (!memory) {
        call.argv = 0;
        return argc == 0 ? 0 : steep_error_set("the module has no memory to pass arguments in");
    }
    uint64_t total = 4ull * argc;
    for (uint32_t i = 0; i < argc; i++)
        total += strlen(steep_wamr.args[i]) + 1;
    uint32_t pages = (uint32_t)((total + PAGE - 1) / PAGE);
    if (pages == 0)
        pages = 1;
    uint32_t old = __wrap_wasm_rt_grow_memory(memory, pages);
    ENSURE(old != (uint32_t)-1, "no room in linear memory for the arguments (%u pages)", pages);
    uint32_t base = old * PAGE, strings = base + 4 * argc;
    for (uint32_t i = 0; i < argc; i++) {
        size_t len = strlen(steep_wamr.args[i]) + 1;
        memcpy(memory->data + strings, steep_wamr.args[i], len);
        memcpy(memory->data + base + 4 * i, &strings, 4);
        strings += (uint32_t)len;
    }
    call.argv = base;
    return 0;
}

/* ---- the call (confined) ------------------------------------------------ */

static void on_module_stack(void)
{
    volatile int stage = 0;
    wasm_rt_call_stack_depth = 0;
    wasm_rt_set_unwind_target(&wasm_rt_jmp_buf);
    int code = setjmp(wasm_rt_jmp_buf);
    if (code != 0) {
        call.trap = code;
    } else {
        module.init();
        call.instance = calloc(1, module.instance_size());
        if (!call.instance) {
            snprintf(call.error, sizeof call.error, "out of memory");
        } else {
            module.instantiate(call.instance);
            stage = 1;
            if (module.entrypoint) {
                if (copy_argv() < 0)
                    snprintf(call.error, sizeof call.error, "%s", steep_error_get());
                else
                    call.result = module.entrypoint(call.instance, steep_wamr.n_args, call.argv);
            } else {
                module.start(call.instance);
            }
        }
    }
    (void)stage;
    /* uc_link returns to steep_wamr_runner_run. */
}

static void describe_trap(char *out, size_t size)
{
    if (call.memory_refused) {
        snprintf(out, size, "WebAssembly module needs %u MiB of linear memory; the limit is %u MiB",
                 call.wanted_pages / 16, memory_cap() / 16);
        return;
    }
    const char *text = wasm_rt_strerror((wasm_rt_trap_t)call.trap);
    snprintf(out, size, "WebAssembly trap: %s", text);
    /* wasm-rt's texts start with a capital; ours read as a sentence tail. */
    char *first = out + strlen("WebAssembly trap: ");
    if (*first >= 'A' && *first <= 'Z')
        *first = (char)(*first - 'A' + 'a');
}

int steep_wamr_runner_run(const char *function_name, const char *arguments, struct steep_fn_io *io,
                          struct steep_buf *summary)
{
    ENSURE(module.loaded, "the WebAssembly module was not loaded");
    steep_wamr.io = io;
    steep_wamr.program = function_name;
    GUARD(flatten_arguments(arguments, &steep_wamr.args, &steep_wamr.n_args));
    ENSURE(getcontext(&module_context) == 0, "getcontext: %s", strerror(errno));
    module_context.uc_stack.ss_sp = module.stack + 4096;
    module_context.uc_stack.ss_size = STACK_BYTES - 4096;
    module_context.uc_link = &runner_context;
    makecontext(&module_context, on_module_stack, 0);
    ENSURE(swapcontext(&runner_context, &module_context) == 0, "swapcontext: %s", strerror(errno));

    /* Outputs the module left open are finished, as Teaclave's drop did. */
    steep_wamr_teaclave_close_all();
    steep_wamr_wasi_close_all();
    if (call.error[0])
        return steep_error_set("%s", call.error);
    if (call.trap == EXIT_CODE)
        return steep_buf_printf(summary, "%d", steep_wamr.exit_code);
    if (call.trap != 0) {
        char reason[400];
        describe_trap(reason, sizeof reason);
        return steep_error_set("%s", reason);
    }
    if (module.entrypoint)
        return steep_buf_printf(summary, "%d", (int32_t)call.result);
    return steep_buf_printf(summary, "0");
}
