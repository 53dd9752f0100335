/*
 * proc_usage.c - RSS, descriptors and threads of this process (see
 * proc_usage.h).
 *
 * Descriptors: a process may hold several descriptor tables. Threads share
 * one unless a thread calls unshare(CLONE_FILES) (the node-registration
 * plugin's network thread does: nr_fdtable.h); /proc/self/fd then lists only
 * the calling thread's table, and a socket leaked in the plugin's table
 * would go unseen. So proc_fd_count() walks /proc/self/task/TID/fd for every
 * thread and sums the tables, each once. Telling whether two threads share
 * a table:
 *   - kcmp(tid1, tid2, KCMP_FILES) answers exactly (0 = the same
 *     files_struct). It needs CONFIG_KCMP and may be refused by a seccomp
 *     filter (Docker's default profile allows it only with CAP_SYS_PTRACE),
 *     so it is probed first and used when it works (env PROC_USAGE_NO_KCMP
 *     set: never, to test the other way);
 *   - otherwise each thread's table gets a signature, a hash over its
 *     entries sorted by number, "number target" each (readlink of
 *     /proc/self/task/TID/fd/N: "socket:[12345]", "pipe:[678]", a path...),
 *     and equal signatures (with equal counts) count once. Threads sharing a
 *     table list the same entries; a table that holds a socket or a pipe has
 *     inode numbers in it that no other table shows. Its blind spot: two
 *     distinct tables with identical listings (say, only /dev/null and
 *     anonymous inodes such as an eventfd) count once.
 * The inode of /proc/self/task/TID/fd does NOT work: procfs makes an inode
 * per task, so threads sharing a table still show different inodes.
 * A table can change while it is being read (another thread opens or closes
 * something), and, in the signature mode, two threads of one table read a
 * moment apart then look like two tables; so the count is repeated until two
 * passes agree (at most 8 passes; else the smallest, which a real leak
 * still raises).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc_usage.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef KCMP_FILES
#define KCMP_FILES 2 /* linux/kcmp.h */
#endif

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

int proc_thread_count(void)
{
    return count_entries("/proc/self/task");
}

/* The thread ids of this process; their number, or -1. *OUT is malloc'd. */
static int list_tids(pid_t **out)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    pid_t *tids = NULL;
    int n = 0, cap = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            pid_t *t = realloc(tids, (size_t)(cap = cap ? cap * 2 : 64) * sizeof(*t));
            if (t == NULL) {
                free(tids);
                closedir(d);
                return -1;
            }
            tids = t;
        }
        tids[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    *out = tids;
    return n;
}

static long kcmp_files(pid_t a, pid_t b)
{
#ifdef SYS_kcmp
    return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
#else
    (void)a, (void)b;
    errno = ENOSYS;
    return -1;
#endif
}

typedef struct entry {
    int fd;
    uint64_t hash; /* of the readlink target */
} entry_t;

static int by_fd(const void *a, const void *b)
{
    int x = ((const entry_t *)a)->fd, y = ((const entry_t *)b)->fd;
    return (x > y) - (x < y);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* Thread TID's table: its number of descriptors (without the one this
 * function opens to read it, when TID shares the caller's table) and, in
 * *SIG, a hash over its sorted (number, target) pairs. -1 when the thread
 * is gone or the directory cannot be read. */
static int read_table(pid_t tid, uint64_t *sig)
{
    char path[64], own[64], target[4096];
    snprintf(path, sizeof(path), "/proc/self/task/%d/fd", (int)tid);
    snprintf(own, sizeof(own), "/proc/%d/task/%d/fd", (int)getpid(), (int)tid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    entry_t *v = NULL;
    int n = 0, cap = 0, self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
        if (len < 0)
            continue; /* closed since readdir saw it */
        target[len] = '\0';
        if (fd == self && strcmp(target, own) == 0)
            continue; /* our own DIR, in a table shared with the caller */
        if (n == cap) {
            entry_t *t = realloc(v, (size_t)(cap = cap ? cap * 2 : 64) * sizeof(*t));
            if (t == NULL) {
                free(v);
                closedir(d);
                return -1;
            }
            v = t;
        }
        v[n].fd = fd;
        v[n++].hash = fnv(14695981039346656037ull, target, (size_t)len);
    }
    closedir(d);
    if (n > 1)
        qsort(v, (size_t)n, sizeof(*v), by_fd);
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < n; i++) {
        h = fnv(h, &v[i].fd, sizeof(v[i].fd));
        h = fnv(h, &v[i].hash, sizeof(v[i].hash));
    }
    free(v);
    *sig = h;
    return n;
}

typedef struct table {
    pid_t tid; /* a thread using it */
    uint64_t sig;
    int fds;
} table_t;

/* One pass: the sum over distinct tables, or -1. */
static int count_tables(void)
{
    pid_t *tids = NULL, self = (pid_t)syscall(SYS_gettid);
    int n = list_tids(&tids), total = 0, ntables = 0;
    if (n < 0)
        return -1;
    int use_kcmp = getenv("PROC_USAGE_NO_KCMP") == NULL && kcmp_files(self, self) == 0;
    table_t *tables = calloc((size_t)n + 1, sizeof(*tables));
    if (tables == NULL) {
        free(tids);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int known = 0;
        if (use_kcmp) {
            for (int j = 0; j < ntables && !known; j++)
                known = kcmp_files(tables[j].tid, tids[i]) == 0;
            if (known)
                continue;
        }
        uint64_t sig;
        int fds = read_table(tids[i], &sig);
        if (fds < 0)
            continue; /* exited meanwhile */
        for (int j = 0; j < ntables && !use_kcmp && !known; j++)
            known = tables[j].sig == sig && tables[j].fds == fds;
        if (known)
            continue;
        tables[ntables++] = (table_t){tids[i], sig, fds};
        total += fds;
    }
    free(tables);
    free(tids);
    return ntables ? total : -1;
}

int proc_fd_count(void)
{
    int prev = count_tables(), least = prev;
    for (int pass = 1; pass < 8; pass++) {
        int n = count_tables();
        if (n == prev)
            return n;
        if (n >= 0 && (least < 0 || n < least))
            least = n;
        prev = n;
    }
    return least;
}
