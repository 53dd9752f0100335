/*
 * soak.c - K instances of node_registration.so (distinct node ids, one
 * loaded plugin, default K = 25) heartbeating every 100 ms (the config's
 * floor for heartbeat_interval_ms) against one orchd-dev for a long run,
 * all ticked from the main thread. HEARTBEATS counts over all nodes (the sum
 * of their pmd.ext.stats/1 heartbeats_ok): at 25 nodes that is 250 a second,
 * so CI's 10,000 take about 40 s. Every 1,000 heartbeats (all nodes
 * together) a fault, rotating through:
 *   restart   POST /_dev/restart: the server forgets every node; each one's
 *             next heartbeat gets 404 and it registers again
 *   500       one heartbeat (of whichever node comes first) answered 500
 *   delay     one heartbeat delayed 2 s by the server, against a 500 ms
 *             request timeout: the request is abandoned mid-flight, the
 *             connection dropped, the late answer lands on a closed socket
 *   drop      one connection closed without an answer
 *   401       the server's token file changes (every node gets 401s and goes
 *             unauthorized: all must), then the api_token_file, which all
 *             nodes share, is rotated to match (all register again)
 * then checks that the process did not grow: RSS, open descriptors (summed
 * over every descriptor table: the shared network thread has a private
 * one, see proc_usage.c) and threads at the end against the start (after a
 * warm-up), and that every node is registered (orchd-dev's /_dev/nodes says
 * Online).
 *
 * Pacing: orchd-dev answers next_heartbeat_ms = 100. The plugin takes the
 * smaller of that and its interval, but never below min(1 s, interval), so
 * the interval (100 ms) is the rate either way; a node cannot be driven
 * faster, hence more nodes rather than a shorter interval.
 *
 *   soak [HEARTBEATS [NODES]]     (defaults 100000 and 25; NODES 1..200)
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
#define MIN_TARGET 3000 /* at least two faults after the warm-up */
#define DEFAULT_NODES 25
#define MAX_NODES 200
#define INTERVAL_MS 100
/* Heartbeats each node makes before the start figures are taken (its
 * connection, buffers and the allocator's arenas in place): 2 s at 100 ms,
 * as long as the old warm-up of 2,000 heartbeats at 1 ms. */
#define WARMUP_EACH 20

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

typedef struct node {
    pmd_instance_t *in;
    host_t host;
    char id[32];
} node_t;

typedef struct soak {
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    const pmd_ext_stats_t *stats;
    node_t *nodes;
    int n;
    orchd_t *cp;
    char dir[64], server_token[128], node_token[128];
    int token_gen;
} soak_t;

static pmd_stats_t get_stats(soak_t *s, int i)
{
    pmd_stats_t st;
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    s->stats->get(s->nodes[i].in, &st);
    return st;
}

/* The nodes' stats summed (the counters the report prints). */
static pmd_stats_t total_stats(soak_t *s)
{
    pmd_stats_t t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < s->n; i++) {
        pmd_stats_t st = get_stats(s, i);
        t.heartbeats_ok += st.heartbeats_ok;
        t.reregistrations += st.reregistrations;
        t.heartbeats_failed_transport += st.heartbeats_failed_transport;
        t.heartbeats_failed_status += st.heartbeats_failed_status;
        t.heartbeats_failed_auth += st.heartbeats_failed_auth;
        t.heartbeats_not_registered += st.heartbeats_not_registered;
        t.connections_opened += st.connections_opened;
        t.events_dropped += st.events_dropped;
    }
    return t;
}

static uint64_t total_heartbeats(soak_t *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->n; i++)
        n += get_stats(s, i).heartbeats_ok;
    return n;
}

/* One round: every node ticked once, then a short sleep. */
static void tick(soak_t *s)
{
    uint64_t t = now_ns();
    for (int i = 0; i < s->n; i++)
        s->p->on_tick(s->nodes[i].in, t);
    usleep(500);
}

/* Nodes in host state STATE (and, for REGISTERED, without failures). */
static int nodes_in(soak_t *s, int32_t state)
{
    int k = 0;
    for (int i = 0; i < s->n; i++)
        k += s->nodes[i].host.state == state &&
             (state != PMD_NODE_REGISTERED || get_stats(s, i).consecutive_failures == 0);
    return k;
}

/* Ticks until every node is registered again; 0, or -1 after timeout_ms. */
static int tick_until_registered(soak_t *s, int timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (nodes_in(s, PMD_NODE_REGISTERED) < s->n) {
        if (now_ns() > end)
            return -1;
        tick(s);
    }
    return 0;
}

