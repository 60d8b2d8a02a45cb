#!/usr/bin/python3
"""WebAssembly core specification tests through Steep's wasm engine.

For every .wast given (the non-SIMD files of ../shared/fixtures/wasm-testsuite
with `make conformance`; a subset in ctest), wast2json writes the modules and
commands. Each module is translated with wasm2c and compiled with exactly
the flags of the executor's compile job (parsed from executors/wamr/compile.c,
so they cannot drift), then linked with the executor's runner-side engine
(executors/wamr/run.c: linear memory reservation at the cap, call-depth
counter, trap handling; libsteep_wamr_engine.a) and Debian's
libwasm-rt-impl.a into a driver that instantiates the module and runs its
assertions in order, each under wasm-rt's setjmp:

  assert_return (i32/i64/f32/f64 values, nan:canonical/arithmetic, multiple
  results), assert_trap and assert_exhaustion (a trap of that kind),
  action, assert_uninstantiable; assert_invalid and binary assert_malformed
  pass when wasm2c refuses the module.

Not run (counted as skipped, never as passed): assertions on modules that
import from registered modules or anything but spectest's functions,
globals, memory and table; reference values; text-format assert_malformed
(a wast2json matter); assert_unlinkable. Prints passed/failed/skipped per
file and the totals; exits 1 when an assertion failed.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

SOURCE = os.environ.get("STEEP_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("STEEP_BUILD_DIR", os.path.join(SOURCE, "build"))
JOBS = int(os.environ.get("JOBS", "2"))
TYPES = {"i32": "u32", "i64": "u64", "f32": "f32", "f64": "f64"}
LETTER = {"i32": "i", "i64": "j", "f32": "f", "f64": "d"}


def engine_flags():
    """The compile job's cc flags, minus -shared/-o/inputs (compile.c)."""
    text = open(os.path.join(SOURCE, "executors/wamr/compile.c")).read()
    body = re.search(r"cc_flags\[\] = \{(.*?)\};", text, re.S).group(1)
    depth = re.search(r"STEEP_WAMR_MAX_CALL_DEPTH (\d+)",
                      open(os.path.join(SOURCE, "executors/wamr/wamr.h")).read()).group(1)
    flags = []
    for item in re.findall(r'"([^"]*)"(?:\s*STR\(STEEP_WAMR_MAX_CALL_DEPTH\))?', body):
        flags.append(item + depth if item.endswith("DEPTH=") else item)
    drop = {"-shared", "-o", "payload.so", "payload.c", "glue.c", "-lm"}
    return [f for f in flags if f not in drop]


def mangle(name):
    out = []
    for byte in name.encode():
        c = chr(byte)
        if (c.isascii() and c.isalnum() or c == "_") and c != "Z":
            out.append(c)
        else:
            out.append("Z%02X" % byte)
    return "".join(out)


def c_value(value):
    t, v = value["type"], value["value"]
    if t in ("i32", "i64"):
        return "(%s)%sull" % (TYPES[t], v)
    return "%s_bits(%sull)" % (t, v)


def check_value(expr, value):
    t, v = value["type"], value["value"]
    if t in ("i32", "i64"):
        return "(%s) == (%s)%sull" % (expr, TYPES[t], v)
    if v == "nan:canonical":
        return "is_canonical_%s(%s)" % (t, expr)
    if v == "nan:arithmetic":
        return "is_arithmetic_%s(%s)" % (t, expr)
    return "bits_%s(%s) == %sull" % (t, expr, v)


PRELUDE = r"""
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include "m.h"
extern jmp_buf wasm_rt_jmp_buf;
static f32 f32_bits(uint64_t b) { uint32_t u = (uint32_t)b; f32 f; memcpy(&f, &u, 4); return f; }
static f64 f64_bits(uint64_t b) { f64 f; memcpy(&f, &b, 8); return f; }
static uint32_t bits_f32(f32 f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint64_t bits_f64(f64 f) { uint64_t u; memcpy(&u, &f, 8); return u; }
static int is_canonical_f32(f32 f) { return (bits_f32(f) & 0x7fffffffu) == 0x7fc00000u; }
static int is_arithmetic_f32(f32 f) { return (bits_f32(f) & 0x7fc00000u) == 0x7fc00000u; }
static int is_canonical_f64(f64 f) { return (bits_f64(f) & 0x7fffffffffffffffull) == 0x7ff8000000000000ull; }
static int is_arithmetic_f64(f64 f) { return (bits_f64(f) & 0x7ff8000000000000ull) == 0x7ff8000000000000ull; }
static Z_m_instance_t instance;
"""

