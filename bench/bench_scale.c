/*
 * bench_scale.c - N instances in one host process (section 5) and the long
 * timing run (section 6). Send-time accuracy is measured where the request
 * arrives: orchd-dev's request log (t_ms, CLOCK_MONOTONIC, the same clock as
 * ours). That log keeps only the last 1000 requests, so a sampler process
 * (forked before any plugin thread exists, so its CPU is not ours) polls it
 * and writes every heartbeat it sees, deduplicated by seq, plus the seq
 * ranges it missed; a pair of consecutive heartbeats of one node counts
 * only when no request between them was missed.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_table.h"
#include "bench_util.h"

#define INTERVAL_MS 1000u
#define TOLERANCE_MS 50u
#define TICK_MS 100u

/* ---------------------------------------------------------------------- */
/* The sampler (a child process)                                           */
/* ---------------------------------------------------------------------- */

static volatile sig_atomic_t sampler_stop;

static void on_term(int sig)
{
    (void)sig;
    sampler_stop = 1;
}

/* Node index from "/v2/nodes/<prefix>-<i>/heartbeat"; -1 if not ours. */
static int node_index(const char *path)
{
    const char *end = path ? strstr(path, "/heartbeat") : NULL;
    if (end == NULL)
        return -1;
    const char *p = end;
    while (p > path && p[-1] != '-' && p[-1] != '/')
        p--;
    return p > path && p[-1] == '-' ? atoi(p) : -1;
}

static void sample_once(orchd_t *o, FILE *out, uint64_t *last_seq)
{
    struct json_object *arr = orchd_get_json(o, "/_dev/requests"), *v;
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i);
        uint64_t seq = json_object_object_get_ex(e, "seq", &v) ? json_object_get_uint64(v) : 0;
        if (seq <= *last_seq)
            continue;
        if (seq > *last_seq + 1)
            fprintf(out, "G %llu %llu\n", (unsigned long long)(*last_seq + 1),
                    (unsigned long long)(seq - 1));
        *last_seq = seq;
        const char *path =
            json_object_object_get_ex(e, "raw_path", &v) ? json_object_get_string(v) : "";
        int node = node_index(path);
        if (node < 0)
            continue;
        uint64_t t = json_object_object_get_ex(e, "t_ms", &v) ? json_object_get_uint64(v) : 0;
        int status = json_object_object_get_ex(e, "status", &v) ? json_object_get_int(v) : 0;
        fprintf(out, "H %llu %llu %d %d\n", (unsigned long long)seq, (unsigned long long)t, node,
                status);
    }
    json_object_put(arr);
}

static pid_t start_sampler(orchd_t *o, const char *path, uint32_t period_ms)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, on_term);
    FILE *out = fopen(path, "w");
    uint64_t last_seq = 0;
    while (out && !sampler_stop) {
        uint64_t next = bu_now_ns() + (uint64_t)period_ms * 1000000ull;
        sample_once(o, out, &last_seq);
        while (!sampler_stop && bu_now_ns() < next)
            bu_sleep_ms(10);
    }
    if (out) {
        sample_once(o, out, &last_seq);
        fclose(out);
    }
    _exit(0);
}

static void stop_sampler(pid_t pid)
{
    int st;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
}

/* ---------------------------------------------------------------------- */
/* Accuracy from the sampled log                                           */
/* ---------------------------------------------------------------------- */

typedef struct accuracy {
    uint64_t pairs, within, seen;
    bu_vec_t dev_us; /* |inter-arrival - interval|, us (ms resolution) */
    /* per-node grid (used with one node: the timing run) */
    uint64_t first_t, last_t, first_k, last_k, count;
    bu_vec_t grid_ms; /* t_k - t_0 - k * interval, biased by 1e6 */
} accuracy_t;

typedef struct last_hb {
    uint64_t seq, t, k;
} last_hb_t;

