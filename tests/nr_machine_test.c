/* Unit tests of nr_machine.c: every transition, without network or clock. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "nr_machine.h"
#include "pmd_plugin.h"

#define MS NR_MS

static nr_machine_t m;

static void setup(void)
{
    nr_machine_params_t p = {1000 * MS, 250 * MS, 10000 * MS, 1000 * MS, 0, 0};
    nr_machine_init(&m, &p, 1234);
}

static nr_outcome_t reply(nr_request_t r, long status)
{
    nr_outcome_t o = {.request = r, .responded = 1, .status = status};
    return o;
}

static nr_outcome_t no_response(nr_request_t r)
{
    nr_outcome_t o = {.request = r, .responded = 0};
    return o;
}

static void register_ok(uint64_t now)
{
    nr_machine_start(&m, now);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, now);
}

TestSuite(machine, .init = setup);

Test(machine, start_registers_within_the_start_jitter)
{
    nr_decision_t d = nr_machine_start(&m, 5 * MS);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_geq(m.next_due_ns, 5 * MS);
    cr_assert_leq(m.next_due_ns, 105 * MS, "a tenth of the 1 s interval");
}

Test(machine, registration_success_schedules_a_jittered_first_heartbeat)
{
    register_ok(0);
    cr_assert_eq(m.state, NR_STATE_REGISTERED);
    cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    cr_assert_leq(m.next_due_ns, 100 * MS);
}

Test(machine, registration_failure_retries_with_backoff_forever)
{
    nr_machine_start(&m, 0);
    uint64_t now = 0;
    for (int i = 0; i < 100; i++) {
        nr_outcome_t o =
            (i % 2) ? reply(NR_REQUEST_REGISTER, 500) : no_response(NR_REQUEST_REGISTER);
        nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
        cr_assert_eq(m.state, NR_STATE_REGISTERING);
        cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
        cr_assert_leq(d.delay_ns, 10000 * MS);
        now = m.next_due_ns;
    }
    cr_assert_eq(m.register_failures, 100);
}

Test(machine, registration_503_honours_retry_after)
{
    nr_machine_start(&m, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 503);
    o.has_retry_after = 1;
    o.retry_after_ms = 30000;
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_geq(m.next_due_ns, 30000 * MS);
}

static void heartbeat_ok(uint64_t now)
{
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    nr_machine_on_outcome(&m, &o, now);
}

Test(machine, heartbeat_404_after_a_good_heartbeat_registers_again_at_once)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    uint64_t now = m.next_due_ns + 5 * MS;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 404);
    nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
    cr_assert(d.state_changed);
    cr_assert_eq(d.reason, NR_REASON_NOT_REGISTERED);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, now);
}

Test(machine, heartbeat_410_is_treated_like_404)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    uint64_t now = m.next_due_ns;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 410);
    nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(d.reason, NR_REASON_NOT_REGISTERED);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_due_ns, now);
}

Test(machine, first_heartbeat_404_after_registration_backs_off)
{
    register_ok(0);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 404);
    uint64_t now = m.next_due_ns;
    nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(d.reason, NR_REASON_NOT_REGISTERED);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.reregister_backoffs, 1, "the loop counter was not bumped");
    /* attempt 0, equal jitter: between half of retry_base and retry_base */
    cr_assert_geq(d.delay_ns, 125 * MS);
    cr_assert_leq(d.delay_ns, 250 * MS);
}

/* Register answered 200, every heartbeat 404 (a proxy mangling the node id,
 * replicas with separate registries): 60 simulated seconds at a 1 s
 * interval, 10 ms per request. Before the fix: ~1,700 requests. With the
 * backoff's lower half fixed the bound is hard: at most ~34. */
Test(machine, register_ok_heartbeat_404_loop_is_bounded_and_backs_off_to_retry_max)
{
    uint64_t now = 0, end = 60000 * MS, min_late = UINT64_MAX, max_delay = 0;
    unsigned requests = 0;
    nr_machine_start(&m, now);
    while (now < end) {
        now = (m.next_due_ns > now ? m.next_due_ns : now) + 10 * MS;
        requests++;
        nr_request_t r = m.next_request;
        nr_outcome_t o = reply(r, r == NR_REQUEST_REGISTER ? 200 : 404);
        nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
        if (r == NR_REQUEST_HEARTBEAT) {
            cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
            max_delay = d.delay_ns > max_delay ? d.delay_ns : max_delay;
            if (now > end / 2)
                min_late = d.delay_ns < min_late ? d.delay_ns : min_late;
        }
    }
    cr_assert_leq(requests, 40, "%u requests in 60 s", requests);
    cr_assert_geq(min_late, 5000 * MS, "backoff did not grow to retry_max (10 s, half fixed)");
    cr_assert_leq(max_delay, 10000 * MS, "backoff over retry_max");
    cr_assert_geq(m.reregister_backoffs, 6, "the attempt count did not survive registration");
}

