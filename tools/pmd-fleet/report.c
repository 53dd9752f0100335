/* report.c - pmd-fleet's output. Times are seconds since boot; a spread is
 * "fullest 100 ms bin / mean" of a window, the figure a control plane must
 * be sized for. */
#include "report.h"

#include <stdio.h>

static double since_boot(const pf_run_t *r, uint64_t ms)
{
    return ms >= r->t0_ms ? (double)(ms - r->t0_ms) / 1000.0 : 0;
}

void pf_report_event(const pf_run_t *r, const char *what, int rc)
{
    (void)r;
    printf("[event] %s%s\n", what, rc == 0 ? "" : " (the control plane refused the /_dev/ call)");
    fflush(stdout);
}

static void print_states(const pf_tally_t *t)
{
    printf("registered %u registering %u degraded %u unauthorized %u",
           t->by_state[PMD_NODE_REGISTERED], t->by_state[PMD_NODE_REGISTERING],
           t->by_state[PMD_NODE_DEGRADED], t->by_state[PMD_NODE_UNAUTHORIZED]);
}

void pf_report_live(pf_run_t *r, uint64_t now_ms)
{
    pf_usage_t u;
    pf_usage_read(&u);
    double dt = r->live_ms ? (double)(now_ms - r->live_ms) / 1000.0 : 0;
    const pf_tally_t *t = &r->obs.tally;
    printf("[%7.1fs] started %u/%u  ", since_boot(r, now_ms), r->fleet->started, r->fleet->count);
    print_states(t);
    if (dt > 0) {
        double cpu = (u.cpu_s - r->live_cpu_s) - (r->obs.cpu_s - r->live_obs_cpu_s);
        pf_spread_t s = pf_bins_spread(&r->obs.heartbeats, r->live_ms, now_ms);
        printf("  req/s %.0f  hb fullest/mean %.1f  cpu %.1f%%",
               (double)(t->requests - r->live_requests) / dt, s.ratio, 100.0 * cpu / dt);
    }
    printf("  threads %u  private dirty %.0f MiB\n", u.threads, u.private_dirty_kib / 1024.0);
    fflush(stdout);
    r->live_ms = now_ms;
    r->live_requests = t->requests;
    r->live_cpu_s = u.cpu_s;
    r->live_obs_cpu_s = r->obs.cpu_s;
}

static void print_spread(const char *what, pf_spread_t s)
{
    if (s.bins == 0 || s.total == 0) {
        printf("  %-34s (no window)\n", what);
        return;
    }
    printf("  %-34s fullest/mean %.2f  (%u in the fullest 100 ms, mean %.1f, %.0f/s over %.1f s)\n",
           what, s.ratio, s.fullest, s.mean, s.per_s, s.bins * PF_BIN_MS / 1000.0);
}

static void print_boot(const pf_run_t *r)
{
    const pf_fleet_t *f = r->fleet;
    printf("pmd-fleet: %u nodes, interval %.1f s, boot %s, url %s%s\n", f->count,
           r->interval_ms / 1000.0, r->opt->boot == PF_BOOT_STAGGERED ? "staggered" : "together",
           r->url, r->is_orchd ? " (orchd-dev)" : "");
    printf("  init failed %u, start failed %u%s%s\n", f->init_failed, f->start_failed,
           f->first_failure[0] ? "; first: " : "", f->first_failure);
    if (r->obs.all_registered_ms)
        printf("  all registered %.2f s after boot\n", since_boot(r, r->obs.all_registered_ms));
    else
        printf("  NOT all registered by the end\n");
    printf("  at the end: ");
    print_states(&r->obs.tally);
    printf("\n");
}

