/*
 * bench_util.h - what every part of the benchmark measures with: clocks,
 * sleeps, percentiles, and the process's own CPU time, memory, threads and
 * descriptors read from getrusage and /proc/self.
 */
#ifndef PMD_BENCH_UTIL_H
#define PMD_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds (the clock the ABI's now_ns uses). */
uint64_t bu_now_ns(void);
/* Sleep until the absolute CLOCK_MONOTONIC time (ns). */
void bu_sleep_until(uint64_t when_ns);
void bu_sleep_ms(uint32_t ms);
/* Tighter sleeps: timer slack of 1 us for the calling thread. */
void bu_fine_timer_slack(void);

/* user+sys CPU seconds: whole process / calling thread. */
double bu_cpu_self_s(void);
double bu_cpu_thread_s(void);

/* From /proc/self/smaps_rollup, in KiB (-1 when unreadable). */
typedef struct bu_mem {
    long rss_kb;
    long private_dirty_kb;
} bu_mem_t;
bu_mem_t bu_mem(void);

/* Private_Dirty of /proc/self/smaps by kind of mapping, KiB: anonymous
 * read-write mappings of exactly STACK_KB (thread stacks made with that
 * size), the main heap, other anonymous memory (malloc arenas of other
 * threads, large allocations), and file-backed mappings (libraries). */
typedef struct bu_dirty_split {
    long stacks_kb, heap_kb, anon_kb, files_kb;
    int stacks;
} bu_dirty_split_t;
bu_dirty_split_t bu_dirty_split(long stack_kb);

/* Entries in a /proc directory (threads: /proc/self/task, fds: /proc/self/fd). */
int bu_count_entries(const char *dir);

/* Voluntary context switches (sleeps/wake-ups) summed over every thread of
 * this process (/proc/self/task/<tid>/status); -1 when unreadable. */
long long bu_voluntary_switches(void);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft. */
long bu_raise_nofile(void);

/* Sorts v in place; pct in [0,100] by nearest rank. 0 when n == 0. */
void bu_sort_u64(uint64_t *v, size_t n);
uint64_t bu_pct_sorted(const uint64_t *v, size_t n, double pct);

/* A growable array of uint64_t; NULL data on allocation failure (the push
 * is dropped). */
typedef struct bu_vec {
    uint64_t *v;
    size_t n, cap;
} bu_vec_t;
void bu_vec_push(bu_vec_t *a, uint64_t x);
void bu_vec_free(bu_vec_t *a);

#endif
