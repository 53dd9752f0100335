/*
 * check_handover.c - ABI 1.2 handover (plugin.abi.md 5.17), four checks:
 *   handover-offered     (ABI-HANDOVER-OFFERED): offered in full, or not at
 *                        all (then SKIP "not offered", never a failure);
 *   handover-no-delete   (ABI-HANDOVER-NO-DELETE): an instance ended by
 *                        on_handover sends no DELETE and no request at all
 *                        once the call returned, its threads are gone, it
 *                        filled the handover; a second instance started with
 *                        it reaches the control plane;
 *   handover-stop-bound  (ABI-HANDOVER-STOP-BOUND): on_handover keeps the
 *                        stop bound against a control plane that accepts and
 *                        never answers;
 *   handover-args        (ABI-HANDOVER-ARGS): the state and argument rules of
 *                        both calls; a refused call writes nothing (canary
 *                        after the struct) and changes nothing.
 * A plugin that does not offer handover SKIPs the last three as well.
 */
#include "abi_check.h"
#include "checks_spec.h"
#include "test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_TRAFFIC_MS 3000 /* wait for an instance's first requests */
#define GRACE_MS 50           /* a request the plugin wrote before returning */
#define QUIET_MS 500          /* after on_handover: no request may come */
#define THREAD_SETTLE_MS 500
#define HUNG_TICK_MS 500 /* ticks against the hung control plane first */
#define STOP_SLACK_MS 250
#define CANARY 0xA5

#define MEMBER_END(type, m) (offsetof(type, m) + sizeof(((type *)0)->m))

static const char *rs(const pmd_plugin_t *p, int32_t rc)
{
    const char *s = p->result_string(rc);
    return s != NULL ? s : "(null)";
}

/* 1: offered; 0: not offered; -1: only one of the two members. why says
 * which (for 0 and -1). */
static int offer_state(const ac_session_t *s, char *why, size_t size)
{
    const pmd_plugin_t *p = s->p;
    if (s->lp.session_minor < 2) {
        snprintf(why, size, "the session runs at minor %u (plugin %u.%u); handover needs 2",
                 (unsigned)s->lp.session_minor, (unsigned)p->abi_major, (unsigned)p->abi_minor);
        return 0;
    }
    int ho = p->struct_size >= MEMBER_END(pmd_plugin_t, on_handover) && p->on_handover != NULL;
    int sho = p->struct_size >= MEMBER_END(pmd_plugin_t, on_start_handed_over) &&
              p->on_start_handed_over != NULL;
    if (!ho && !sho && p->struct_size < MEMBER_END(pmd_plugin_t, on_start_handed_over)) {
        snprintf(why, size, "descriptor struct_size %u is below the 1.2 size %u",
                 (unsigned)p->struct_size,
                 (unsigned)MEMBER_END(pmd_plugin_t, on_start_handed_over));
        return 0;
    }
    if (!ho && !sho) {
        snprintf(why, size, "on_handover and on_start_handed_over are NULL");
        return 0;
    }
    if (ho != sho) {
        snprintf(why, size, "offers only %s: a plugin offers both handover members or neither",
                 ho ? "on_handover" : "on_start_handed_over");
        return -1;
    }
    return 1;
}

void ac_check_handover_offered(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    if (ac_session_open(ctx, &s, NULL, r) != 0)
        return;
    char why[256];
    int st = offer_state(&s, why, sizeof(why));
    ac_figure(r, "session_minor", s.lp.session_minor, "");
    ac_figure(r, "descriptor_size", s.p->struct_size, "bytes");
    ac_figure(r, "offered", st == 1, "");
    if (st == 1)
        ac_note(r, "offered: on_handover and on_start_handed_over (session minor %u)",
                (unsigned)s.lp.session_minor);
    else if (st == 0)
        ac_skip(r, "not offered: %s (hosts fall back to on_stop + on_start)", why);
    else
        ac_fail(r, "%s", why);
    ac_session_close(&s);
}

/* Opens the session for url when the plugin offers handover in full;
 * otherwise SKIPs r (handover-offered reports a half offer) and returns -1. */
static int open_offering(const ac_ctx_t *ctx, ac_session_t *s, const char *url, ac_result_t *r)
{
    if (ac_session_open(ctx, s, url, r) != 0)
        return -1;
    char why[256];
    int st = offer_state(s, why, sizeof(why));
    if (st == 1)
        return 0;
    if (st == 0)
        ac_skip(r, "not offered: %s", why);
    else
        ac_skip(r, "not offered in full (%s): see handover-offered", why);
    ac_session_close(s);
    return -1;
}