Test(machine, a_good_heartbeat_ends_the_reregister_backoff)
{
    register_ok(0);
    for (int i = 0; i < 4; i++) {
        nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 404);
        nr_machine_on_outcome(&m, &o, m.next_due_ns);
        o = reply(NR_REQUEST_REGISTER, 200);
        nr_machine_on_outcome(&m, &o, m.next_due_ns);
    }
    cr_assert_eq(m.reregister_backoffs, 4);
    heartbeat_ok(m.next_due_ns);
    cr_assert_eq(m.reregister_backoffs, 0);
    uint64_t now = m.next_due_ns;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 404);
    nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(m.next_due_ns, now, "the control plane forgot us: at once");
}

Test(machine, three_heartbeat_failures_degrade_and_reset_the_connection)
{
    register_ok(0);
    uint64_t now = m.next_due_ns;
    for (int i = 1; i <= 3; i++) {
        nr_outcome_t o =
            i == 2 ? reply(NR_REQUEST_HEARTBEAT, 502) : no_response(NR_REQUEST_HEARTBEAT);
        nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
        cr_assert_eq(m.state, i < 3 ? NR_STATE_REGISTERED : NR_STATE_DEGRADED);
        cr_assert_eq(d.reset_connection, i == 3);
        cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
        now = m.next_due_ns;
    }
    nr_outcome_t ok = reply(NR_REQUEST_HEARTBEAT, 200);
    nr_decision_t d = nr_machine_on_outcome(&m, &ok, now);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_REGISTERED);
}

Test(machine, heartbeat_failures_keep_the_schedule)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    uint64_t slot = m.next_due_ns;
    nr_outcome_t o = no_response(NR_REQUEST_HEARTBEAT);
    nr_machine_on_outcome(&m, &o, slot + 300 * MS); /* a timeout took 300 ms */
    cr_assert_eq(m.next_due_ns, slot + 1000 * MS);
}

Test(machine, server_pacing_shortens_the_interval)
{
    register_ok(0);
    uint64_t first = m.next_due_ns;
    nr_machine_params_t p = {10000 * MS, 250 * MS, 10000 * MS, 1000 * MS, 0, 0};
    m.p = p;
    nr_grid_start(&m.grid, first, p.interval_ns);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    o.has_next = 1;
    o.next_heartbeat_ms = 2000;
    nr_machine_on_outcome(&m, &o, first + 3 * MS);
    cr_assert_eq(m.next_due_ns, first + 2000 * MS);
}

Test(machine, server_pacing_cannot_flood)
{
    register_ok(0);
    uint64_t first = m.next_due_ns;
    nr_machine_params_t p = {10000 * MS, 250 * MS, 10000 * MS, 1000 * MS, 0, 0};
    m.p = p;
    nr_grid_start(&m.grid, first, p.interval_ns);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    o.has_next = 1;
    o.next_heartbeat_ms = 0;
    nr_machine_on_outcome(&m, &o, first + 3 * MS);
    cr_assert_eq(m.next_due_ns, first + 1000 * MS);
}

Test(machine, unauthorized_backs_off_long)
{
    nr_machine_start(&m, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 401);
    nr_decision_t d = nr_machine_on_outcome(&m, &o, 0);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_UNAUTHORIZED);
    cr_assert_geq(m.next_due_ns, NR_AUTH_BACKOFF_MIN_MS / 2 * MS);
}

Test(machine, token_change_retries_at_once_when_unauthorized)
{
    register_ok(0);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 403);
    nr_machine_on_outcome(&m, &o, 10 * MS);
    cr_assert_eq(m.state, NR_STATE_UNAUTHORIZED);
    nr_machine_on_token_changed(&m, 20 * MS);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, 20 * MS);
}

Test(machine, token_change_while_registered_changes_nothing)
{
    register_ok(0);
    uint64_t due = m.next_due_ns;
    nr_machine_on_token_changed(&m, 20 * MS);
    cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    cr_assert_eq(m.next_due_ns, due);
}

Test(machine, pool_set_change_registers_again)
{
    register_ok(0);
    nr_machine_on_pools_changed(&m, 30 * MS);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, 30 * MS);
}

Test(machine, states_map_to_the_abi)
{
    cr_assert_eq(nr_machine_node_state(NR_STATE_REGISTERED), PMD_NODE_REGISTERED);
    cr_assert_eq(nr_machine_node_state(NR_STATE_DEGRADED), PMD_NODE_DEGRADED);
    cr_assert_eq(nr_machine_node_state(NR_STATE_UNAUTHORIZED), PMD_NODE_UNAUTHORIZED);
    cr_assert_eq(nr_machine_node_state(NR_STATE_REGISTERING), PMD_NODE_REGISTERING);
}

Test(machine, heartbeat_retry_after_is_capped_at_one_interval_past_the_slot)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    uint64_t sent = m.next_due_ns, now = sent + 20 * MS;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 503);
    o.has_retry_after = 1;
    o.retry_after_ms = 3600000; /* an hour: the control plane drops us after 30 s */
    nr_decision_t d = nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    cr_assert_eq(m.state, NR_STATE_REGISTERED);
    /* the slot it would have had is sent + 1 s; one interval past it */
    cr_assert_eq(m.next_due_ns, sent + 2000 * MS);
    cr_assert_eq(d.delay_ns, sent + 2000 * MS - now);
}

