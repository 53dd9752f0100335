/*
 * check_lifecycle.c - the state machine and the threading rules:
 * lifecycle (ABI-LIFECYCLE), instances (ABI-INSTANCES) and host-thread
 * (ABI-HOST-THREAD).
 */
#include "abi_check.h"
#include "test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pmd_instance_t *make(const ac_session_t *s, ac_th_rec_t *rec, ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, &host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d with the plugin's config: %s", (int)rc, err);
        return NULL;
    }
    return in;
}

static void expect(ac_result_t *r, const char *what, int32_t got, int32_t want)
{
    if (got != want)
        ac_fail(r, "%s returned %d, expected %d", what, (int)got, (int)want);
}

/* The full walk through the states on one instance. */
static void walk_states(const ac_session_t *s, ac_th_rec_t *rec, ac_result_t *r)
{
    const pmd_plugin_t *p = s->p;
    pmd_instance_t *in = make(s, rec, r);
    if (in == NULL)
        return;
    uint64_t now = ac_now_ns();
    expect(r, "tick before start", ac_th_tick(rec, p, in, now), PMD_ERR_STATE);
    expect(r, "stop before start", ac_th_stop(rec, p, in), PMD_ERR_STATE);
    expect(r, "on_start", ac_th_start(rec, p, in), PMD_OK);
    expect(r, "second start", ac_th_start(rec, p, in), PMD_ERR_STATE);
    expect(r, "tick after start", ac_th_tick(rec, p, in, ac_now_ns()), PMD_OK);
    expect(r, "on_stop", ac_th_stop(rec, p, in), PMD_OK);
    int last = atomic_load(&rec->last_state);
    if (last >= 0 && last != PMD_NODE_STOPPED)
        ac_fail(r, "after stop the last state_changed reported %d, not PMD_NODE_STOPPED", last);
    expect(r, "second stop", ac_th_stop(rec, p, in), PMD_ERR_STATE);
    expect(r, "tick after stop", ac_th_tick(rec, p, in, ac_now_ns()), PMD_ERR_STATE);
    expect(r, "start after stop", ac_th_start(rec, p, in), PMD_ERR_STATE);
    ac_th_destroy(rec, p, in);
}

static void destroy_paths(const ac_session_t *s, ac_th_rec_t *rec, ac_result_t *r)
{
    pmd_instance_t *in = make(s, rec, r); /* destroy straight after init */
    if (in != NULL)
        ac_th_destroy(rec, s->p, in);
    in = make(s, rec, r); /* destroy of a started instance */
    if (in != NULL) {
        expect(r, "on_start", ac_th_start(rec, s->p, in), PMD_OK);
        expect(r, "on_tick", ac_th_tick(rec, s->p, in, ac_now_ns()), PMD_OK);
        ac_th_destroy(rec, s->p, in);
    }
    in = make(s, rec, r); /* destroy of a stopped instance */
    if (in != NULL) {
        expect(r, "on_start", ac_th_start(rec, s->p, in), PMD_OK);
        expect(r, "on_stop", ac_th_stop(rec, s->p, in), PMD_OK);
        ac_th_destroy(rec, s->p, in);
    }
}

/*
 * destroy from inside a callback of the same instance: a host error that the
 * plugin ignores, the instance staying alive (plugin.abi.md 5.6). Every
 * callback of this host calls destroy once; afterwards the instance must
 * still tick and stop as if nothing happened. A plugin that frees the
 * instance anyway shows up here as a wrong result or a crash, and under
 * valgrind or ASan as a use after free.
 */
typedef struct inner_destroy {
    const pmd_plugin_t *p;
    pmd_instance_t *in; /* NULL while destroy is not to be tried */
    unsigned tries;
    int depth;
} inner_destroy_t;

static void try_destroy(void *host_data)
{
    inner_destroy_t *x = host_data;
    if (x->in == NULL || x->depth > 0)
        return;
    x->depth++;
    x->tries++;
    x->p->destroy(x->in);
    x->depth--;
}

static void id_log(void *hd, int32_t level, const char *msg)
{
    (void)level;
    (void)msg;
    try_destroy(hd);
}

static int32_t id_pools(void *hd, const pmd_pool_sink_t *sink)
{
    (void)sink;
    try_destroy(hd);
    return PMD_OK;
}

static int32_t id_caps(void *hd, const pmd_capability_sink_t *sink)
{
    (void)sink;
    try_destroy(hd);
    return PMD_OK;
}

static void id_state(void *hd, int32_t state, const char *detail)
{
    (void)state;
    (void)detail;
    try_destroy(hd);
}

static const void *id_ext(void *hd, const char *id)
{
    (void)id;
    try_destroy(hd);
    return NULL;
}

static unsigned destroy_from_callbacks(const ac_session_t *s, ac_result_t *r)
{
    inner_destroy_t x = {s->p, NULL, 0, 0};
    pmd_host_t host = {sizeof(host),
                       PMD_ABI_VERSION_MAJOR,
                       PMD_ABI_VERSION_MINOR,
                       0,
                       &x,
                       "pmd-abi-check",
                       "0.1.0",
                       id_log,
                       id_pools,
                       id_caps,
                       id_state,
                       id_ext};
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = s->p->init(&host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d with the plugin's config: %s", (int)rc, err);
        return 0;
    }
    x.in = in;
    rc = s->p->on_start(in);
    if (rc != PMD_OK)
        ac_fail(r, "on_start with destroy tried from its callbacks returned %d", (int)rc);
    for (int i = 0; rc == PMD_OK && i < 50; i++) {
        ac_sleep_us(2000);
        if ((rc = s->p->on_tick(in, ac_now_ns())) != PMD_OK)
            ac_fail(r,
                    "on_tick after destroy was tried from a callback returned %d (the "
                    "instance must stay alive)",
                    (int)rc);
    }
    if (rc == PMD_OK && (rc = s->p->on_stop(in)) != PMD_OK)
        ac_fail(r, "on_stop after destroy was tried from a callback returned %d", (int)rc);
    if (rc == PMD_OK && (rc = s->p->on_stop(in)) != PMD_ERR_STATE)
        ac_fail(r, "a second on_stop returned %d, not PMD_ERR_STATE: the state is lost", (int)rc);
    x.in = NULL;
    s->p->destroy(in);
    return x.tries;
}

