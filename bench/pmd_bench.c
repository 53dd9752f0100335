/*
 * pmd_bench.c - pmd-bench: what node_registration.so costs the host that
 * loads it (GitHub issue 6), measured on loopback against orchd-dev through
 * the real plugin loaded with dlopen, printed as one table.
 *
 *   pmd-bench [--out DIR] [--label TEXT] [--only overhead,cpu,callgrind,scale,recovery]
 *             [--timing [SECONDS]] [--scale-secs S] [--scale N,N,..]
 *             [--heartbeats N] [--callgrind-heartbeats N] [--ticks N]
 *
 * Sections (bench.h): 1 on_tick overhead, 2-4 CPU / memory / connections
 * per heartbeat (pmd-bench-lean child) and instructions per heartbeat
 * (callgrind), 5 N instances in one process, 7 recovery and shutdown;
 * --timing runs only section 6 (drift and jitter over 5 minutes).
 * Progress goes to stderr, the table to stdout.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "bench_table.h"
#include "bench_util.h"

static int wanted(const char *only, const char *name)
{
    if (only == NULL)
        return 1;
    size_t n = strlen(name);
    for (const char *p = strstr(only, name); p; p = strstr(p + 1, name))
        if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
    return 0;
}

static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    for (char *end; *s && n < max; s = *end ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        out[n++] = (int)v;
    }
    return n;
}

static int load(bench_ctx_t *c)
{
    char err[512];
    if (host_loader_open(c->nr_so, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &c->nr, err,
                         sizeof(err)) != PMD_OK ||
        host_loader_open(c->example_so, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &c->ex, err,
                         sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-bench: %s\n", err);
        return -1;
    }
    c->nr_stats = bh_stats_ext(c->nr.plugin, c->nr.session_minor);
    if (c->nr_stats == NULL) {
        fprintf(stderr, "pmd-bench: %s offers no %s\n", c->nr_so, PMD_EXT_STATS);
        return -1;
    }
    return 0;
}

typedef struct section {
    const char *name;
    void (*run)(bench_ctx_t *);
} section_t;

static void run_section(bench_ctx_t *c, const section_t *s)
{
    uint64_t t0 = bu_now_ns();
    fprintf(stderr, "pmd-bench: %s ...\n", s->name);
    s->run(c);
    fprintf(stderr, "pmd-bench: %s done in %.1f s\n", s->name, (double)(bu_now_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
    bench_ctx_t c = {.nr_so = PMD_BENCH_NR_SO,
                     .example_so = PMD_BENCH_EXAMPLE_SO,
                     .lean_bin = PMD_BENCH_LEAN,
                     .out_dir = "bench-out",
                     .heartbeats = 20000,
                     .callgrind_hb = 2000,
                     .overhead_ticks = 100000,
                     .scale_secs = 20,
                     .timing_secs = 300,
                     .scale_n = {1, 100, 1000},
                     .scale_count = 3};
    const char *only = NULL, *label = "";
    int timing = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--timing") == 0) {
            timing = 1;
            if (v && v[0] >= '0' && v[0] <= '9')
                c.timing_secs = (uint32_t)atoi(argv[++i]);
        } else if (v && strcmp(a, "--out") == 0) {
            c.out_dir = argv[++i];
        } else if (v && strcmp(a, "--label") == 0) {
            label = argv[++i];
        } else if (v && strcmp(a, "--only") == 0) {
            only = argv[++i];
        } else if (v && strcmp(a, "--scale-secs") == 0) {
            c.scale_secs = (uint32_t)atoi(argv[++i]);
        } else if (v && strcmp(a, "--scale") == 0) {
            c.scale_count = parse_list(argv[++i], c.scale_n, 4);
        } else if (v && strcmp(a, "--heartbeats") == 0) {
            c.heartbeats = strtoull(argv[++i], NULL, 10);
        } else if (v && strcmp(a, "--callgrind-heartbeats") == 0) {
            c.callgrind_hb = strtoull(argv[++i], NULL, 10);
        } else if (v && strcmp(a, "--ticks") == 0) {
            c.overhead_ticks = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: pmd-bench [--out DIR] [--only overhead,cpu,callgrind,scale,"
                            "recovery] [--timing [SECONDS]] [--scale-secs S] [--scale N,N,..] "
                            "[--heartbeats N] [--callgrind-heartbeats N] [--ticks N]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    mkdir(c.out_dir, 0755);
    long nofile = bu_raise_nofile();
    bu_fine_timer_slack();
    if (load(&c) != 0)
        return 1;
    fprintf(stderr, "pmd-bench: RLIMIT_NOFILE soft limit %ld; outputs in %s\n", nofile, c.out_dir);
    static const section_t sections[] = {{"overhead", bench_overhead},
                                         {"cpu", bench_cpu_memory},
                                         {"callgrind", bench_callgrind},
                                         {"recovery", bench_recovery},
                                         {"scale", bench_scale}};
    uint64_t t0 = bu_now_ns();
    if (timing) {
        section_t s = {"timing", bench_timing};
        run_section(&c, &s);
    } else {
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
            if (wanted(only, sections[i].name))
                run_section(&c, &sections[i]);
    }
    double secs = (double)(bu_now_ns() - t0) / 1e9;
    bt_print(stdout, bt_fmt("## pmd-bench: node_registration.so%s%s, sections took %.0f s",
                            label[0] ? " " : "", label, secs));
    host_loader_close(&c.nr);
    host_loader_close(&c.ex);
    return 0;
}