Test(machine, heartbeat_retry_after_within_an_interval_is_honoured)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    uint64_t now = m.next_due_ns + 20 * MS;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 429);
    o.has_retry_after = 1;
    o.retry_after_ms = 1500;
    nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(m.next_due_ns, now + 1500 * MS);
}

Test(machine, registration_retry_after_is_honoured_up_to_an_hour)
{
    nr_machine_start(&m, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 503);
    o.has_retry_after = 1;
    o.retry_after_ms = 3600000;
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_eq(m.next_due_ns, 3600000 * MS);
    o.retry_after_ms = UINT64_MAX; /* a raw value that skipped the transport's cap */
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_eq(m.next_due_ns, 3600000 * MS);
}

Test(machine, retry_after_applies_to_transient_statuses_only)
{
    nr_machine_start(&m, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 500);
    o.has_retry_after = 1;
    o.retry_after_ms = 60000;
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_eq(m.next_due_ns, 60000 * MS, "5xx with Retry-After");
    o.status = 400;
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_leq(m.next_due_ns, 10000 * MS, "a rejection's Retry-After was honoured");
}

static void expect_class(long status, nr_status_class_t c)
{
    cr_assert_eq(nr_machine_status_class(1, status), c, "status %ld: %s", status,
                 nr_status_class_name(nr_machine_status_class(1, status)));
}

Test(machine, every_status_has_a_class)
{
    cr_assert_eq(nr_machine_status_class(0, 200), NR_STATUS_NO_RESPONSE);
    for (long s = 200; s < 300; s++)
        expect_class(s, NR_STATUS_OK);
    expect_class(401, NR_STATUS_UNAUTHORIZED);
    expect_class(403, NR_STATUS_UNAUTHORIZED);
    expect_class(404, NR_STATUS_NOT_REGISTERED);
    expect_class(410, NR_STATUS_NOT_REGISTERED);
    for (long s = 500; s < 600; s++)
        expect_class(s, NR_STATUS_TRANSIENT);
    expect_class(408, NR_STATUS_TRANSIENT);
    expect_class(425, NR_STATUS_TRANSIENT);
    expect_class(429, NR_STATUS_TRANSIENT);
    const long rejected[] = {400, 402, 405, 409, 413, 415, 418, 422, 451, 499};
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
        expect_class(rejected[i], NR_STATUS_REJECTED);
    const long odd[] = {-1, 0, 100, 101, 199, 301, 302, 304, 399, 600, 999};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        expect_class(odd[i], NR_STATUS_UNEXPECTED);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 409);
    cr_assert_eq(nr_machine_classify(&o), NR_STATUS_REJECTED);
    cr_assert_str_eq(nr_status_class_name(NR_STATUS_NOT_REGISTERED), "not_registered");
}

Test(machine, success_and_auth_helpers_agree_with_the_classes)
{
    cr_assert(nr_machine_is_success(200) && nr_machine_is_success(204));
    cr_assert(!nr_machine_is_success(199) && !nr_machine_is_success(300));
    cr_assert(nr_machine_is_auth_failure(401) && nr_machine_is_auth_failure(403));
    cr_assert(!nr_machine_is_auth_failure(404) && !nr_machine_is_auth_failure(407));
}

Test(machine, deregistration_counts_gone_as_success)
{
    cr_assert(nr_machine_deregister_succeeded(1, 204));
    cr_assert(nr_machine_deregister_succeeded(1, 200));
    cr_assert(nr_machine_deregister_succeeded(1, 404));
    cr_assert(nr_machine_deregister_succeeded(1, 410));
    cr_assert(!nr_machine_deregister_succeeded(0, 204), "no response is not success");
    cr_assert(!nr_machine_deregister_succeeded(1, 401));
    cr_assert(!nr_machine_deregister_succeeded(1, 503));
    cr_assert(!nr_machine_deregister_succeeded(1, 202));
}

static nr_decision_t heartbeat_status(long status)
{
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, status);
    return nr_machine_on_outcome(&m, &o, m.next_due_ns);
}

Test(machine, heartbeat_rejections_degrade_then_register_again_with_backoff)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    const long statuses[] = {409, 418, 422};
    for (int i = 0; i < 3; i++) {
        nr_decision_t d = heartbeat_status(statuses[i]);
        if (i < 2) {
            cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
            cr_assert_eq(d.reason, NR_REASON_HEARTBEAT_FAILED);
            continue;
        }
        cr_assert_eq(d.reason, NR_REASON_HEARTBEAT_REJECTED);
        cr_assert(d.state_changed && d.reset_connection);
        cr_assert_eq(m.state, NR_STATE_DEGRADED, "degraded until the registration answers");
        cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
        cr_assert_leq(d.delay_ns, 250 * MS);
    }
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_decision_t d = nr_machine_on_outcome(&m, &o, m.next_due_ns);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_REGISTERED);
}