static pmd_instance_t *new_instance(const ac_session_t *s, ac_th_rec_t *rec, const char *label,
                                    ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, &host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "%s: init returned %d (%s) with the plugin's config: %s", label, (int)rc,
                rs(s->p, rc), err);
        return NULL;
    }
    return in;
}

/* Ticks in every 5 ms until the control plane has seen want requests in all
 * or max_ms passed; returns the count. */
static int tick_until_requests(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in,
                               ac_cp_t *cp, int want, unsigned max_ms)
{
    uint64_t end = ac_now_ns() + (uint64_t)max_ms * 1000000ull;
    while (ac_cp_count(cp) < want && ac_now_ns() < end) {
        ac_sleep_us(5000);
        ac_th_tick(rec, s->p, in, ac_now_ns());
    }
    return ac_cp_count(cp);
}

static void tick_for(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in, unsigned ms)
{
    for (unsigned i = 0; i < ms / 5; i++) {
        ac_sleep_us(5000);
        ac_th_tick(rec, s->p, in, ac_now_ns());
    }
}

static int settle_threads(int want, unsigned max_ms)
{
    int n = ac_count_threads();
    for (unsigned i = 0; i < max_ms / 10 && n > want; i++) {
        ac_sleep_us(10000);
        n = ac_count_threads();
    }
    return n;
}

/* What on_handover must have left: STOPPED reported, the struct filled,
 * the instance's threads gone. */
static void check_handed_over(const ac_th_rec_t *rec, const pmd_handover_t *h, int threads0,
                              ac_result_t *r)
{
    int last = atomic_load(&rec->last_state);
    if (last != PMD_NODE_STOPPED)
        ac_fail(r,
                "after on_handover the last state_changed reported %d, not "
                "PMD_NODE_STOPPED (%d)",
                last, PMD_NODE_STOPPED);
    if (h->struct_size < PMD_HANDOVER_MIN_SIZE || h->struct_size > sizeof(*h))
        ac_fail(r, "on_handover set out->struct_size to %u: want the size it filled, %u..%zu",
                (unsigned)h->struct_size, (unsigned)PMD_HANDOVER_MIN_SIZE, sizeof(*h));
    else if (memchr(h->node_id, '\0', sizeof(h->node_id)) == NULL)
        ac_fail(r, "on_handover left node_id without a NUL within its %zu bytes",
                sizeof(h->node_id));
    else if (h->node_id[0] == '\0')
        ac_fail(r, "on_handover left node_id empty");
    int left = settle_threads(threads0, THREAD_SETTLE_MS);
    ac_figure(r, "threads_after_handover", left, "threads");
    if (left > threads0)
        ac_fail(r,
                "%d thread(s) of the instance still run %d ms after on_handover returned "
                "(%d before on_start)",
                left - threads0, THREAD_SETTLE_MS, threads0);
}

/* From the return of on_handover (n_ret requests seen then): no request
 * after GRACE_MS, none during QUIET_MS (the old instance is destroyed in
 * between, as a host does), and no DELETE at all. Returns the count. */
static int check_quiet(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *old, ac_cp_t *cp,
                       uint64_t t_ret, int n_ret, ac_result_t *r)
{
    ac_sleep_us(GRACE_MS * 1000);
    int n0 = ac_cp_count(cp);
    ac_th_destroy(rec, s->p, old);
    ac_sleep_us(QUIET_MS * 1000);
    int n1 = ac_cp_count(cp);
    ac_cp_request_t q;
    ac_figure(r, "requests_in_flight_at_return", n0 - n_ret, "requests");
    ac_figure(r, "requests_after_handover", n1 - n0, "requests");
    if (n1 > n0 && ac_cp_get(cp, n0, &q) == 0)
        ac_fail(r,
                "%d request(s) reached the control plane after on_handover returned "
                "(first: %s %s, %.0f ms after)",
                n1 - n0, q.method, q.path, (double)(q.t_ns - t_ret) / 1e6);
    if (ac_cp_find(cp, "DELETE", 0, n1, &q) >= 0)
        ac_fail(r, "the control plane saw DELETE %s: a handover must not deregister", q.path);
    return n1;
}

/* The second instance takes over with h: it must reach the control plane
 * (when the first one did), with no DELETE. */
