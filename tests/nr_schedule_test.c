/* Unit tests of nr_schedule.c: backoff, pacing, the drift-free grid. */
#include <criterion/criterion.h>

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
    nr_grid_advance(&g, 5 * MS);          /* slot 1 due at 10 s */
    nr_grid_set_period(&g, 3000 * MS);    /* the reply to slot 1 asks for 3 s */
    nr_grid_advance(&g, 10005 * MS);
    cr_assert_eq(nr_grid_due(&g), 13000 * MS);
}

Test(schedule, first_heartbeat_jitter_is_small_and_spreads_nodes)
{
    uint64_t a = nr_seed("gpu-node-1", 1, 0), b = nr_seed("gpu-node-2", 1, 0);
    cr_assert_neq(a, b);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 200; k++) {
        uint64_t j = nr_first_heartbeat_jitter_ns(10000 * MS, &a);
        cr_assert_leq(j, 1000 * MS);
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
    }
    cr_assert_gt(hi - lo, 100 * MS);
    cr_assert_leq(nr_first_heartbeat_jitter_ns(50 * MS, &b), 5 * MS);
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
