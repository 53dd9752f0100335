/*
 * bench_host.h - the smallest host that satisfies pmd_plugin.h: it records
 * nothing but counters, so that what the benchmark times is the plugin and
 * not a recorder. Pools are served from a fixed table (up to
 * BH_MAX_POOLS); capabilities are one GPU.
 *
 * Threads: like any host, the callbacks run on the thread inside the ABI
 * call; the counters are plain fields read by that same thread.
 * Set PMD_BENCH_VERBOSE=1 to print every log line and state to stderr.
 */
#ifndef PMD_BENCH_HOST_H
#define PMD_BENCH_HOST_H

#include <stdint.h>

#include "pmd_plugin.h"

#define BH_MAX_POOLS 16

typedef struct bh_host {
    pmd_host_t abi;      /* handed to init(); host_data points at this struct */
    int pools;           /* records list_pools pushes (0..BH_MAX_POOLS) */
    uint64_t list_calls; /* list_pools calls so far */
    uint64_t log_lines;
    uint64_t state_changes;
    int32_t last_state; /* -1 before the first state_changed */
    int verbose;
} bh_host_t;

/* Wires h->abi to the callbacks; h is then ready for plugin->init. */
void bh_host_init(bh_host_t *h, int pools);

/* The plugin's pmd.ext.stats/1 table, or NULL when it offers none. */
const pmd_ext_stats_t *bh_stats_ext(const pmd_plugin_t *plugin, uint32_t session_minor);

/* Stats of one instance (zeroed, state -1, on failure). */
pmd_stats_t bh_stats(const pmd_ext_stats_t *ext, pmd_instance_t *in);

#endif
