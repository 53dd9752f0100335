/*
 * bench_sections.c - host overhead (on_tick), CPU / memory / connections
 * per heartbeat (through pmd-bench-lean), instructions per heartbeat
 * (pmd-bench-lean under callgrind), and recovery / shutdown times.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "bench_table.h"
#include "bench_util.h"

/* ---------------------------------------------------------------------- */
/* Nodes                                                                   */
/* ---------------------------------------------------------------------- */

void bench_nr_config(char *out, size_t size, const char *node_id, const char *url,
                     uint32_t interval_ms, const char *extra)
{
    snprintf(out, size,
             "{\"node_id\":\"%s\",\"address\":\"http://127.0.0.1:9200\","
             "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":%u%s}",
             node_id, url, interval_ms, extra ? extra : "");
}

int bench_node_start(bench_node_t *n, const pmd_plugin_t *p, const char *cfg, int pools)
{
    char err[512];
    memset(n, 0, sizeof(*n));
    bh_host_init(&n->host, pools);
    n->p = p;
    if (p->init(&n->host.abi, cfg, &n->in, err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "pmd-bench: init: %s\n", err);
        return -1;
    }
    if (p->on_start(n->in) != PMD_OK) {
        fprintf(stderr, "pmd-bench: start failed\n");
        p->destroy(n->in);
        n->in = NULL;
        return -1;
    }
    return 0;
}

double bench_node_end(bench_node_t *n)
{
    if (n->in == NULL)
        return 0;
    uint64_t t0 = bu_now_ns();
    n->p->on_stop(n->in);
    double ms = (double)(bu_now_ns() - t0) / 1e6;
    n->p->destroy(n->in);
    n->in = NULL;
    return ms;
}

void bench_tick_for(bench_node_t *n, uint32_t ms)
{
    uint64_t end = bu_now_ns() + (uint64_t)ms * 1000000ull;
    while (bu_now_ns() < end) {
        n->p->on_tick(n->in, bu_now_ns());
        bu_sleep_ms(5);
    }
}

int bench_wait_state(bench_ctx_t *c, bench_node_t *n, int32_t state, uint64_t min_heartbeats,
                     uint32_t timeout_ms)
{
    uint64_t end = bu_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (bu_now_ns() < end) {
        n->p->on_tick(n->in, bu_now_ns());
        pmd_stats_t s = bh_stats(c->nr_stats, n->in);
        if (s.state == state && s.heartbeats_ok >= min_heartbeats)
            return 0;
        bu_sleep_ms(5);
    }
    return -1;
}

static orchd_t *start_orchd(uint32_t next_heartbeat_ms)
{
    orchd_options_t o = {0};
    o.next_heartbeat_ms = next_heartbeat_ms;
    return orchd_start(&o);
}

/* ---------------------------------------------------------------------- */
/* 1. Host overhead: on_tick wall time                                     */
/* ---------------------------------------------------------------------- */

typedef struct tick_samples {
    bu_vec_t due, idle; /* ns per tick: pools pulled in it / not */
} tick_samples_t;

/* Ticks COUNT times (or for DUR_NS when COUNT is 0), GAP_NS apart, timing
 * each call; a tick in which the host's list_pools was called is "due". */
static void sample_ticks(bench_node_t *n, uint64_t count, uint64_t dur_ns, uint64_t gap_ns,
                         tick_samples_t *s)
{
    uint64_t end = bu_now_ns() + dur_ns;
    for (uint64_t i = 0; count ? i < count : bu_now_ns() < end; i++) {
        bu_sleep_until(bu_now_ns() + gap_ns);
        uint64_t pulls = n->host.list_calls;
        uint64_t t0 = bu_now_ns();
        n->p->on_tick(n->in, t0);
        uint64_t t1 = bu_now_ns();
        if (n->host.list_calls != pulls)
            bu_vec_push(&s->due, t1 - t0);
        else if (count)
            bu_vec_push(&s->idle, t1 - t0); /* the due phase keeps only due ticks */
    }
}