static void pair(accuracy_t *a, last_hb_t *prev, uint64_t seq, uint64_t t, uint64_t last_lost,
                 int track_grid)
{
    if (prev->seq != 0 && last_lost < prev->seq) {
        uint64_t d = t - prev->t;
        uint64_t dev = d > INTERVAL_MS ? d - INTERVAL_MS : INTERVAL_MS - d;
        a->pairs++;
        a->within += dev <= TOLERANCE_MS;
        bu_vec_push(&a->dev_us, dev * 1000);
    }
    if (track_grid) {
        uint64_t k = prev->seq == 0 ? 0 : prev->k + (t - prev->t + INTERVAL_MS / 2) / INTERVAL_MS;
        if (prev->seq == 0) {
            a->first_t = t;
            a->first_k = 0;
        }
        a->last_t = t;
        a->last_k = k;
        a->count++;
        bu_vec_push(&a->grid_ms,
                    (uint64_t)((int64_t)(t - a->first_t) - (int64_t)(k * INTERVAL_MS) + 1000000));
        prev->k = k;
    }
    prev->seq = seq;
    prev->t = t;
}

static int analyse(const char *path, int nodes, uint64_t w0_ms, uint64_t w1_ms, accuracy_t *a)
{
    char kind;
    unsigned long long x, y;
    int node, status;
    memset(a, 0, sizeof(*a));
    FILE *f = fopen(path, "r");
    last_hb_t *last = calloc((size_t)nodes, sizeof(*last));
    if (f == NULL || last == NULL) {
        if (f)
            fclose(f);
        free(last);
        return -1;
    }
    uint64_t last_lost = 0;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "G %llu %llu", &x, &y) == 2) {
            last_lost = y;
            continue;
        }
        if (sscanf(line, "%c %llu %llu %d %d", &kind, &x, &y, &node, &status) != 5 || node < 0 ||
            node >= nodes || y < w0_ms || y > w1_ms)
            continue;
        a->seen++;
        pair(a, &last[node], x, y, last_lost, nodes == 1);
    }
    fclose(f);
    free(last);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* N instances                                                             */
/* ---------------------------------------------------------------------- */

typedef struct scale_run {
    int n, started;
    bench_node_t *nodes;
    double startup_ms, stop_ms;
    double cpu_s, host_thread_s, wall_s;
    uint64_t hb_ok, hb_failed, connections;
    int threads, fds;
    bu_mem_t mem;
    uint64_t w0_ms, w1_ms;
    long long switches; /* voluntary context switches in the window, all threads */
    bu_dirty_split_t split;
} scale_run_t;

static void tick_all(scale_run_t *r)
{
    for (int i = 0; i < r->started; i++)
        r->nodes[i].p->on_tick(r->nodes[i].in, bu_now_ns());
}

static void sum_stats(bench_ctx_t *c, scale_run_t *r, uint64_t *ok, uint64_t *failed,
                      int *all_beating)
{
    *ok = *failed = 0;
    *all_beating = 1;
    for (int i = 0; i < r->started; i++) {
        pmd_stats_t s = bh_stats(c->nr_stats, r->nodes[i].in);
        *ok += s.heartbeats_ok;
        *failed += s.heartbeats_failed_transport + s.heartbeats_failed_status +
                   s.heartbeats_not_registered + s.heartbeats_failed_auth;
        *all_beating &= s.heartbeats_ok > 0;
    }
}

static int start_nodes(bench_ctx_t *c, scale_run_t *r, orchd_t *o, uint32_t interval_ms,
                       const char *extra)
{
    char cfg[1024], id[64];
    r->nodes = calloc((size_t)r->n, sizeof(*r->nodes));
    if (r->nodes == NULL)
        return -1;
    uint64_t t0 = bu_now_ns();
    for (int i = 0; i < r->n; i++) {
        snprintf(id, sizeof(id), "s%d-%d", r->n, i);
        bench_nr_config(cfg, sizeof(cfg), id, orchd_url(o), interval_ms, extra);
        if (bench_node_start(&r->nodes[i], c->nr.plugin, cfg, 1) != 0)
            break;
        r->started++;
    }
    r->startup_ms = (double)(bu_now_ns() - t0) / 1e6;
    return r->started == r->n ? 0 : -1;
}

