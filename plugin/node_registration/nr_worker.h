/*
 * nr_worker.h - one node on the shared network thread (nr_engine.h), and
 * its hand-off with the host thread.
 *
 * The host thread (ABI calls) and the network thread share one small,
 * mutex-guarded mailbox:
 *   host -> network: stop request, the latest pool snapshot, "pools changed";
 *   network -> host: log lines and state changes (queued, delivered on the
 *   next tick, because host callbacks may only run on the host thread), and
 *   "pools wanted by T" (a heartbeat is coming: pull the pools on a tick).
 * Everything else belongs to the network thread alone. No callback into the
 * host is ever made from here.
 */
#ifndef NR_WORKER_H
#define NR_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "nr_config.h"
#include "nr_events.h"
#include "nr_log.h"
#include "nr_records.h"
#include "pmd_plugin.h"

typedef struct nr_worker nr_worker_t;

/* Counters the network thread keeps (read with nr_worker_stats). */
typedef struct nr_worker_stats {
    uint64_t registrations_ok, reregistrations;
    uint64_t registrations_failed_transport, registrations_failed_status, registrations_failed_auth;
    uint64_t heartbeats_ok;
    uint64_t heartbeats_failed_transport, heartbeats_failed_status, heartbeats_failed_auth,
        heartbeats_not_registered;
    uint64_t deregistrations_ok, deregistrations_failed;
    uint64_t consecutive_failures;
    uint64_t last_heartbeat_ok_unix_ms;
    uint64_t last_heartbeat_latency_ns;
    uint64_t last_registration_latency_ns;
    uint64_t connections;
    uint64_t events_dropped;
    int32_t state; /* pmd_node_state */
    uint64_t state_since_unix_ms;
    char last_error[200]; /* "" when none; never a secret */
} nr_worker_stats_t;

/* cfg must outlive the worker. version: the plugin's version string. */
nr_worker_t *nr_worker_new(const nr_config_t *cfg, const char *version, char *err, size_t err_size);

/* Hands over the first pool snapshot and the capabilities (host thread,
 * before nr_worker_start). Takes ownership of the lists' contents. */
void nr_worker_seed(nr_worker_t *w, nr_pool_list_t *pools, nr_capabilities_t *caps);

/* Joins the process's network thread (nr_engine.h), starting it for the
 * first node; registration begins at once. 0 on success, else -1 with the
 * reason in err (no room for the node's connection under RLIMIT_NOFILE, no
 * thread, no libcurl handle). */
int nr_worker_start(nr_worker_t *w, char *err, size_t err_size);

/* Host thread, every tick: copies out up to max queued events (returns how
 * many), and says whether the pools should be pulled now. */
size_t nr_worker_take_events(nr_worker_t *w, nr_event_t *out, size_t max);
int nr_worker_pools_wanted(nr_worker_t *w, uint64_t now_ns, uint64_t lookahead_ns);

/* Host thread: a fresh pool snapshot (ownership of the contents taken). */
void nr_worker_offer_pools(nr_worker_t *w, nr_pool_list_t *pools);

/* Host thread: asks the network thread to deregister the node and let go of
 * it within timeout_ms, and waits for that. */
void nr_worker_stop(nr_worker_t *w, uint32_t timeout_ms);

/* What a handover passes on (plain data; see pmd_handover_t). */
typedef struct nr_worker_handover {
    int registered;
    uint64_t next_heartbeat_due_ns; /* CLOCK_MONOTONIC; 0 = none scheduled */
    uint64_t heartbeat_interval_ns;
    uint64_t last_heartbeat_ok_ns; /* 0 = none */
} nr_worker_handover_t;

/* Host thread: ends the network thread within timeout_ms like
 * nr_worker_stop, but sends no DELETE: another instance takes the node
 * over. Fills out; -1 when the thread was not running. */
int nr_worker_handover(nr_worker_t *w, uint32_t timeout_ms, nr_worker_handover_t *out);

/* Host thread, before nr_worker_start: take over a handed-over node:
 * register at once, first heartbeat at due_ns (CLOCK_MONOTONIC). */
void nr_worker_take_over(nr_worker_t *w, uint64_t due_ns);

void nr_worker_stats(nr_worker_t *w, nr_worker_stats_t *out);

/* Frees everything; stops first if needed. */
void nr_worker_free(nr_worker_t *w);

#endif /* NR_WORKER_H */
