/* main.c - pmd-fleet: hollow nodes for load tests. Loads the plugin once
 * with the host-shim's loader, runs N instances of it in this process
 * (distinct node ids, synthetic pools), and reports what the control plane
 * experienced. See --help and the README's pmd-fleet section. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config_template.h"
#include "journal.h"
#include "loader.h"
#include "options.h"
#include "orchd_admin.h"
#include "proc_self.h"
#include "report.h"
#include "run.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The journal reader, forked before any thread exists (its CPU is not ours). */
static pid_t start_journal(const pf_options_t *o, int is_orchd, const char *url, char *path,
                           size_t size)
{
    if (o->journal == PF_JOURNAL_OFF || (o->journal == PF_JOURNAL_AUTO && !is_orchd))
        return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/pmd-fleet-journal.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    close(fd);
    return pf_journal_start(url, path);
}

static int checks(const pf_run_t *r, const pf_journal_view_t *j)
{
    int failed = 0;
    const pf_options_t *o = r->opt;
    uint32_t expected = r->fleet->count - r->fleet->init_failed - r->fleet->start_failed;
    if (o->check_registered && r->obs.tally.by_state[PMD_NODE_REGISTERED] != expected) {
        printf("CHECK FAILED: %u of the %u running nodes registered at the end\n",
               r->obs.tally.by_state[PMD_NODE_REGISTERED], expected);
        failed = 1;
    }
    double ratio = pf_report_steady_ratio(r, j);
    if (o->check_spread > 0 && (ratio == 0 || ratio > o->check_spread)) {
        printf("CHECK FAILED: steady fullest/mean %.2f, bound %.2f\n", ratio, o->check_spread);
        failed = 1;
    }
    return failed;
}

static int finish(pf_run_t *r, pid_t journal, const char *journal_path)
{
    pf_journal_summary_t sum;
    pf_bins_t bins = {0};
    pf_journal_view_t view = {&bins, &sum}, *j = NULL;
    pf_fleet_finish(r->fleet);
    if (journal > 0) {
        pf_journal_stop(journal);
        if (pf_bins_init(&bins, r->t0_ms, r->end_ms - r->t0_ms + 1000) == 0 &&
            pf_journal_load(journal_path, &bins, &sum) == 0)
            j = &view;
        unlink(journal_path);
    }
    pf_report_final(r, j);
    int rc = checks(r, j);
    pf_bins_free(&bins);
    return rc;
}

static int run(const pf_options_t *o, pf_template_t *tpl)
{
    char err[512], journal_path[4096];
    pf_run_t r = {
        .opt = o, .url = pf_template_url(tpl), .interval_ms = pf_template_interval_ms(tpl)};
    if (pf_usage_open() != 0)
        fprintf(stderr, "pmd-fleet: cannot open /proc/self: no CPU or memory figures\n");
    r.is_orchd = pf_orchd_detect(r.url);
    pid_t journal = start_journal(o, r.is_orchd, r.url, journal_path, sizeof(journal_path));
    host_loaded_plugin_t lp;
    if (host_loader_open(o->plugin, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &lp, err,
                         sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-fleet: %s\n", err);
        pf_journal_stop(journal);
        return 1;
    }
    pf_fleet_t fleet;
    if (pf_fleet_init(&fleet, lp.plugin, lp.session_minor, o->nodes, o->prefix, tpl, o->verbose) ||
        pf_observe_init(&r.obs, o->nodes, mono_ms(), (uint64_t)(o->run_for_s * 1000) + 60000)) {
        fprintf(stderr, "pmd-fleet: out of memory\n");
        return 1;
    }
    if (fleet.stats == NULL)
        fprintf(stderr, "pmd-fleet: the plugin has no %s: client-side figures are empty\n",
                PMD_EXT_STATS);
    r.fleet = &fleet;
    pf_run_loop(&r);
    int rc = finish(&r, journal, journal_path);
    pf_observe_free(&r.obs);
    pf_fleet_free(&fleet);
    host_loader_close(&lp);
    return rc;
}

int main(int argc, char **argv)
{
    pf_options_t o;
    char err[512];
    int rc = pf_options_parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    pf_template_t *tpl = pf_template_load(o.config, o.url, err, sizeof(err));
    if (tpl == NULL) {
        fprintf(stderr, "pmd-fleet: %s\n", err);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run(&o, tpl);
    pf_template_free(tpl);
    curl_global_cleanup();
    return rc;
}