/* Ticks every node every TICK_MS for SECS; the measured window. */
static void window(bench_ctx_t *c, scale_run_t *r, orchd_t *o, uint32_t secs)
{
    uint64_t ok0, f0, ok1, f1;
    int all;
    long conn0 = orchd_stat(o, "connections");
    sum_stats(c, r, &ok0, &f0, &all);
    uint64_t t0 = bu_now_ns(), next = t0, end = t0 + (uint64_t)secs * 1000000000ull;
    long long sw0 = bu_voluntary_switches();
    double cpu0 = bu_cpu_self_s(), h0 = bu_cpu_thread_s();
    int probed = 0;
    while (next < end) {
        next += TICK_MS * 1000000ull;
        bu_sleep_until(next);
        tick_all(r);
        if (!probed && bu_now_ns() > t0 + (end - t0) / 2) {
            r->threads = bu_count_entries("/proc/self/task");
            r->fds = bu_count_entries("/proc/self/fd");
            r->mem = bu_mem();
            r->split = bu_dirty_split(512); /* the plugin's NR_WORKER_STACK */
            probed = 1;
        }
    }
    uint64_t t1 = bu_now_ns();
    r->cpu_s = bu_cpu_self_s() - cpu0;
    r->host_thread_s = bu_cpu_thread_s() - h0;
    r->switches = bu_voluntary_switches() - sw0;
    r->wall_s = (double)(t1 - t0) / 1e9;
    r->w0_ms = t0 / 1000000ull;
    r->w1_ms = t1 / 1000000ull;
    sum_stats(c, r, &ok1, &f1, &all);
    r->hb_ok = ok1 - ok0;
    r->hb_failed = f1 - f0;
    r->connections = (uint64_t)(orchd_stat(o, "connections") - conn0);
}

static void end_nodes(scale_run_t *r)
{
    uint64_t t0 = bu_now_ns();
    for (int i = 0; i < r->started; i++)
        bench_node_end(&r->nodes[i]);
    r->stop_ms = (double)(bu_now_ns() - t0) / 1e6;
    free(r->nodes);
}

static void scale_rows(const scale_run_t *r, accuracy_t *a, uint32_t secs)
{
    const char *sec = "5 scale";
    int big = r->n >= 1000;
    double pct = r->cpu_s / r->wall_s * 100;
    bt_row(sec, bt_fmt("N=%d: host CPU, %% of one core (%u s window)", r->n, secs),
           bt_fmt("%.2f %%", pct), "",
           bt_fmt("%.1f us per heartbeat; host thread (ticks) %.2f %%; %llu ok, %llu failed; "
                  "%.0f wake-ups/s",
                  r->cpu_s / (double)(r->hb_ok ? r->hb_ok : 1) * 1e6,
                  r->host_thread_s / r->wall_s * 100, (unsigned long long)r->hb_ok,
                  (unsigned long long)r->hb_failed, (double)r->switches / r->wall_s),
           big ? "< 5 %" : "", big ? (pct < 5 ? BT_MET : BT_MISSED) : BT_INFO);
    bt_row(sec, bt_fmt("N=%d: threads, descriptors, memory", r->n), "", "",
           bt_fmt("%d threads, %d fds, RSS %.1f MiB, Private_Dirty %.1f MiB", r->threads, r->fds,
                  r->mem.rss_kb / 1024.0, r->mem.private_dirty_kb / 1024.0),
           "", BT_INFO);
    bt_row(sec, bt_fmt("N=%d: Private_Dirty by mapping", r->n), "", "",
           bt_fmt("%d worker stacks %.1f MiB, main heap %.1f MiB, other anon (thread arenas) "
                  "%.1f MiB, files %.1f MiB",
                  r->split.stacks, r->split.stacks_kb / 1024.0, r->split.heap_kb / 1024.0,
                  r->split.anon_kb / 1024.0, r->split.files_kb / 1024.0),
           "", BT_INFO);
    bu_sort_u64(a->dev_us.v, a->dev_us.n);
    double share = a->pairs ? 100.0 * (double)a->within / (double)a->pairs : 0;
    bt_row(
        sec, bt_fmt("N=%d: heartbeats within 50 ms of schedule (abs(inter-arrival - 1 s))", r->n),
        bt_fmt("%.0f ms", bu_pct_sorted(a->dev_us.v, a->dev_us.n, 50) / 1e3),
        bt_fmt("%.0f ms", bu_pct_sorted(a->dev_us.v, a->dev_us.n, 99) / 1e3),
        bt_fmt("%.2f %% of %llu pairs within 50 ms; %llu of ~%llu heartbeats sampled", share,
               (unsigned long long)a->pairs, (unsigned long long)a->seen,
               (unsigned long long)r->hb_ok),
        big ? ">= 99 %" : "", big ? (share >= 99 && a->pairs > 0 ? BT_MET : BT_MISSED) : BT_INFO);
    bt_row(sec, bt_fmt("N=%d: start-up (init+start all), stop (all), connections", r->n), "", "",
           bt_fmt("start %.0f ms, stop %.0f ms, %llu new connections in the window", r->startup_ms,
                  r->stop_ms, (unsigned long long)r->connections),
           "", BT_INFO);
}

