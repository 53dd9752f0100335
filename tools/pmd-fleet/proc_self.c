/* proc_self.c - /proc/self/{stat,status,smaps_rollup,fd} readers, on
 * descriptors opened once and re-read from offset 0. */
#include "proc_self.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int stat_fd = -1, status_fd = -1, rollup_fd = -1;
static DIR *fd_dir;

int pf_usage_open(void)
{
    stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    rollup_fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    fd_dir = opendir("/proc/self/fd");
    return stat_fd >= 0 && status_fd >= 0 && rollup_fd >= 0 && fd_dir ? 0 : -1;
}

/* The whole file, NUL-terminated (truncated to the buffer). */
static size_t slurp(int fd, char *buf, size_t size)
{
    ssize_t n = fd >= 0 ? pread(fd, buf, size - 1, 0) : -1;
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static double cpu_seconds(void)
{
    char buf[1024];
    unsigned long utime = 0, stime = 0;
    slurp(stat_fd, buf, sizeof(buf));
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* "Key:   value" from a /proc file's text. */
static uint64_t field(const char *text, const char *key)
{
    unsigned long v = 0;
    const char *p = strstr(text, key);
    if (p && sscanf(p + strlen(key), " %lu", &v) != 1)
        v = 0;
    return v;
}

static uint32_t count_fds(void)
{
    uint32_t n = 0;
    struct dirent *e;
    if (fd_dir == NULL)
        return 0;
    rewinddir(fd_dir);
    while ((e = readdir(fd_dir)) != NULL)
        n += e->d_name[0] != '.';
    return n > 0 ? n - 1 : 0; /* the directory's own descriptor */
}

void pf_usage_read(pf_usage_t *u)
{
    char buf[4096];
    u->cpu_s = cpu_seconds();
    slurp(status_fd, buf, sizeof(buf));
    u->threads = (uint32_t)field(buf, "\nThreads:");
    u->rss_kib = field(buf, "\nVmRSS:");
    slurp(rollup_fd, buf, sizeof(buf));
    u->private_dirty_kib = field(buf, "\nPrivate_Dirty:");
    u->fds = count_fds();
}
