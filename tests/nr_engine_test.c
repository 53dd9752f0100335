/*
 * nr_engine_test.c - many nodes of node_registration.so in one process share
 * one network thread (plugin/node_registration/nr_engine.h). What sharing
 * must not break, tried end to end with the real plugin and orchd-dev:
 *   - one thread for all nodes, gone with the last stop (and back with the
 *     next start);
 *   - each node keeps its own kept-alive connection;
 *   - a node stuck on a control plane that never answers, or in a TLS
 *     handshake that never completes, delays no other node: their
 *     heartbeats go on, their stops stay quick, and its own stop stays
 *     within its deregister_timeout_ms;
 *   - a host whose descriptor table is full gets PMD_ERR_RESOURCE from start
 *     and one error line naming the cause, and a later start works.
 * Each node has its own recording host (test_host), so every callback is
 * checked against the instance it belongs to.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loader.h"
#include "orchd.h"
#include "test_host.h"

#define MAX_NODES 24

typedef struct node {
    test_host_t *host;
    pmd_instance_t *in;
    char id[32];
} node_t;

static host_loaded_plugin_t lp;
static const pmd_plugin_t *p;
static orchd_t *cp;
static node_t nodes[MAX_NODES];
static int silent_fd = -1;

static void setup(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    p = lp.plugin;
}

static void teardown(void)
{
    for (int i = 0; i < MAX_NODES; i++) {
        if (nodes[i].in)
            th_destroy(nodes[i].host, p, nodes[i].in);
        if (nodes[i].host) {
            cr_expect_eq(test_host_violations(nodes[i].host), 0, "%s",
                         test_host_violation(nodes[i].host, 0));
            test_host_free(nodes[i].host);
        }
    }
    memset(nodes, 0, sizeof(nodes));
    host_loader_close(&lp);
    orchd_stop(cp);
    cp = NULL;
    if (silent_fd >= 0)
        close(silent_fd);
    silent_fd = -1;
}

TestSuite(engine, .init = setup, .fini = teardown, .timeout = 90);

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* The thread count once it settles at want (up to 2 s): pthread_join returns
 * when the kernel clears the thread's id, a moment before the task leaves
 * /proc/self/task, and a loaded machine widens that moment. */
static int thread_count_settling_at(int want)
{
    int n = thread_count();
    for (int i = 0; i < 200 && n != want; i++) {
        usleep(10000);
        n = thread_count();
    }
    return n;
}

/* A node with heartbeats every 100 ms against url; extra: more config keys
 * (",\"k\":v"). Initialised, not started. */
static void init_node(int i, const char *url, const char *extra)
{
    char cfg[768], err[512] = "";
    node_t *n = &nodes[i];
    snprintf(n->id, sizeof(n->id), "engine-%02d", i);
    snprintf(cfg, sizeof(cfg),
             "{\"node_id\":\"%s\",\"address\":\"http://10.0.0.5:9200\","
             "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":100,"
             "\"retry_base_ms\":20,\"retry_max_ms\":200%s}",
             n->id, url, extra ? extra : "");
    n->host = test_host_new();
    cr_assert_eq(th_init(n->host, p, cfg, &n->in, err, sizeof(err)), PMD_OK, "init: %s", err);
}

static void start_node(int i, const char *url, const char *extra)
{
    init_node(i, url, extra);
    cr_assert_eq(th_start(nodes[i].host, p, nodes[i].in), PMD_OK);
}

/* Ticks nodes [0, count) every ~5 ms for ms. */
static void tick_all(int count, int ms)
{
    for (int t = 0; t < ms / 5; t++) {
        for (int i = 0; i < count; i++)
            if (nodes[i].in)
                th_tick(nodes[i].host, p, nodes[i].in, th_now_ns());
        usleep(5000);
    }
}

static int node_online(const char *id)
{
    json_object *n = orchd_node(cp, id), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), "Online") == 0;
    json_object_put(n);
    return ok;
}

/* Ticks nodes [first, count) until orchd-dev shows every one Online. */
static void tick_until_all_online(int first, int count, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        int all = 1;
        for (int i = first; i < count && all; i++)
            all = node_online(nodes[i].id);
        if (all)
            return;
        tick_all(count, 50);
    }
    cr_assert_fail("not every node Online within %d ms", timeout_ms);
}

