/* Unit tests of nr_schedule.c: backoff, pacing, the drift-free grid, phases. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "nr_schedule.h"

#define MS NR_MS

Test(schedule, backoff_stays_within_full_jitter_bounds)
{
    uint64_t rng = 42;
    for (uint32_t attempt = 0; attempt < 20; attempt++) {
        uint64_t cap = 250 * MS;
        for (uint32_t i = 0; i < attempt && cap < 10000 * MS; i++)
            cap *= 2;
        if (cap > 10000 * MS)
            cap = 10000 * MS;
        for (int k = 0; k < 200; k++)
            cr_assert_leq(nr_backoff_ns(250 * MS, 10000 * MS, attempt, &rng), cap);
    }
}

Test(schedule, backoff_is_jittered_not_constant)
{
    uint64_t rng = 7, first = nr_backoff_ns(250 * MS, 10000 * MS, 5, &rng);
    int differs = 0;
    for (int k = 0; k < 50; k++)
        differs |= nr_backoff_ns(250 * MS, 10000 * MS, 5, &rng) != first;
    cr_assert(differs);
}

Test(schedule, backoff_grows_until_the_maximum)
{
    uint64_t rng = 3, max_seen_early = 0, max_seen_late = 0;
    for (int k = 0; k < 500; k++) {
        uint64_t a = nr_backoff_ns(250 * MS, 10000 * MS, 0, &rng);
        uint64_t b = nr_backoff_ns(250 * MS, 10000 * MS, 30, &rng);
        max_seen_early = a > max_seen_early ? a : max_seen_early;
        max_seen_late = b > max_seen_late ? b : max_seen_late;
    }
    cr_assert_leq(max_seen_early, 250 * MS);
    cr_assert_gt(max_seen_late, 5000 * MS);
}

Test(schedule, server_pacing_takes_the_sooner_deadline)
{
    cr_assert_eq(nr_paced_interval_ns(10000 * MS, 1, 3000, 1000 * MS), 3000 * MS);
    cr_assert_eq(nr_paced_interval_ns(10000 * MS, 1, 60000, 1000 * MS), 10000 * MS);
    cr_assert_eq(nr_paced_interval_ns(10000 * MS, 0, 0, 1000 * MS), 10000 * MS);
}

Test(schedule, server_pacing_never_goes_below_the_floor)
{
    cr_assert_eq(nr_paced_interval_ns(10000 * MS, 1, 0, 1000 * MS), 1000 * MS);
    cr_assert_eq(nr_paced_interval_ns(10000 * MS, 1, 5, 1000 * MS), 1000 * MS);
    /* A configured interval below the floor is the operator's choice. */
    cr_assert_eq(nr_paced_interval_ns(50 * MS, 1, 1, 1000 * MS), 50 * MS);
}

Test(schedule, grid_slots_do_not_drift_with_latency)
{
    nr_grid_t g;
    nr_grid_start(&g, 1000 * MS, 100 * MS);
    uint64_t now = 1000 * MS;
    for (int n = 1; n <= 1000; n++) {
        now = nr_grid_due(&g) + 7 * MS; /* every request takes 7 ms */
        nr_grid_advance(&g, now);
    }
    cr_assert_eq(nr_grid_due(&g), 1000 * MS + 1000 * 100 * MS);
}

Test(schedule, grid_skips_missed_slots_without_catch_up_burst)
{
    nr_grid_t g;
    nr_grid_start(&g, 0, 100 * MS);
    nr_grid_advance(&g, 950 * MS); /* a request hung for most of a second */
    cr_assert_eq(nr_grid_due(&g), 1000 * MS);
}

Test(schedule, grid_period_change_reanchors_at_the_slot_sent)
{
    nr_grid_t g;
    nr_grid_start(&g, 0, 10000 * MS);
    nr_grid_advance(&g, 5 * MS);       /* slot 1 due at 10 s */
    nr_grid_set_period(&g, 3000 * MS); /* the reply to slot 1 asks for 3 s */
    nr_grid_advance(&g, 10005 * MS);
    cr_assert_eq(nr_grid_due(&g), 13000 * MS);
}

Test(schedule, start_jitter_is_small_and_spreads_nodes)
{
    uint64_t a = nr_seed("gpu-node-1", 1, 0), b = nr_seed("gpu-node-2", 1, 0);
    cr_assert_neq(a, b);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 200; k++) {
        uint64_t j = nr_start_jitter_ns(10000 * MS, &a);
        cr_assert_leq(j, 1000 * MS);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
    }
    cr_assert_gt(hi - lo, 100 * MS);
    cr_assert_leq(nr_start_jitter_ns(50 * MS, &b), 5 * MS);
    cr_assert_eq(nr_start_jitter_bound_ns(60000 * MS), 1000 * MS);
    cr_assert_eq(nr_start_jitter_bound_ns(2000 * MS), 200 * MS);
}

