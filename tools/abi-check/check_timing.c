/*
 * check_timing.c - tick-cost (ABI-TICK-COST) and stop-bound
 * (ABI-STOP-BOUND): tick() returns in microseconds and stop() within the
 * descriptor's stop_timeout_ms whatever the control plane does. The control
 * plane is either a closed loopback port (refused at once) or a listening
 * socket nobody accepts from (connects, then silence).
 */
#include "abi_check.h"
#include "test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICKS 10000
#define TICK_GAP_US 100
#define TICK_BUDGET_NS (8ull * 1000000000ull) /* per control plane */
#define P99_LIMIT_US 1000.0
#define STOP_SLACK_MS 250

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Ticks one instance against url; reports p50/p99/max under label. */
static void tick_run(const ac_ctx_t *ctx, const char *label, const char *url, uint64_t *ns,
                     ac_result_t *r)
{
    ac_session_t s;
    if (ac_session_open(ctx, &s, url, r) != 0)
        return;
    th_rec_t rec;
    th_rec_init(&rec, 0);
    pmd_host_t host;
    th_host_fill(&host, &rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = th_init(&rec, s.p, &host, s.config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "%s: init returned %d: %s", label, (int)rc, err);
        ac_session_close(&s);
        return;
    }
    int n = 0;
    if (th_start(&rec, s.p, in) != PMD_OK) {
        ac_fail(r, "%s: start failed", label);
    } else {
        /* Once more than 1% of TICKS were over the limit, p99 is decided. */
        uint64_t deadline = ac_now_ns() + TICK_BUDGET_NS;
        int over = 0;
        for (; n < TICKS && ac_now_ns() < deadline && over <= TICKS / 100; n++) {
            ac_sleep_us(TICK_GAP_US);
            uint64_t t0 = ac_now_ns();
            th_tick(&rec, s.p, in, t0);
            ns[n] = ac_now_ns() - t0;
            over += ns[n] > (uint64_t)(P99_LIMIT_US * 1000.0);
        }
        th_stop(&rec, s.p, in);
    }
    th_destroy(&rec, s.p, in);
    ac_session_close(&s);
    if (n == 0)
        return;
    qsort(ns, (size_t)n, sizeof(ns[0]), cmp_u64);
    double p50 = (double)ns[n / 2] / 1000.0, p99 = (double)ns[(size_t)n * 99 / 100] / 1000.0,
           max = (double)ns[n - 1] / 1000.0;
    char name[48];
    snprintf(name, sizeof(name), "%s_ticks", label);
    ac_figure(r, name, n, "ticks");
    snprintf(name, sizeof(name), "%s_p50", label);
    ac_figure(r, name, p50, "us");
    snprintf(name, sizeof(name), "%s_p99", label);
    ac_figure(r, name, p99, "us");
    snprintf(name, sizeof(name), "%s_max", label);
    ac_figure(r, name, max, "us");
    if (p99 > P99_LIMIT_US)
        ac_fail(r, "%s: tick p99 %.1f us > %.0f us (p50 %.1f, max %.1f, %d ticks%s)", label, p99,
                P99_LIMIT_US, p50, max, n, n < TICKS ? ", stopped early" : "");
    size_t used = strlen(r->reason);
    if (r->verdict == AC_PASS && used < sizeof(r->reason))
        snprintf(r->reason + used, sizeof(r->reason) - used,
                 "%s%s: p50 %.1f us, p99 %.1f us, max %.1f us over %d ticks", used ? "; " : "",
                 label, p50, p99, max, n);
}

void ac_check_tick_cost(const ac_ctx_t *ctx, ac_result_t *r)
{
    if (ctx->valgrind_safe) {
        ac_skip(r, "timings are meaningless under valgrind (--valgrind-safe)");
        return;
    }
    uint64_t *ns = calloc(TICKS, sizeof(*ns));
    char url[64];
    if (ns == NULL || ac_url_closed_port(url, sizeof(url)) != 0) {
        ac_fail(r, "cannot set up");
        free(ns);
        return;
    }
    tick_run(ctx, "closed_port", url, ns, r);
    int hole = ac_blackhole_open(url, sizeof(url));
    if (hole < 0)
        ac_fail(r, "cannot open a loopback listener");
    else
        tick_run(ctx, "silent_server", url, ns, r);
    if (hole >= 0)
        close(hole);
    free(ns);
}

/* Ticks for ms, then times the end: stop() or destroy() of a started one. */
static double time_end(const ac_session_t *s, int use_stop, unsigned tick_ms, ac_result_t *r)
{
    th_rec_t rec;
    th_rec_init(&rec, 0);
    pmd_host_t host;
    th_host_fill(&host, &rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = th_init(&rec, s->p, &host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d: %s", (int)rc, err);
        return -1;
    }
    if (th_start(&rec, s->p, in) != PMD_OK) {
        ac_fail(r, "start failed");
        th_destroy(&rec, s->p, in);
        return -1;
    }
    for (unsigned i = 0; i < tick_ms / 5; i++) {
        ac_sleep_us(5000);
        th_tick(&rec, s->p, in, ac_now_ns());
    }
    uint64_t t0 = ac_now_ns();
    if (use_stop && (rc = th_stop(&rec, s->p, in)) != PMD_OK)
        ac_fail(r, "stop returned %d", (int)rc);
    if (!use_stop)
        th_destroy(&rec, s->p, in);
    double ms = (double)(ac_now_ns() - t0) / 1e6;
    if (use_stop)
        th_destroy(&rec, s->p, in);
    return ms;
}

void ac_check_stop_bound(const ac_ctx_t *ctx, ac_result_t *r)
{
    if (ctx->valgrind_safe) {
        ac_skip(r, "timings are meaningless under valgrind (--valgrind-safe)");
        return;
    }
    char url[64];
    int hole = ac_blackhole_open(url, sizeof(url));
    ac_session_t s;
    if (hole < 0) {
        ac_fail(r, "cannot open a loopback listener");
        return;
    }
    if (ac_session_open(ctx, &s, url, r) != 0) {
        close(hole);
        return;
    }
    double limit = (double)s.p->stop_timeout_ms + STOP_SLACK_MS;
    double stop_ms = time_end(&s, 1, 1000, r);
    double destroy_ms = time_end(&s, 0, 500, r);
    ac_figure(r, "stop_timeout_ms", s.p->stop_timeout_ms, "ms");
    ac_figure(r, "stop", stop_ms, "ms");
    ac_figure(r, "destroy_started", destroy_ms, "ms");
    if (stop_ms > limit)
        ac_fail(r, "stop() took %.1f ms against a silent server; stop_timeout_ms %u + %d ms slack",
                stop_ms, (unsigned)s.p->stop_timeout_ms, STOP_SLACK_MS);
    if (destroy_ms > limit)
        ac_fail(r, "destroy() of a started instance took %.1f ms; stop_timeout_ms %u + %d ms slack",
                destroy_ms, (unsigned)s.p->stop_timeout_ms, STOP_SLACK_MS);
    ac_note(r, "against a silent server stop() took %.1f ms, destroy() of a started instance "
               "%.1f ms (stop_timeout_ms %u)",
            stop_ms, destroy_ms, (unsigned)s.p->stop_timeout_ms);
    ac_session_close(&s);
    close(hole);
}
