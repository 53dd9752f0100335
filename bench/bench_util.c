/*
 * bench_util.c - clocks, percentiles and /proc readings (see bench_util.h).
 */
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bu_sleep_until(uint64_t when_ns)
{
    struct timespec ts = {(time_t)(when_ns / 1000000000ull), (long)(when_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void bu_sleep_ms(uint32_t ms)
{
    bu_sleep_until(bu_now_ns() + (uint64_t)ms * 1000000ull);
}

void bu_fine_timer_slack(void)
{
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

double bu_cpu_self_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

double bu_cpu_thread_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

bu_mem_t bu_mem(void)
{
    bu_mem_t m = {-1, -1};
    char line[256];
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (f == NULL)
        return m;
    while (fgets(line, sizeof(line), f)) {
        long v;
        if (sscanf(line, "Rss: %ld kB", &v) == 1)
            m.rss_kb = v;
        else if (sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
            m.private_dirty_kb = v;
    }
    fclose(f);
    return m;
}

bu_dirty_split_t bu_dirty_split(long stack_kb)
{
    bu_dirty_split_t d = {0, 0, 0, 0, 0};
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512], name[256];
    long *bucket = NULL, v;
    unsigned long lo, hi;
    while (f && fgets(line, sizeof(line), f)) {
        name[0] = '\0';
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &lo, &hi, name) >= 2 &&
            strchr(line, '-') < strchr(line, ' ')) {
            long kb = (long)((hi - lo) / 1024);
            if (name[0] == '/')
                bucket = &d.files_kb;
            else if (strcmp(name, "[heap]") == 0)
                bucket = &d.heap_kb;
            else if (name[0] == '\0' && kb == stack_kb) {
                bucket = &d.stacks_kb;
                d.stacks++;
            } else
                bucket = &d.anon_kb;
        } else if (bucket && sscanf(line, "Private_Dirty: %ld kB", &v) == 1) {
            *bucket += v;
        }
    }
    if (f)
        fclose(f);
    return d;
}

int bu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

long long bu_voluntary_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    long long total = 0;
    struct dirent *e;
    char path[300], line[128];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        long long v;
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
                total += v;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

long bu_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bu_sort_u64(uint64_t *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t bu_pct_sorted(const uint64_t *v, size_t n, double pct)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

void bu_vec_push(bu_vec_t *a, uint64_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        uint64_t *grown = realloc(a->v, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        a->v = grown;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

void bu_vec_free(bu_vec_t *a)
{
    free(a->v);
    memset(a, 0, sizeof(*a));
}
