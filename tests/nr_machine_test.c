/* Unit tests of nr_machine.c: every transition, without network or clock. */
#include <criterion/criterion.h>

#include "nr_machine.h"
#include "pmd_plugin.h"

#define MS NR_MS

static nr_machine_t m;

static void setup(void)
{
    nr_machine_params_t p = {1000 * MS, 250 * MS, 10000 * MS, 1000 * MS};
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

Test(machine, start_registers_at_once)
{
    nr_decision_t d = nr_machine_start(&m, 5 * MS);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, 5 * MS);
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
        nr_outcome_t o = (i % 2) ? reply(NR_REQUEST_REGISTER, 500) : no_response(NR_REQUEST_REGISTER);
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

Test(machine, heartbeat_404_registers_again_at_once)
{
    register_ok(0);
    nr_outcome_t o = reply(NR_REQUEST_HEARTBEAT, 404);
    nr_decision_t d = nr_machine_on_outcome(&m, &o, 500 * MS);
    cr_assert(d.state_changed);
    cr_assert_eq(m.state, NR_STATE_REGISTERING);
    cr_assert_eq(m.next_request, NR_REQUEST_REGISTER);
    cr_assert_eq(m.next_due_ns, 500 * MS);
}

Test(machine, three_heartbeat_failures_degrade_and_reset_the_connection)
{
    register_ok(0);
    uint64_t now = m.next_due_ns;
    for (int i = 1; i <= 3; i++) {
        nr_outcome_t o = i == 2 ? reply(NR_REQUEST_HEARTBEAT, 502) : no_response(NR_REQUEST_HEARTBEAT);
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
    uint64_t first = m.next_due_ns;
    nr_outcome_t o = no_response(NR_REQUEST_HEARTBEAT);
    nr_machine_on_outcome(&m, &o, first + 300 * MS); /* a timeout took 300 ms */
    cr_assert_eq(m.next_due_ns, first + 1000 * MS);
}

Test(machine, server_pacing_shortens_the_interval)
{
    register_ok(0);
    uint64_t first = m.next_due_ns;
    nr_machine_params_t p = {10000 * MS, 250 * MS, 10000 * MS, 1000 * MS};
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
    nr_machine_params_t p = {10000 * MS, 250 * MS, 10000 * MS, 1000 * MS};
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
