/*
 * bench_lean.c - pmd-bench-lean, the lean host: a process that links
 * nothing but the loader (no libcurl, no json-c), so that what it measures
 * about its own memory before and after dlopen is the plugin's marginal
 * cost, as it would be in pool-managerd. pmd-bench runs it as a child (and
 * under callgrind); it prints "key value" lines on stdout.
 *
 *   pmd-bench-lean hb   PLUGIN URL HEARTBEATS [CALLGRIND_WARMUP]
 *       one node, heartbeat_interval_ms 1, 16 pools, host ticks every 1 ms,
 *       until HEARTBEATS heartbeats succeeded. With CALLGRIND_WARMUP > 0,
 *       callgrind's counters are zeroed after that many heartbeats and
 *       dumped ("steady") HEARTBEATS later.
 *   pmd-bench-lean idle PLUGIN SECONDS
 *       the same tick loop on PLUGIN (the no-op example) for SECONDS: the
 *       CPU the host's own ticking costs, subtracted by pmd-bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <valgrind/callgrind.h>

#include "bench_host.h"
#include "bench_util.h"
#include "loader.h"

#define TICK_NS 1000000ull
#define MEM_AT_HEARTBEATS 1000u

static void print_mem(const char *key, bu_mem_t m)
{
    printf("%s_rss_kb %ld\n%s_private_dirty_kb %ld\n", key, m.rss_kb, key, m.private_dirty_kb);
}

static int open_plugin(const char *path, host_loaded_plugin_t *lp)
{
    char err[512];
    if (host_loader_open(path, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, lp, err,
                         sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-bench-lean: %s\n", err);
        return -1;
    }
    return 0;
}

static pmd_instance_t *make_instance(const pmd_plugin_t *p, bh_host_t *h, const char *cfg)
{
    char err[512];
    pmd_instance_t *in = NULL;
    if (p->init(&h->abi, cfg, &in, err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-bench-lean: init: %s\n", err);
        return NULL;
    }
    if (p->on_start(in) != PMD_OK) {
        fprintf(stderr, "pmd-bench-lean: start failed\n");
        p->destroy(in);
        return NULL;
    }
    return in;
}

static int run_idle(const char *plugin, double secs)
{
    host_loaded_plugin_t lp;
    bh_host_t host;
    if (open_plugin(plugin, &lp) != 0)
        return 1;
    bh_host_init(&host, BH_MAX_POOLS);
    pmd_instance_t *in = make_instance(lp.plugin, &host, "{}");
    if (in == NULL)
        return 1;
    bu_fine_timer_slack();
    uint64_t t0 = bu_now_ns(), next = t0, end = t0 + (uint64_t)(secs * 1e9);
    double c0 = bu_cpu_self_s();
    while (next < end) {
        next += TICK_NS;
        bu_sleep_until(next);
        lp.plugin->on_tick(in, bu_now_ns());
    }
    double cpu = bu_cpu_self_s() - c0;
    printf("idle_ticks %llu\n", (unsigned long long)((end - t0) / TICK_NS));
    printf("idle_wall_s %.6f\nidle_cpu_s %.6f\n", (double)(bu_now_ns() - t0) / 1e9, cpu);
    lp.plugin->destroy(in);
    host_loader_close(&lp);
    return 0;
}

typedef struct hb_run {
    const pmd_plugin_t *p;
    const pmd_ext_stats_t *stats;
    pmd_instance_t *in;
    bh_host_t host;
    uint64_t target, warmup;
} hb_run_t;

/* Ticks every 1 ms until `target` (+ warmup) heartbeats succeeded; reads the
 * memory after MEM_AT_HEARTBEATS. Returns 0, or -1 on a time-out. */
static int tick_until(hb_run_t *r, uint64_t limit_ns, bu_mem_t *mem_1k, uint64_t *zeroed_at,
                      uint64_t *dumped_at)
{
    uint64_t next = bu_now_ns(), deadline = next + limit_ns;
    int have_1k = 0, zeroed = r->warmup == 0;
    for (;;) {
        next += TICK_NS;
        bu_sleep_until(next);
        uint64_t now = bu_now_ns();
        r->p->on_tick(r->in, now);
        pmd_stats_t s = bh_stats(r->stats, r->in);
        if (!have_1k && s.heartbeats_ok >= MEM_AT_HEARTBEATS) {
            *mem_1k = bu_mem();
            have_1k = 1;
        }
        if (!zeroed && s.heartbeats_ok >= r->warmup) {
            CALLGRIND_ZERO_STATS;
            *zeroed_at = s.heartbeats_ok;
            zeroed = 1;
        }
        if (zeroed && s.heartbeats_ok >= r->warmup + r->target) {
            if (r->warmup)
                CALLGRIND_DUMP_STATS_AT("steady");
            *dumped_at = s.heartbeats_ok;
            return 0;
        }
        if (now > deadline)
            return -1;
    }
}