SPECTEST = {
    "print": "void Z_spectestZ_print(struct Z_spectest_instance_t *s) {}",
    "print_i32": "void Z_spectestZ_print_i32(struct Z_spectest_instance_t *s, u32 a) {}",
    "print_i64": "void Z_spectestZ_print_i64(struct Z_spectest_instance_t *s, u64 a) {}",
    "print_f32": "void Z_spectestZ_print_f32(struct Z_spectest_instance_t *s, f32 a) {}",
    "print_f64": "void Z_spectestZ_print_f64(struct Z_spectest_instance_t *s, f64 a) {}",
    "print_i32_f32": "void Z_spectestZ_print_i32_f32(struct Z_spectest_instance_t *s, u32 a, f32 b) {}",
    "print_f64_f64": "void Z_spectestZ_print_f64_f64(struct Z_spectest_instance_t *s, f64 a, f64 b) {}",
    "global_i32": "u32 *Z_spectestZ_global_i32(struct Z_spectest_instance_t *s) { static u32 g = 666; return &g; }",
    "global_i64": "u64 *Z_spectestZ_global_i64(struct Z_spectest_instance_t *s) { static u64 g = 666; return &g; }",
    "global_f32": "f32 *Z_spectestZ_global_f32(struct Z_spectest_instance_t *s) { static f32 g = 666.6f; return &g; }",
    "global_f64": "f64 *Z_spectestZ_global_f64(struct Z_spectest_instance_t *s) { static f64 g = 666.6; return &g; }",
    "memory": "wasm_rt_memory_t *Z_spectestZ_memory(struct Z_spectest_instance_t *s) { static wasm_rt_memory_t m; "
              "static int made; if (!made) { made = 1; wasm_rt_allocate_memory(&m, 1, 2); } return &m; }",
    "table": "wasm_rt_funcref_table_t *Z_spectestZ_table(struct Z_spectest_instance_t *s) { static wasm_rt_funcref_table_t t; "
             "static int made; if (!made) { made = 1; wasm_rt_allocate_funcref_table(&t, 10, 20); } return &t; }",
}


def run(cmd, cwd, timeout=120, shell=False):
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, shell=shell,
                           errors="replace")
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return -1, "timeout"


class Group:
    def __init__(self, index, command):
        self.index = index
        self.command = command
        self.asserts = []  # (line, kind, action, expected)


def action_call(action, header, asserts_types):
    """C expression calling the export, or None when unsupported."""
    name = "Z_mZ_" + mangle(action["field"])
    if action["type"] == "get":
        if not re.search(r"\b%s\(" % re.escape(name), header):
            return None, None
        return "(*%s(&instance))" % name, "get"
    if not re.search(r"\b%s\(" % re.escape(name), header):
        return None, None
    args = action.get("args", [])
    if any(a["type"] not in TYPES for a in args):
        return None, None
    return "%s(&instance%s)" % (name, "".join(", " + c_value(a) for a in args)), "invoke"


