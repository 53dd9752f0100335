/* proc_self.c - /proc/self/{stat,status,smaps_rollup,fd} readers. */
#include "proc_self.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static double cpu_seconds(void)
{
    char buf[1024];
    unsigned long utime = 0, stime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                            &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* "Key:   value kB" from a /proc file. */
static uint64_t field(const char *path, const char *key)
{
    char line[256];
    uint64_t v = 0;
    size_t klen = strlen(key);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0 && sscanf(line + klen, " %lu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static uint32_t count_fds(void)
{
    uint32_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n > 0 ? n - 1 : 0; /* the directory's own descriptor */
}

void pf_usage_read(pf_usage_t *u)
{
    u->cpu_s = cpu_seconds();
    u->threads = (uint32_t)field("/proc/self/status", "Threads:");
    u->rss_kib = field("/proc/self/status", "VmRSS:");
    u->private_dirty_kib = field("/proc/self/smaps_rollup", "Private_Dirty:");
    u->fds = count_fds();
}
