/* Process gauges from /proc/self (see process_metrics.h). */
#include "service/process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static long long resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = -1;
    if (f) {
        if (fscanf(f, "%lld %lld", &size, &resident) != 2)
            resident = -1;
        fclose(f);
    }
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

static long long open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* utime + stime (clock ticks), threads, start time (ticks after boot). */
static int read_stat(double *cpu_seconds, long long *threads)
{
    char text[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *after = strrchr(text, ')'); /* the name may hold spaces */
    unsigned long long utime, stime;
    long long nthreads;
    if (!after || sscanf(after + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                         "%lld",
                         &utime, &stime, &nthreads) != 3)
        return -1;
    *cpu_seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    *threads = nthreads;
    return 0;
}

int steep_process_metrics_render(struct steep_buf *out)
{
    double cpu = 0;
    long long threads = 0;
    if (read_stat(&cpu, &threads) < 0)
        cpu = -1;
    return steep_buf_printf(
        out,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %lld\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds %lld\n"
        "# HELP process_cpu_seconds_total User and system CPU time in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total %.2f\n"
        "# HELP process_threads Threads of the process.\n"
        "# TYPE process_threads gauge\n"
        "process_threads %lld\n",
        resident_bytes(), open_descriptors(), cpu, threads);
}