static void null_instance(const pmd_plugin_t *p, ac_th_rec_t *rec, ac_result_t *r)
{
    expect(r, "start(NULL)", ac_th_start(rec, p, NULL), PMD_ERR_INVALID_ARGUMENT);
    expect(r, "tick(NULL)", ac_th_tick(rec, p, NULL, ac_now_ns()), PMD_ERR_INVALID_ARGUMENT);
    expect(r, "stop(NULL)", ac_th_stop(rec, p, NULL), PMD_ERR_INVALID_ARGUMENT);
    ac_th_destroy(rec, p, NULL);
}

void ac_check_lifecycle(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    walk_states(&s, &rec, r);
    destroy_paths(&s, &rec, r);
    null_instance(s.p, &rec, r);
    unsigned tries = destroy_from_callbacks(&s, r);
    ac_figure(r, "destroy_from_callback_tries", tries, "calls");
    ac_note(r,
            "every out-of-state call refused with PMD_ERR_STATE, NULL with "
            "PMD_ERR_INVALID_ARGUMENT; destroy valid in every state; destroy from inside "
            "%u callback(s) ignored",
            tries);
    ac_session_close(&s);
}

/* n instances at once, each with its own recorder. */
static void run_instances(const ac_session_t *s, int n, ac_result_t *r)
{
    ac_th_rec_t *rec = calloc((size_t)n, sizeof(*rec));
    pmd_instance_t **in = calloc((size_t)n, sizeof(*in));
    if (rec == NULL || in == NULL) {
        ac_fail(r, "out of memory");
        goto out;
    }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        ac_th_rec_init(&rec[i], i);
        ok = (in[i] = make(s, &rec[i], r)) != NULL;
    }
    for (int i = 0; i < n && ok; i++)
        if (ac_th_start(&rec[i], s->p, in[i]) != PMD_OK) {
            ac_fail(r, "%d instances: start of instance %d failed", n, i);
            ok = 0;
        }
    /* Rounds of ticks; after round 5 instance 0 is destroyed while started. */
    for (int round = 0; round < 20 && ok; round++) {
        if (round == 5) {
            ac_th_destroy(&rec[0], s->p, in[0]);
            in[0] = NULL;
        }
        for (int i = 0; i < n && ok; i++)
            if (in[i] != NULL && ac_th_tick(&rec[i], s->p, in[i], ac_now_ns()) != PMD_OK) {
                ac_fail(r, "%d instances: tick of instance %d failed in round %d%s", n, i, round,
                        round >= 5 ? " (after instance 0 was destroyed)" : "");
                ok = 0;
            }
        ac_sleep_us(1000);
    }
    for (int i = 1; i < n && ok; i++)
        if (ac_th_stop(&rec[i], s->p, in[i]) != PMD_OK) {
            ac_fail(r, "%d instances: stop of instance %d failed", n, i);
            ok = 0;
        }
    for (int i = 0; i < n; i++)
        if (in[i] != NULL)
            ac_th_destroy(&rec[i], s->p, in[i]);
    for (int i = 0; i < n; i++)
        if (atomic_load(&rec[i].n_foreign) > 0) {
            ac_fail(r,
                    "%d instances: %u callback(s) for instance %d arrived during another "
                    "instance's call (host_data mixed up, shared state?)",
                    n, atomic_load(&rec[i].n_foreign), i);
            break;
        }
out:
    free(rec);
    free(in);
}

void ac_check_instances(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    run_instances(&s, 2, r);
    if (r->verdict != AC_FAIL)
        run_instances(&s, 64, r);
    ac_note(r, "2 and 64 instances ran side by side; one destroyed, the rest kept ticking; "
               "callbacks went to their own host_data");
    ac_session_close(&s);
}

void ac_check_host_thread(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    ac_th_lifecycle(&rec, &s, NULL, 400, 5000, r); /* ~2 s of ticks every 5 ms */
    ac_sleep_us(200000);                           /* callbacks after destroy count too */
    unsigned total = ac_th_rec_callbacks(&rec);
    ac_figure(r, "callbacks", total, "calls");
    ac_figure(r, "off_host_thread", atomic_load(&rec.n_off_thread), "calls");
    ac_figure(r, "outside_abi_call", atomic_load(&rec.n_outside_call), "calls");
    if (atomic_load(&rec.n_off_thread) > 0)
        ac_fail(r, "%u of %u callbacks came from a thread other than the host thread",
                atomic_load(&rec.n_off_thread), total);
    if (atomic_load(&rec.n_outside_call) > 0)
        ac_fail(r, "%u of %u callbacks came while no ABI call on the instance was running",
                atomic_load(&rec.n_outside_call), total);
    ac_note(r, "all %u callbacks on the host thread, inside an ABI call", total);
    ac_session_close(&s);
}
