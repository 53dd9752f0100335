/*
 * nr_machine.c - decisions of the registration state machine (pure).
 * Every transition is a function of (state, outcome, now); the network thread
 * carries them out. See nr_machine.h for the diagram and the README for the
 * table of failures and what the plugin does about each.
 */
#include "nr_machine.h"

#include <string.h>

#include "nr_retry_after.h"
#include "pmd_plugin.h"

nr_status_class_t nr_machine_status_class(int responded, long status)
{
    if (!responded)
        return NR_STATUS_NO_RESPONSE;
    if (status >= 200 && status < 300)
        return NR_STATUS_OK;
    if (status == 401 || status == 403)
        return NR_STATUS_UNAUTHORIZED;
    if (status == 404 || status == 410)
        return NR_STATUS_NOT_REGISTERED;
    if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600))
        return NR_STATUS_TRANSIENT;
    if (status >= 400 && status < 500)
        return NR_STATUS_REJECTED;
    return NR_STATUS_UNEXPECTED;
}

nr_status_class_t nr_machine_classify(const nr_outcome_t *o)
{
    return nr_machine_status_class(o->responded, o->status);
}

const char *nr_status_class_name(nr_status_class_t c)
{
    static const char *const names[] = {"no_response", "ok",       "unauthorized", "not_registered",
                                        "transient",   "rejected", "unexpected"};
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

int nr_machine_is_success(long status)
{
    return nr_machine_status_class(1, status) == NR_STATUS_OK;
}

int nr_machine_is_auth_failure(long status)
{
    return nr_machine_status_class(1, status) == NR_STATUS_UNAUTHORIZED;
}

int nr_machine_deregister_succeeded(int responded, long status)
{
    return responded && (status == 200 || status == 204 ||
                         nr_machine_status_class(1, status) == NR_STATUS_NOT_REGISTERED);
}

/* The server's wait, honoured on transient statuses only, never over the
 * hour the transport also caps it at (a raw value here must not mean a
 * node silent for years). */
static uint64_t retry_after_ns(const nr_outcome_t *o)
{
    const uint64_t cap_ms = (uint64_t)NR_MAX_RETRY_AFTER_S * 1000u;
    if (!o->has_retry_after || nr_machine_classify(o) != NR_STATUS_TRANSIENT)
        return 0;
    return (o->retry_after_ms < cap_ms ? o->retry_after_ms : cap_ms) * NR_MS;
}

static nr_decision_t set_state(nr_machine_t *m, nr_state_t s, nr_reason_t why)
{
    nr_decision_t d;
    memset(&d, 0, sizeof(d));
    d.state_changed = m->state != s;
    d.reason = why;
    m->state = s;
    return d;
}

/* a + b, saturating: a huge Retry-After means "much later", never a time
 * that wrapped around into the past (found by tests/fuzz/fuzz_response). */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static void schedule(nr_machine_t *m, nr_decision_t *d, nr_request_t r, uint64_t now_ns,
                     uint64_t delay_ns)
{
    m->next_request = r;
    m->next_due_ns = add_sat(now_ns, delay_ns);
    d->delay_ns = delay_ns;
}

void nr_machine_init(nr_machine_t *m, const nr_machine_params_t *p, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->p = *p;
    m->rng = seed ? seed : 1;
    m->state = NR_STATE_IDLE;
}

nr_decision_t nr_machine_start(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_STARTED);
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, nr_start_jitter_ns(m->p.interval_ns, &m->rng));
    return d;
}

nr_decision_t nr_machine_start_takeover(nr_machine_t *m, uint64_t now_ns, uint64_t due_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_STARTED);
    m->takeover_due_ns = due_ns ? due_ns : 1; /* 1: a due time long past: at once */
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, 0);
    return d;
}

static nr_decision_t on_unauthorized(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_UNAUTHORIZED, NR_REASON_UNAUTHORIZED);
    /* Half fixed, half jitter: never a tight loop, still spread out. */
    uint64_t delay =
        nr_backoff_equal_jitter_ns(NR_AUTH_BACKOFF_MIN_MS * NR_MS, NR_AUTH_BACKOFF_MAX_MS * NR_MS,
                                   m->auth_failures++, &m->rng);
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, delay);
    return d;
}