/* Ticks until every node has made WARMUP_EACH heartbeats; 0, or -1. */
static int warm_up(soak_t *s, int timeout_ms)
{
    uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (int i = 0; i < s->n; i++)
        while (get_stats(s, i).heartbeats_ok < WARMUP_EACH) {
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
        /* Each node's next heartbeat (within one interval) gets 401. */
        for (uint64_t end = now_ns() + 5000000000u;
             nodes_in(s, PMD_NODE_UNAUTHORIZED) < s->n && now_ns() < end;)
            tick(s);
        if (nodes_in(s, PMD_NODE_UNAUTHORIZED) < s->n) {
            fprintf(stderr,
                    "soak: %d of %d nodes unauthorized 5 s after the server's token "
                    "changed\n",
                    nodes_in(s, PMD_NODE_UNAUTHORIZED), s->n);
            return -1;
        }
        write_file(s->node_token, token); /* the operator rotates the nodes */
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
    orchd_options_t opt = {.token_file = s->server_token, .next_heartbeat_ms = INTERVAL_MS};
    if ((s->cp = orchd_start(&opt)) == NULL)
        return -1;
    if (host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &s->lp,
                         err, sizeof(err)) != PMD_OK) {
        fprintf(stderr, "soak: %s\n", err);
        return -1;
    }
    s->p = s->lp.plugin;
    s->stats = host_loader_has_extensions(&s->lp) ? s->p->get_extension(PMD_EXT_STATS) : NULL;
    if (s->stats == NULL)
        return -1;
    for (int i = 0; i < s->n; i++) {
        node_t *nd = &s->nodes[i];
        snprintf(nd->id, sizeof(nd->id), "soak-node-%03d", i);
        pmd_host_t h = {sizeof(h),
                        PMD_ABI_VERSION_MAJOR,
                        PMD_ABI_VERSION_MINOR,
                        0,
                        &nd->host,
                        "soak",
                        "1",
                        h_log,
                        h_pools,
                        h_caps,
                        h_state,
                        NULL};
        snprintf(cfg, sizeof(cfg),
                 "{\"node_id\":\"%s\",\"address\":\"http://10.0.%d.%d:9200\","
                 "\"orchestratord_url\":\"%s\",\"api_token_file\":\"%s\","
                 "\"heartbeat_interval_ms\":%d,\"request_timeout_ms\":500,"
                 "\"connect_timeout_ms\":500,\"retry_base_ms\":10,\"retry_max_ms\":50}",
                 nd->id, i / 250, i % 250 + 1, orchd_url(s->cp), s->node_token, INTERVAL_MS);
        if (s->p->init(&h, cfg, &nd->in, err, sizeof(err)) != PMD_OK) {
            fprintf(stderr, "soak: init %s: %s\n", nd->id, err);
            return -1;
        }
        if (s->p->on_start(nd->in) != PMD_OK) {
            fprintf(stderr, "soak: start %s failed\n", nd->id);
            return -1;
        }
    }
    return 0;
}

static int node_online(soak_t *s, const char *id)
{
    json_object *n = orchd_node(s->cp, id), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), "Online") == 0;
    json_object_put(n);
    return ok;
}

