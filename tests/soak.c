/*
 * soak.c - node_registration.so heartbeating at 1 ms against orchd-dev for
 * a long run, with a fault every 1,000 heartbeats, rotating through:
 *   restart   POST /_dev/restart: the next heartbeat gets 404, the node
 *             registers again
 *   500       one heartbeat answered 500
 *   delay     one heartbeat delayed 2 s by the server, against a 500 ms
 *             request timeout: the request is abandoned mid-flight, the
 *             connection dropped, the late answer lands on a closed socket
 *   drop      one connection closed without an answer
 *   401       the server's token file changes (401s, unauthorized), then the
 *             node's api_token_file is rotated to match (registers again)
 * then checks that the process did not grow: RSS, open descriptors and
 * threads at the end against the start (after a warm-up), and that the node
 * is registered (orchd-dev's /_dev/nodes says Online).
 *
 *   soak [HEARTBEATS]     (default 100000)
 * Exit 0 on success, 1 on a failed check, 2 on a setup error. Prints the
 * figures either way. Env SOAK_RSS_SLACK_KB overrides the RSS bound (ASan's
 * allocator keeps freed memory in quarantine, so its runs use a larger one).
 *
 * The host here is a minimal one of its own (not pmd_test_host, which keeps
 * every log line and would itself grow): it counts log lines and states,
 * serves two pools and one GPU, and keeps nothing.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "orchd.h"
#include "proc_usage.h"

#define FAULT_EVERY 1000
#define WARMUP 2000

typedef struct host {
    unsigned long logs, errors, states;
    int32_t state;
} host_t;

static void h_log(void *d, int32_t level, const char *msg)
{
    host_t *h = d;
    h->logs++;
    if (level >= PMD_LOG_ERROR && getenv("SOAK_VERBOSE"))
        fprintf(stderr, "soak: plugin: %s\n", msg);
    h->errors += level >= PMD_LOG_ERROR;
}

static void h_state(void *d, int32_t state, const char *detail)
{
    host_t *h = d;
    (void)detail;
    h->states++;
    h->state = state;
}

static int32_t h_pools(void *d, const pmd_pool_sink_t *sink)
{
    static const char *const ids[] = {"pool-a", "pool-b"};
    (void)d;
    for (int i = 0; i < 2; i++) {
        pmd_pool_status_t p = {sizeof(p), 1, 0, {0}, 3, 4, 8ull << 30, ids[i], "llamacpp"};
        sink->add_pool(sink->sink_data, &p);
    }
    return PMD_OK;
}

static int32_t h_caps(void *d, const pmd_capability_sink_t *sink)
{
    pmd_gpu_info_t g = {sizeof(g), 0, 80ull << 30, "NVIDIA H100", "9.0"};
    pmd_node_resources_t r = {sizeof(r), 32, 256ull << 30};
    (void)d;
    sink->add_gpu(sink->sink_data, &g);
    sink->set_resources(sink->sink_data, &r);
    return PMD_OK;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct usage {
    long rss_kb;
    int fds, threads;
} usage_t;

static usage_t usage(void)
{
    usage_t u = {proc_rss_kb(), proc_fd_count(), proc_thread_count()};
    return u;
}

static void write_file(const char *path, const char *text)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        exit(2);
    }
}

typedef struct soak {
    pmd_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    const pmd_ext_stats_t *stats;
    pmd_instance_t *in;
    host_t host;
    orchd_t *cp;
    char dir[64], server_token[128], node_token[128];
    int token_gen;
} soak_t;

static pmd_stats_t get_stats(soak_t *s)
{
    pmd_stats_t st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    s->stats->get(s->in, &st);
    return st;
}

static void tick(soak_t *s)
{
    s->p->tick(s->in, now_ns());
    usleep(500);
}

/* Ticks until the node is registered again; 0, or -1 after timeout_ms. */
static int tick_until_registered(soak_t *s, int timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (s->host.state != PMD_NODE_REGISTERED || get_stats(s).consecutive_failures != 0) {
        if (now_ns() > end)
            return -1;
        tick(s);
    }
    return 0;
}

static const char *const fault_names[] = {"restart", "500", "delay", "drop", "401+rotation"};

static int inject(soak_t *s, int k)
{
    char token[64];
    switch (k % 5) {
    case 0: return orchd_restart(s->cp);
    case 1: return orchd_fault(s->cp, "{\"match\":\"heartbeat\",\"status\":500,\"count\":1}");
    case 2: return orchd_fault(s->cp, "{\"match\":\"heartbeat\",\"delay_ms\":2000,\"count\":1}");
    case 3: return orchd_fault(s->cp, "{\"match\":\"heartbeat\",\"drop\":true,\"count\":1}");
    default:
        snprintf(token, sizeof(token), "soak-token-%d\n", ++s->token_gen);
        write_file(s->server_token, token); /* the control plane rotated */
        for (int i = 0; i < 5000 && s->host.state != PMD_NODE_UNAUTHORIZED; i++)
            tick(s);
        if (s->host.state != PMD_NODE_UNAUTHORIZED) {
            fprintf(stderr, "soak: no 401 after the server's token changed\n");
            return -1;
        }
        write_file(s->node_token, token); /* the operator rotates the node */
        return 0;
    }
}

