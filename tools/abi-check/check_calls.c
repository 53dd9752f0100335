/*
 * check_calls.c - init-buffers (ABI-INIT-BUFFERS) and callbacks
 * (ABI-CALLS): what init may do with the host's buffers and which
 * callbacks it may make, refused or not; re-entry from every callback;
 * which callbacks each ABI call may make; the form of log lines and states.
 */
#include "checks_spec.h"
#include "test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEMBER_END(type, m) (offsetof(type, m) + sizeof(((type *)0)->m))

static const char *const refused_configs[] = {NULL, "", "not json", "[]",
                                              "{\"no_such_key_xyz\":1}"};
#define N_REFUSED (sizeof(refused_configs) / sizeof(refused_configs[0]))

/* ---- init-buffers ----------------------------------------------------- */

/* The config in pages of its own, followed by a guard page. */
typedef struct config_pages {
    char *base;
    size_t len;
} config_pages_t;

static char *config_map(config_pages_t *cp, const char *text)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = strlen(text) + 1;
    cp->len = (n + page - 1) / page * page + page;
    void *p = mmap(NULL, cp->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    cp->base = p;
    mprotect(cp->base + cp->len - page, page, PROT_NONE);
    char *at = cp->base + cp->len - page - n; /* ends right at the guard page */
    memcpy(at, text, n);
    return at;
}

/* A successful init with a config that disappears when init returns. */
static void run_config_gone(void *arg, ac_result_t *r)
{
    const ac_ctx_t *ctx = arg;
    char url[64];
    ac_cp_t *cp = ac_cp_start(AC_CP_ANSWER, url, sizeof(url));
    ac_session_t s;
    if (cp == NULL || ac_session_open(ctx, &s, url, r) != 0) {
        ac_fail(r, "cannot set up");
        ac_cp_stop(cp);
        return;
    }
    config_pages_t pages;
    char *config = config_map(&pages, s.config);
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_host_t host;
    ac_th_host_fill(&host, &rec);
    int threads = ac_count_threads();
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = config ? ac_th_init(&rec, s.p, &host, config, &in, err, sizeof(err)) : -1;
    if (config != NULL)
        munmap(pages.base, pages.len); /* valid for the call only */
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d: %s", (int)rc, err);
        goto out;
    }
    if (ac_count_threads() != threads)
        ac_fail(r, "init started %d thread(s); threads belong to on_start",
                ac_count_threads() - threads);
    if (atomic_load(&rec.n_bad_phase) > 0)
        ac_fail(r, "%s", rec.bad_what);
    ac_sleep_us(200000);
    if (ac_cp_count(cp) > 0) {
        ac_cp_request_t q;
        ac_cp_get(cp, 0, &q);
        ac_fail(r,
                "the control plane got %s %s after init, before on_start (no network I/O "
                "in init)",
                q.method, q.path);
    }
    if (ac_th_start(&rec, s.p, in) == PMD_OK) {
        for (int i = 0; i < 300; i++) {
            ac_sleep_us(3000);
            ac_th_tick(&rec, s.p, in, ac_now_ns());
        }
        ac_th_stop(&rec, s.p, in);
    }
    ac_th_destroy(&rec, s.p, in);
out:
    ac_session_close(&s);
    ac_cp_stop(cp);
}