static int parse_count(const char *arg, const char *what, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || v == 0 || v > max) {
        fprintf(stderr, "soak: bad %s \"%s\" (1..%llu)\nusage: soak [HEARTBEATS [NODES]]\n", what,
                arg, max);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static soak_t s;
    unsigned long long target = 100000, nodes = DEFAULT_NODES;
    int failed = 0, faults = 0;
    long rss_slack = getenv("SOAK_RSS_SLACK_KB") ? atol(getenv("SOAK_RSS_SLACK_KB")) : 4096;

    if (argc > 3 || (argc > 1 && parse_count(argv[1], "HEARTBEATS", 1ull << 40, &target) != 0) ||
        (argc > 2 && parse_count(argv[2], "NODES", MAX_NODES, &nodes) != 0))
        return 2;
    if (target < MIN_TARGET)
        target = MIN_TARGET;
    s.n = (int)nodes;
    if ((s.nodes = calloc((size_t)s.n, sizeof(*s.nodes))) == NULL || setup(&s) != 0) {
        fprintf(stderr, "soak: setup failed\n");
        return 2;
    }
    if (tick_until_registered(&s, 10000) != 0) {
        fprintf(stderr, "soak: %d of %d nodes registered after 10 s\n",
                nodes_in(&s, PMD_NODE_REGISTERED), s.n);
        return 2;
    }
    if (warm_up(&s, 30000) != 0) {
        fprintf(stderr, "soak: warm-up (%d heartbeats a node) not done after 30 s\n", WARMUP_EACH);
        return 2;
    }
    usage_t start = usage();
    uint64_t hb0 = total_heartbeats(&s);
    uint64_t t0 = now_ns(), next_fault = hb0 + FAULT_EVERY;
    printf("soak: %d nodes, %d ms interval, %llu heartbeats (all nodes), a fault every %d\n", s.n,
           INTERVAL_MS, target, FAULT_EVERY);
    printf("soak: start: heartbeats %llu, RSS %ld KiB, fds %d, threads %d\n",
           (unsigned long long)hb0, start.rss_kb, start.fds, start.threads);
    fflush(stdout);

    uint64_t deadline = t0 + 600ull * 1000000000u; /* ten minutes at most */
    for (uint64_t hb = hb0; hb - hb0 < target; hb = total_heartbeats(&s)) {
        if (now_ns() > deadline) {
            fprintf(stderr, "soak: 10 minutes passed at %llu heartbeats\n",
                    (unsigned long long)(hb - hb0));
            failed = 1;
            break;
        }
        if (hb >= next_fault) {
            if (inject(&s, faults) != 0) {
                fprintf(stderr, "soak: fault %s could not be injected\n", fault_names[faults % 5]);
                failed = 1;
                break;
            }
            faults++;
            next_fault = hb + FAULT_EVERY;
        }
        tick(&s);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    if (tick_until_registered(&s, 10000) != 0) {
        fprintf(stderr, "soak: %d of %d nodes registered at the end\n",
                nodes_in(&s, PMD_NODE_REGISTERED), s.n);
        failed = 1;
    }
    for (int i = 0; i < s.n; i++)
        if (!node_online(&s, s.nodes[i].id)) {
            fprintf(stderr, "soak: %s is not Online at the end (host state %d)\n", s.nodes[i].id,
                    s.nodes[i].host.state);
            failed = 1;
        }
    for (int i = 0; i < 200; i++) /* let freed connections and buffers settle */
        tick(&s);
    usage_t end = usage();
    pmd_stats_t st = total_stats(&s);
    printf("soak: end:   heartbeats %llu, RSS %ld KiB, fds %d, threads %d\n",
           (unsigned long long)st.heartbeats_ok, end.rss_kb, end.fds, end.threads);
    printf("soak: %llu heartbeats in %.1f s (%.0f/s), %d faults (%d rounds of %s/%s/%s/%s/%s), "
           "%llu re-registrations, %llu failed heartbeats, %llu connections, %llu events dropped\n",
           (unsigned long long)(st.heartbeats_ok - hb0), secs,
           (double)(st.heartbeats_ok - hb0) / secs, faults, faults / 5, fault_names[0],
           fault_names[1], fault_names[2], fault_names[3], fault_names[4],
           (unsigned long long)st.reregistrations,
           (unsigned long long)(st.heartbeats_failed_transport + st.heartbeats_failed_status +
                                st.heartbeats_failed_auth + st.heartbeats_not_registered),
           (unsigned long long)st.connections_opened, (unsigned long long)st.events_dropped);
    if (end.rss_kb - start.rss_kb > rss_slack) {
        fprintf(stderr, "soak: RSS grew by %ld KiB (bound %ld)\n", end.rss_kb - start.rss_kb,
                rss_slack);
        failed = 1;
    }
    if (start.fds < 0 || end.fds > start.fds + 2 || end.threads > start.threads) {
        fprintf(stderr, "soak: descriptors %d -> %d, threads %d -> %d\n", start.fds, end.fds,
                start.threads, end.threads);
        failed = 1;
    }
    if (faults < (int)(target / FAULT_EVERY) - 1) {
        fprintf(stderr, "soak: only %d faults injected\n", faults);
        failed = 1;
    }
    for (int i = 0; i < s.n; i++) {
        s.p->on_stop(s.nodes[i].in);
        s.p->destroy(s.nodes[i].in);
    }
    free(s.nodes);
    host_loader_close(&s.lp);
    orchd_stop(s.cp);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "soak: cannot remove %s\n", s.dir);
    printf("soak: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
