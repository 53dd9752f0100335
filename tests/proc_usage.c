/*
 * proc_usage.c - RSS, descriptors and threads of this process (see
 * proc_usage.h).
 */
#include "proc_usage.h"

#include <dirent.h>
#include <stdio.h>

long proc_rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

int proc_fd_count(void)
{
    return count_entries("/proc/self/fd") - 1; /* opendir's own descriptor */
}

int proc_thread_count(void)
{
    return count_entries("/proc/self/task");
}