Test(machine, rejections_mixed_with_other_failures_still_register_again)
{
    register_ok(0);
    const long statuses[] = {409, 503, 409, 0, 409};
    for (int i = 0; i < 5; i++) {
        if (statuses[i] == 0) {
            nr_outcome_t o = no_response(NR_REQUEST_HEARTBEAT);
            nr_machine_on_outcome(&m, &o, m.next_due_ns);
        } else {
            heartbeat_status(statuses[i]);
        }
        cr_assert_eq(m.next_request, i < 4 ? NR_REQUEST_HEARTBEAT : NR_REQUEST_REGISTER);
    }
}

/* 409 forever: degraded, registered again, degraded... with the backoff
 * growing, never a tight loop and never stuck degraded without trying. */
Test(machine, heartbeat_409_forever_keeps_registering_with_growing_backoff)
{
    uint64_t now = 0, end = 120000 * MS;
    unsigned registers = 0, requests = 0;
    nr_machine_start(&m, now);
    while (now < end) {
        now = (m.next_due_ns > now ? m.next_due_ns : now) + 10 * MS;
        requests++;
        nr_request_t r = m.next_request;
        registers += r == NR_REQUEST_REGISTER;
        nr_outcome_t o = reply(r, r == NR_REQUEST_REGISTER ? 200 : 409);
        nr_machine_on_outcome(&m, &o, now);
    }
    cr_assert_geq(registers, 5, "never registered again");
    cr_assert_leq(requests, 100, "%u requests in 120 s at a 1 s interval", requests);
    cr_assert_geq(m.reregister_backoffs, 5);
}

Test(machine, heartbeat_redirect_or_1xx_is_a_failure_like_5xx)
{
    register_ok(0);
    heartbeat_ok(m.next_due_ns);
    const long statuses[] = {302, 101, 600};
    for (int i = 0; i < 3; i++) {
        nr_decision_t d = heartbeat_status(statuses[i]);
        cr_assert_eq(d.reason, NR_REASON_HEARTBEAT_FAILED);
        cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    }
    cr_assert_eq(m.state, NR_STATE_DEGRADED);
}

/* ---------------------------------------------------------------------- */
/* A fleet: every node's phase, and what a control plane sees of their sum */
/* ---------------------------------------------------------------------- */

#define FLEET 3000
#define WALL_OFFSET 1764000000123456789ull /* CLOCK_REALTIME - CLOCK_MONOTONIC */
#define BIN (100 * MS)

/* What a simulated control plane answers: a status, 0 for no response. */
typedef long (*answer_fn)(void *ctx, nr_request_t r, uint64_t now);
/* Called for every request a node sends. */
typedef void (*seen_fn)(void *ctx, nr_request_t r, uint64_t now);