def assertion_code(k, line, kind, action, expected, header):
    call, _ = action_call(action, header, None)
    if call is None:
        return None
    head = ("static void a%d(void) {\n  wasm_rt_call_stack_depth = 0;\n"
            "  int trap = setjmp(wasm_rt_jmp_buf);\n"
            "  if (trap) { printf(\"%d %%s %%d\\n\", %s, trap); return; }\n") % (
        k, k, '"PASS"' if kind in ("assert_trap", "assert_exhaustion") else '"FAIL trap"')
    if kind == "assert_exhaustion":
        head = head.replace('"PASS"', 'trap == WASM_RT_TRAP_EXHAUSTION ? "PASS" : "FAIL wrong-trap"')
    if kind in ("assert_trap", "assert_exhaustion"):
        return head + "  (void)%s;\n  printf(\"%d FAIL no-trap\\n\");\n}\n" % (call, k)
    if kind == "action":
        return head + "  (void)%s;\n  printf(\"%d PASS\\n\");\n}\n" % (call, k)
    # assert_return
    if any(e["type"] not in TYPES for e in expected):
        return None
    if not expected:
        return head + "  %s;\n  printf(\"%d PASS\\n\");\n}\n" % (call, k)
    if len(expected) == 1:
        ctype = TYPES[expected[0]["type"]]
        check = check_value("r", expected[0])
        return head + "  %s r = %s;\n  printf(\"%d %%s\\n\", (%s) ? \"PASS\" : \"FAIL value\");\n}\n" % (
            ctype, call, k, check)
    struct = "struct wasm_multi_" + "".join(LETTER[e["type"]] for e in expected)
    checks = " && ".join(check_value("r.%s%d" % (LETTER[e["type"]], i), e) for i, e in enumerate(expected))
    return head + "  %s r = %s;\n  printf(\"%d %%s\\n\", (%s) ? \"PASS\" : \"FAIL value\");\n}\n" % (
        struct, call, k, checks)


def run_group(group, work, flags, link):
    """Returns (passed, failed, skipped, failures)."""
    cmd = group.command
    d = os.path.join(work, "m%d" % group.index)
    os.makedirs(d, exist_ok=True)
    wasm = os.path.join(work, cmd["filename"])
    rc, out = run(["wasm2c", "--no-debug-names", "-n", "m", wasm, "-o", "m.c"], d)
    n = len(group.asserts)
    if rc != 0:
        if cmd["type"] == "assert_uninstantiable":
            return 0, 1, 0, ["line %d: module refused by wasm2c" % cmd["line"]]
        return 0, n, 0, ["line %d: module refused: %s" % (cmd["line"], out.strip().splitlines()[0] if out.strip() else "")]
    header = open(os.path.join(d, "m.h")).read()
    imports = re.findall(r"\bZ_([A-Za-z0-9_]+?)Z_([A-Za-z0-9_]+)\(struct Z_\1_instance_t", header)
    modules = set(m for m, _ in imports)
    if modules - {"spectest"} or any(f not in SPECTEST for m, f in imports):
        return 0, 0, max(n, 1), []
    code = [PRELUDE]
    for m, f in sorted(set(imports)):
        code.append(SPECTEST[f])
    inst_args = ", NULL" if "spectest" in modules else ""
    code.append("static int instantiate(void) {\n  wasm_rt_call_stack_depth = 0;\n"
                "  if (setjmp(wasm_rt_jmp_buf)) return 0;\n  Z_m_init_module();\n"
                "  Z_m_instantiate(&instance%s);\n  return 1;\n}\n" % inst_args)
    skipped = 0
    runnable = []
    for k, (line, kind, action, expected) in enumerate(group.asserts):
        c = assertion_code(k, line, kind, action, expected, header)
        if c is None:
            skipped += 1
        else:
            code.append(c)
            runnable.append((k, line))
    code.append("int main(void) {\n  wasm_rt_init();\n  if (!instantiate()) { printf(\"UNINSTANTIABLE\\n\"); return 0; }\n"
                "  printf(\"INSTANTIATED\\n\");\n  fflush(stdout);\n")
    for k, _ in runnable:
        code.append("  a%d(); fflush(stdout);\n" % k)
    code.append("  return 0;\n}\n")
    open(os.path.join(d, "driver.c"), "w").write("".join(code))
    rc, out = run(["cc"] + flags + ["-o", "driver", "m.c", "driver.c"] + link, d, timeout=300)
    if rc != 0:
        first = next((l for l in out.splitlines() if "error" in l), out[:200])
        return 0, len(runnable) + (cmd["type"] == "assert_uninstantiable"), skipped, \
            ["line %d: cannot compile: %s" % (cmd["line"], first)]
    rc, out = run("ulimit -s 131072; ./driver", d, timeout=60, shell=True)
    lines = out.splitlines()
    if cmd["type"] == "assert_uninstantiable":
        ok = "UNINSTANTIABLE" in lines
        return int(ok), int(not ok), skipped, [] if ok else ["line %d: instantiated" % cmd["line"]]
    if "INSTANTIATED" not in lines:
        return 0, len(runnable), skipped, ["line %d: module did not instantiate" % cmd["line"]]
    results = {}
    for l in lines:
        parts = l.split()
        if len(parts) >= 2 and parts[0].isdigit():
            results[int(parts[0])] = " ".join(parts[1:])
    passed = failed = 0
    failures = []
    for k, line in runnable:
        r = results.get(k, "FAIL crashed (exit %d)" % rc)
        if r.startswith("PASS"):
            passed += 1
        else:
            failed += 1
            failures.append("line %d: %s" % (line, r))
    return passed, failed, skipped, failures


