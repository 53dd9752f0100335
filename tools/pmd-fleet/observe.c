/* observe.c - client-side measurement. Counters say how many requests; the
 * stats' last_heartbeat_ok_unix_ms says exactly when each good heartbeat
 * was answered, so the bins do not depend on how often we sample (as long
 * as a node beats at most once per sample). */
#include "observe.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t clock_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int pf_observe_init(pf_observer_t *o, uint32_t count, uint64_t t0_ms, uint64_t span_ms)
{
    memset(o, 0, sizeof(*o));
    o->seen = calloc(count, sizeof(*o->seen));
    o->count = count;
    o->wall_minus_mono_ms = (int64_t)(clock_ms(CLOCK_REALTIME) - clock_ms(CLOCK_MONOTONIC));
    if (o->seen == NULL || pf_bins_init(&o->heartbeats, t0_ms, span_ms) != 0) {
        pf_observe_free(o);
        return -1;
    }
    return 0;
}

void pf_observe_free(pf_observer_t *o)
{
    free(o->seen);
    o->seen = NULL;
    pf_bins_free(&o->heartbeats);
}

static uint64_t requests_of(const pmd_stats_t *s)
{
    return s->registrations_ok + s->registrations_failed_transport +
           s->registrations_failed_status + s->registrations_failed_auth + s->heartbeats_ok +
           s->heartbeats_failed_transport + s->heartbeats_failed_status +
           s->heartbeats_failed_auth + s->heartbeats_not_registered + s->deregistrations_ok +
           s->deregistrations_failed;
}

/* When the state began, on our clock; now if that is not plausible. */
static uint64_t since_ms(const pf_observer_t *o, const pmd_stats_t *s, uint64_t now_ms)
{
    int64_t t = (int64_t)s->state_since_unix_ms - o->wall_minus_mono_ms;
    return t > 0 && (uint64_t)t <= now_ms ? (uint64_t)t : now_ms;
}

static void tally_node(pf_observer_t *o, pf_node_seen_t *n, const pmd_stats_t *s, uint64_t now_ms)
{
    pf_tally_t *t = &o->tally;
    t->requests += requests_of(s);
    t->registrations += s->registrations_ok + s->registrations_failed_transport +
                        s->registrations_failed_status + s->registrations_failed_auth;
    t->heartbeats += s->heartbeats_ok + s->heartbeats_failed_transport +
                     s->heartbeats_failed_status + s->heartbeats_failed_auth +
                     s->heartbeats_not_registered;
    t->failures += requests_of(s) - s->registrations_ok - s->heartbeats_ok - s->deregistrations_ok;
    _Static_assert(PMD_NODE_STATE_COUNT <= sizeof(t->by_state) / sizeof(t->by_state[0]),
                   "pf_tally_t.by_state holds one counter per node state");
    t->by_state[(uint32_t)s->state & 7u]++;
    if (s->last_heartbeat_ok_unix_ms != 0 && s->last_heartbeat_ok_unix_ms != n->last_hb_ms)
        pf_bins_add(&o->heartbeats,
                    (uint64_t)((int64_t)s->last_heartbeat_ok_unix_ms - o->wall_minus_mono_ms));
    n->last_hb_ms = s->last_heartbeat_ok_unix_ms;
    n->requests = requests_of(s);
    n->regs_ok = s->registrations_ok;
    int registered = s->state == PMD_NODE_REGISTERED;
    if (n->registered_ms == 0 && s->registrations_ok > 0)
        n->registered_ms = registered ? since_ms(o, s, now_ms) : now_ms;
    if (o->event_ms && n->recovered_ms == 0 && registered &&
        s->registrations_ok > n->regs_at_event) {
        uint64_t since = since_ms(o, s, now_ms);
        n->recovered_ms = since >= o->event_ms ? since : now_ms;
        o->recovered++;
    }
}

/* The latest of the nodes' times, once every started node has one. */
static uint64_t all_done(const pf_observer_t *o, const pf_fleet_t *f, int recovered)
{
    uint64_t latest = 0;
    for (uint32_t i = 0; i < f->count; i++) {
        if (f->nodes[i].inst == NULL || !f->nodes[i].started)
            continue;
        uint64_t t = recovered ? o->seen[i].recovered_ms : o->seen[i].registered_ms;
        if (t == 0)
            return 0;
        latest = t > latest ? t : latest;
    }
    return latest;
}

void pf_observe_sample(pf_observer_t *o, pf_fleet_t *f, uint64_t now_ms)
{
    double cpu = thread_cpu_s();
    memset(&o->tally, 0, sizeof(o->tally));
    for (uint32_t i = 0; i < f->count && f->stats; i++) {
        hollow_node_t *n = &f->nodes[i];
        pmd_stats_t s;
        memset(&s, 0, sizeof(s));
        s.struct_size = sizeof(s);
        if (n->inst == NULL || f->stats->get(n->inst, &s) != PMD_OK)
            continue;
        tally_node(o, &o->seen[i], &s, now_ms);
    }
    if (o->all_registered_ms == 0)
        o->all_registered_ms = all_done(o, f, 0);
    if (o->event_ms && o->all_recovered_ms == 0)
        o->all_recovered_ms = all_done(o, f, 1);
    o->cpu_s += thread_cpu_s() - cpu;
}

void pf_observe_mark_event(pf_observer_t *o, uint64_t now_ms)
{
    o->event_ms = now_ms;
    o->all_recovered_ms = 0;
    o->recovered = 0;
    for (uint32_t i = 0; i < o->count; i++) {
        o->seen[i].regs_at_event = o->seen[i].regs_ok;
        o->seen[i].recovered_ms = 0;
    }
}