typedef struct phase {
    const pmd_plugin_t *p;
    const char *cfg;
    orchd_t *o; /* for the steps below; may be NULL */
    int wait_registered;
    const char *fault_after; /* added once registered */
    int kill_after;          /* stop O once registered: a closed port */
    int due;                 /* 1: 2 s at 50 us gaps; 0: overhead_ticks at 10 us */
} phase_t;

static int run_phase(bench_ctx_t *c, phase_t *ph, tick_samples_t *s)
{
    bench_node_t n;
    if (bench_node_start(&n, ph->p, ph->cfg, BH_MAX_POOLS) != 0)
        return -1;
    int rc = 0;
    if (ph->wait_registered && bench_wait_state(c, &n, PMD_NODE_REGISTERED, 0, 5000) != 0)
        rc = -1;
    if (rc == 0 && ph->fault_after && orchd_fault(ph->o, ph->fault_after) != 0)
        rc = -1;
    if (rc == 0 && ph->kill_after) {
        orchd_stop(ph->o);
        ph->o = NULL;
    }
    if (rc == 0)
        sample_ticks(&n, ph->due ? 0 : c->overhead_ticks, ph->due ? 2000000000ull : 0,
                     ph->due ? 50000ull : 10000ull, s);
    bench_node_end(&n);
    return rc;
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = 9;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void tick_row(const char *what, bu_vec_t *v, const char *target, enum bt_verdict verdict)
{
    bu_sort_u64(v->v, v->n);
    if (v->n == 0) {
        bt_failed("1 host overhead", what, "no samples");
        return;
    }
    bt_row("1 host overhead", what, bt_fmt("%.2f us", bu_pct_sorted(v->v, v->n, 50) / 1e3),
           bt_fmt("%.2f us", bu_pct_sorted(v->v, v->n, 99) / 1e3),
           bt_fmt("max %.1f us; %zu ticks", v->v[v->n - 1] / 1e3, v->n), target, verdict);
}

enum { T_EXAMPLE, T_HEALTHY, T_REFUSING, T_HANGING, T_COUNT };

static void overhead_rows(tick_samples_t *s, const int *ok)
{
    static const char *const names[T_COUNT] = {"no-op example.so (floor)", "healthy",
                                               "refusing (closed port)", "hanging (fault hang)"};
    uint64_t floor_p99 = 0;
    if (ok[T_EXAMPLE] && s[T_EXAMPLE].idle.n) {
        bu_sort_u64(s[T_EXAMPLE].idle.v, s[T_EXAMPLE].idle.n);
        floor_p99 = bu_pct_sorted(s[T_EXAMPLE].idle.v, s[T_EXAMPLE].idle.n, 99);
    }
    for (int t = 0; t < T_COUNT; t++) {
        if (!ok[t]) {
            bt_failed("1 host overhead", bt_fmt("on_tick, %s", names[t]), "setup failed (stderr)");
            continue;
        }
        bu_vec_t *v = &s[t].idle;
        bu_sort_u64(v->v, v->n);
        int met = v->n && bu_pct_sorted(v->v, v->n, 99) <= floor_p99 + 2000;
        tick_row(bt_fmt("on_tick, nothing due: %s", names[t]), v,
                 t == T_EXAMPLE ? "" : bt_fmt("p99 <= %.2f us (floor + 2)", floor_p99 / 1e3 + 2),
                 t == T_EXAMPLE ? BT_INFO
                 : met          ? BT_MET
                                : BT_MISSED);
    }
    for (int t = 0; t < T_COUNT; t++)
        if (ok[t])
            tick_row(bt_fmt("on_tick, heartbeat due (16 pools): %s", names[t]), &s[t].due, "",
                     BT_INFO);
}

void bench_overhead(bench_ctx_t *c)
{
    tick_samples_t s[T_COUNT];
    int ok[T_COUNT] = {0};
    char cfg[1024], url[64];
    memset(s, 0, sizeof(s));
    orchd_t *o = start_orchd(1);
    if (o == NULL) {
        bt_failed("1 host overhead", "on_tick", "orchd-dev did not start");
        return;
    }
    /* The floor: the no-op plugin (pulling pools every 20th tick when "due"). */
    phase_t ex_a = {c->ex.plugin, "{}", NULL, 0, NULL, 0, 0};
    phase_t ex_b = {c->ex.plugin, "{\"log_every_ticks\":20}", NULL, 0, NULL, 0, 1};
    ok[T_EXAMPLE] =
        run_phase(c, &ex_a, &s[T_EXAMPLE]) == 0 && run_phase(c, &ex_b, &s[T_EXAMPLE]) == 0;

    /* Healthy: 10 s interval for "nothing due", 1 ms for "due". */
    bench_nr_config(cfg, sizeof(cfg), "oh-healthy", orchd_url(o), 10000,
                    ",\"deregister_timeout_ms\":200");
    phase_t h_a = {c->nr.plugin, cfg, o, 1, NULL, 0, 0};
    ok[T_HEALTHY] = run_phase(c, &h_a, &s[T_HEALTHY]) == 0;
    char cfg_b[1024];
    bench_nr_config(cfg_b, sizeof(cfg_b), "oh-healthy", orchd_url(o), 100,
                    ",\"request_timeout_ms\":2000,\"deregister_timeout_ms\":200");
    phase_t h_b = {c->nr.plugin, cfg_b, o, 1, NULL, 0, 1};
    ok[T_HEALTHY] &= run_phase(c, &h_b, &s[T_HEALTHY]) == 0;

    /* Refusing: a closed port from the start (registration retries), and a
     * registered node whose control plane went away (heartbeats refused). */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    bench_nr_config(cfg, sizeof(cfg), "oh-refused", url, 10000, ",\"deregister_timeout_ms\":200");
    phase_t r_a = {c->nr.plugin, cfg, NULL, 0, NULL, 0, 0};
    ok[T_REFUSING] = run_phase(c, &r_a, &s[T_REFUSING]) == 0;
    orchd_t *gone = start_orchd(1);
    if (gone) {
        bench_nr_config(cfg_b, sizeof(cfg_b), "oh-refused", orchd_url(gone), 100,
                        ",\"request_timeout_ms\":1000,\"deregister_timeout_ms\":200");
        phase_t r_b = {c->nr.plugin, cfg_b, gone, 1, NULL, 1, 1};
        ok[T_REFUSING] &= run_phase(c, &r_b, &s[T_REFUSING]) == 0;
        orchd_stop(r_b.o);
    } else {
        ok[T_REFUSING] = 0;
    }

    /* Hanging: heartbeats hang once registered (10 ms request timeout, so
     * that due ticks come often); then every request hangs from the start. */
    bench_nr_config(cfg_b, sizeof(cfg_b), "oh-hang", orchd_url(o), 100,
                    ",\"request_timeout_ms\":100,\"connect_timeout_ms\":50,"
                    "\"deregister_timeout_ms\":100");
    phase_t g_b = {c->nr.plugin, cfg_b, o, 1, "{\"match\":\"heartbeat\",\"hang\":true}", 0, 1};
    ok[T_HANGING] = run_phase(c, &g_b, &s[T_HANGING]) == 0;
    orchd_clear_faults(o);
    bench_nr_config(cfg, sizeof(cfg), "oh-hang-reg", orchd_url(o), 10000,
                    ",\"deregister_timeout_ms\":100");
    ok[T_HANGING] &= orchd_fault(o, "{\"hang\":true}") == 0;
    phase_t g_a = {c->nr.plugin, cfg, o, 0, NULL, 0, 0};
    ok[T_HANGING] &= run_phase(c, &g_a, &s[T_HANGING]) == 0;
    orchd_clear_faults(o);
    orchd_stop(o);

    overhead_rows(s, ok);
    for (int t = 0; t < T_COUNT; t++) {
        bu_vec_free(&s[t].due);
        bu_vec_free(&s[t].idle);
    }
}

/* ---------------------------------------------------------------------- */
/* pmd-bench-lean as a child: "key value" lines                            */
/* ---------------------------------------------------------------------- */

#define KV_MAX 64

typedef struct kv {
    int n;
    char key[KV_MAX][64];
    double val[KV_MAX];
} kv_t;

static int run_child(const char *cmd, kv_t *kv)
{
    char line[256];
    memset(kv, 0, sizeof(*kv));
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) && kv->n < KV_MAX)
        if (sscanf(line, "%63s %lf", kv->key[kv->n], &kv->val[kv->n]) == 2)
            kv->n++;
    int st = pclose(f);
    return st == 0 ? 0 : -1;
}