static void check_take_over(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *fresh,
                            const pmd_handover_t *h, ac_cp_t *cp, int old_traffic, ac_result_t *r)
{
    int n_base = ac_cp_count(cp);
    uint64_t t0 = ac_now_ns();
    int32_t rc = ac_th_start_handed_over(rec, s->p, fresh, h);
    if (rc != PMD_OK) {
        ac_fail(r, "on_start_handed_over with the handover returned %d (%s)", (int)rc,
                rs(s->p, rc));
        return;
    }
    /* A plugin that sent nothing before gets a short look only. */
    int n = tick_until_requests(s, rec, fresh, cp, n_base + 1,
                                old_traffic > 0 ? FIRST_TRAFFIC_MS : QUIET_MS);
    ac_cp_request_t q;
    if (n > n_base && ac_cp_get(cp, n_base, &q) == 0) {
        ac_figure(r, "takeover_first_request", (double)(q.t_ns - t0) / 1e6, "ms");
        if (strcmp(q.method, "DELETE") == 0)
            ac_fail(r, "the second instance's first request was DELETE %s", q.path);
        ac_note(r,
                "no DELETE and no request after on_handover; the second instance's first "
                "request: %s %s, %.0f ms after on_start_handed_over",
                q.method, q.path, (double)(q.t_ns - t0) / 1e6);
    } else if (old_traffic > 0) {
        ac_fail(r, "the second instance sent no request within %d ms of on_start_handed_over",
                FIRST_TRAFFIC_MS);
    } else {
        ac_note(r, "handover filled and threads gone; the plugin sent no request to the "
                   "control plane at {{url}}, so there was no traffic to watch");
    }
    if ((rc = ac_th_stop(rec, s->p, fresh)) != PMD_OK)
        ac_fail(r, "on_stop of the second instance returned %d (%s)", (int)rc, rs(s->p, rc));
}

void ac_check_handover_no_delete(const ac_ctx_t *ctx, ac_result_t *r)
{
    char url[64];
    ac_cp_t *cp = ac_cp_start(AC_CP_ANSWER, url, sizeof(url));
    if (cp == NULL) {
        ac_fail(r, "cannot start the loopback control plane");
        return;
    }
    ac_session_t s;
    if (open_offering(ctx, &s, url, r) != 0) {
        ac_cp_stop(cp);
        return;
    }
    ac_th_rec_t rec_old, rec_new;
    ac_th_rec_init(&rec_old, 0);
    ac_th_rec_init(&rec_new, 1);
    pmd_instance_t *old = new_instance(&s, &rec_old, "first instance", r), *fresh = NULL;
    if (old != NULL)
        fresh = new_instance(&s, &rec_new, "second instance", r);
    int threads0 = ac_count_threads();
    if (fresh == NULL || ac_th_start(&rec_old, s.p, old) != PMD_OK) {
        if (fresh != NULL)
            ac_fail(r, "on_start of the first instance failed");
        goto out;
    }
    /* Register, then one heartbeat (the second request), when it does either. */
    int before = tick_until_requests(&s, &rec_old, old, cp, 1, FIRST_TRAFFIC_MS / 2);
    if (before > 0)
        before = tick_until_requests(&s, &rec_old, old, cp, 2, FIRST_TRAFFIC_MS);
    ac_figure(r, "requests_before_handover", before, "requests");
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    uint64_t t0 = ac_now_ns();
    int32_t rc = ac_th_handover(&rec_old, s.p, old, &h);
    uint64_t t_ret = ac_now_ns();
    int n_ret = ac_cp_count(cp);
    ac_figure(r, "handover", (double)(t_ret - t0) / 1e6, "ms");
    if (rc != PMD_OK) {
        ac_fail(r, "on_handover on a started instance returned %d (%s)", (int)rc, rs(s.p, rc));
        goto out;
    }
    check_handed_over(&rec_old, &h, threads0, r);
    check_quiet(&s, &rec_old, old, cp, t_ret, n_ret, r);
    old = NULL;
    check_take_over(&s, &rec_new, fresh, &h, cp, before, r);
out:
    if (old != NULL)
        ac_th_destroy(&rec_old, s.p, old);
    if (fresh != NULL)
        ac_th_destroy(&rec_new, s.p, fresh);
    ac_session_close(&s);
    ac_cp_stop(cp);
}