def run_file(path, flags, link):
    path = os.path.abspath(path)
    name = os.path.basename(path)
    work = tempfile.mkdtemp(prefix="steep-spec-%s-" % name)
    rc, out = run(["wast2json", path, "-o", os.path.join(work, "t.json")], work)
    if rc != 0:
        return name, 0, 0, 0, ["wast2json cannot convert this file: " + out.strip().splitlines()[0]]
    commands = json.load(open(os.path.join(work, "t.json")))["commands"]
    groups, by_name, current = [], {}, None
    passed = failed = skipped = 0
    failures = []
    registered = set()
    for cmd in commands:
        t = cmd["type"]
        if t == "module":
            current = Group(len(groups), cmd)
            groups.append(current)
            if "name" in cmd:
                by_name[cmd["name"]] = current
        elif t in ("assert_return", "assert_trap", "assert_exhaustion", "action"):
            target = by_name.get(cmd["action"].get("module")) if cmd["action"].get("module") else current
            if target is None:
                skipped += 1
            else:
                target.asserts.append((cmd["line"], t, cmd["action"], cmd.get("expected", [])))
        elif t in ("assert_invalid", "assert_malformed"):
            if cmd.get("module_type") != "binary":
                skipped += 1
                continue
            rc, _ = run(["wasm2c", "--no-debug-names", os.path.join(work, cmd["filename"]), "-o",
                         os.path.join(work, "invalid.c")], work)
            if rc != 0:
                passed += 1
            else:
                failed += 1
                failures.append("line %d: %s module accepted" % (cmd["line"], t))
        elif t == "assert_uninstantiable":
            groups.append(Group(len(groups), cmd))
        elif t == "register":
            registered.add(cmd["as"])
        else:
            skipped += 1
    for g in groups:
        p, f, s, fl = run_group(g, work, flags, link)
        passed, failed, skipped = passed + p, failed + f, skipped + s
        failures += fl
    subprocess.run(["rm", "-rf", work])
    return name, passed, failed, skipped, failures


def main():
    files = sys.argv[1:]
    flags = engine_flags()
    lib = os.path.join(BUILD, "lib")
    link = [os.path.join(lib, "libsteep_wamr_engine.a"), os.path.join(lib, "libsteep_crypto.a"),
            os.path.join(lib, "libsteep_core.a"),
            "/usr/lib/x86_64-linux-gnu/libwasm-rt-impl.a", "-ljansson", "-lcrypto", "-lpthread", "-ldl",
            "-lm"] + os.environ.get("STEEP_WAMR_LINK_EXTRA", "").split()
    total = [0, 0, 0]
    bad = False
    with ThreadPoolExecutor(JOBS) as pool:
        for name, p, f, s, failures in pool.map(lambda f: run_file(f, flags, link), files):
            print("%-36s passed %5d  failed %4d  skipped %4d" % (name, p, f, s), flush=True)
            for line in failures[:5]:
                print("    " + line)
            if len(failures) > 5:
                print("    ... %d more" % (len(failures) - 5))
            total = [total[0] + p, total[1] + f, total[2] + s]
            bad = bad or f > 0
    print("total: %d passed, %d failed, %d skipped (%d files)" % (total[0], total[1], total[2], len(files)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