static double kv_get(const kv_t *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->key[i], key) == 0)
            return kv->val[i];
    return -1;
}

/* ---------------------------------------------------------------------- */
/* 2-4. CPU, memory and connections per heartbeat                          */
/* ---------------------------------------------------------------------- */

static void memory_rows(const kv_t *kv, uint64_t heartbeats)
{
    static const char *const at[] = {"mem_before_dlopen", "mem_after_dlopen", "mem_after_init",
                                     "mem_after_1k", "mem_after_all"};
    static const char *const label[] = {"before dlopen", "after dlopen", "after init",
                                        "after 1,000 heartbeats", "after all heartbeats"};
    char key[96];
    double rss0 = 0, pd0 = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "%s_rss_kb", at[i]);
        double rss = kv_get(kv, key);
        snprintf(key, sizeof(key), "%s_private_dirty_kb", at[i]);
        double pd = kv_get(kv, key);
        if (i == 0) {
            rss0 = rss;
            pd0 = pd;
        }
        bt_row("3 memory", bt_fmt("lean host %s", label[i]), "", "",
               bt_fmt("RSS %.0f KiB, Private_Dirty %.0f KiB", rss, pd), "", BT_INFO);
    }
    double rss = kv_get(kv, "mem_after_all_rss_kb"),
           pd = kv_get(kv, "mem_after_all_private_dirty_kb");
    double pd1k = kv_get(kv, "mem_after_1k_private_dirty_kb");
    bt_row("3 memory",
           bt_fmt("plugin's marginal cost (after %llu heartbeats minus before dlopen)",
                  (unsigned long long)heartbeats),
           "", "", bt_fmt("RSS +%.0f KiB, Private_Dirty +%.0f KiB", rss - rss0, pd - pd0),
           "Private_Dirty <= 1331 KiB (1.3 MB)", pd - pd0 <= 1331 ? BT_MET : BT_MISSED);
    bt_row("3 memory",
           bt_fmt("growth from 1,000 to %llu heartbeats", (unsigned long long)heartbeats), "", "",
           bt_fmt("Private_Dirty %+.0f KiB", pd - pd1k), "flat (< 64 KiB)",
           pd - pd1k < 64 ? BT_MET : BT_MISSED);
}

