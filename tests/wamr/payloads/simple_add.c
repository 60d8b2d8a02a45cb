/* Teaclave's "simple add" WebAssembly example, written again from its
 * description (teaclave-functions.md §5.2): entrypoint(argc, argv) needs
 * at least two key/value pairs and returns atoi(argv[1]) + atoi(argv[3]).
 * Built with clang --target=wasm32 -nostdlib: there is no libc. */
static int to_int(const char *s)
{
    int sign = 1, value = 0;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    while (*s >= '0' && *s <= '9')
        value = value * 10 + (*s++ - '0');
    return sign * value;
}

int entrypoint(int argc, char **argv)
{
    if (argc < 4)
        return -1;
    return to_int(argv[1]) + to_int(argv[3]);
}