static void timing_rows(const scale_run_t *r, accuracy_t *a)
{
    bu_sort_u64(a->dev_us.v, a->dev_us.n);
    bu_sort_u64(a->grid_ms.v, a->grid_ms.n);
    int64_t med = (int64_t)bu_pct_sorted(a->grid_ms.v, a->grid_ms.n, 50) - 1000000;
    bu_vec_t err = {0};
    for (size_t i = 0; i < a->grid_ms.n; i++) {
        int64_t e = (int64_t)a->grid_ms.v[i] - 1000000 - med;
        bu_vec_push(&err, (uint64_t)(e < 0 ? -e : e));
    }
    bu_sort_u64(err.v, err.n);
    int64_t drift =
        (int64_t)(a->last_t - a->first_t) - (int64_t)((a->last_k - a->first_k) * INTERVAL_MS);
    uint64_t missed = a->last_k - a->first_k + 1 - a->count;
    bt_row("6 timing",
           bt_fmt("drift over %.0f s at 1 s (last arrival - (first + n x 1 s))", r->wall_s),
           bt_fmt("%+lld ms", (long long)drift), "",
           bt_fmt("%llu heartbeats, %llu slots missed", (unsigned long long)a->count,
                  (unsigned long long)missed),
           "no drift (abs(drift) <= 2 ms; t_ms has 1 ms resolution)",
           (drift <= 2 && drift >= -2) && missed == 0 ? BT_MET : BT_MISSED);
    bt_row("6 timing", "jitter: abs(send-time error) vs the fitted grid",
           bt_fmt("%llu ms", (unsigned long long)bu_pct_sorted(err.v, err.n, 50)),
           bt_fmt("%llu ms", (unsigned long long)bu_pct_sorted(err.v, err.n, 99)),
           bt_fmt("max %llu ms; abs(inter-arrival - 1 s) p99 %.0f ms",
                  (unsigned long long)(err.n ? err.v[err.n - 1] : 0),
                  bu_pct_sorted(a->dev_us.v, a->dev_us.n, 99) / 1e3),
           "", BT_INFO);
    bu_vec_free(&err);
}

enum run_mode { RUN_SCALE, RUN_TIMING, RUN_IDLE, RUN_IDLE_TOKEN_FILE };

/* RUN_IDLE: heartbeat_interval one day, so after the first heartbeat the
 * window holds nothing but the workers' own wake-ups and the host's ticks. */
