/*
 * nr_schedule.h - time arithmetic of the plugin, pure: backoff with full
 * jitter, the drift-free heartbeat grid, each node's phase on it, the
 * server's pacing with its floor.
 * All times are CLOCK_MONOTONIC nanoseconds; randomness comes from a state
 * the caller owns, so every function is deterministic under test.
 */
#ifndef NR_SCHEDULE_H
#define NR_SCHEDULE_H

#include <stdint.h>

#define NR_MS 1000000ull /* nanoseconds per millisecond */

/* The server may shorten the interval, never below this (unless the
 * configured interval itself is shorter). */
#define NR_PACING_FLOOR_MS 1000u

/* xorshift64*: small, fast, good enough for jitter. state must be non-zero. */
uint64_t nr_rand_next(uint64_t *state);

/* Uniform in [0, bound]; 0 when bound is 0. */
uint64_t nr_rand_upto(uint64_t *state, uint64_t bound);

/* A seed that differs per node and per run. */
uint64_t nr_seed(const char *node_id, uint64_t now_ns, uintptr_t salt);

/* The exponential bound: min(max, base * 2^attempt), never overflowing.
 * attempt counts from 0 (the first retry). */
uint64_t nr_backoff_cap_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt);

/* "Full jitter" backoff: uniform in [0, nr_backoff_cap_ns(...)]. */
uint64_t nr_backoff_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt, uint64_t *rng);

/* "Equal jitter" backoff: uniform in [cap / 2, cap] with cap as above. For
 * loop guards: unlike full jitter it never draws a run of near-zero waits,
 * so the number of requests in a given time has a hard bound. */
uint64_t nr_backoff_equal_jitter_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt,
                                    uint64_t *rng);

/* The interval that follows a heartbeat reply: the sooner of the configured
 * interval and the server's next_heartbeat_ms, but never below
 * min(floor, configured interval). has_server = 0 means the configured one. */
uint64_t nr_paced_interval_ns(uint64_t configured_ns, int has_server, uint64_t server_ms,
                              uint64_t floor_ns);

/* The heartbeat grid: slot n is due at origin + n * period. */
typedef struct nr_grid {
    uint64_t origin_ns;
    uint64_t period_ns;
    uint64_t slot; /* the slot that is due next */
} nr_grid_t;

/* Starts a grid whose slot 0 is due at first_ns. */
void nr_grid_start(nr_grid_t *g, uint64_t first_ns, uint64_t period_ns);

/* Time the next slot is due. */
uint64_t nr_grid_due(const nr_grid_t *g);

/* Moves to the first slot strictly after now (no catch-up bursts: slots that
 * passed while a request ran are skipped, not sent late). */
void nr_grid_advance(nr_grid_t *g, uint64_t now_ns);

/* Changes the period. Call it while the slot just sent is still current
 * (before nr_grid_advance): the grid is re-anchored at that slot's due time,
 * so a change of pace does not shift the phase by the request's latency. */
void nr_grid_set_period(nr_grid_t *g, uint64_t period_ns);

/* The bound of the prompt jitter: min(interval / 10, 1 s). */
uint64_t nr_start_jitter_bound_ns(uint64_t interval_ns);

/* A per-node delay uniform in [0, nr_start_jitter_bound_ns(interval)]: before
 * the first registration after start (a fleet that boots together does not
 * register in one instant) and before the first heartbeat after a
 * registration (the node shows up Online within a second). */
uint64_t nr_start_jitter_ns(uint64_t interval_ns, uint64_t *rng);

/* Phase spreading. A node's heartbeats fall where the wall clock, modulo the
 * interval, equals the node's phase: key mod interval, the key a hash of
 * the node id. The phase is the same on every host and after every restart
 * and independent of boot time, and the phases of a fleet cover the whole
 * interval uniformly, so nodes that boot together do not beat together. The
 * wall clock is read once (wall_offset_ns = CLOCK_REALTIME - CLOCK_MONOTONIC
 * at the worker's creation); the grid itself runs on CLOCK_MONOTONIC and a
 * later jump of the wall clock does not move it. */

/* The key of a node id: FNV-1a, then a 64-bit finaliser so that ids that
 * differ in one character (node-0001, node-0002) land far apart. NULL gives
 * the key of "". */
uint64_t nr_phase_key(const char *node_id);

/* A CLOCK_MONOTONIC time on the node's phase grid of that period: every t
 * with t = anchor (mod period) has (t + wall_offset_ns) mod period equal to
 * key mod period. Result in [0, period). */
uint64_t nr_phase_anchor_ns(uint64_t key, uint64_t period_ns, uint64_t wall_offset_ns);

/* The first time strictly after now_ns that is congruent to anchor_ns modulo
 * period_ns (saturating at UINT64_MAX). period_ns 0 counts as 1. */
uint64_t nr_slot_after_ns(uint64_t now_ns, uint64_t period_ns, uint64_t anchor_ns);

/* Registration retries (full jitter) double up to this cap:
 * max(retry_max, min(2 x interval, NR_REGISTER_RETRY_CEILING_MS)). With the
 * cap at twice the interval a node that cannot register sends on average
 * one registration per interval, the rate of its heartbeats, however small
 * retry_max is; the ceiling keeps a node with a very long interval from
 * waiting hours to register. */
#define NR_REGISTER_RETRY_CEILING_MS 300000u
uint64_t nr_register_retry_cap_ns(uint64_t interval_ns, uint64_t retry_max_ns);

#endif /* NR_SCHEDULE_H */
