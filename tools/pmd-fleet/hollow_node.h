/* hollow_node.h - one instance of the real plugin with a synthetic host:
 * its own node id, two pools and one GPU made up from its index. All calls
 * on the fleet's one host thread. */
#ifndef PF_HOLLOW_NODE_H
#define PF_HOLLOW_NODE_H

#include <pthread.h>
#include <stdint.h>

#include "pmd_plugin.h"

/* What every node's log callback feeds (locked: the fleet stops its nodes
 * from several threads). */
typedef struct pf_log_counts {
    pthread_mutex_t lock;
    uint64_t by_level[8];
    char first_error[256];       /* the first ERROR line, "" when none */
    char last_error[256];        /* the latest ERROR line, and whose: on_start has */
    const void *last_error_node; /* no error text, so its log line is the reason */
    int verbose;                 /* print WARN and ERROR lines to stderr */
} pf_log_counts_t;

typedef struct hollow_node {
    char node_id[200];
    uint32_t index;
    pmd_host_t host;
    pf_log_counts_t *logs;
    pmd_instance_t *inst; /* NULL until a successful init, after destroy */
    int started;
    int32_t init_rc, start_rc;
} hollow_node_t;

/* init() with config; on failure writes the plugin's reason into err. */
int32_t hn_init(hollow_node_t *n, const pmd_plugin_t *p, uint32_t abi_minor, uint32_t index,
                const char *node_id, const char *config, pf_log_counts_t *logs, char *err,
                uint32_t err_size);
int32_t hn_start(hollow_node_t *n, const pmd_plugin_t *p);
void hn_tick(hollow_node_t *n, const pmd_plugin_t *p, uint64_t now_ns);
/* stop() then destroy(); safe on a node whose init failed. */
void hn_finish(hollow_node_t *n, const pmd_plugin_t *p);

#endif