static void init_node(nr_machine_t *x, int i, uint64_t interval_ns, uint64_t wall_offset)
{
    char id[32];
    snprintf(id, sizeof(id), "node-%04d", i);
    nr_machine_params_t p = {interval_ns, 250 * MS,         10000 * MS,
                             1000 * MS,   nr_phase_key(id), wall_offset};
    nr_machine_init(x, &p, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
}

/* One node from start to end; every request takes 2 ms. */
static void run_node(nr_machine_t *x, uint64_t start, uint64_t end, answer_fn answer, seen_fn seen,
                     void *ctx)
{
    uint64_t now = start;
    nr_machine_start(x, start);
    while (x->next_due_ns < end) {
        now = x->next_due_ns > now ? x->next_due_ns : now;
        nr_request_t r = x->next_request;
        seen(ctx, r, now);
        long status = answer(ctx, r, now);
        now += 2 * MS;
        nr_outcome_t o = status ? reply(r, status) : no_response(r);
        nr_machine_on_outcome(x, &o, now);
    }
}

static long answer_ok(void *ctx, nr_request_t r, uint64_t now)
{
    (void)ctx, (void)r, (void)now;
    return 200;
}

static long answer_nothing(void *ctx, nr_request_t r, uint64_t now)
{
    (void)ctx, (void)r, (void)now;
    return 0;
}

/* Requests counted in 100 ms bins from t0. */
typedef struct bins {
    uint64_t t0;
    unsigned n[2000];
    unsigned registers, heartbeats;
} bins_t;

static void count_request(void *ctx, nr_request_t r, uint64_t now)
{
    bins_t *b = ctx;
    if (now >= b->t0 && (now - b->t0) / BIN < 2000)
        b->n[(now - b->t0) / BIN]++;
    b->registers += r == NR_REQUEST_REGISTER;
    b->heartbeats += r == NR_REQUEST_HEARTBEAT;
}

static unsigned fullest(const bins_t *b, uint64_t from, uint64_t to)
{
    unsigned most = 0;
    for (uint64_t i = (from - b->t0) / BIN; i < (to - b->t0) / BIN; i++)
        most = b->n[i] > most ? b->n[i] : most;
    return most;
}

static unsigned total(const bins_t *b, uint64_t from, uint64_t to)
{
    unsigned sum = 0;
    for (uint64_t i = (from - b->t0) / BIN; i < (to - b->t0) / BIN; i++)
        sum += b->n[i];
    return sum;
}

/* 3,000 nodes registered at the same instant (10 s interval): after the
 * first interval, the fullest 100 ms bin of their heartbeats holds at most
 * twice the mean. (With a jitter of the first heartbeat only, they beat
 * within one second of each ten for ever: ~10x.) */
Test(machine, fleet_registered_together_spreads_its_heartbeats)
{
    static bins_t b;
    const uint64_t interval = 10000 * MS, t0 = 5000 * MS, end = t0 + 60000 * MS;
    nr_machine_t x;
    b.t0 = t0;
    for (int i = 0; i < FLEET; i++) {
        init_node(&x, i, interval, WALL_OFFSET);
        run_node(&x, t0, end, answer_ok, count_request, &b);
    }
    cr_assert_eq(b.registers, FLEET);
    uint64_t from = t0 + interval, to = end;
    double mean = (double)total(&b, from, to) / (double)((to - from) / BIN);
    unsigned most = fullest(&b, from, to);
    cr_assert_leq(most, 2 * mean, "fullest bin %u, mean %.1f", most, mean);
    cr_assert_geq(mean, FLEET / 100.0 * 0.95, "heartbeats missing: mean %.1f", mean);
}

/* Heartbeats of one node, from the second on, as wall-clock phases. */
typedef struct phases {
    uint64_t wall_offset, interval;
    unsigned beats;
    uint64_t phase[64];
} phases_t;

static void record_phase(void *ctx, nr_request_t r, uint64_t now)
{
    phases_t *p = ctx;
    if (r != NR_REQUEST_HEARTBEAT || p->beats >= 64)
        return;
    p->phase[p->beats++] = (now + p->wall_offset) % p->interval;
}

static phases_t phases_of(const char *id, uint64_t wall_offset, uint64_t start, uint64_t seed)
{
    phases_t p = {wall_offset, 10000 * MS, 0, {0}};
    nr_machine_params_t params = {p.interval, 250 * MS,         10000 * MS,
                                  1000 * MS,  nr_phase_key(id), wall_offset};
    nr_machine_t x;
    nr_machine_init(&x, &params, seed);
    run_node(&x, start, start + 100000 * MS, answer_ok, record_phase, &p);
    return p;
}

/* The same node id in two runs: another boot (another offset between the
 * wall clock and CLOCK_MONOTONIC), another start time, another seed. From
 * the second heartbeat on, both beat at the same wall-clock phase. */
Test(machine, node_phase_is_the_same_after_a_restart)
{
    phases_t a = phases_of("gpu-7", WALL_OFFSET, 100000 * MS, 1);
    phases_t b = phases_of("gpu-7", WALL_OFFSET + 5000770 * MS, 20123 * MS, 99);
    phases_t other = phases_of("gpu-8", WALL_OFFSET, 100000 * MS, 1);
    cr_assert_geq(a.beats, 9);
    cr_assert_geq(b.beats, 9);
    for (unsigned i = 1; i < 9; i++) {
        cr_assert_eq(a.phase[i], nr_phase_key("gpu-7") % a.interval, "beat %u", i);
        cr_assert_eq(b.phase[i], a.phase[i], "beat %u after the restart", i);
    }
    cr_assert_neq(other.phase[1], a.phase[1], "another node, the same phase");
}

/* The first heartbeat after a registration comes within min(interval / 10,
 * 1 s) (the node turns Online at once; the control plane's offline timeout
 * is far away); the next one is on the node's phase, no later than an
 * interval and the jitter's bound after it. */
Test(machine, first_heartbeat_is_prompt_then_the_node_keeps_its_phase)
{
    const uint64_t intervals[] = {100 * MS, 1000 * MS, 10000 * MS, 60000 * MS, 86400000 * MS};
    for (size_t k = 0; k < sizeof(intervals) / sizeof(intervals[0]); k++) {
        uint64_t interval = intervals[k], bound = nr_start_jitter_bound_ns(interval);
        nr_machine_params_t p = {interval, 250 * MS, 10000 * MS, 1000 * MS, 987654321, WALL_OFFSET};
        nr_machine_init(&m, &p, 77 + k);
        uint64_t now = 123456 * MS;
        register_ok(now);
        uint64_t first = m.next_due_ns;
        cr_assert_leq(first - now, bound, "interval %zu", k);
        heartbeat_ok(first + 3 * MS);
        uint64_t second = m.next_due_ns;
        cr_assert_gt(second - first, bound);
        cr_assert_leq(second - first, interval + bound);
        cr_assert_eq((second + WALL_OFFSET) % interval, 987654321 % interval);
        heartbeat_ok(second + 3 * MS);
        cr_assert_eq(m.next_due_ns, second + interval, "the grid after the phase");
    }
}

/* The server asks for a shorter interval in its reply to the first
 * heartbeat: the next one comes within that interval, on the same phase. */
Test(machine, server_pacing_after_the_first_heartbeat_keeps_the_phase)
{
    nr_machine_params_t p = {10000 * MS, 250 * MS, 10000 * MS, 1000 * MS, 5555555555ull, 0};
    nr_machine_init(&m, &p, 5);
    register_ok(0);
    uint64_t first = m.next_due_ns, slot = m.grid.origin_ns, now = first + 3 * MS;
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    o.has_next = 1;
    o.next_heartbeat_ms = 2000;
    nr_machine_on_outcome(&m, &o, now);
    cr_assert_gt(m.next_due_ns, now);
    cr_assert_leq(m.next_due_ns - now, 2000 * MS);
    cr_assert_eq(m.next_due_ns % (2000 * MS), slot % (2000 * MS));
}

/* A fleet boots into an outage (every request refused at once), 10 s
 * interval: the first registrations are spread over the start jitter, the
 * burst of the first interval is bounded (under 4 requests per node in the
 * first second, under 8 in the first interval), and from the third interval on
 * the fleet retries at the rate of its heartbeats, not twice it (a retry
 * cap of retry_max = 10 s with full jitter averaged one attempt per 5 s). */
Test(machine, fleet_booting_into_an_outage_retries_at_the_heartbeat_rate)
{
    static bins_t b;
    const uint64_t interval = 10000 * MS, t0 = 1000 * MS, end = t0 + 12 * interval;
    nr_machine_t x;
    b.t0 = t0;
    for (int i = 0; i < FLEET; i++) {
        init_node(&x, i, interval, WALL_OFFSET);
        run_node(&x, t0, end, answer_nothing, count_request, &b);
    }
    double heartbeat_rate = FLEET / 10.0; /* per second */
    double first_interval = total(&b, t0, t0 + interval) / 10.0;
    double later = total(&b, t0 + 3 * interval, end) / 90.0;
    unsigned first_second = total(&b, t0, t0 + 1000 * MS);
    cr_assert_eq(b.heartbeats, 0);
    cr_assert_leq(later, 1.1 * heartbeat_rate, "%.0f/s from the third interval on", later);
    cr_assert_leq(first_interval, 8 * heartbeat_rate, "%.0f/s in the first interval",
                  first_interval);
    cr_assert_leq(first_second, 4 * FLEET, "%u requests in the first second", first_second);
    cr_assert_leq(fullest(&b, t0, t0 + 100 * MS), FLEET / 5, "no start jitter");
}

/* The control plane restarts and forgets every node: each node's next
 * heartbeat gets 404, it registers at once, beats promptly, and returns to
 * its own phase. The burst follows the phases around the interval instead
 * of landing in one instant. */
typedef struct restart {
    bins_t b;
    uint64_t at;
    int registered_since; /* this node registered after the restart */
} restart_t;

static long answer_restart(void *ctx, nr_request_t r, uint64_t now)
{
    restart_t *s = ctx;
    if (now < s->at)
        return 200;
    if (r == NR_REQUEST_REGISTER)
        s->registered_since = 1;
    return r == NR_REQUEST_HEARTBEAT && !s->registered_since ? 404 : 200;
}

static void count_restart(void *ctx, nr_request_t r, uint64_t now)
{
    count_request(&((restart_t *)ctx)->b, r, now);
}

Test(machine, control_plane_restart_keeps_the_fleet_spread)
{
    static restart_t s;
    const uint64_t interval = 10000 * MS, t0 = 1000 * MS, end = t0 + 90000 * MS;
    nr_machine_t x;
    s.b.t0 = t0;
    s.at = t0 + 40000 * MS;
    for (int i = 0; i < FLEET; i++) {
        s.registered_since = 0;
        init_node(&x, i, interval, WALL_OFFSET);
        run_node(&x, t0, end, answer_restart, count_restart, &s);
    }
    cr_assert_eq(s.b.registers, 2 * FLEET);
    double mean = total(&s.b, t0 + interval, s.at) / (double)((s.at - t0 - interval) / BIN);
    unsigned burst = fullest(&s.b, s.at, s.at + 2 * interval);
    unsigned after = fullest(&s.b, s.at + 2 * interval, end);
    cr_assert_leq(burst, 5 * mean, "restart: fullest bin %u, steady mean %.1f", burst, mean);
    cr_assert_leq(after, 2 * mean, "after the restart: fullest bin %u, mean %.1f", after, mean);
}

/* ABI 1.2 handover: the new instance registers at once, heartbeats at once
 * (Online again), then keeps the old instance's schedule. */
Test(machine, takeover_registers_at_once_then_keeps_the_handed_over_schedule)
{
    uint64_t now = 50000 * MS, due = now + 700 * MS;
    nr_machine_start_takeover(&m, now, due);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, now, "registers at once, no start jitter");
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, now + 20 * MS);
    cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    cr_assert_eq(m.next_due_ns, now + 20 * MS, "a heartbeat at once after the registration");
    o = reply(NR_REQUEST_HEARTBEAT, 200);
    nr_machine_on_outcome(&m, &o, now + 30 * MS);
    cr_assert_eq(m.next_due_ns, due, "then the old instance's next heartbeat");
    nr_machine_on_outcome(&m, &o, due + 5 * MS);
    cr_assert_eq(m.next_due_ns, due + 1000 * MS, "then one interval later");
}