static void idle_rows(const scale_run_t *r, uint32_t secs, int token_file)
{
    bt_row("5 scale",
           bt_fmt("N=%d idle (interval 1 day%s, %u s window): host CPU, %% of one core", r->n,
                  token_file ? ", api_token_file set" : "", secs),
           bt_fmt("%.2f %%", r->cpu_s / r->wall_s * 100), "",
           bt_fmt("%.2f us per instance-second (wake-ups + host ticks); host "
                  "thread %.2f %%; %.0f wake-ups/s",
                  r->cpu_s / r->wall_s / r->n * 1e6, r->host_thread_s / r->wall_s * 100,
                  (double)r->switches / r->wall_s),
           "", BT_INFO);
}

static void run_n(bench_ctx_t *c, int n, uint32_t secs, enum run_mode mode)
{
    int timing = mode == RUN_TIMING;
    scale_run_t r;
    accuracy_t a;
    char path[1024];
    memset(&r, 0, sizeof(r));
    r.n = n;
    const char *sec = timing ? "6 timing" : "5 scale";
    orchd_t *o = orchd_start(NULL);
    if (o == NULL) {
        bt_failed(sec, bt_fmt("N=%d", n), "orchd-dev did not start");
        return;
    }
    snprintf(path, sizeof(path), "%s/requests-%d.txt", c->out_dir, n);
    pid_t sampler = start_sampler(o, path, n >= 500 ? 250 : n >= 50 ? 1000 : 5000);
    char extra[1200] = "";
    if (mode == RUN_IDLE_TOKEN_FILE) {
        char token_path[1024];
        snprintf(token_path, sizeof(token_path), "%s/token.txt", c->out_dir);
        FILE *tf = fopen(token_path, "w");
        if (tf) {
            fputs("bench-token\n", tf);
            fclose(tf);
        }
        snprintf(extra, sizeof(extra), ",\"api_token_file\":\"%s\"", token_path);
    }
    int rc = start_nodes(c, &r, o, mode >= RUN_IDLE ? 86400000u : INTERVAL_MS, extra);
    uint64_t ok = 0, failed = 0;
    int all = 0;
    uint64_t warm_end = bu_now_ns() + 20000000000ull;
    while (rc == 0 && !all && bu_now_ns() < warm_end) {
        tick_all(&r);
        bu_sleep_ms(TICK_MS);
        sum_stats(c, &r, &ok, &failed, &all);
    }
    if (rc != 0 || !all) {
        bt_failed(sec, bt_fmt("N=%d", n),
                  bt_fmt("%d of %d instances started, %s; orchd-dev log %s", r.started, n,
                         all ? "all heartbeating" : "not all heartbeating within 20 s",
                         orchd_log_path(o)));
    } else {
        window(c, &r, o, secs);
    }
    stop_sampler(sampler);
    end_nodes(&r);
    orchd_stop(o);
    if (rc != 0 || !all)
        return;
    if (mode >= RUN_IDLE) {
        idle_rows(&r, secs, mode == RUN_IDLE_TOKEN_FILE);
        return;
    }
    if (analyse(path, n, r.w0_ms, r.w1_ms, &a) != 0) {
        bt_failed(sec, bt_fmt("N=%d", n), "cannot read the sampled request log");
        return;
    }
    if (timing)
        timing_rows(&r, &a);
    else
        scale_rows(&r, &a, secs);
    bu_vec_free(&a.dev_us);
    bu_vec_free(&a.grid_ms);
}

void bench_scale(bench_ctx_t *c)
{
    for (int i = 0; i < c->scale_count; i++)
        run_n(c, c->scale_n[i], c->scale_secs, RUN_SCALE);
    if (c->scale_count > 0) {
        run_n(c, c->scale_n[c->scale_count - 1], 5, RUN_IDLE);
        run_n(c, c->scale_n[c->scale_count - 1], 5, RUN_IDLE_TOKEN_FILE);
    }
}

void bench_timing(bench_ctx_t *c)
{
    run_n(c, 1, c->timing_secs, RUN_TIMING);
}
