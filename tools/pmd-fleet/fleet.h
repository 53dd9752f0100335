/* fleet.h - N hollow nodes of one loaded plugin, driven from one host
 * thread: init all, start them (together or spread over a span), tick them,
 * stop and destroy them all. */
#ifndef PF_FLEET_H
#define PF_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "config_template.h"
#include "hollow_node.h"
#include "pmd_plugin.h"

typedef struct pf_fleet {
    const pmd_plugin_t *plugin;
    const pmd_ext_stats_t *stats; /* NULL when the plugin has no pmd.ext.stats/1 */
    uint32_t abi_minor;
    hollow_node_t *nodes;
    uint32_t count;
    uint32_t started; /* nodes started so far (in index order) */
    uint32_t init_failed, start_failed;
    char first_failure[320]; /* "fleet-00042: init: <reason>", "" when none */
    pf_log_counts_t logs;
    double stop_total_s, stop_max_s; /* from pf_fleet_finish */
} pf_fleet_t;

/* Calls init() for every node (node id = prefix + zero-padded index). A
 * failed init is counted, not fatal. -1 only when out of memory. */
int pf_fleet_init(pf_fleet_t *f, const pmd_plugin_t *p, uint32_t abi_minor, uint32_t count,
                  const char *prefix, pf_template_t *tpl, int verbose);

/* Starts the nodes that are due: node i at t0 + i * span / count (span 0:
 * all of them now). Returns how many were started by this call. */
uint32_t pf_fleet_start_due(pf_fleet_t *f, uint64_t t0_ns, uint64_t span_ns, uint64_t now_ns);

/* One tick for every started node. */
void pf_fleet_tick(pf_fleet_t *f, uint64_t now_ns);

/* stop() and destroy() every node, from 64 threads (each node from one of
 * them); records the total and the longest. */
void pf_fleet_finish(pf_fleet_t *f);
void pf_fleet_free(pf_fleet_t *f);

#endif