static double stop_ms(int i)
{
    uint64_t t0 = th_now_ns();
    cr_assert_eq(th_stop(nodes[i].host, p, nodes[i].in), PMD_OK);
    return (double)(th_now_ns() - t0) / 1e6;
}

/* Requests orchd-dev recorded whose path ends with suffix. */
static long requests_ending(const char *suffix)
{
    json_object *all = orchd_get_json(cp, "/_dev/requests");
    long n = 0;
    for (size_t i = 0; all && i < json_object_array_length(all); i++) {
        json_object *r = json_object_array_get_idx(all, i);
        const char *path = json_object_get_string(json_object_object_get(r, "raw_path"));
        size_t lp_ = strlen(path), ls = strlen(suffix);
        n += lp_ >= ls && strcmp(path + lp_ - ls, suffix) == 0;
    }
    json_object_put(all);
    return n;
}

Test(engine, many_nodes_share_one_thread_that_ends_with_the_last_stop)
{
    cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    int before = thread_count(), count = 20;
    for (int i = 0; i < count; i++)
        start_node(i, orchd_url(cp), NULL);
    tick_until_all_online(0, count, 20000);
    /* 127.0.0.1 needs no resolver thread: the one thread is the engine. */
    int during = thread_count_settling_at(before + 1);
    cr_assert_eq(during, before + 1, "%d threads for %d nodes (%d before)", during, count, before);
    for (int i = 1; i < count; i++)
        stop_ms(i);
    cr_assert_eq(thread_count_settling_at(before + 1), before + 1,
                 "the last node still needs the thread");
    long hb = requests_ending("engine-00/heartbeat");
    tick_all(1, 600);
    cr_assert_gt(requests_ending("engine-00/heartbeat"), hb, "the last node stopped beating");
    stop_ms(0);
    cr_assert_eq(thread_count_settling_at(before), before, "the thread outlived the last stop");
    /* And a later start brings it back. */
    th_destroy(nodes[1].host, p, nodes[1].in);
    test_host_free(nodes[1].host);
    nodes[1].in = NULL;
    nodes[1].host = NULL;
    start_node(1, orchd_url(cp), NULL);
    tick_until_all_online(1, 2, 10000);
    cr_assert_eq(thread_count_settling_at(before + 1), before + 1);
}

Test(engine, each_node_keeps_its_own_kept_alive_connection)
{
    cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    int count = 5;
    for (int i = 0; i < count; i++)
        start_node(i, orchd_url(cp), NULL);
    tick_until_all_online(0, count, 10000);
    tick_all(count, 1000); /* ~10 heartbeats each */
    cr_assert_geq(requests_ending("/heartbeat"), 5 * count);
    cr_assert_eq(orchd_stat(cp, "connections"), count,
                 "%ld connections for %d nodes: nodes shared or dropped connections",
                 orchd_stat(cp, "connections"), count);
}

/* A TCP listener that never accepts: connections complete in the kernel's
 * backlog and requests are never answered. Returns its URL. */