/* Refused inits: only log, nothing left, size-0 buffers untouched. */
static void refuse_all(const ac_session_t *s, ac_guard_t *g, ac_result_t *r)
{
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_host_t host, nolog;
    ac_th_host_fill(&host, &rec);
    nolog = host;
    nolog.log = NULL;
    char *sealed = ac_guard_tail(g, g->page); /* size 0: never written */
    ac_guard_seal(g);
    for (size_t i = 0; i < N_REFUSED + 2; i++) {
        const pmd_host_t *h = i == N_REFUSED + 1 ? &nolog : &host;
        const char *config = i < N_REFUSED ? refused_configs[i] : s->config;
        const char *what = i < N_REFUSED    ? (config ? config : "NULL")
                           : i == N_REFUSED ? "out_instance NULL"
                                            : "host without log";
        int fds = ac_count_fds(), threads = ac_count_threads();
        unsigned others = ac_th_rec_callbacks(&rec) - atomic_load(&rec.n_log);
        char err[256];
        pmd_instance_t *in = NULL;
        pmd_instance_t **out = i == N_REFUSED ? NULL : &in;
        int32_t rc = ac_th_init(&rec, s->p, h, config, out, sealed, 0);
        if (rc == PMD_OK) {
            if (in != NULL)
                ac_th_destroy(&rec, s->p, in);
            continue; /* init-errors reports the acceptance */
        }
        rc = ac_th_init(&rec, s->p, h, config, out, err, sizeof(err));
        if (rc != PMD_OK && memchr(err, '\0', sizeof(err)) != NULL && strpbrk(err, "\r\n"))
            ac_fail(r, "init(%s): the error line holds a newline", what);
        if (ac_th_rec_callbacks(&rec) - atomic_load(&rec.n_log) != others)
            ac_fail(r,
                    "refused init(%s) made a callback other than log (%u pools, %u caps, "
                    "%u states, %u get_extension so far)",
                    what, atomic_load(&rec.n_pools), atomic_load(&rec.n_caps),
                    atomic_load(&rec.n_state), atomic_load(&rec.n_ext));
        if (ac_count_fds() != fds)
            ac_fail(r, "refused init(%s) left %d descriptor(s)", what, ac_count_fds() - fds);
        if (ac_count_threads() != threads)
            ac_fail(r, "refused init(%s) left %d thread(s)", what, ac_count_threads() - threads);
    }
}

static void run_refusals(void *arg, ac_result_t *r)
{
    const ac_ctx_t *ctx = arg;
    ac_session_t s;
    char url[64];
    ac_guard_t g;
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    if (ac_guard_map(&g) != 0) {
        ac_fail(r, "cannot map a guard page");
        ac_session_close(&s);
        return;
    }
    /* One accepted init first: a library's one-time global set-up is not a leak. */
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    pmd_host_t host;
    ac_th_host_fill(&host, &rec);
    pmd_instance_t *in = NULL;
    if (ac_th_init(&rec, s.p, &host, s.config, &in, NULL, 0) == PMD_OK && in != NULL)
        ac_th_destroy(&rec, s.p, in);
    refuse_all(&s, &g, r);
    ac_guard_unmap(&g);
    ac_session_close(&s);
}

void ac_check_init_buffers(const ac_ctx_t *ctx, ac_result_t *r)
{
    ac_result_t child;
    ac_subprocess(run_config_gone, (void *)ctx, 30, &child);
    ac_merge(r, "config unmapped when init returned", &child);
    ac_subprocess(run_refusals, (void *)ctx, 30, &child);
    ac_merge(r, "refused inits", &child);
    ac_note(r, "config not read after init; no traffic, no thread and only log/get_extension in "
               "init; refused inits: only log, no descriptor or thread left, a size-0 error "
               "buffer untouched, no newline");
}

/* ---- callbacks -------------------------------------------------------- */

typedef struct reentry {
    const ac_session_t *s;
    pmd_instance_t *self, *other;
    ac_th_rec_t *other_rec;
    int busy, handover;
    unsigned tries;
    char first[200];
} reentry_t;

static void reentry_fail(reentry_t *re, const char *cb, const char *call, int32_t rc)
{
    if (re->first[0] == '\0')
        snprintf(re->first, sizeof(re->first),
                 "%s from inside %s returned %d, expected "
                 "PMD_ERR_STATE",
                 call, cb, (int)rc);
}