void bench_cpu_memory(bench_ctx_t *c)
{
    char cmd[2048];
    kv_t kv, idle;
    orchd_t *o = start_orchd(1);
    if (o == NULL) {
        bt_failed("2 CPU", "per heartbeat", "orchd-dev did not start");
        return;
    }
    long conn0 = orchd_stat(o, "connections"), req0 = orchd_stat(o, "requests.heartbeat");
    snprintf(cmd, sizeof(cmd), "'%s' hb '%s' '%s' %llu", c->lean_bin, c->nr_so, orchd_url(o),
             (unsigned long long)c->heartbeats);
    int rc = run_child(cmd, &kv);
    long conn1 = orchd_stat(o, "connections"), req1 = orchd_stat(o, "requests.heartbeat");
    orchd_stop(o);
    snprintf(cmd, sizeof(cmd), "'%s' idle '%s' 5", c->lean_bin, c->example_so);
    int irc = run_child(cmd, &idle);
    if (rc != 0 || kv_get(&kv, "ok") != 1) {
        bt_failed("2 CPU", "per heartbeat", "pmd-bench-lean hb failed (stderr)");
        return;
    }
    double hb = kv_get(&kv, "heartbeats_ok") + kv_get(&kv, "heartbeats_failed");
    double cpu = kv_get(&kv, "cpu_s"), wall = kv_get(&kv, "wall_s");
    double idle_rate = irc == 0 ? kv_get(&idle, "idle_cpu_s") / kv_get(&idle, "idle_wall_s") : 0;
    double net = (cpu - idle_rate * wall) / hb * 1e6;
    bt_row("2 CPU",
           bt_fmt("user+sys per heartbeat, whole lean host (%.0f heartbeats at 1 ms, "
                  "16 pools, host ticking every 1 ms)",
                  hb),
           bt_fmt("%.1f us", net), "",
           bt_fmt("raw %.1f us; idle tick loop %.2f%% of a core "
                  "subtracted; %.0f hb/s",
                  cpu / hb * 1e6, idle_rate * 100, hb / wall),
           "<= 25 us", net <= 25 ? BT_MET : BT_MISSED);
    memory_rows(&kv, c->heartbeats);
    double conns = (double)(conn1 - conn0), hbs = (double)(req1 - req0);
    double plugin_conns = kv_get(&kv, "connections_opened");
    bt_row("4 connections", "TCP connections per 1,000 heartbeats", "", "",
           bt_fmt("orchd-dev: %.0f for %.0f heartbeats (%.3f / 1,000); plugin's "
                  "connections_opened: %.0f",
                  conns, hbs, conns / hbs * 1000, plugin_conns),
           "1 per 1,000", conns / hbs * 1000 <= 1.0 ? BT_MET : BT_MISSED);
    bt_row("7 shutdown", "on_stop, healthy (lean host, after the CPU run)",
           bt_fmt("%.2f ms", kv_get(&kv, "stop_ms")), "", "", "< 10 ms",
           kv_get(&kv, "stop_ms") < 10 ? BT_MET : BT_MISSED);
    if (kv_get(&kv, "events_dropped") > 0)
        bt_row("2 CPU", "events dropped during the run", "", "",
               bt_fmt("%.0f", kv_get(&kv, "events_dropped")), "0", BT_MISSED);
}

