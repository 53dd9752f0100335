/* run.h - one pmd-fleet run: the host loop (boot, tick, sample, the
 * control-plane events, live reports) and what it measured. */
#ifndef PF_RUN_H
#define PF_RUN_H

#include <stdint.h>

#include "fleet.h"
#include "observe.h"
#include "options.h"
#include "proc_self.h"

typedef struct pf_run {
    const pf_options_t *opt;
    pf_fleet_t *fleet;
    pf_observer_t obs;
    const char *url;
    int is_orchd; /* the URL answers /_dev/stats */
    uint64_t interval_ms;
    uint64_t t0_ms;    /* CLOCK_MONOTONIC ms at boot */
    uint64_t end_ms;   /* when the loop ended (before stop) */
    uint64_t event_ms; /* restart, or the end of the outage; 0 = none */
    uint64_t outage_begin_ms;
    pf_usage_t usage_steady, usage_end; /* at the start of the steady window, at the end */
    uint64_t steady_from_ms;            /* all registered + one interval */
    double obs_cpu_steady;              /* observer CPU at steady_from */
    /* the previous live report, for rates over its period */
    uint64_t live_ms, live_requests;
    double live_cpu_s, live_obs_cpu_s;
} pf_run_t;

/* Boots the fleet and runs the loop until --run-for has passed. */
void pf_run_loop(pf_run_t *r);

/* The window of steady traffic: from one interval after every node had
 * registered to the first event (or the end). 0 when there is none. */
uint64_t pf_run_steady_to(const pf_run_t *r);

#endif
