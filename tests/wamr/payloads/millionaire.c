/* Teaclave's millionaire's problem WebAssembly example, written again from
 * its description (teaclave-functions.md §5.2): arguments input_file_id1,
 * input_file_id2, output_file_id (sorted: argv[1], argv[3], argv[5]). Reads
 * up to 10 bytes of each input, compares them as numbers and writes the
 * file id of the richer party to the output; returns the bytes written.
 * No libc (clang --target=wasm32 -nostdlib). */
int teaclave_open_input(char *fid);
int teaclave_create_output(char *fid);
int teaclave_read_file(int fd, char *buf, int size);
int teaclave_write_file(int fd, char *buf, int size);
int teaclave_close_file(int fd);

static int to_int(const char *s, int len)
{
    int value = 0;
    for (int i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        value = value * 10 + (s[i] - '0');
    return value;
}

static int length(const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    return n;
}

static int wealth(char *fid)
{
    char buf[10];
    int fd = teaclave_open_input(fid);
    if (fd < 0)
        return -1;
    int n = teaclave_read_file(fd, buf, sizeof buf);
    teaclave_close_file(fd);
    return n < 0 ? -1 : to_int(buf, n);
}

int entrypoint(int argc, char **argv)
{
    if (argc < 6)
        return -1;
    int a = wealth(argv[1]), b = wealth(argv[3]);
    if (a < 0 || b < 0)
        return -2;
    char *richer = a >= b ? argv[1] : argv[3];
    int fd = teaclave_create_output(argv[5]);
    if (fd < 0)
        return -3;
    int written = teaclave_write_file(fd, richer, length(richer));
    if (teaclave_close_file(fd) != 0)
        return -4;
    return written;
}