Test(schedule, phase_key_depends_on_the_node_id_only)
{
    cr_assert_eq(nr_phase_key("gpu-node-1"), nr_phase_key("gpu-node-1"));
    cr_assert_neq(nr_phase_key("gpu-node-1"), nr_phase_key("gpu-node-2"));
    cr_assert_eq(nr_phase_key(NULL), nr_phase_key(""));
}

/* 3,000 ids that differ in their last digits: their phases in a 10 s
 * interval, counted in 100 ms bins, fill every bin about equally. */
Test(schedule, phases_of_a_fleet_cover_the_interval_uniformly)
{
    enum { NODES = 3000, BINS = 100 };
    unsigned bins[BINS] = {0}, fullest = 0, emptiest = NODES;
    char id[32];
    for (int i = 0; i < NODES; i++) {
        snprintf(id, sizeof(id), "node-%04d", i);
        bins[nr_phase_key(id) % (10000 * MS) / (100 * MS)]++;
    }
    for (int b = 0; b < BINS; b++) {
        fullest = bins[b] > fullest ? bins[b] : fullest;
        emptiest = bins[b] < emptiest ? bins[b] : emptiest;
    }
    cr_assert_leq(fullest, 2 * NODES / BINS, "fullest bin %u, mean %d", fullest, NODES / BINS);
    cr_assert_geq(emptiest, NODES / BINS / 3, "emptiest bin %u", emptiest);
}

Test(schedule, phase_anchor_puts_the_wall_clock_phase_on_the_monotonic_clock)
{
    const uint64_t period = 10000 * MS, key = 123456789012345ull;
    const uint64_t offsets[] = {0, 1, 7 * MS, period - 1, period, 1764000000000000000ull};
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        uint64_t a = nr_phase_anchor_ns(key, period, offsets[i]);
        cr_assert_lt(a, period);
        cr_assert_eq((a + offsets[i]) % period, key % period, "offset %zu", i);
    }
    cr_assert_eq(nr_phase_anchor_ns(key, 0, 5), 0);
}

Test(schedule, slot_after_is_the_next_congruent_time_strictly_after_now)
{
    cr_assert_eq(nr_slot_after_ns(0, 10, 3), 3);
    cr_assert_eq(nr_slot_after_ns(3, 10, 3), 13, "strictly after");
    cr_assert_eq(nr_slot_after_ns(4, 10, 3), 13);
    cr_assert_eq(nr_slot_after_ns(5, 10, 55), 15, "an anchor in the future counts modulo");
    cr_assert_eq(nr_slot_after_ns(5, 0, 9), 6, "period 0 counts as 1");
    cr_assert_eq(nr_slot_after_ns(UINT64_MAX - 2, 10, 9), UINT64_MAX, "saturates");
}

Test(schedule, register_retry_cap_grows_with_the_interval)
{
    cr_assert_eq(nr_register_retry_cap_ns(10000 * MS, 10000 * MS), 20000 * MS);
    cr_assert_eq(nr_register_retry_cap_ns(1000 * MS, 10000 * MS), 10000 * MS, "retry_max wins");
    cr_assert_eq(nr_register_retry_cap_ns(86400000 * MS, 10000 * MS),
                 NR_REGISTER_RETRY_CEILING_MS * MS, "a day's interval: the ceiling");
    cr_assert_eq(nr_register_retry_cap_ns(86400000 * MS, 86400000 * MS), 86400000 * MS,
                 "a larger retry_max is the operator's choice");
}

Test(schedule, backoff_cap_doubles_up_to_the_maximum_without_overflow)
{
    cr_assert_eq(nr_backoff_cap_ns(250 * MS, 10000 * MS, 0), 250 * MS);
    cr_assert_eq(nr_backoff_cap_ns(250 * MS, 10000 * MS, 3), 2000 * MS);
    cr_assert_eq(nr_backoff_cap_ns(250 * MS, 10000 * MS, 6), 10000 * MS);
    cr_assert_eq(nr_backoff_cap_ns(250 * MS, 10000 * MS, UINT32_MAX), 10000 * MS);
    cr_assert_eq(nr_backoff_cap_ns(UINT64_MAX / 3, UINT64_MAX, 5), UINT64_MAX);
    cr_assert_eq(nr_backoff_cap_ns(5000 * MS, 1000 * MS, 0), 1000 * MS, "base over max");
}

Test(schedule, equal_jitter_backoff_stays_in_the_upper_half)
{
    uint64_t rng = 11;
    int differs = 0;
    for (uint32_t attempt = 0; attempt < 12; attempt++) {
        uint64_t cap = nr_backoff_cap_ns(250 * MS, 10000 * MS, attempt);
        uint64_t first = nr_backoff_equal_jitter_ns(250 * MS, 10000 * MS, attempt, &rng);
        for (int k = 0; k < 200; k++) {
            uint64_t d = nr_backoff_equal_jitter_ns(250 * MS, 10000 * MS, attempt, &rng);
            cr_assert_geq(d, cap / 2);
            cr_assert_leq(d, cap);
            differs |= d != first;
        }
    }
    cr_assert(differs, "no jitter");
    cr_assert_eq(nr_backoff_equal_jitter_ns(0, 0, 3, &rng), 0);
}