static nr_decision_t on_registered(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_REGISTERED, NR_REASON_REGISTERED);
    d.state_changed = 1; /* re-registration is news even when the state is the same */
    m->register_failures = m->auth_failures = m->heartbeat_failures = 0;
    m->heartbeat_rejections = 0;
    m->heartbeat_ok_since_register = 0; /* reregister_backoffs stays: see nr_machine.h */
    m->ever_registered = 1;
    /* A prompt first heartbeat (Online at once), then the node's own phase:
     * the first slot more than the jitter's bound after it, never a pair of
     * heartbeats in one instant. */
    uint64_t interval = m->p.interval_ns, bound = nr_start_jitter_bound_ns(interval);
    uint64_t anchor = nr_phase_anchor_ns(m->p.phase_key, interval, m->p.wall_offset_ns);
    if (m->takeover_due_ns != 0) {
        /* Taking over a handed-over node: a heartbeat at once (the control
         * plane shows a re-registered node as Registering until one comes),
         * then the old instance's schedule, continued from its next slot. */
        nr_grid_start(&m->grid, m->takeover_due_ns, interval);
        m->takeover_due_ns = 0;
        m->beat_off_grid = 1;
        schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, 0);
        return d;
    }
    uint64_t first = add_sat(now_ns, nr_start_jitter_ns(interval, &m->rng));
    nr_grid_start(&m->grid, nr_slot_after_ns(add_sat(first, bound), interval, anchor), interval);
    m->beat_off_grid = 1;
    schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, first - now_ns);
    return d;
}

/* Moves the grid past the heartbeat just sent. After the prompt first one
 * the grid's first slot is still ahead (or, if the server shortened the
 * period since, the earliest slot of the same phase that is). */
static void next_slot(nr_machine_t *m, uint64_t now_ns)
{
    nr_grid_t *g = &m->grid;
    if (!m->beat_off_grid) {
        nr_grid_advance(g, now_ns);
        return;
    }
    m->beat_off_grid = 0;
    nr_grid_start(g, nr_slot_after_ns(now_ns, g->period_ns, nr_grid_due(g)), g->period_ns);
}

static nr_decision_t on_register_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    nr_status_class_t c = nr_machine_classify(o);
    if (c == NR_STATUS_OK)
        return on_registered(m, now_ns);
    if (c == NR_STATUS_UNAUTHORIZED)
        return on_unauthorized(m, now_ns);
    nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_REGISTER_FAILED);
    uint64_t delay = nr_backoff_ns(m->p.retry_base_ns,
                                   nr_register_retry_cap_ns(m->p.interval_ns, m->p.retry_max_ns),
                                   m->register_failures, &m->rng);
    uint64_t floor = retry_after_ns(o);
    m->register_failures++;
    d.reset_connection = c == NR_STATUS_NO_RESPONSE;
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, delay > floor ? delay : floor);
    return d;
}

/* A registration that did not lead to a good heartbeat: back off before the
 * next one, longer each time until a heartbeat succeeds. Equal jitter, so
 * the loop has a hard bound on requests (full jitter can draw a run of
 * near-zero waits). */
static uint64_t reregister_delay_ns(nr_machine_t *m)
{
    return nr_backoff_equal_jitter_ns(m->p.retry_base_ns, m->p.retry_max_ns,
                                      m->reregister_backoffs++, &m->rng);
}

static nr_decision_t on_heartbeat_failure(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    m->heartbeat_failures++;
    nr_state_t s = m->heartbeat_failures >= NR_DEGRADED_AFTER ? NR_STATE_DEGRADED : m->state;
    nr_decision_t d = set_state(m, s, NR_REASON_HEARTBEAT_FAILED);
    d.reset_connection = m->heartbeat_failures >= NR_DEGRADED_AFTER;
    next_slot(m, now_ns);
    uint64_t due = nr_grid_due(&m->grid);
    /* Retry-After, but never more than one interval past the slot: a longer
     * silence would get the node marked offline while we say registered. */
    uint64_t wait = add_sat(now_ns, retry_after_ns(o));
    uint64_t latest = add_sat(due, m->p.interval_ns);
    if (wait > latest)
        wait = latest;
    schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, (due > wait ? due : wait) - now_ns);
    return d;
}