static void print_usage(const pf_run_t *r)
{
    const pf_usage_t *a = &r->usage_steady, *b = &r->usage_end;
    uint32_t n = r->fleet->count - r->fleet->init_failed;
    if (r->steady_from_ms && r->end_ms > r->steady_from_ms) {
        double dt = (double)(r->end_ms - r->steady_from_ms) / 1000.0;
        double obs = r->obs.cpu_s - r->obs_cpu_steady;
        printf("  cpu %.1f%% of a core (host ticks and plugin; %.1f%% more spent sampling stats)\n",
               100.0 * (b->cpu_s - a->cpu_s - obs) / dt, 100.0 * obs / dt);
    }
    printf("  threads %u, descriptors in the host's table %u, rss %.0f MiB, private dirty %.0f MiB"
           " (%.0f KiB per instance)\n",
           b->threads, b->fds, b->rss_kib / 1024.0, b->private_dirty_kib / 1024.0,
           n ? (double)b->private_dirty_kib / n : 0);
}

static void print_event(const pf_run_t *r, const pf_journal_view_t *j)
{
    if (!r->event_ms)
        return;
    uint64_t from = r->outage_begin_ms ? r->outage_begin_ms : r->event_ms;
    if (r->obs.all_recovered_ms)
        printf("  registered again %.2f s after the %s\n",
               (r->obs.all_recovered_ms - r->event_ms) / 1000.0,
               r->outage_begin_ms ? "outage ended" : "restart");
    else
        printf("  registered again after the event: %u of %u by the end\n", r->obs.recovered,
               r->fleet->count - r->fleet->init_failed);
    uint64_t to = r->event_ms + 2 * r->interval_ms;
    pf_spread_t steady =
        j ? pf_bins_spread(j->bins, r->steady_from_ms, pf_run_steady_to(r))
          : pf_bins_spread(&r->obs.heartbeats, r->steady_from_ms, pf_run_steady_to(r));
    pf_spread_t ev = j ? pf_bins_spread(j->bins, from, to < r->end_ms ? to : r->end_ms)
                       : pf_bins_spread(&r->obs.heartbeats, from, to);
    if (steady.mean > 0)
        printf("  event peak: %u in the fullest 100 ms = %.1fx the steady mean (%s)\n", ev.fullest,
               ev.fullest / steady.mean, j ? "journal, all requests" : "client, heartbeats");
}

double pf_report_steady_ratio(const pf_run_t *r, const pf_journal_view_t *j)
{
    uint64_t to = pf_run_steady_to(r);
    if (to == 0)
        return 0;
    return pf_bins_spread(j ? j->bins : &r->obs.heartbeats, r->steady_from_ms, to).ratio;
}

void pf_report_final(const pf_run_t *r, const pf_journal_view_t *j)
{
    uint64_t to = pf_run_steady_to(r);
    printf("\n== summary ==\n");
    print_boot(r);
    printf("  requests sent: %llu (%llu registrations, %llu heartbeats, %llu failed)\n",
           (unsigned long long)r->obs.tally.requests,
           (unsigned long long)r->obs.tally.registrations,
           (unsigned long long)r->obs.tally.heartbeats, (unsigned long long)r->obs.tally.failures);
    printf("steady window (one interval after all registered, to the first event or the end):\n");
    print_spread("client, good heartbeats:",
                 pf_bins_spread(&r->obs.heartbeats, r->steady_from_ms, to));
    if (j) {
        print_spread("orchd-dev journal, all requests:",
                     pf_bins_spread(j->bins, r->steady_from_ms, to));
        printf("  journal: %llu requests read, %llu missed (the journal keeps 1000)\n",
               (unsigned long long)j->sum->seen, (unsigned long long)j->sum->missed);
    }
    print_event(r, j);
    print_usage(r);
    printf("  stop: all %u in %.2f s, longest %.3f s\n", r->fleet->count, r->fleet->stop_total_s,
           r->fleet->stop_max_s);
    printf("  plugin log: %llu errors, %llu warnings%s%s\n",
           (unsigned long long)r->fleet->logs.by_level[PMD_LOG_ERROR],
           (unsigned long long)r->fleet->logs.by_level[PMD_LOG_WARN],
           r->fleet->logs.first_error[0] ? "; first error: " : "", r->fleet->logs.first_error);
    fflush(stdout);
}
