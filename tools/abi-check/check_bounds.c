/*
 * check_bounds.c - struct-bounds (ABI-STRUCT-BOUNDS) and negotiation
 * (ABI-NEGOTIATION): the struct_size growth rule on every struct the host
 * hands over, at every minor, and what the plugin hands out (sinks,
 * extension tables, the descriptor's reserved fields, the entry's minors).
 *
 * Every host struct ends at a PROT_NONE page, so a read past its size is a
 * SIGSEGV that the scenario's child reports by name. Records are sealed
 * once their sink call returned, their strings with them: a plugin that
 * keeps a pointer instead of a copy faults on its next use.
 */
#include "checks_spec.h"
#include "test_host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define MEMBER_END(type, m) (offsetof(type, m) + sizeof(((type *)0)->m))
#define BOUNDS_TICKS 1100 /* a plugin pulling pools every 1000 ticks pulls once */

typedef struct bounds_scenario {
    const char *name;
    uint32_t minor, size;
    int trap_ext;      /* get_extension present but outside the session minor */
    int null_optional; /* state_changed and get_extension NULL */
    int records;       /* minimal pool records, sealed, invalid ones too */
    const ac_ctx_t *ctx;
} bounds_scenario_t;

static const void *trap_get_extension(void *host_data, const char *id)
{
    ac_th_rec_t *rec = host_data;
    (void)id;
    atomic_fetch_add(&rec->n_trap, 1);
    return NULL;
}

/* stats get with a PMD_STATS_MIN_SIZE struct that ends at a guard page. */
static void small_stats(const ac_session_t *s, ac_th_rec_t *rec, pmd_instance_t *in, ac_result_t *r)
{
    if (!host_loader_has_extensions(&s->lp))
        return;
    const pmd_ext_stats_t *ext = s->p->get_extension(PMD_EXT_STATS);
    if (ext == NULL || ext->struct_size < MEMBER_END(pmd_ext_stats_t, get) || ext->get == NULL)
        return;
    ac_guard_t g;
    if (ac_guard_map(&g) != 0)
        return;
    pmd_stats_t *st = ac_guard_tail(&g, PMD_STATS_MIN_SIZE);
    memset(st, 0, PMD_STATS_MIN_SIZE);
    st->struct_size = PMD_STATS_MIN_SIZE;
    rec->phase = TH_PH_STATS;
    atomic_store(&rec->in_call, 1);
    int32_t rc = ext->get(in, st);
    atomic_store(&rec->in_call, 0);
    rec->phase = TH_PH_NONE;
    if (rc != PMD_OK)
        ac_fail(r, "stats get with struct_size %u (PMD_STATS_MIN_SIZE) returned %d",
                (unsigned)PMD_STATS_MIN_SIZE, (int)rc);
    else if (st->struct_size > PMD_STATS_MIN_SIZE)
        ac_fail(r, "stats get wrote back struct_size %u, more than the %u it was given",
                (unsigned)st->struct_size, (unsigned)PMD_STATS_MIN_SIZE);
    ac_guard_unmap(&g);
}

static void report_rec(const ac_th_rec_t *rec, ac_result_t *r)
{
    if (atomic_load(&rec->n_trap) > 0)
        ac_fail(r, "host get_extension called %u time(s) though the session minor is 0",
                atomic_load(&rec->n_trap));
    if (atomic_load(&rec->n_bad_sink) > 0 || atomic_load(&rec->n_bad_accept) > 0)
        ac_fail(r, "%s", rec->bad_what);
}

static void run_bounds(void *arg, ac_result_t *r)
{
    const bounds_scenario_t *sc = arg;
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(sc->ctx, &s, url, r) != 0)
        return;
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    ac_guard_t hg;
    if (ac_th_rec_guard_records(&rec) != 0 || ac_guard_map(&hg) != 0) {
        ac_fail(r, "cannot map guard pages");
        ac_session_close(&s);
        return;
    }
    rec.seal_records = 1;
    rec.ext_short_table = 1;
    if (sc->records) {
        rec.pool_size = PMD_POOL_STATUS_MIN_SIZE;
        rec.push_invalid = 1;
    }
    pmd_host_t full;
    ac_th_host_fill(&full, &rec);
    if (sc->trap_ext)
        full.get_extension = trap_get_extension;
    if (sc->null_optional) {
        full.state_changed = NULL;
        full.get_extension = NULL;
    }
    pmd_host_t *host = ac_guard_host(&hg, &full, sc->size, sc->minor);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(&rec, s.p, host, s.config, &in, err, sizeof(err));
    ac_guard_seal(&hg);
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d: %s", (int)rc, err);
    } else {
        int32_t rs = ac_th_start(&rec, s.p, in);
        for (int i = 0; rs == PMD_OK && i < BOUNDS_TICKS; i++)
            ac_th_tick(&rec, s.p, in, ac_now_ns());
        if (rs != PMD_OK)
            ac_fail(r, "start returned %d", (int)rs);
        small_stats(&s, &rec, in, r);
        if (rs == PMD_OK)
            ac_th_stop(&rec, s.p, in);
        ac_th_destroy(&rec, s.p, in);
    }
    report_rec(&rec, r);
    char fig[48];
    snprintf(fig, sizeof(fig), "%s_pulls", sc->name);
    ac_figure(r, fig, atomic_load(&rec.n_pools) + atomic_load(&rec.n_caps), "calls");
    ac_guard_unmap(&hg);
    ac_th_rec_fini(&rec);
    ac_session_close(&s);
}