/* 404/410 on a heartbeat. After a good heartbeat the control plane really
 * forgot us: register at once. Before any (right after a registration that
 * succeeded), whatever answers heartbeats does not know what answered the
 * registration; registering at once would loop tens of times a second. */
static nr_decision_t on_not_registered(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_NOT_REGISTERED);
    uint64_t delay = m->heartbeat_ok_since_register ? 0 : reregister_delay_ns(m);
    m->register_failures = m->heartbeat_failures = 0;
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, delay);
    return d;
}

/* Another 4xx: the control plane refuses what we send. A failure; after
 * NR_DEGRADED_AFTER of them, register again to refresh the node's info. */
static nr_decision_t on_heartbeat_rejected(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    nr_decision_t d = on_heartbeat_failure(m, o, now_ns);
    if (++m->heartbeat_rejections < NR_DEGRADED_AFTER)
        return d;
    d.reason = NR_REASON_HEARTBEAT_REJECTED;
    m->heartbeat_rejections = 0;
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, reregister_delay_ns(m));
    return d;
}

static nr_decision_t on_heartbeat_ok(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_REGISTERED, NR_REASON_HEARTBEAT_OK);
    m->heartbeat_failures = m->heartbeat_rejections = m->reregister_backoffs = 0;
    m->heartbeat_ok_since_register = 1;
    nr_grid_set_period(&m->grid, nr_paced_interval_ns(m->p.interval_ns, o->has_next,
                                                      o->next_heartbeat_ms, m->p.pacing_floor_ns));
    next_slot(m, now_ns);
    schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, nr_grid_due(&m->grid) - now_ns);
    return d;
}

static nr_decision_t on_heartbeat_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    switch (nr_machine_classify(o)) {
    case NR_STATUS_OK: return on_heartbeat_ok(m, o, now_ns);
    case NR_STATUS_UNAUTHORIZED: return on_unauthorized(m, now_ns);
    case NR_STATUS_NOT_REGISTERED: return on_not_registered(m, now_ns);
    case NR_STATUS_REJECTED: return on_heartbeat_rejected(m, o, now_ns);
    default: return on_heartbeat_failure(m, o, now_ns);
    }
}

static nr_decision_t on_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    if (m->state == NR_STATE_IDLE || m->state == NR_STATE_STOPPED)
        return set_state(m, m->state, NR_REASON_NONE);
    if (o->request == NR_REQUEST_REGISTER)
        return on_register_outcome(m, o, now_ns);
    return on_heartbeat_outcome(m, o, now_ns);
}

nr_decision_t nr_machine_on_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    nr_decision_t d = on_outcome(m, o, now_ns);
    /* The token may have been rotated since the last periodic check. */
    d.reread_token = nr_machine_classify(o) == NR_STATUS_UNAUTHORIZED;
    return d;
}

nr_machine_view_t nr_machine_view(const nr_machine_t *m)
{
    nr_machine_view_t v;
    memset(&v, 0, sizeof(v));
    v.node_state = nr_machine_node_state(m->state);
    v.next_request = m->next_request;
    v.next_due_ns = m->next_due_ns;
    v.next_heartbeat_due_ns = m->next_request == NR_REQUEST_HEARTBEAT ? m->next_due_ns : 0;
    v.registered = m->state == NR_STATE_REGISTERED || m->state == NR_STATE_DEGRADED;
    v.register_attempts = m->register_failures + m->auth_failures;
    v.heartbeat_failures = m->heartbeat_failures;
    v.interval_ns = m->p.interval_ns;
    return v;
}

int nr_machine_on_send(nr_machine_t *m, nr_request_t r)
{
    if (r != NR_REQUEST_REGISTER)
        return 0;
    m->register_sent = 1;
    return m->ever_registered;
}

