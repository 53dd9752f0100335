/*
 * check_struct.c - struct-size (ABI-STRUCT-SIZE): the plugin reads no byte
 * past the struct_size the host gave, for the host struct and for the pool,
 * GPU and resource records pushed into its sinks.
 *
 * Each struct is placed so that it ends exactly at a PROT_NONE guard page: a
 * read past its end is a SIGSEGV. Each scenario runs in its own forked child
 * so that the crash is reported with the scenario's name. The host struct is
 * sealed (made unreadable) right after init: the plugin must have copied it.
 */
#include "abi_check.h"
#include "test_host.h"

#include <stdio.h>
#include <string.h>

typedef struct scenario {
    const char *name;
    uint32_t minor;
    uint32_t size;
    const ac_ctx_t *ctx;
} scenario_t;

/* Enough ticks for a plugin that pulls pools every N ticks to do so. */
#define STRUCT_TICKS 1100

static void run_scenario(void *arg, ac_result_t *r)
{
    const scenario_t *sc = arg;
    ac_session_t s;
    char url[64];
    /* A host of ABI 1.minor says so in both places: the entry's minor and
     * the host struct's abi_minor are the same number (plugin.abi.md 5.1). */
    if (ac_url_closed_port(url, sizeof(url)) != 0 ||
        ac_session_open_minor(sc->ctx, &s, sc->minor, url, r) != 0) {
        ac_fail(r, "cannot set up");
        return;
    }
    ac_th_rec_t rec;
    ac_th_rec_init(&rec, 0);
    ac_guard_t hg;
    if (ac_th_rec_guard_records(&rec) != 0 || ac_guard_map(&hg) != 0) {
        ac_fail(r, "cannot map guard pages");
        ac_th_rec_fini(&rec);
        ac_session_close(&s);
        return;
    }
    pmd_host_t full;
    ac_th_host_fill(&full, &rec);
    pmd_host_t *host = ac_guard_host(&hg, &full, sc->size, sc->minor);

    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(&rec, s.p, host, s.config, &in, err, sizeof(err));
    ac_guard_seal(&hg);
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d: %s", (int)rc, err);
    } else {
        int32_t rs = ac_th_start(&rec, s.p, in);
        for (int i = 0; rs == PMD_OK && i < STRUCT_TICKS; i++)
            if ((rc = ac_th_tick(&rec, s.p, in, ac_now_ns())) != PMD_OK) {
                ac_fail(r, "tick returned %d", (int)rc);
                break;
            }
        if (rs != PMD_OK)
            ac_fail(r, "start returned %d", (int)rs);
        else if ((rc = ac_th_stop(&rec, s.p, in)) != PMD_OK)
            ac_fail(r, "stop returned %d", (int)rc);
        ac_th_destroy(&rec, s.p, in);
    }
    char fig[48];
    snprintf(fig, sizeof(fig), "%s_list_pools_calls", sc->name);
    ac_figure(r, fig, atomic_load(&rec.n_pools), "calls");
    snprintf(fig, sizeof(fig), "%s_capabilities_calls", sc->name);
    ac_figure(r, fig, atomic_load(&rec.n_caps), "calls");
    ac_guard_unmap(&hg);
    ac_th_rec_fini(&rec);
    ac_session_close(&s);
}

void ac_check_struct_size(const ac_ctx_t *ctx, ac_result_t *r)
{
    scenario_t scenarios[] = {
        {"old_minor", 0, PMD_HOST_SIZE_1_0, ctx},
        {"new_minor", PMD_ABI_VERSION_MINOR + 1, (uint32_t)sizeof(pmd_host_t) + 256, ctx},
    };
    unsigned records = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        ac_result_t child;
        ac_subprocess(run_scenario, &scenarios[i], 60, &child);
        char what[128];
        snprintf(what, sizeof(what), "host struct of ABI 1.%u, struct_size %u",
                 (unsigned)scenarios[i].minor, (unsigned)scenarios[i].size);
        ac_merge(r, what, &child);
        for (int f = 0; f < child.nfig; f++)
            records += (unsigned)child.fig[f].value;
    }
    ac_note(r, "1.0-sized and oversized host structs and guarded records: no read past the end%s",
            records == 0 ? " (the plugin pulled no pools or capabilities, records unexercised)"
                         : "");
}