Test(machine, takeover_with_a_due_time_already_past_stays_on_that_grid)
{
    uint64_t now = 50000 * MS;
    nr_machine_start_takeover(&m, now, now - 2700 * MS);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, now + 10 * MS);
    cr_assert_eq(m.next_due_ns, now + 10 * MS);
    o = reply(NR_REQUEST_HEARTBEAT, 200);
    nr_machine_on_outcome(&m, &o, now + 20 * MS);
    cr_assert_eq(m.next_due_ns, now + 300 * MS, "the next slot of the handed-over grid");
}

Test(machine, the_handed_over_time_is_used_once)
{
    uint64_t now = 50000 * MS;
    nr_machine_start_takeover(&m, now, now + 900 * MS);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, now);
    cr_assert_eq(m.takeover_due_ns, 0);
}

Test(machine, takeover_with_no_heartbeat_due_heartbeats_at_once_after_registering)
{
    uint64_t now = 50000 * MS;
    nr_machine_start_takeover(&m, now, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, now + 10 * MS);
    cr_assert_eq(m.next_request, NR_REQUEST_HEARTBEAT);
    cr_assert_eq(m.next_due_ns, now + 10 * MS, "no start jitter: a heartbeat at once");
}

/* ---- the decisions the network thread only carries out ---------------- */

