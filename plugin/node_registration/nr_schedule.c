/*
 * nr_schedule.c - backoff, jitter, pacing and the heartbeat grid (pure).
 * Why a grid: heartbeat n is due at origin + n * period, so latency and
 * scheduling noise never accumulate into drift. Why a phase per node: see
 * nr_schedule.h; a fleet's sum is what the control plane must be sized for.
 */
#include "nr_schedule.h"

#include <string.h>

uint64_t nr_rand_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t nr_rand_upto(uint64_t *state, uint64_t bound)
{
    if (bound == 0)
        return 0;
    if (bound == UINT64_MAX)
        return nr_rand_next(state);
    return nr_rand_next(state) % (bound + 1);
}

uint64_t nr_seed(const char *node_id, uint64_t now_ns, uintptr_t salt)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the node id */
    for (const unsigned char *p = (const unsigned char *)node_id; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= now_ns ^ ((uint64_t)salt << 17);
    return h ? h : 1;
}

uint64_t nr_backoff_cap_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt)
{
    uint64_t cap = base_ns;
    for (uint32_t i = 0; i < attempt && cap < max_ns; i++)
        cap = cap > max_ns / 2 ? max_ns : cap * 2;
    return cap > max_ns ? max_ns : cap;
}

uint64_t nr_backoff_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt, uint64_t *rng)
{
    return nr_rand_upto(rng, nr_backoff_cap_ns(base_ns, max_ns, attempt));
}

uint64_t nr_backoff_equal_jitter_ns(uint64_t base_ns, uint64_t max_ns, uint32_t attempt,
                                    uint64_t *rng)
{
    uint64_t cap = nr_backoff_cap_ns(base_ns, max_ns, attempt);
    return cap / 2 + nr_rand_upto(rng, cap - cap / 2);
}

uint64_t nr_paced_interval_ns(uint64_t configured_ns, int has_server, uint64_t server_ms,
                              uint64_t floor_ns)
{
    if (!has_server)
        return configured_ns;
    uint64_t server_ns = server_ms > UINT64_MAX / NR_MS ? UINT64_MAX : server_ms * NR_MS;
    uint64_t paced = server_ns < configured_ns ? server_ns : configured_ns;
    uint64_t floor = floor_ns < configured_ns ? floor_ns : configured_ns;
    return paced < floor ? floor : paced;
}

void nr_grid_start(nr_grid_t *g, uint64_t first_ns, uint64_t period_ns)
{
    g->origin_ns = first_ns;
    g->period_ns = period_ns ? period_ns : 1;
    g->slot = 0;
}

uint64_t nr_grid_due(const nr_grid_t *g)
{
    return g->origin_ns + g->slot * g->period_ns;
}

void nr_grid_advance(nr_grid_t *g, uint64_t now_ns)
{
    g->slot++;
    if (nr_grid_due(g) <= now_ns)
        g->slot = (now_ns - g->origin_ns) / g->period_ns + 1;
}

void nr_grid_set_period(nr_grid_t *g, uint64_t period_ns)
{
    if (period_ns == 0 || period_ns == g->period_ns)
        return;
    /* Re-anchor at the current slot's due time: the new pace counts from
     * when the last heartbeat was scheduled, not from when its reply came. */
    g->origin_ns = nr_grid_due(g);
    g->period_ns = period_ns;
    g->slot = 0;
}

uint64_t nr_start_jitter_bound_ns(uint64_t interval_ns)
{
    uint64_t bound = interval_ns / 10;
    return bound > 1000 * NR_MS ? 1000 * NR_MS : bound;
}

uint64_t nr_start_jitter_ns(uint64_t interval_ns, uint64_t *rng)
{
    return nr_rand_upto(rng, nr_start_jitter_bound_ns(interval_ns));
}

uint64_t nr_phase_key(const char *node_id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)node_id; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33; /* murmur3's fmix64: every input bit reaches every output bit */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t nr_phase_anchor_ns(uint64_t key, uint64_t period_ns, uint64_t wall_offset_ns)
{
    if (period_ns == 0)
        return 0;
    uint64_t phase = key % period_ns, offset = wall_offset_ns % period_ns;
    return phase >= offset ? phase - offset : period_ns - (offset - phase);
}

uint64_t nr_slot_after_ns(uint64_t now_ns, uint64_t period_ns, uint64_t anchor_ns)
{
    uint64_t p = period_ns ? period_ns : 1;
    uint64_t r = anchor_ns % p, base = now_ns - now_ns % p;
    if (r > UINT64_MAX - base)
        return UINT64_MAX;
    if (base + r > now_ns)
        return base + r;
    return base + r > UINT64_MAX - p ? UINT64_MAX : base + r + p;
}

uint64_t nr_register_retry_cap_ns(uint64_t interval_ns, uint64_t retry_max_ns)
{
    uint64_t ceiling = (uint64_t)NR_REGISTER_RETRY_CEILING_MS * NR_MS;
    uint64_t twice = interval_ns > ceiling / 2 ? ceiling : 2 * interval_ns;
    return twice > retry_max_ns ? twice : retry_max_ns;
}