void nr_machine_on_abandoned(nr_machine_t *m, nr_request_t r)
{
    if (r == NR_REQUEST_REGISTER)
        m->register_in_doubt = 1;
}

nr_decision_t nr_machine_on_internal_error(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, m->state, NR_REASON_NONE);
    schedule(m, &d, m->next_request, now_ns, m->p.retry_max_ns);
    return d;
}

nr_stop_plan_t nr_machine_stop_plan(const nr_machine_t *m, int handing_over)
{
    nr_stop_plan_t plan;
    plan.deregister = !handing_over && m->register_sent;
    plan.unordered = plan.deregister && m->register_in_doubt;
    return plan;
}

nr_decision_t nr_machine_stop(nr_machine_t *m)
{
    return set_state(m, NR_STATE_STOPPED, NR_REASON_NONE);
}

uint64_t nr_machine_in_flight_cut_ns(uint64_t stop_ns, uint64_t budget_ns)
{
    return add_sat(stop_ns, budget_ns / 2);
}

nr_deregister_verdict_t nr_machine_on_deregister_outcome(int responded, long status,
                                                         unsigned attempt)
{
    nr_deregister_verdict_t v;
    nr_status_class_t c = nr_machine_status_class(responded, status);
    v.ok = nr_machine_deregister_succeeded(responded, status);
    v.retry_if_new_token = c == NR_STATUS_UNAUTHORIZED && attempt == 0;
    v.note = c == NR_STATUS_NOT_REGISTERED ? "was not registered" : NULL;
    return v;
}

nr_tally_t nr_machine_tally(const nr_outcome_t *o)
{
    switch (nr_machine_classify(o)) {
    case NR_STATUS_OK: return NR_TALLY_OK;
    case NR_STATUS_NO_RESPONSE: return NR_TALLY_TRANSPORT;
    case NR_STATUS_UNAUTHORIZED: return NR_TALLY_AUTH;
    case NR_STATUS_NOT_REGISTERED:
        return o->request == NR_REQUEST_HEARTBEAT ? NR_TALLY_NOT_REGISTERED : NR_TALLY_STATUS;
    default: return NR_TALLY_STATUS;
    }
}

int nr_machine_reads_reply_body(const nr_outcome_t *o)
{
    return o->request == NR_REQUEST_HEARTBEAT && o->responded && o->status == 200;
}

nr_decision_t nr_machine_on_token_changed(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, m->state, NR_REASON_TOKEN_CHANGED);
    if (m->state == NR_STATE_UNAUTHORIZED)
        schedule(m, &d, NR_REQUEST_REGISTER, now_ns, 0);
    return d;
}

nr_decision_t nr_machine_on_pools_changed(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, m->state, NR_REASON_POOLS_CHANGED);
    if (m->state == NR_STATE_REGISTERED || m->state == NR_STATE_DEGRADED)
        schedule(m, &d, NR_REQUEST_REGISTER, now_ns, 0);
    return d;
}

int32_t nr_machine_node_state(nr_state_t s)
{
    switch (s) {
    case NR_STATE_REGISTERING: return PMD_NODE_REGISTERING;
    case NR_STATE_REGISTERED: return PMD_NODE_REGISTERED;
    case NR_STATE_DEGRADED: return PMD_NODE_DEGRADED;
    case NR_STATE_UNAUTHORIZED: return PMD_NODE_UNAUTHORIZED;
    case NR_STATE_STOPPED: return PMD_NODE_STOPPED;
    default: return PMD_NODE_IDLE;
    }
}

const char *nr_state_name(nr_state_t s)
{
    static const char *const names[] = {"idle",     "registering",  "registered",
                                        "degraded", "unauthorized", "stopped"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *nr_reason_name(nr_reason_t r)
{
    static const char *const names[] = {
        "none",          "started",          "registered",        "register_failed",
        "heartbeat_ok",  "heartbeat_failed", "not_registered",    "unauthorized",
        "token_changed", "pools_changed",    "heartbeat_rejected"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}
