/* A hostile WASI program: tries to reach outside its task (host files by
 * absolute and relative paths, directories, sockets, descriptors it was not
 * given) and returns a bit for every attempt that was NOT refused. The
 * expected result is 0. WebAssembly code makes no system calls itself, so
 * fcntl(F_SETOWN), setuid or ptrace cannot even be expressed; this is what
 * is left to try. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <wasi/api.h>

int main(void)
{
    int leaks = 0;
    if (fopen("/etc/passwd", "r"))
        leaks |= 1;
    if (fopen("../../../../etc/passwd", "r"))
        leaks |= 2;
    if (fopen("/proc/self/status", "r"))
        leaks |= 4;
    if (fopen("new_file", "w"))
        leaks |= 8;
    if (open(".", O_RDONLY | O_DIRECTORY) >= 0)
        leaks |= 16;
    __wasi_fd_t fd;
    if (__wasi_sock_accept(3, 0, &fd) == 0)
        leaks |= 32;
    char buf[16];
    if (read(0, buf, sizeof buf) > 0 || read(7, buf, sizeof buf) >= 0)
        leaks |= 64;
    if (write(9, "x", 1) >= 0)
        leaks |= 128;
    printf("leaks: %d\n", leaks);
    return leaks;
}