static void reenter(ac_th_rec_t *rec, const char *cb)
{
    reentry_t *re = rec->hook_arg;
    if (re->busy || re->self == NULL)
        return;
    re->busy = 1;
    re->tries++;
    int phase = rec->phase;
    const pmd_plugin_t *p = re->s->p;
    int32_t rc;
    if ((rc = p->on_tick(re->self, ac_now_ns())) != PMD_ERR_STATE)
        reentry_fail(re, cb, "on_tick", rc);
    if ((rc = p->on_start(re->self)) != PMD_ERR_STATE)
        reentry_fail(re, cb, "on_start", rc);
    if ((rc = p->on_stop(re->self)) != PMD_ERR_STATE)
        reentry_fail(re, cb, "on_stop", rc);
    if (re->handover) {
        pmd_handover_t h;
        memset(&h, 0, sizeof(h));
        h.struct_size = sizeof(h);
        if ((rc = p->on_handover(re->self, &h)) != PMD_ERR_STATE)
            reentry_fail(re, cb, "on_handover", rc);
    }
    pmd_stats_t st;
    if ((rc = ac_th_stats(rec, re->s, re->self, &st)) != -1 && rc != PMD_ERR_STATE)
        reentry_fail(re, cb, "stats get", rc);
    rec->phase = phase; /* ac_th_stats ended the outer call's mark: restore it */
    atomic_store(&rec->in_call, 1);
    if (re->other != NULL) { /* must not deadlock: the check's timeout says so */
        atomic_store(&re->other_rec->in_call, 1);
        p->on_tick(re->other, ac_now_ns());
        atomic_store(&re->other_rec->in_call, 0);
    }
    re->busy = 0;
}

static int offers_handover(const ac_session_t *s)
{
    return s->lp.session_minor >= 2 &&
           s->p->struct_size >= MEMBER_END(pmd_plugin_t, on_start_handed_over) &&
           s->p->on_handover != NULL && s->p->on_start_handed_over != NULL;
}

static pmd_instance_t *started(const ac_session_t *s, ac_th_rec_t *rec, ac_result_t *r)
{
    pmd_host_t host;
    ac_th_host_fill(&host, rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, &host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d: %s", (int)rc, err);
        return NULL;
    }
    return in;
}

static void report_calls(const ac_th_rec_t *rec, const reentry_t *re, ac_result_t *r)
{
    if (re != NULL && re->first[0] != '\0')
        ac_fail(r, "%s", re->first);
    if (atomic_load(&rec->n_bad_phase) + atomic_load(&rec->n_in_sink) +
            atomic_load(&rec->n_bad_log) + atomic_load(&rec->n_bad_state) >
        0)
        ac_fail(r, "%s", rec->bad_what);
}

void ac_check_callbacks(const ac_ctx_t *ctx, ac_result_t *r)
{
    char url[64];
    ac_cp_t *cp = ac_cp_start(AC_CP_ANSWER, url, sizeof(url));
    ac_session_t s;
    if (cp == NULL || ac_session_open(ctx, &s, url, r) != 0) {
        ac_cp_stop(cp);
        return;
    }
    ac_th_rec_t a, b;
    ac_th_rec_init(&a, 0);
    ac_th_rec_init(&b, 1);
    reentry_t re;
    memset(&re, 0, sizeof(re));
    re.s = &s;
    re.handover = offers_handover(&s);
    a.hook = reenter;
    a.hook_arg = &re;
    pmd_instance_t *ia = started(&s, &a, r), *ib = started(&s, &b, r);
    if (ia != NULL && ib != NULL && ac_th_start(&b, s.p, ib) == PMD_OK) {
        re.self = ia;
        re.other = ib;
        re.other_rec = &b;
        int32_t rc = ac_th_start(&a, s.p, ia);
        for (int i = 0; rc == PMD_OK && i < 400; i++) {
            ac_sleep_us(3000);
            ac_th_tick(&a, s.p, ia, ac_now_ns());
            ac_th_tick(&b, s.p, ib, ac_now_ns());
        }
        if (rc == PMD_OK)
            ac_th_stop(&a, s.p, ia);
        ac_th_stop(&b, s.p, ib);
    }
    if (ia != NULL)
        ac_th_destroy(&a, s.p, ia);
    if (ib != NULL)
        ac_th_destroy(&b, s.p, ib);
    report_calls(&a, &re, r);
    report_calls(&b, NULL, r);
    ac_figure(r, "callbacks", ac_th_rec_callbacks(&a), "calls");
    ac_figure(r, "reentry_tries", re.tries, "callbacks");
    ac_note(r,
            "re-entry refused from %u callback(s)%s; another instance callable from a "
            "callback; each call made only its callbacks; log lines and states well formed",
            re.tries, re.handover ? " (on_handover included)" : "");
    ac_session_close(&s);
    ac_cp_stop(cp);
}