void ac_check_handover_stop_bound(const ac_ctx_t *ctx, ac_result_t *r)
{
    if (ctx->valgrind_safe) {
        ac_skip(r, "timings are meaningless under valgrind (--valgrind-safe)");
        return;
    }
    char url[64];
    ac_cp_t *cp = ac_cp_start(AC_CP_HANG, url, sizeof(url));
    if (cp == NULL) {
        ac_fail(r, "cannot start the loopback control plane");
        return;
    }
    ac_session_t s;
    if (open_offering(ctx, &s, url, r) != 0) {
        ac_cp_stop(cp);
        return;
    }
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_instance_t *in = new_instance(&s, &rec, "instance", r);
    if (in == NULL)
        goto out;
    const char *source;
    uint32_t bound = ac_instance_stop_bound(&s, &rec, in, &source);
    if (ac_th_start(&rec, s.p, in) != PMD_OK) {
        ac_fail(r, "on_start failed");
        ac_th_destroy(&rec, s.p, in);
        goto out;
    }
    tick_for(&s, &rec, in, HUNG_TICK_MS);
    int hanging = ac_cp_count(cp);
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    uint64_t t0 = ac_now_ns();
    int32_t rc = ac_th_handover(&rec, s.p, in, &h);
    double ms = (double)(ac_now_ns() - t0) / 1e6;
    ac_th_destroy(&rec, s.p, in);
    ac_figure(r, "stop_timeout_ms", bound, "ms");
    ac_figure(r, "handover", ms, "ms");
    ac_figure(r, "requests_unanswered", hanging, "requests");
    if (rc != PMD_OK)
        ac_fail(r, "on_handover returned %d (%s)", (int)rc, rs(s.p, rc));
    if (ms > (double)bound + STOP_SLACK_MS)
        ac_fail(r,
                "on_handover took %.1f ms against a control plane that accepts and never "
                "answers; stop bound %u ms (%s) + %d ms slack",
                ms, (unsigned)bound, source, STOP_SLACK_MS);
    ac_note(r, "on_handover took %.1f ms with %d request(s) unanswered (stop bound %u ms, %s)", ms,
            hanging, (unsigned)bound, source);
out:
    ac_session_close(&s);
    ac_cp_stop(cp);
}

/* ---- handover-args ---------------------------------------------------- */

static void expect(const ac_session_t *s, ac_result_t *r, const char *what, int32_t got,
                   int32_t want)
{
    if (got != want)
        ac_fail(r, "%s returned %d (%s), want %d (%s)", what, (int)got, rs(s->p, got), (int)want,
                rs(s->p, want));
}

/* A handover struct of n bytes at the start of a page; the rest of the page
 * is a canary, then an inaccessible page. */
static pmd_handover_t *canary_struct(ac_guard_t *g, uint32_t n)
{
    unsigned char *b = ac_guard_tail(g, g->page);
    if (b == NULL)
        return NULL;
    memset(b, CANARY, g->page);
    memcpy(b, &n, sizeof(n));
    return (pmd_handover_t *)(void *)b;
}

/* Which bytes changed since canary_struct(g, n): struct_size in *size,
 * the first and last other changed offsets (-1 when none). */
static void canary_damage(const ac_guard_t *g, uint32_t *size, long *first, long *last)
{
    memcpy(size, g->base, sizeof(*size));
    *first = *last = -1;
    for (size_t i = sizeof(*size); i < g->page; i++)
        if (g->base[i] != CANARY) {
            *first = *first < 0 ? (long)i : *first;
            *last = (long)i;
        }
}

/* on_handover with a struct below PMD_HANDOVER_MIN_SIZE: refused, nothing
 * written (neither inside nor past struct_size). */
static void too_small_out(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in, uint32_t n,
                          ac_guard_t *g, ac_result_t *r)
{
    pmd_handover_t *h = canary_struct(g, n);
    if (h == NULL) {
        ac_fail(r, "cannot map the canary page");
        return;
    }
    char what[96];
    snprintf(what, sizeof(what), "on_handover with out->struct_size %u", (unsigned)n);
    expect(s, r, what, ac_th_handover(rec, s->p, in, h), PMD_ERR_INVALID_ARGUMENT);
    uint32_t size;
    long first, last;
    canary_damage(g, &size, &first, &last);
    if (last >= (long)n)
        ac_fail(r,
                "%s wrote past struct_size: bytes %ld..%ld changed (guard canary), "
                "struct_size now %u",
                what, first, last, (unsigned)size);
    else if (first >= 0 || size != n)
        ac_fail(r, "%s changed the struct it should refuse (struct_size now %u)", what,
                (unsigned)size);
}

/* on_start_handed_over with a struct of n bytes ending at a guard page. */
static void too_small_in(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in, uint32_t n,
                         ac_guard_t *g, ac_result_t *r)
{
    pmd_handover_t *h = ac_guard_tail(g, n);
    if (h == NULL) {
        ac_fail(r, "cannot map the guard page");
        return;
    }
    memset(h, 0, n);
    h->struct_size = n;
    char what[96];
    snprintf(what, sizeof(what), "on_start_handed_over with struct_size %u", (unsigned)n);
    expect(s, r, what, ac_th_start_handed_over(rec, s->p, in, h), PMD_ERR_INVALID_ARGUMENT);
}