Test(machine, view_shows_what_the_worker_needs)
{
    nr_machine_view_t v = nr_machine_view(&m);
    cr_assert_eq(v.node_state, PMD_NODE_IDLE);
    cr_assert_eq(v.interval_ns, 1000 * MS);
    nr_machine_start(&m, 0);
    v = nr_machine_view(&m);
    cr_assert_eq(v.node_state, PMD_NODE_REGISTERING);
    cr_assert_eq(v.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(v.next_due_ns, m.next_due_ns);
    cr_assert_eq(v.next_heartbeat_due_ns, 0, "a register is next, not a heartbeat");
    cr_assert(!v.registered);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 503);
    nr_machine_on_outcome(&m, &o, 0);
    o = reply(NR_REQUEST_REGISTER, 401);
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_eq(nr_machine_view(&m).register_attempts, 2, "auth failures count as attempts");
    o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, 0);
    v = nr_machine_view(&m);
    cr_assert(v.registered);
    cr_assert_eq(v.next_heartbeat_due_ns, m.next_due_ns);
    for (unsigned i = 0; i < NR_DEGRADED_AFTER; i++) {
        o = no_response(NR_REQUEST_HEARTBEAT);
        nr_machine_on_outcome(&m, &o, m.next_due_ns);
    }
    v = nr_machine_view(&m);
    cr_assert_eq(v.node_state, PMD_NODE_DEGRADED);
    cr_assert(v.registered, "a degraded node is still known to the control plane");
    cr_assert_eq(v.heartbeat_failures, NR_DEGRADED_AFTER);
}

Test(machine, internal_error_repeats_the_same_request_after_retry_max)
{
    register_ok(0);
    nr_request_t r = m.next_request;
    nr_state_t s = m.state;
    nr_decision_t d = nr_machine_on_internal_error(&m, 7000 * MS);
    cr_assert_eq(m.next_request, r);
    cr_assert_eq(m.state, s);
    cr_assert(!d.state_changed && !d.reset_connection);
    cr_assert_eq(m.next_due_ns, 7000 * MS + 10000 * MS);
    cr_assert_eq(d.delay_ns, 10000 * MS);
}

Test(machine, a_refused_token_is_read_again)
{
    nr_machine_start(&m, 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 401);
    cr_assert(nr_machine_on_outcome(&m, &o, 0).reread_token);
    o = reply(NR_REQUEST_REGISTER, 403);
    cr_assert(nr_machine_on_outcome(&m, &o, 0).reread_token);
    o = reply(NR_REQUEST_REGISTER, 200);
    cr_assert(!nr_machine_on_outcome(&m, &o, 0).reread_token);
    o = reply(NR_REQUEST_HEARTBEAT, 403);
    cr_assert(nr_machine_on_outcome(&m, &o, m.next_due_ns).reread_token);
    long others[] = {200, 404, 407, 500};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        o = reply(NR_REQUEST_HEARTBEAT, others[i]);
        cr_assert(!nr_machine_on_outcome(&m, &o, m.next_due_ns).reread_token, "%ld", others[i]);
    }
    o = no_response(NR_REQUEST_HEARTBEAT);
    cr_assert(!nr_machine_on_outcome(&m, &o, m.next_due_ns).reread_token);
}

Test(machine, reregistrations_are_counted_after_the_first_success)
{
    nr_machine_start(&m, 0);
    cr_assert_eq(nr_machine_on_send(&m, NR_REQUEST_REGISTER), 0);
    nr_outcome_t o = reply(NR_REQUEST_REGISTER, 200);
    nr_machine_on_outcome(&m, &o, 0);
    cr_assert_eq(nr_machine_on_send(&m, NR_REQUEST_HEARTBEAT), 0);
    cr_assert_eq(nr_machine_on_send(&m, NR_REQUEST_REGISTER), 1);
}

Test(machine, stop_deletes_the_node_only_once_a_register_was_sent)
{
    nr_machine_start(&m, 0);
    nr_stop_plan_t plan = nr_machine_stop_plan(&m, 0);
    cr_assert(!plan.deregister, "nothing registered, nothing to delete");
    nr_machine_on_send(&m, NR_REQUEST_REGISTER);
    plan = nr_machine_stop_plan(&m, 0);
    cr_assert(plan.deregister);
    cr_assert(!plan.unordered);
    plan = nr_machine_stop_plan(&m, 1);
    cr_assert(!plan.deregister && !plan.unordered, "handing over: the new instance keeps it");
}

