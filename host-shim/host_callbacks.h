/*
 * host_callbacks.h - pmd-host-shim's side of the ABI: the pmd_host_t it
 * hands to init() and the callbacks behind it. Callbacks print to the
 * shim's stderr (log_line.h), serve the pools and capabilities they are
 * given, and check the header's host-side rules: a callback must come on
 * the host thread while the shim is inside an ABI call (shim_host_enter /
 * shim_host_leave around every call), and only during the calls
 * call_rules.h allows it in; anything else is logged as
 * "event=abi_violation" and counted.
 *
 * Line shape (log_line.h): a plugin's log line is printed as
 * "plugin=<name> <its text>" (node_registration's text is already
 * "node=<id> event=<name> key=value ..."); a state change as
 * "plugin=<name> node=<id> event=state_changed state=<name> detail=\"...\""
 * (node= once the shim knows the id); the shim's own lines as
 * "plugin=pmd-host-shim event=<name> ...".
 *
 * Host extensions: pmd.host.ext.log_fields/1 (log_fields.h): an event the
 * plugin sends as fields is printed as the same "plugin=<name> <text>"
 * line its text fallback would give. PMD_SHIM_NO_LOG_FIELDS=1 in the
 * environment withholds it (the plugin then logs text lines itself).
 */
#ifndef SHIM_HOST_CALLBACKS_H
#define SHIM_HOST_CALLBACKS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "call_rules.h"
#include "capabilities.h"
#include "pmd_plugin.h"
#include "pools_file.h"

typedef struct shim_host {
    pmd_host_t abi;                  /* what init() gets; host_data = this */
    const shim_pool_list_t *pools;   /* served by list_pools; owned by the caller */
    const shim_capabilities_t *caps; /* served by get_capabilities; owned by the caller */
    const pmd_plugin_t *plugin;      /* for result_string in messages */
    FILE *out;                       /* where lines go (stderr) */
    pthread_t host_thread;           /* the thread that called shim_host_setup */
    atomic_int current_call;         /* the shim_call_t running, -1 = none */
    atomic_uint violations;
    char pool_sink_problem[256]; /* last sink refusal logged; "" = none */
    char caps_sink_problem[256];
    char node_id[256];     /* "" until known (stats); host thread only */
    atomic_int last_state; /* last state_changed value, -1 = none yet */
    int offer_log_fields;  /* pmd.host.ext.log_fields/1 offered (default 1;
                              PMD_SHIM_NO_LOG_FIELDS=1 turns it off) */
} shim_host_t;

/* Fills h for use from the calling thread, which becomes the host thread.
 * pools, caps and plugin must outlive every ABI call. */
void shim_host_setup(shim_host_t *h, FILE *out, const char *host_version,
                     const shim_pool_list_t *pools, const shim_capabilities_t *caps,
                     const pmd_plugin_t *plugin);

/* Bracket every call into the plugin, naming it. */
void shim_host_enter(shim_host_t *h, shim_call_t call);
void shim_host_leave(shim_host_t *h);

/* The node id shown on state lines (from the plugin's stats). Host thread. */
void shim_host_set_node_id(shim_host_t *h, const char *node_id);

/* Last state reported through state_changed, -1 when none yet. */
int32_t shim_host_last_state(shim_host_t *h);

/* Callbacks that broke the rules so far. */
unsigned shim_host_violations(shim_host_t *h);

#endif /* SHIM_HOST_CALLBACKS_H */
