/* WASI: stdout and stderr lines go to the task log, argv is the function's
 * name then the sorted flat argument list, and the exit code is the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    printf("hello from %s", argv[0]);
    printf(" with %d arguments\n", argc - 1);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    fprintf(stderr, "to stderr\n");
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 1600000000)
        return 90;
    if (getenv("HOME"))
        return 91;
    char *p = malloc(1 << 20);
    if (!p)
        return 92;
    memset(p, 7, 1 << 20);
    free(p);
    exit(argc == 5 && strcmp(argv[1], "a") == 0 ? 33 : 99);
}
