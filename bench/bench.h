/*
 * bench.h - what pmd-bench's sections share: the loaded plugins, the
 * options, and a node (a counting host plus one plugin instance) with the
 * few lifecycle helpers every section uses.
 */
#ifndef PMD_BENCH_H
#define PMD_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench_host.h"
#include "loader.h"
#include "orchd.h"

typedef struct bench_ctx {
    const char *nr_so, *example_so, *lean_bin, *out_dir;
    host_loaded_plugin_t nr, ex;
    const pmd_ext_stats_t *nr_stats;
    uint64_t heartbeats;     /* CPU / memory run: 20000 */
    uint64_t callgrind_hb;   /* heartbeats counted under callgrind: 2000 */
    uint64_t overhead_ticks; /* 100000 */
    uint32_t scale_secs;     /* window per N: 20 */
    uint32_t timing_secs;    /* --timing: 300 */
    int scale_n[4], scale_count;
} bench_ctx_t;

typedef struct bench_node {
    bh_host_t host;
    pmd_instance_t *in;
    const pmd_plugin_t *p;
} bench_node_t;

/* A node_registration config: node id, url, interval, then any extra
 * "key":value pairs (EXTRA may be NULL or "" ; it must start with ','). */
void bench_nr_config(char *out, size_t size, const char *node_id, const char *url,
                     uint32_t interval_ms, const char *extra);

/* init + start; 0 or -1 (the plugin's message on stderr). */
int bench_node_start(bench_node_t *n, const pmd_plugin_t *p, const char *cfg, int pools);
/* stop (when started) and destroy; returns stop's wall time in ms. */
double bench_node_end(bench_node_t *n);

/* Ticks the node every 5 ms until its stats say STATE (and at least
 * MIN_HEARTBEATS heartbeats succeeded), or TIMEOUT_MS passes: 0 / -1. */
int bench_wait_state(bench_ctx_t *c, bench_node_t *n, int32_t state, uint64_t min_heartbeats,
                     uint32_t timeout_ms);
/* Ticks the node every 5 ms for MS. */
void bench_tick_for(bench_node_t *n, uint32_t ms);

/* Sections. Each adds its rows to the table; none aborts the run. */
void bench_overhead(bench_ctx_t *c);
void bench_cpu_memory(bench_ctx_t *c);
void bench_callgrind(bench_ctx_t *c);
void bench_recovery(bench_ctx_t *c);
void bench_scale(bench_ctx_t *c);
void bench_timing(bench_ctx_t *c);

#endif
