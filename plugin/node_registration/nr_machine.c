/*
 * nr_machine.c - decisions of the registration state machine (pure).
 * Every transition is a function of (state, outcome, now); the network thread
 * carries them out. See nr_machine.h for the diagram and the README for the
 * table of failures and what the plugin does about each.
 */
#include "nr_machine.h"

#include <string.h>

#include "pmd_plugin.h"

static int is_auth_failure(const nr_outcome_t *o)
{
    return o->responded && (o->status == 401 || o->status == 403);
}

static int is_success(const nr_outcome_t *o)
{
    return o->responded && o->status >= 200 && o->status < 300;
}

static uint64_t retry_after_ns(const nr_outcome_t *o)
{
    if (!o->has_retry_after || !o->responded || (o->status != 429 && o->status != 503))
        return 0;
    return o->retry_after_ms > UINT64_MAX / NR_MS ? UINT64_MAX : o->retry_after_ms * NR_MS;
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
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, 0);
    return d;
}

static nr_decision_t on_unauthorized(nr_machine_t *m, uint64_t now_ns)
{
    nr_decision_t d = set_state(m, NR_STATE_UNAUTHORIZED, NR_REASON_UNAUTHORIZED);
    uint64_t lo = NR_AUTH_BACKOFF_MIN_MS * NR_MS, hi = NR_AUTH_BACKOFF_MAX_MS * NR_MS;
    uint64_t cap = lo;
    for (uint32_t i = 0; i < m->auth_failures && cap < hi; i++)
        cap *= 2;
    if (cap > hi)
        cap = hi;
    m->auth_failures++;
    /* Half fixed, half jitter: never a tight loop, still spread out. */
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, cap / 2 + nr_rand_upto(&m->rng, cap / 2));
    return d;
}

static nr_decision_t on_register_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    if (is_success(o)) {
        nr_decision_t d = set_state(m, NR_STATE_REGISTERED, NR_REASON_REGISTERED);
        d.state_changed = 1; /* re-registration is news even when the state is the same */
        m->register_failures = m->auth_failures = m->heartbeat_failures = 0;
        m->ever_registered = 1;
        uint64_t first = now_ns + nr_first_heartbeat_jitter_ns(m->p.interval_ns, &m->rng);
        nr_grid_start(&m->grid, first, m->p.interval_ns);
        schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, first - now_ns);
        return d;
    }
    if (is_auth_failure(o))
        return on_unauthorized(m, now_ns);
    nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_REGISTER_FAILED);
    uint64_t delay = nr_backoff_ns(m->p.retry_base_ns, m->p.retry_max_ns, m->register_failures,
                                   &m->rng);
    uint64_t floor = retry_after_ns(o);
    m->register_failures++;
    d.reset_connection = !o->responded;
    schedule(m, &d, NR_REQUEST_REGISTER, now_ns, delay > floor ? delay : floor);
    return d;
}

static nr_decision_t on_heartbeat_failure(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    m->heartbeat_failures++;
    nr_state_t s = m->heartbeat_failures >= NR_DEGRADED_AFTER ? NR_STATE_DEGRADED : m->state;
    nr_decision_t d = set_state(m, s, NR_REASON_HEARTBEAT_FAILED);
    d.reset_connection = m->heartbeat_failures >= NR_DEGRADED_AFTER;
    nr_grid_advance(&m->grid, now_ns);
    uint64_t due = nr_grid_due(&m->grid);
    uint64_t floor = add_sat(now_ns, retry_after_ns(o));
    schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, (due > floor ? due : floor) - now_ns);
    return d;
}

static nr_decision_t on_heartbeat_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    if (o->responded && o->status == 404) {
        /* The control plane lost its registry: register again at once. */
        nr_decision_t d = set_state(m, NR_STATE_REGISTERING, NR_REASON_NOT_REGISTERED);
        m->register_failures = m->heartbeat_failures = 0;
        schedule(m, &d, NR_REQUEST_REGISTER, now_ns, 0);
        return d;
    }
    if (is_auth_failure(o))
        return on_unauthorized(m, now_ns);
    if (!is_success(o))
        return on_heartbeat_failure(m, o, now_ns);
    nr_decision_t d = set_state(m, NR_STATE_REGISTERED, NR_REASON_HEARTBEAT_OK);
    m->heartbeat_failures = 0;
    nr_grid_set_period(&m->grid, nr_paced_interval_ns(m->p.interval_ns, o->has_next,
                                                      o->next_heartbeat_ms, m->p.pacing_floor_ns));
    nr_grid_advance(&m->grid, now_ns);
    schedule(m, &d, NR_REQUEST_HEARTBEAT, now_ns, nr_grid_due(&m->grid) - now_ns);
    return d;
}

nr_decision_t nr_machine_on_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns)
{
    if (m->state == NR_STATE_IDLE || m->state == NR_STATE_STOPPED)
        return set_state(m, m->state, NR_REASON_NONE);
    if (o->request == NR_REQUEST_REGISTER)
        return on_register_outcome(m, o, now_ns);
    return on_heartbeat_outcome(m, o, now_ns);
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
    static const char *const names[] = {"idle", "registering", "registered",
                                        "degraded", "unauthorized", "stopped"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *nr_reason_name(nr_reason_t r)
{
    static const char *const names[] = {"none", "started", "registered", "register_failed",
                                        "heartbeat_ok", "heartbeat_failed", "not_registered",
                                        "unauthorized", "token_changed", "pools_changed"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}