static const char *silent_control_plane(void)
{
    static char url[64];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    silent_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(silent_fd, 0);
    cr_assert_eq(bind(silent_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(silent_fd, 64), 0);
    cr_assert_eq(getsockname(silent_fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    return url;
}

Test(engine, a_node_stuck_on_a_silent_control_plane_delays_no_other_node)
{
    cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    const char *silent = silent_control_plane();
    /* Nodes 0-2 hang in their register for 20 s; nodes 3-5 are healthy. */
    for (int i = 0; i < 3; i++)
        start_node(i, silent, ",\"request_timeout_ms\":20000,\"deregister_timeout_ms\":1000");
    for (int i = 3; i < 6; i++)
        start_node(i, orchd_url(cp), ",\"deregister_timeout_ms\":1000");
    tick_until_all_online(3, 6, 10000);
    long before = requests_ending("engine-03/heartbeat");
    tick_all(6, 1000);
    long beats = requests_ending("engine-03/heartbeat") - before;
    cr_assert_geq(beats, 5, "a healthy node sent %ld heartbeats in 1 s at 100 ms", beats);
    /* A healthy node's stop is its own DELETE (loopback: milliseconds), not
     * the stuck nodes' 20 s wait; 1 s leaves room for a loaded machine. */
    double healthy = stop_ms(3);
    cr_assert_lt(healthy, 1000.0, "a healthy node's stop took %.0f ms", healthy);
    cr_assert_eq(requests_ending("/v2/nodes/engine-03"), 1, "no DELETE from the healthy node");
    /* A stuck node's stop stays within its own bound (1 s), register in
     * flight and all, and the other healthy nodes go on meanwhile. */
    double stuck = stop_ms(0);
    cr_assert_lt(stuck, 1500.0, "a stuck node's stop took %.0f ms (bound 1000)", stuck);
    before = requests_ending("engine-04/heartbeat");
    tick_all(6, 600);
    cr_assert_gt(requests_ending("engine-04/heartbeat"), before + 2);
    cr_assert_lt(stop_ms(4), 1000.0);
    cr_assert_lt(stop_ms(1), 1500.0);
    cr_assert_lt(stop_ms(5), 1000.0);
    cr_assert_lt(stop_ms(2), 1500.0);
}

Test(engine, a_hung_tls_handshake_delays_no_other_node_and_its_stop_stays_bounded)
{
    cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    /* The listener takes the connection into its backlog and never answers
     * the ClientHello: the handshake hangs for the whole 20 s connect
     * timeout unless stop ends it. */
    char https[80];
    snprintf(https, sizeof(https), "https://%s", silent_control_plane() + strlen("http://"));
    start_node(0, https,
               ",\"connect_timeout_ms\":20000,\"request_timeout_ms\":20000,"
               "\"deregister_timeout_ms\":1000");
    start_node(1, orchd_url(cp), ",\"deregister_timeout_ms\":1000");
    tick_until_all_online(1, 2, 10000);
    long before = requests_ending("engine-01/heartbeat");
    tick_all(2, 1000);
    long beats = requests_ending("engine-01/heartbeat") - before;
    cr_assert_geq(beats, 5, "the healthy node sent %ld heartbeats in 1 s at 100 ms", beats);
    cr_assert_neq(test_host_last_state(nodes[0].host), PMD_NODE_REGISTERED);
    double hung = stop_ms(0);
    cr_assert_lt(hung, 1500.0, "stop during a hung handshake took %.0f ms (bound 1000)", hung);
    /* It really was stuck: its register was cut at half the budget and the
     * DELETE hung on the same listener until the bound. */
    cr_assert_gt(hung, 400.0, "stop took %.0f ms: nothing was in flight to cut", hung);
    before = requests_ending("engine-01/heartbeat");
    tick_all(2, 600);
    cr_assert_gt(requests_ending("engine-01/heartbeat"), before + 2);
    cr_assert_lt(stop_ms(1), 1000.0);
    cr_assert_eq(requests_ending("/v2/nodes/engine-01"), 1, "no DELETE from the healthy node");
}

/* Fills the host's descriptor table under a lowered limit; returns the
 * highest descriptor used. */
static int fill_descriptor_table(void)
{
    struct rlimit rl;
    int last = -1, fd;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 256;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        last = fd;
    return last;
}

Test(engine, a_full_descriptor_table_fails_start_with_one_clear_error)
{
    cp = orchd_start(NULL);
    cr_assert_not_null(cp);
    init_node(0, orchd_url(cp), NULL);
    int last = fill_descriptor_table();
    int32_t rc = th_start(nodes[0].host, p, nodes[0].in);
    int start_failed = test_host_log_count_matching(nodes[0].host, "event=start_failed");
    int names_cause = test_host_log_contains(nodes[0].host, "Too many open files");
    for (int fd = last; fd > 2 && fd > last - 64; fd--)
        close(fd); /* room again before asserting: Criterion needs descriptors */
    cr_assert_eq(rc, PMD_ERR_RESOURCE, "start returned %d with no descriptor left", rc);
    cr_assert_eq(start_failed, 1);
    cr_assert(names_cause, "the error line does not name the cause");
    cr_assert_eq(test_host_log_level(nodes[0].host, test_host_log_count(nodes[0].host) - 1),
                 PMD_LOG_ERROR);
    /* With room again, the same instance starts and registers. */
    cr_assert_eq(th_start(nodes[0].host, p, nodes[0].in), PMD_OK);
    tick_until_all_online(0, 1, 10000);
    cr_assert_lt(stop_ms(0), 1000.0);
}