/* INITIALIZED: on_handover is a state error; on_start_handed_over refuses a
 * NULL or short handover and leaves the instance startable. */
static void args_initialized(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in,
                             pmd_handover_t *full, ac_guard_t *g, ac_result_t *r)
{
    pmd_handover_t copy = *full;
    expect(s, r, "on_handover on an INITIALIZED instance", ac_th_handover(rec, s->p, in, full),
           PMD_ERR_STATE);
    if (memcmp(&copy, full, sizeof(copy)) != 0)
        ac_fail(r, "on_handover on an INITIALIZED instance wrote to the struct it refused");
    expect(s, r, "on_start_handed_over(NULL handover)",
           ac_th_start_handed_over(rec, s->p, in, NULL), PMD_ERR_INVALID_ARGUMENT);
    too_small_in(s, rec, in, 8, g, r);
    /* 8 short, not 1: the struct ends at the guard page, and a struct_size
     * that is not a multiple of 8 would misalign it (undefined behaviour in
     * the checker and the plugin alike; UBSan says so). */
    too_small_in(s, rec, in, PMD_HANDOVER_MIN_SIZE - 8, g, r);
    expect(s, r, "on_tick after the refused calls (still INITIALIZED)",
           ac_th_tick(rec, s->p, in, ac_now_ns()), PMD_ERR_STATE);
    expect(s, r, "on_start after the refused calls", ac_th_start(rec, s->p, in), PMD_OK);
}

/* STARTED: NULL and short structs refused with the instance still STARTED;
 * a full one ends it (STOPPED). */
static void args_started(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in,
                         pmd_handover_t *full, ac_guard_t *g, ac_result_t *r)
{
    expect(s, r, "on_start_handed_over on a STARTED instance",
           ac_th_start_handed_over(rec, s->p, in, full), PMD_ERR_STATE);
    expect(s, r, "on_handover(NULL out)", ac_th_handover(rec, s->p, in, NULL),
           PMD_ERR_INVALID_ARGUMENT);
    too_small_out(s, rec, in, 8, g, r);
    too_small_out(s, rec, in, PMD_HANDOVER_MIN_SIZE - 1, g, r);
    expect(s, r, "on_tick after the refused on_handover calls (still STARTED)",
           ac_th_tick(rec, s->p, in, ac_now_ns()), PMD_OK);
    expect(s, r, "on_handover with a full struct", ac_th_handover(rec, s->p, in, full), PMD_OK);
    expect(s, r, "on_tick after on_handover (STOPPED)", ac_th_tick(rec, s->p, in, ac_now_ns()),
           PMD_ERR_STATE);
    expect(s, r, "on_handover on a STOPPED instance", ac_th_handover(rec, s->p, in, full),
           PMD_ERR_STATE);
    expect(s, r, "on_stop after on_handover", ac_th_stop(rec, s->p, in), PMD_ERR_STATE);
}

void ac_check_handover_args(const ac_ctx_t *ctx, ac_result_t *r)
{
    char url[64];
    ac_session_t s;
    if (ac_url_closed_port(url, sizeof(url)) != 0) {
        ac_fail(r, "cannot pick a loopback port");
        return;
    }
    if (open_offering(ctx, &s, url, r) != 0)
        return;
    ac_guard_t g;
    if (ac_guard_map(&g) != 0) {
        ac_fail(r, "cannot map a guard page");
        ac_session_close(&s);
        return;
    }
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_handover_t full;
    memset(&full, 0, sizeof(full));
    full.struct_size = sizeof(full);
    pmd_instance_t *in = new_instance(&s, &rec, "instance", r);
    if (in != NULL) {
        args_initialized(&s, &rec, in, &full, &g, r);
        args_started(&s, &rec, in, &full, &g, r);
        ac_th_destroy(&rec, s.p, in);
    }
    expect(&s, r, "on_handover(NULL instance)", ac_th_handover(&rec, s.p, NULL, &full),
           PMD_ERR_INVALID_ARGUMENT);
    expect(&s, r, "on_start_handed_over(NULL instance)",
           ac_th_start_handed_over(&rec, s.p, NULL, &full), PMD_ERR_INVALID_ARGUMENT);
    ac_note(r,
            "wrong states give PMD_ERR_STATE; NULL and short (8, %u bytes) structs give "
            "PMD_ERR_INVALID_ARGUMENT with nothing written and the instance unchanged",
            (unsigned)PMD_HANDOVER_MIN_SIZE - 1);
    ac_guard_unmap(&g);
    ac_session_close(&s);
}
