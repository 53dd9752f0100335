/* run.c - the host loop. One thread ticks every node every --tick-ms (as a
 * host would), samples their stats every --sample-ms, fires the scheduled
 * control-plane events, and prints a live line every --report-every. */
#include "run.h"

#include <stdio.h>
#include <time.h>

#include "orchd_admin.h"
#include "report.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {(time_t)(t_ns / 1000000000ull), (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static uint64_t at_ms(const pf_run_t *r, double s)
{
    return s < 0 ? 0 : r->t0_ms + (uint64_t)(s * 1000.0);
}

/* Restart and outage, at their times; each says what it did. */
static void fire_events(pf_run_t *r, uint64_t now_ms)
{
    const pf_options_t *o = r->opt;
    uint64_t restart = at_ms(r, o->restart_at_s), outage = at_ms(r, o->outage_at_s);
    uint64_t outage_end = outage ? outage + (uint64_t)(o->outage_for_s * 1000.0) : 0;
    if (restart && now_ms >= restart && r->event_ms == 0 && !r->outage_begin_ms) {
        pf_report_event(r, "restart", pf_orchd_restart(r->url));
        r->event_ms = now_ms;
        pf_observe_mark_event(&r->obs, now_ms);
    }
    if (outage && now_ms >= outage && !r->outage_begin_ms) {
        pf_report_event(r, "outage begins", pf_orchd_drop_all(r->url));
        r->outage_begin_ms = now_ms;
    }
    if (outage_end && now_ms >= outage_end && r->outage_begin_ms && !r->event_ms) {
        int rc = pf_orchd_restart(r->url) | pf_orchd_clear_faults(r->url);
        pf_report_event(r, "outage ends (registry lost)", rc);
        r->event_ms = now_ms;
        pf_observe_mark_event(&r->obs, now_ms);
    }
}

static void mark_steady(pf_run_t *r, uint64_t now_ms)
{
    if (r->steady_from_ms || !r->obs.all_registered_ms ||
        now_ms < r->obs.all_registered_ms + r->interval_ms)
        return;
    r->steady_from_ms = now_ms;
    pf_usage_read(&r->usage_steady);
    r->obs_cpu_steady = r->obs.cpu_s;
}

void pf_run_loop(pf_run_t *r)
{
    const pf_options_t *o = r->opt;
    uint64_t t0 = now_ns(), tick = (uint64_t)o->tick_ms * 1000000ull;
    uint64_t span = o->boot == PF_BOOT_STAGGERED ? r->interval_ms * 1000000ull : 0;
    uint64_t end = t0 + (uint64_t)(o->run_for_s * 1e9), next_sample = t0, next_report = t0;
    r->t0_ms = t0 / 1000000ull;
    for (uint64_t t = t0; t < end; t += tick) {
        sleep_until(t);
        uint64_t now = now_ns(), ms = now / 1000000ull;
        if (now - t > tick) /* a round took longer than a tick: skip, do not burst */
            t = now - (now - t) % tick;
        pf_fleet_start_due(r->fleet, t0, span, now);
        pf_fleet_tick(r->fleet, now);
        if (r->is_orchd)
            fire_events(r, ms);
        if (now >= next_sample) {
            pf_observe_sample(&r->obs, r->fleet, ms);
            mark_steady(r, ms);
            next_sample += (uint64_t)o->sample_ms * 1000000ull;
        }
        if (o->report_every_s > 0 && now >= next_report) {
            pf_report_live(r, ms);
            next_report += (uint64_t)(o->report_every_s * 1e9);
        }
    }
    r->end_ms = now_ns() / 1000000ull;
    pf_observe_sample(&r->obs, r->fleet, r->end_ms);
    pf_usage_read(&r->usage_end);
}

uint64_t pf_run_steady_to(const pf_run_t *r)
{
    uint64_t to = r->end_ms;
    if (r->outage_begin_ms && r->outage_begin_ms < to)
        to = r->outage_begin_ms;
    if (r->event_ms && r->event_ms < to)
        to = r->event_ms;
    return r->steady_from_ms && to > r->steady_from_ms ? to : 0;
}