/* ---------------------------------------------------------------------- */
/* 2b. Instructions per heartbeat under callgrind                          */
/* ---------------------------------------------------------------------- */

/* Finds the dump made at "steady" in OUT_DIR; returns its total Ir or -1. */
static double steady_dump_ir(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    double ir = -1;
    char line[512];
    while (d && ir < 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "callgrind.out.", 14) != 0)
            continue;
        snprintf(path, size, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        int steady = 0;
        while (f && fgets(line, sizeof(line), f)) {
            if (strstr(line, "Client Request: steady"))
                steady = 1;
            if (steady && (strncmp(line, "summary:", 8) == 0 || strncmp(line, "totals:", 7) == 0))
                ir = atof(strchr(line, ':') + 1);
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return ir;
}

void bench_callgrind(bench_ctx_t *c)
{
    char cmd[2048], path[1024], pointer[1024];
    kv_t kv;
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/callgrind.out.*", c->out_dir);
    if (system(cmd) != 0)
        return;
    orchd_t *o = start_orchd(1);
    if (o == NULL) {
        bt_failed("2 CPU", "instructions per heartbeat", "orchd-dev did not start");
        return;
    }
    snprintf(cmd, sizeof(cmd),
             "valgrind --tool=callgrind --callgrind-out-file='%s/callgrind.out.%%p' "
             "'%s' hb '%s' '%s' %llu 200 2>'%s/callgrind.log'",
             c->out_dir, c->lean_bin, c->nr_so, orchd_url(o), (unsigned long long)c->callgrind_hb,
             c->out_dir);
    int rc = run_child(cmd, &kv);
    orchd_stop(o);
    double n = kv_get(&kv, "callgrind_dumped_at") - kv_get(&kv, "callgrind_zeroed_at");
    double ir = steady_dump_ir(c->out_dir, path, sizeof(path));
    if (rc != 0 || n <= 0 || ir <= 0) {
        bt_failed("2 CPU", "instructions per heartbeat (callgrind)",
                  bt_fmt("callgrind run failed; see %s/callgrind.log", c->out_dir));
        return;
    }
    snprintf(pointer, sizeof(pointer), "%s/callgrind-steady.path", c->out_dir);
    FILE *f = fopen(pointer, "w");
    if (f) {
        fprintf(f, "%s\n", path);
        fclose(f);
    }
    bt_row("2 CPU",
           bt_fmt("instructions per heartbeat, whole lean host, under callgrind "
                  "(%.0f heartbeats after 200 warm-up)",
                  n),
           bt_fmt("%.0f Ir", ir / n), "",
           /* the file name only: the table goes into the repository, where a
            * path of the machine that ran it would mean nothing */
           bt_fmt("total %.3g Ir; profile: %s in the output directory", ir,
                  strrchr(path, '/') ? strrchr(path, '/') + 1 : path),
           "", BT_INFO);
}

/* ---------------------------------------------------------------------- */
/* 7. Recovery and shutdown                                                */
/* ---------------------------------------------------------------------- */

static int node_present(orchd_t *o, const char *id, long *heartbeats)
{
    struct json_object *n = orchd_node(o, id), *hb;
    if (n && heartbeats && json_object_object_get_ex(n, "heartbeats", &hb))
        *heartbeats = (long)json_object_get_int64(hb);
    json_object_put(n);
    return n != NULL;
}

/* Ticks N every 5 ms and polls until orchd-dev knows the node again. */
static double time_to_registered(orchd_t *o, bench_node_t *n, const char *id, uint32_t limit_ms)
{
    uint64_t t0 = bu_now_ns(), end = t0 + (uint64_t)limit_ms * 1000000ull;
    while (bu_now_ns() < end) {
        n->p->on_tick(n->in, bu_now_ns());
        if (node_present(o, id, NULL))
            return (double)(bu_now_ns() - t0) / 1e6;
        bu_sleep_ms(2);
    }
    return -1;
}

static void ms_row(const char *section, const char *what, bu_vec_t *v, const char *target,
                   double limit_ms)
{
    if (v->n == 0) {
        bt_failed(section, what, "no sample (timed out)");
        return;
    }
    bu_sort_u64(v->v, v->n);
    double med = bu_pct_sorted(v->v, v->n, 50) / 1e3, max = v->v[v->n - 1] / 1e3;
    bt_row(section, what, bt_fmt("%.1f ms", med), "", bt_fmt("max %.1f ms; %zu runs", max, v->n),
           target,
           limit_ms <= 0    ? BT_INFO
           : max < limit_ms ? BT_MET
                            : BT_MISSED);
}

static void recover_restart(bench_ctx_t *c, orchd_t *o)
{
    char cfg[1024];
    bench_node_t n;
    bu_vec_t t = {0};
    bench_nr_config(cfg, sizeof(cfg), "rec-restart", orchd_url(o), 1000, NULL);
    if (bench_node_start(&n, c->nr.plugin, cfg, 4) != 0)
        return;
    for (int i = 0; i < 3; i++) {
        if (bench_wait_state(c, &n, PMD_NODE_REGISTERED, 1, 5000) != 0)
            break;
        bench_tick_for(&n, 100 + 150 * i); /* a different phase of the interval each time */
        if (orchd_restart(o) != 0)
            break;
        double ms = time_to_registered(o, &n, "rec-restart", 5000);
        if (ms >= 0)
            bu_vec_push(&t, (uint64_t)(ms * 1000));
    }
    bench_node_end(&n);
    ms_row("7 recovery", "control-plane restart -> node registered again (1 s interval)", &t,
           "<= 1 interval + 100 ms", 1100);
    bu_vec_free(&t);
}

static void recover_outage(bench_ctx_t *c, orchd_t *o)
{
    char cfg[1024];
    bench_node_t n;
    bu_vec_t t = {0};
    bench_nr_config(cfg, sizeof(cfg), "rec-outage", orchd_url(o), 1000, NULL);
    if (bench_node_start(&n, c->nr.plugin, cfg, 4) != 0)
        return;
    for (int i = 0; i < 2; i++) {
        if (bench_wait_state(c, &n, PMD_NODE_REGISTERED, 1, 5000) != 0)
            break;
        bench_tick_for(&n, 150 + 450 * i); /* start the outage at another phase each time */
        if (orchd_fault(o, "{\"hang\":true}") != 0)
            break;
        bench_tick_for(&n, 3000);
        orchd_clear_faults(o);
        uint64_t t0 = bu_now_ns();
        uint64_t hb0 = bh_stats(c->nr_stats, n.in).heartbeats_ok;
        if (bench_wait_state(c, &n, PMD_NODE_REGISTERED, hb0 + 1, 10000) == 0)
            bu_vec_push(&t, (bu_now_ns() - t0) / 1000);
    }
    bench_node_end(&n);
    ms_row("7 recovery",
           "3 s hang outage cleared -> heartbeat 200 and registered "
           "(request_timeout_ms = interval = 1 s)",
           &t, "", 0);
    bu_vec_free(&t);
}

static void stop_times(bench_ctx_t *c, orchd_t *o)
{
    char cfg[1024];
    bu_vec_t t = {0};
    bench_nr_config(cfg, sizeof(cfg), "rec-stop", orchd_url(o), 1000, NULL);
    for (int i = 0; i < 5; i++) {
        bench_node_t n;
        if (bench_node_start(&n, c->nr.plugin, cfg, 4) != 0)
            break;
        if (bench_wait_state(c, &n, PMD_NODE_REGISTERED, 0, 5000) == 0) {
            bench_tick_for(&n, 50 + 40 * i);
            bu_vec_push(&t, (uint64_t)(bench_node_end(&n) * 1000));
        }
        bench_node_end(&n);
    }
    ms_row("7 shutdown", "on_stop, healthy (deregistration answered)", &t, "< 10 ms", 10);
    bu_vec_free(&t);
    bench_node_t n;
    if (bench_node_start(&n, c->nr.plugin, cfg, 4) != 0)
        return;
    if (bench_wait_state(c, &n, PMD_NODE_REGISTERED, 0, 5000) == 0 &&
        orchd_fault(o, "{\"hang\":true}") == 0) {
        bench_tick_for(&n, 20);
        double ms = bench_node_end(&n);
        bt_row("7 shutdown", "on_stop, hanging control plane (deregister_timeout_ms default 2000)",
               bt_fmt("%.1f ms", ms), "", "", "<= deregister_timeout_ms + slack",
               ms <= 2100 ? BT_MET : BT_MISSED);
    }
    bench_node_end(&n);
    orchd_clear_faults(o);
}

void bench_recovery(bench_ctx_t *c)
{
    orchd_t *o = start_orchd(0);
    if (o == NULL) {
        bt_failed("7 recovery", "all", "orchd-dev did not start");
        return;
    }
    recover_restart(c, o);
    recover_outage(c, o);
    stop_times(c, o);
    orchd_stop(o);
}