void ac_check_struct_bounds(const ac_ctx_t *ctx, ac_result_t *r)
{
    bounds_scenario_t sc[] = {
        {"size_1_0_minor_2", PMD_ABI_VERSION_MINOR, PMD_HOST_SIZE_1_0, 0, 0, 0, ctx},
        {"size_1_1_minor_0", 0, (uint32_t)sizeof(pmd_host_t), 1, 0, 0, ctx},
        {"optional_null", PMD_ABI_VERSION_MINOR, (uint32_t)sizeof(pmd_host_t), 0, 1, 0, ctx},
        {"records", PMD_ABI_VERSION_MINOR, (uint32_t)sizeof(pmd_host_t), 0, 0, 1, ctx},
    };
    static const char *const what[] = {
        "host struct of 72 bytes (1.0) saying minor 2",
        "host struct of 80 bytes saying minor 0 (get_extension outside the session)",
        "state_changed and get_extension NULL",
        "minimal, sealed and invalid records; short host extension table; small stats struct"};
    unsigned pulls = 0;
    for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
        ac_result_t child;
        ac_subprocess(run_bounds, &sc[i], 60, &child);
        ac_merge(r, what[i], &child);
        for (int f = 0; f < child.nfig; f++)
            pulls += (unsigned)child.fig[f].value;
    }
    ac_note(r,
            "72-byte host at minor 2, 80-byte host at minor 0, NULL optional callbacks, "
            "minimal sealed records, invalid records refused, short host table, small stats "
            "struct%s",
            pulls == 0 ? " (the plugin pulled no pools or capabilities: records unexercised)" : "");
}

/* ---- negotiation ------------------------------------------------------ */

static void check_reserved(const pmd_plugin_t *p, ac_result_t *r)
{
    if (p->reserved != 0 || p->reserved2 != 0)
        ac_fail(r, "descriptor reserved %u / reserved2 %u, expected zero", (unsigned)p->reserved,
                (unsigned)p->reserved2);
    if (p->struct_size < MEMBER_END(pmd_plugin_t, get_extension) || p->get_extension == NULL)
        return;
    static const char *const ids[] = {PMD_EXT_CONFORMANCE, PMD_EXT_STATS};
    for (int i = 0; i < 2; i++) {
        const uint32_t *t = p->get_extension(ids[i]);
        if (t == NULL)
            continue;
        if (t[0] < 8)
            ac_fail(r, "extension %s has struct_size %u, below its header", ids[i], (unsigned)t[0]);
        else if (t[1] != 0)
            ac_fail(r, "extension %s has reserved %u, expected zero", ids[i], (unsigned)t[1]);
    }
}

void ac_check_negotiation(const ac_ctx_t *ctx, ac_result_t *r)
{
    void *h = dlopen(ctx->plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        ac_fail(r, "dlopen failed: %s", dlerror());
        return;
    }
    pmd_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, PMD_PLUGIN_ENTRY_SYMBOL);
    const pmd_plugin_t *own = NULL;
    if (entry == NULL || entry(PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &own) != PMD_OK ||
        own == NULL) {
        ac_fail(r, "entry refuses the host's own version %d.%d", PMD_ABI_VERSION_MAJOR,
                PMD_ABI_VERSION_MINOR);
        dlclose(h);
        return;
    }
    static const uint32_t minors[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, UINT32_MAX};
    for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
        const pmd_plugin_t *p = NULL;
        int32_t rc = entry(PMD_ABI_VERSION_MAJOR, minors[i], &p);
        if (rc != PMD_OK || p == NULL)
            ac_fail(r, "entry(%d, %u) returned %d: every minor of the major must be accepted",
                    PMD_ABI_VERSION_MAJOR, (unsigned)minors[i], (int)rc);
        else if (p != own && p->abi_major != PMD_ABI_VERSION_MAJOR)
            ac_fail(r, "entry(%d, %u) returned a descriptor of major %u", PMD_ABI_VERSION_MAJOR,
                    (unsigned)minors[i], (unsigned)p->abi_major);
    }
    check_reserved(own, r);
    dlclose(h);
    /* init with a host that says a newer minor (and a 1.0 minor) works. */
    ac_session_t s;
    char url[64];
    if (ac_url_closed_port(url, sizeof(url)) != 0 || ac_session_open(ctx, &s, url, r) != 0)
        return;
    static const uint32_t host_minors[] = {0, PMD_ABI_VERSION_MINOR + 1, 9};
    for (size_t i = 0; i < 3; i++) {
        ac_th_rec_t rec;
        ac_th_rec_init(&rec, 0);
        pmd_host_t host;
        ac_th_host_fill(&host, &rec);
        host.abi_minor = host_minors[i];
        char err[256] = "";
        pmd_instance_t *in = NULL;
        int32_t rc = ac_th_init(&rec, s.p, &host, s.config, &in, err, sizeof(err));
        if (rc != PMD_OK || in == NULL)
            ac_fail(r, "init with a host of minor %u returned %d: %s", (unsigned)host_minors[i],
                    (int)rc, err);
        else
            ac_th_destroy(&rec, s.p, in);
    }
    ac_session_close(&s);
    ac_note(r,
            "entry accepts minors 0-9, 100 and UINT32_MAX of major %d; init accepts hosts of "
            "minor 0, %d and 9; reserved fields zero",
            PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR + 1);
}
