/* An ordinary C program built for wasm32-wasi (Debian's wasi-libc): reads
 * the task's input "input_text" with fopen, upper-cases it into a malloc'ed
 * buffer, writes it to the output "output_text", reports on stdout (the
 * task log) and exits with the number of lines (the task's result). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    printf("%s: %d arguments\n", argv[0], argc - 1);
    for (int i = 1; i + 1 < argc; i += 2)
        printf("argument %s = %s\n", argv[i], argv[i + 1]);
    FILE *in = fopen("input_text", "r");
    if (!in) {
        perror("input_text");
        return 100;
    }
    size_t size = 0, cap = 1024;
    char *text = malloc(cap);
    int c, lines = 0;
    while (text && (c = fgetc(in)) != EOF) {
        if (size == cap)
            text = realloc(text, cap *= 2);
        if (text)
            text[size++] = (char)toupper(c);
        lines += c == '\n';
    }
    fclose(in);
    if (!text)
        return 101;
    FILE *out = fopen("output_text", "w");
    if (!out) {
        perror("output_text");
        return 102;
    }
    if (fwrite(text, 1, size, out) != size || fclose(out) != 0)
        return 103;
    fprintf(stderr, "wrote %zu bytes\n", size);
    free(text);
    exit(lines);
}