static int setup(soak_t *s)
{
    char err[512], cfg[1024];
    snprintf(s->dir, sizeof(s->dir), "/tmp/pmd-soak-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    snprintf(s->server_token, sizeof(s->server_token), "%s/server-token", s->dir);
    snprintf(s->node_token, sizeof(s->node_token), "%s/node-token", s->dir);
    write_file(s->server_token, "soak-token-0\n");
    write_file(s->node_token, "soak-token-0\n");
    orchd_options_t opt = {.token_file = s->server_token, .next_heartbeat_ms = 1};
    if ((s->cp = orchd_start(&opt)) == NULL)
        return -1;
    if (pmd_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &s->lp,
                        err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "soak: %s\n", err);
        return -1;
    }
    s->p = s->lp.plugin;
    s->stats = pmd_loader_has_extensions(&s->lp) ? s->p->get_extension(PMD_EXT_STATS) : NULL;
    if (s->stats == NULL)
        return -1;
    pmd_host_t h = {sizeof(h), PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, 0, &s->host, "soak",
                    "1", h_log, h_pools, h_caps, h_state, NULL};
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"soak-node\",\"address\":\"http://10.0.0.5:9200\","
             "\"orchestratord_url\":\"%s\",\"api_token_file\":\"%s\","
             "\"heartbeat_interval_ms\":100,\"request_timeout_ms\":500,\"connect_timeout_ms\":500,"
             "\"retry_base_ms\":10,\"retry_max_ms\":50}",
             orchd_url(s->cp), s->node_token);
    if (s->p->init(&h, cfg, &s->in, err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "soak: init: %s\n", err);
        return -1;
    }
    return s->p->start(s->in);
}

static int node_online(soak_t *s)
{
    json_object *n = orchd_node(s->cp, "soak-node"), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), "Online") == 0;
    json_object_put(n);
    return ok;
}

int main(int argc, char **argv)
{
    static soak_t s;
    uint64_t target = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    int failed = 0, faults = 0;
    long rss_slack = getenv("SOAK_RSS_SLACK_KB") ? atol(getenv("SOAK_RSS_SLACK_KB")) : 4096;

    if (target < WARMUP + FAULT_EVERY)
        target = WARMUP + FAULT_EVERY;
    if (setup(&s) != 0) {
        fprintf(stderr, "soak: setup failed\n");
        return 2;
    }
    if (tick_until_registered(&s, 10000) != 0) {
        fprintf(stderr, "soak: never registered\n");
        return 2;
    }
    while (get_stats(&s).heartbeats_ok < WARMUP)
        tick(&s);
    usage_t start = usage();
    pmd_stats_t st0 = get_stats(&s);
    uint64_t t0 = now_ns(), next_fault = st0.heartbeats_ok + FAULT_EVERY;
    printf("soak: start: heartbeats %llu, RSS %ld KiB, fds %d, threads %d\n",
           (unsigned long long)st0.heartbeats_ok, start.rss_kb, start.fds, start.threads);
    fflush(stdout);

    uint64_t deadline = t0 + 600ull * 1000000000u; /* ten minutes at most */
    for (pmd_stats_t st = st0; st.heartbeats_ok - st0.heartbeats_ok < target; st = get_stats(&s)) {
        if (now_ns() > deadline) {
            fprintf(stderr, "soak: 10 minutes passed at %llu heartbeats\n",
                    (unsigned long long)(st.heartbeats_ok - st0.heartbeats_ok));
            failed = 1;
            break;
        }
        if (st.heartbeats_ok >= next_fault) {
            if (inject(&s, faults) != 0) {
                fprintf(stderr, "soak: fault %s could not be injected\n", fault_names[faults % 5]);
                failed = 1;
                break;
            }
            faults++;
            next_fault = st.heartbeats_ok + FAULT_EVERY;
        }
        tick(&s);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    if (tick_until_registered(&s, 10000) != 0 || !node_online(&s)) {
        fprintf(stderr, "soak: the node is not registered at the end (state %d)\n", s.host.state);
        failed = 1;
    }
    for (int i = 0; i < 200; i++) /* let freed connections and buffers settle */
        tick(&s);
    usage_t end = usage();
    pmd_stats_t st = get_stats(&s);
    printf("soak: end:   heartbeats %llu, RSS %ld KiB, fds %d, threads %d\n",
           (unsigned long long)st.heartbeats_ok, end.rss_kb, end.fds, end.threads);
    printf("soak: %llu heartbeats in %.1f s (%.0f/s), %d faults (%d rounds of %s/%s/%s/%s/%s), "
           "%llu re-registrations, %llu failed heartbeats, %llu connections, %llu events dropped\n",
           (unsigned long long)(st.heartbeats_ok - st0.heartbeats_ok), secs,
           (double)(st.heartbeats_ok - st0.heartbeats_ok) / secs, faults, faults / 5,
           fault_names[0], fault_names[1], fault_names[2], fault_names[3], fault_names[4],
           (unsigned long long)st.reregistrations,
           (unsigned long long)(st.heartbeats_failed_transport + st.heartbeats_failed_status +
                                st.heartbeats_failed_auth + st.heartbeats_not_registered),
           (unsigned long long)st.connections_opened, (unsigned long long)st.events_dropped);
    if (end.rss_kb - start.rss_kb > rss_slack) {
        fprintf(stderr, "soak: RSS grew by %ld KiB (bound %ld)\n", end.rss_kb - start.rss_kb,
                rss_slack);
        failed = 1;
    }
    if (end.fds > start.fds + 2 || end.threads > start.threads) {
        fprintf(stderr, "soak: descriptors %d -> %d, threads %d -> %d\n", start.fds, end.fds,
                start.threads, end.threads);
        failed = 1;
    }
    if (faults < (int)(target / FAULT_EVERY) - 1) {
        fprintf(stderr, "soak: only %d faults injected\n", faults);
        failed = 1;
    }
    s.p->stop(s.in);
    s.p->destroy(s.in);
    pmd_loader_close(&s.lp);
    orchd_stop(s.cp);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "soak: cannot remove %s\n", s.dir);
    printf("soak: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