static void print_stats(const pmd_stats_t *s)
{
    printf("heartbeats_ok %llu\nheartbeats_failed %llu\nregistrations_ok %llu\n"
           "connections_opened %llu\nevents_dropped %llu\nlast_latency_us %llu\n",
           (unsigned long long)s->heartbeats_ok,
           (unsigned long long)(s->heartbeats_failed_transport + s->heartbeats_failed_status +
                                s->heartbeats_failed_auth + s->heartbeats_not_registered),
           (unsigned long long)s->registrations_ok, (unsigned long long)s->connections_opened,
           (unsigned long long)s->events_dropped, (unsigned long long)s->last_heartbeat_latency_us);
}

static int run_hb(const char *plugin, const char *url, uint64_t n, uint64_t warmup)
{
    hb_run_t r = {.target = n, .warmup = warmup};
    host_loaded_plugin_t lp;
    char cfg[1024];
    bu_fine_timer_slack();
    print_mem("mem_before_dlopen", bu_mem());
    if (open_plugin(plugin, &lp) != 0)
        return 1;
    print_mem("mem_after_dlopen", bu_mem());
    r.p = lp.plugin;
    r.stats = bh_stats_ext(lp.plugin, lp.session_minor);
    bh_host_init(&r.host, BH_MAX_POOLS);
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"bench-cpu\",\"address\":\"http://127.0.0.1:9200\","
             "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":100,"
             "\"request_timeout_ms\":2000,\"connect_timeout_ms\":1000}",
             url);
    char err[512];
    if (r.p->init(&r.host.abi, cfg, &r.in, err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-bench-lean: init: %s\n", err);
        return 1;
    }
    print_mem("mem_after_init", bu_mem());
    bu_mem_t mem_1k = {-1, -1};
    uint64_t zeroed_at = 0, dumped_at = 0;
    uint64_t t0 = bu_now_ns();
    double c0 = bu_cpu_self_s();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    if (r.p->on_start(r.in) != PMD_OK) {
        fprintf(stderr, "pmd-bench-lean: start failed\n");
        return 1;
    }
    print_mem("mem_after_start", bu_mem());
    int rc = tick_until(&r, (n + warmup) * 20ull * 1000000ull + 60000000000ull, &mem_1k, &zeroed_at,
                        &dumped_at);
    double cpu = bu_cpu_self_s() - c0;
    getrusage(RUSAGE_SELF, &ru1);
    uint64_t wall = bu_now_ns() - t0;
    pmd_stats_t s = bh_stats(r.stats, r.in);
    printf("user_s %.6f\nsys_s %.6f\nvoluntary_switches %ld\ninvoluntary_switches %ld\n",
           (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6,
           (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6,
           ru1.ru_nvcsw - ru0.ru_nvcsw, ru1.ru_nivcsw - ru0.ru_nivcsw);
    print_mem("mem_after_1k", mem_1k);
    print_mem("mem_after_all", bu_mem());
    printf("threads %d\nfds %d\n", bu_count_entries("/proc/self/task"),
           bu_count_entries("/proc/self/fd"));
    printf("cpu_s %.6f\nwall_s %.6f\nhost_list_calls %llu\nhost_log_lines %llu\n", cpu,
           (double)wall / 1e9, (unsigned long long)r.host.list_calls,
           (unsigned long long)r.host.log_lines);
    printf("callgrind_zeroed_at %llu\ncallgrind_dumped_at %llu\n", (unsigned long long)zeroed_at,
           (unsigned long long)dumped_at);
    print_stats(&s);
    uint64_t st0 = bu_now_ns();
    r.p->on_stop(r.in);
    printf("stop_ms %.3f\n", (double)(bu_now_ns() - st0) / 1e6);
    r.p->destroy(r.in);
    host_loader_close(&lp);
    printf("ok %d\n", rc == 0);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 5 && strcmp(argv[1], "hb") == 0)
        return run_hb(argv[2], argv[3], strtoull(argv[4], NULL, 10),
                      argc > 5 ? strtoull(argv[5], NULL, 10) : 0);
    if (argc == 4 && strcmp(argv[1], "idle") == 0)
        return run_idle(argv[2], atof(argv[3]));
    fprintf(stderr, "usage: pmd-bench-lean hb PLUGIN URL HEARTBEATS [CALLGRIND_WARMUP]\n"
                    "       pmd-bench-lean idle PLUGIN SECONDS\n");
    return 2;
}
