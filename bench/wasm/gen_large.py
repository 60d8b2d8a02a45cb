#!/usr/bin/python3
"""Writes a C program whose wasm32 build is about 400 kB (the first-use
compile benchmark): many distinct small functions, as a real program has."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1800
out = ["static unsigned table[256];"]
for i in range(n):
    out.append(
        "__attribute__((noinline)) unsigned f%d(unsigned x, unsigned y) {\n"
        "  unsigned acc = x ^ %du;\n"
        "  for (unsigned i = 0; i < (y & 15u); i++) {\n"
        "    acc = acc * %du + table[(acc + i) & 255u];\n"
        "    if (acc & %du) acc ^= acc >> %d; else acc += y << %d;\n"
        "    table[i & 255u] = acc;\n"
        "  }\n"
        "  return acc %s f%d(acc, y >> 1);\n}" % (
            i, i * 2654435761 % 2**32, (i * 40503 + 1) % 2**16, 1 << (i % 31), i % 29 + 1, i % 13,
            "+" if i % 2 else "^", i - 1) if i > 0 else
        "__attribute__((noinline)) unsigned f0(unsigned x, unsigned y) { return x * 3u + y; }")
out.append("int entrypoint(int argc, char **argv) { return (int)(f%d(7u, 9u) & 0x7fffffff); }" % (n - 1))
sys.stdout.write("\n".join(out) + "\n")