Test(machine, a_register_abandoned_at_stop_makes_the_delete_unordered)
{
    nr_machine_start(&m, 0);
    nr_machine_on_send(&m, NR_REQUEST_REGISTER);
    nr_machine_on_abandoned(&m, NR_REQUEST_HEARTBEAT);
    cr_assert(!nr_machine_stop_plan(&m, 0).unordered, "an abandoned heartbeat is harmless");
    nr_machine_on_abandoned(&m, NR_REQUEST_REGISTER);
    nr_stop_plan_t plan = nr_machine_stop_plan(&m, 0);
    cr_assert(plan.deregister && plan.unordered);
}

Test(machine, stop_is_final)
{
    register_ok(0);
    nr_decision_t d = nr_machine_stop(&m);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_STOPPED);
    cr_assert_eq(nr_machine_view(&m).node_state, PMD_NODE_STOPPED);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    d = nr_machine_on_outcome(&m, &o, 0);
    cr_assert(!d.state_changed);
    cr_assert_eq(m.state, NR_STATE_STOPPED);
}

Test(machine, a_request_in_flight_at_stop_gets_half_the_budget)
{
    cr_assert_eq(nr_machine_in_flight_cut_ns(1000 * MS, 3000 * MS), 2500 * MS);
    cr_assert_eq(nr_machine_in_flight_cut_ns(1000 * MS, 0), 1000 * MS);
    cr_assert_eq(nr_machine_in_flight_cut_ns(UINT64_MAX - 1, UINT64_MAX), UINT64_MAX, "saturates");
}

Test(machine, deregister_verdicts)
{
    nr_deregister_verdict_t v = nr_machine_on_deregister_outcome(1, 204, 0);
    cr_assert(v.ok && !v.retry_if_new_token && v.note == NULL);
    v = nr_machine_on_deregister_outcome(1, 200, 0);
    cr_assert(v.ok && v.note == NULL);
    v = nr_machine_on_deregister_outcome(1, 404, 0);
    cr_assert(v.ok);
    cr_assert_str_eq(v.note, "was not registered");
    v = nr_machine_on_deregister_outcome(1, 410, 1);
    cr_assert(v.ok && v.note != NULL);
    v = nr_machine_on_deregister_outcome(1, 401, 0);
    cr_assert(!v.ok && v.retry_if_new_token, "refused for its token: once more with a new one");
    v = nr_machine_on_deregister_outcome(1, 403, 1);
    cr_assert(!v.ok && !v.retry_if_new_token, "only once");
    v = nr_machine_on_deregister_outcome(1, 202, 0);
    cr_assert(!v.ok && !v.retry_if_new_token);
    v = nr_machine_on_deregister_outcome(0, 204, 0);
    cr_assert(!v.ok && !v.retry_if_new_token && v.note == NULL, "no response");
}

static nr_tally_t tally(nr_request_t r, int responded, long status)
{
    nr_outcome_t o = {.request = r, .responded = responded, .status = status};
    return nr_machine_tally(&o);
}

Test(machine, every_outcome_goes_to_exactly_one_counter)
{
    const nr_request_t R = NR_REQUEST_REGISTER, H = NR_REQUEST_HEARTBEAT;
    cr_assert_eq(tally(R, 1, 201), NR_TALLY_OK);
    cr_assert_eq(tally(H, 1, 200), NR_TALLY_OK);
    cr_assert_eq(tally(R, 0, 200), NR_TALLY_TRANSPORT);
    cr_assert_eq(tally(H, 0, 0), NR_TALLY_TRANSPORT);
    cr_assert_eq(tally(R, 1, 401), NR_TALLY_AUTH);
    cr_assert_eq(tally(H, 1, 403), NR_TALLY_AUTH);
    cr_assert_eq(tally(H, 1, 404), NR_TALLY_NOT_REGISTERED);
    cr_assert_eq(tally(H, 1, 410), NR_TALLY_NOT_REGISTERED);
    cr_assert_eq(tally(R, 1, 404), NR_TALLY_STATUS, "a registration's 404 is a failed status");
    long status[] = {100, 302, 400, 409, 429, 500, 503, 600};
    for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++) {
        cr_assert_eq(tally(R, 1, status[i]), NR_TALLY_STATUS, "%ld", status[i]);
        cr_assert_eq(tally(H, 1, status[i]), NR_TALLY_STATUS, "%ld", status[i]);
    }
}

Test(machine, only_a_heartbeat_200_body_is_read)
{
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 200);
    cr_assert(nr_machine_reads_reply_body(&o));
    o = reply(NR_REQUEST_HEARTBEAT, 204);
    cr_assert(!nr_machine_reads_reply_body(&o));
    o = reply(NR_REQUEST_REGISTER, 200);
    cr_assert(!nr_machine_reads_reply_body(&o));
    o = no_response(NR_REQUEST_HEARTBEAT);
    o.status = 200;
    cr_assert(!nr_machine_reads_reply_body(&o));
}
