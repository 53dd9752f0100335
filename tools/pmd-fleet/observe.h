/* observe.h - what the control plane experienced, measured client-side from
 * every node's pmd.ext.stats/1 counters and state, sampled on the host
 * thread: requests, states, the exact time of each good heartbeat (binned),
 * when every node had registered, and when every node had registered again
 * after an event (a restart or the end of an outage). */
#ifndef PF_OBSERVE_H
#define PF_OBSERVE_H

#include <stdint.h>

#include "bins.h"
#include "fleet.h"

typedef struct pf_node_seen {
    uint64_t requests;   /* sum of the request counters */
    uint64_t last_hb_ms; /* last_heartbeat_ok_unix_ms */
    uint64_t regs_ok;
    uint64_t regs_at_event;
    uint64_t registered_ms; /* first registration (mono ms), 0 = not yet */
    uint64_t recovered_ms;  /* registered again after the event, 0 = not yet */
} pf_node_seen_t;

typedef struct pf_tally {
    uint64_t requests, registrations, heartbeats, failures;
    uint32_t by_state[8]; /* enum pmd_node_state (index state & 7) */
} pf_tally_t;

typedef struct pf_observer {
    pf_node_seen_t *seen;
    uint32_t count;
    int64_t wall_minus_mono_ms;
    pf_bins_t heartbeats; /* good heartbeats by the client's clock */
    pf_tally_t tally;     /* as of the last sample */
    uint64_t all_registered_ms, event_ms, all_recovered_ms; /* mono ms; 0 = not (yet) */
    uint32_t recovered;
    double cpu_s; /* thread CPU time spent sampling */
} pf_observer_t;

int pf_observe_init(pf_observer_t *o, uint32_t count, uint64_t t0_ms, uint64_t span_ms);
void pf_observe_free(pf_observer_t *o);

/* Reads every node's stats (host thread) and updates everything above. */
void pf_observe_sample(pf_observer_t *o, pf_fleet_t *f, uint64_t now_ms);

/* From now, count nodes that register again (after a restart, or at the end
 * of an outage). */
void pf_observe_mark_event(pf_observer_t *o, uint64_t now_ms);

#endif
