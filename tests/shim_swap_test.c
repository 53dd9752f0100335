/*
 * shim_swap_test.c - live swap of plugin builds in a running pmd-host-shim
 * (SIGHUP after --plugin names another file; README "Live swap of plugin
 * builds"), end to end: the real binary, a private orchd-dev, and the
 * control plane's request journal (GET /_dev/requests) as the witness.
 *
 * The shim runs --plugin DIR/current.so, a symlink that a test flips to
 * another build (rename of a new link over it, as a deployment does) before
 * SIGHUP. A good swap must show no DELETE, no heartbeat gap above one
 * interval + 500 ms and the node never Offline; a bad one (a build whose
 * init refuses the config, another ABI major, a missing file) must leave
 * the old instance heartbeating with exactly one ERROR line; a build
 * without handover falls back to on_stop + on_start.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orchd.h"

extern char **environ;

#define NODE "swap-test-node"
#define INTERVAL_MS 300
#define MAX_GAP_MS (INTERVAL_MS + 500)

static char dir[64];       /* per-test scratch directory */
static char err_path[96];  /* the shim's stderr */
static char link_path[96]; /* DIR/current.so, what --plugin names */
static orchd_t *cp;
static pid_t node; /* the shim, while it runs */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void setup(void)
{
    strcpy(dir, "/tmp/shim_swap_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
    snprintf(link_path, sizeof(link_path), "%s/current.so", dir);
    orchd_options_t opt = {.next_heartbeat_ms = INTERVAL_MS, .offline_timeout_ms = 1500};
    cp = orchd_start(&opt);
    cr_assert_not_null(cp, "orchd-dev did not start");
}

static void teardown(void)
{
    char cmd[128];
    if (node > 0) {
        kill(node, SIGKILL);
        waitpid(node, NULL, 0);
        node = 0;
    }
    orchd_stop(cp);
    cp = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(shim_swap, .init = setup, .fini = teardown, .timeout = 40);

/* Writes text to DIR/name through a rename (a reader never sees half). */
static const char *put_file(const char *name, const char *text)
{
    static char path[128];
    char tmp[140];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
    return path;
}

/* node_registration's config for the private control plane, valid for the
 * plain build and node_registration-test alike (machine_id and the
 * interval given, so the test build's baked defaults do not differ). */
static const char *write_nr_config(const char *extra)
{
    char text[768];
    snprintf(text, sizeof(text),
             "{\"node_id\": \"" NODE "\", \"machine_id\": \"swap-machine\", "
             "\"address\": \"http://127.0.0.1:9200\", \"orchestratord_url\": \"%s\", "
             "\"heartbeat_interval_ms\": %d, \"request_timeout_ms\": 1000, "
             "\"retry_base_ms\": 50%s}",
             orchd_url(cp), INTERVAL_MS, extra);
    return put_file("node.json", text);
}

/* Points DIR/current.so at target, atomically (a new link renamed over). */
static void flip_link(const char *target)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s/current.so.new", dir);
    unlink(tmp);
    cr_assert_eq(symlink(target, tmp), 0);
    cr_assert_eq(rename(tmp, link_path), 0);
}

/* cp src DIR/name (a new inode), returning the copy's path. */
static const char *copy_build(const char *src, const char *name)
{
    static char path[128];
    char cmd[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && mv '%s.tmp' '%s'", src, path, path, path);
    cr_assert_eq(system(cmd), 0);
    return path;
}

static const char *err_text(void)
{
    static char buf[512 * 1024];
    FILE *f = fopen(err_path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The shim on DIR/current.so with config, stderr to err_path. */
static void spawn_shim(const char *config)
{
    const char *argv[] = {
        SHIM_EXE,    "--plugin", link_path,        "--config", config,
        "--tick-ms", "20",       "--metrics-port", "0",        "--metrics-port-file",
        NULL,        NULL};
    char port_file[128];
    snprintf(port_file, sizeof(port_file), "%s/metrics.port", dir);
    argv[10] = port_file;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&node, SHIM_EXE, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
}

static void assert_running(const char *when)
{
    int status;
    pid_t got = waitpid(node, &status, WNOHANG);
    if (got == node)
        node = 0;
    cr_assert_eq(got, 0, "the shim ended %s (status 0x%x); stderr:\n%s", when, status, err_text());
}

static int node_status_is(const char *status)
{
    json_object *n = orchd_node(cp, NODE), *st = NULL;
    int is = n != NULL && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), status) == 0;
    json_object_put(n);
    return is;
}

/* For ms milliseconds (or, with needle, until stderr holds it `times`
 * times): the shim keeps running and, with online set, the control plane
 * never lists the node Offline. */
static void watch(int ms, const char *needle, int times, int online)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        assert_running("while watched");
        if (online)
            cr_assert(!node_status_is("Offline"), "the node went Offline; stderr:\n%s", err_text());
        if (needle != NULL && count_of(err_text(), needle) >= times)
            return;
        if (now_ms() >= end) {
            cr_assert(needle == NULL, "no \"%s\" (x%d) within %d ms; stderr:\n%s", needle, times,
                      ms, err_text());
            return;
        }
        sleep_ms(20);
    }
}

/* The shim with node_registration (through the link), Online. */
static void start_node(const char *target, const char *config)
{
    flip_link(target);
    spawn_shim(config);
    cr_assert_eq(orchd_wait_node_status(cp, NODE, "Online", 5000), 0,
                 "the node never came Online; stderr:\n%s", err_text());
    watch(2 * INTERVAL_MS, NULL, 0, 1);
}

/* Journal: requests by method, and the largest gap between heartbeats. */
static long journal(const char *method, long *max_gap_ms)
{
    json_object *all = orchd_get_json(cp, "/_dev/requests"), *v;
    cr_assert_not_null(all);
    long n = 0, last = -1, gap = 0;
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *e = json_object_array_get_idx(all, i);
        const char *m = json_object_object_get_ex(e, "method", &v) ? json_object_get_string(v) : "";
        const char *path =
            json_object_object_get_ex(e, "raw_path", &v) ? json_object_get_string(v) : "";
        long t = json_object_object_get_ex(e, "t_ms", &v) ? (long)json_object_get_int64(v) : 0;
        n += strcmp(m, method) == 0;
        if (strstr(path, "/heartbeat") == NULL)
            continue;
        if (last >= 0 && t - last > gap)
            gap = t - last;
        last = t;
    }
    json_object_put(all);
    if (max_gap_ms != NULL)
        *max_gap_ms = gap;
    return n;
}

static void assert_no_delete_and_no_gap(void)
{
    long gap;
    long deletes = journal("DELETE", &gap);
    cr_assert_eq(deletes, 0, "a swap sent a DELETE; stderr:\n%s", err_text());
    cr_assert_leq(gap, MAX_GAP_MS, "heartbeat gap %ld ms; stderr:\n%s", gap, err_text());
}

/* A string field of the control plane's NodeInfo (static copy). */
static const char *node_field(const char *key)
{
    static char out[256];
    json_object *n = orchd_node(cp, NODE), *v = NULL;
    out[0] = '\0';
    if (n != NULL && json_object_object_get_ex(n, key, &v) && v != NULL)
        snprintf(out, sizeof(out), "%s", json_object_get_string(v));
    json_object_put(n);
    return out;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t old = strlen(buf), add = size * n;
    if (old + add >= 64 * 1024)
        add = 64 * 1024 - 1 - old;
    memcpy(buf + old, data, add);
    buf[old + add] = '\0';
    return size * n;
}

/* The shim's /metrics text (static). */
static const char *scrape(void)
{
    static char body[64 * 1024];
    char url[64], path[128], port[16] = "";
    snprintf(path, sizeof(path), "%s/metrics.port", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(port, sizeof(port), f));
    fclose(f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", atoi(port));
    body[0] = '\0';
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "scrape %s: %s", url, curl_easy_strerror(rc));
    return body;
}

/* /metrics names the build (pmd_plugin_info{plugin=...}) and, once the new
 * instance's stats are read, shows it registered. */
static void assert_metrics_name(const char *name)
{
    char label[128];
    snprintf(label, sizeof(label), "pmd_plugin_info{plugin=\"%s\",", name);
    uint64_t end = now_ms() + 3000;
    while (strstr(scrape(), label) == NULL || strstr(scrape(), "pmd_stats_available 1") == NULL ||
           strstr(scrape(), "state=\"registered\"} 1") == NULL) {
        cr_assert(now_ms() < end, "no %s in /metrics:\n%s", label, scrape());
        sleep_ms(50);
    }
}

/* SIGTERM: exit 0 and the node deregistered (deletes DELETEs in all). */
static void assert_sigterm_deregisters(long deletes)
{
    kill(node, SIGTERM);
    int status = 0;
    uint64_t end = now_ms() + 8000;
    while (waitpid(node, &status, WNOHANG) == 0) {
        cr_assert(now_ms() < end, "the shim did not exit after SIGTERM");
        sleep_ms(10);
    }
    node = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x; stderr:\n%s", status,
              err_text());
    cr_assert_eq(orchd_wait_node_status(cp, NODE, NULL, 3000), 0, "the node is still listed");
    cr_assert_eq(journal("DELETE", NULL), deletes, "stderr:\n%s", err_text());
}

/* Flips the link to target, SIGHUPs, and waits for swap number n. */
static void swap_to(const char *target, int n)
{
    flip_link(target);
    kill(node, SIGHUP);
    watch(5000, "event=plugin_swapped", n, 1);
}

static long registrations(void)
{
    json_object *n = orchd_node(cp, NODE), *v = NULL;
    long r = n != NULL && json_object_object_get_ex(n, "registrations", &v)
                 ? (long)json_object_get_int64(v)
                 : -1;
    json_object_put(n);
    return r;
}

Test(shim_swap, symlink_flip_to_a_deployment_build_and_back_hands_the_node_over)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    long regs = registrations();
    char before[64];
    snprintf(before, sizeof(before), "%s", node_field("version"));

    swap_to(NODE_REGISTRATION_TEST_SO, 1);
    const char *log = err_text();
    cr_assert(strstr(log, " INFO  plugin=pmd-host-shim event=plugin_swapped "
                          "old=node_registration/") != NULL,
              "%s", log);
    cr_assert(strstr(log, "new=node_registration-test/") != NULL, "%s", log);
    cr_assert(strstr(log, "mode=handover") != NULL, "%s", log);
    cr_assert(strstr(log, "new_path=" NODE_REGISTRATION_TEST_SO) != NULL, "%s", log);
    watch(3 * INTERVAL_MS, NULL, 0, 1);
    cr_assert_gt(registrations(), regs, "the new build did not register (idempotently)");
    /* a deployment build reports its deployment in its version (0.1.0+test):
     * the control plane holds what the new build sent, and the shim names the
     * new build everywhere */
    char version[64];
    snprintf(version, sizeof(version), "%s", node_field("version"));
    cr_assert_neq(version[0], '\0');
    cr_assert_str_neq(version, before, "the version the control plane holds did not change");
    cr_assert(strstr(version, "+test") != NULL, "%s", version);
    char swapped[160];
    snprintf(swapped, sizeof(swapped), "new=node_registration-test/%s ", version);
    cr_assert(strstr(log, swapped) != NULL, "%s\n%s", swapped, log);
    assert_metrics_name("node_registration-test");
    cr_assert(strstr(err_text(), "plugin=node_registration-test ") != NULL,
              "no line with the new build's prefix:\n%s", err_text());

    regs = registrations();
    swap_to(NODE_REGISTRATION_SO, 2);
    watch(2 * INTERVAL_MS, NULL, 0, 1);
    cr_assert_str_eq(node_field("version"), before, "back to the plain build's version");
    cr_assert(strstr(err_text(), "old=node_registration-test/") != NULL, "%s", err_text());
    watch(3 * INTERVAL_MS, NULL, 0, 1);
    cr_assert_gt(registrations(), regs);
    assert_metrics_name("node_registration");
    cr_assert_eq(count_of(err_text(), "mode=handover"), 2, "%s", err_text());
    cr_assert_eq(count_of(err_text(), " ERROR "), 0, "%s", err_text());
    assert_no_delete_and_no_gap();
    assert_sigterm_deregisters(1);
}

Test(shim_swap, a_copy_of_the_same_build_under_another_name_swaps)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    const char *copy = copy_build(NODE_REGISTRATION_SO, "node_registration-copy.so");
    char want[200];
    snprintf(want, sizeof(want), "new=node_registration/");
    swap_to(copy, 1);
    cr_assert(strstr(err_text(), want) != NULL, "%s", err_text());
    cr_assert(strstr(err_text(), "node_registration-copy.so mode=handover") != NULL, "%s",
              err_text());
    watch(3 * INTERVAL_MS, NULL, 0, 1);
    assert_no_delete_and_no_gap();
    assert_sigterm_deregisters(1);
}

/* No symlink: the file --plugin names is replaced (mv over it). The new
 * build must be loaded, not the one the dynamic loader has under that name. */
Test(shim_swap, a_file_replaced_under_the_same_path_swaps)
{
    const char *plain = copy_build(NODE_REGISTRATION_SO, "plain.so");
    char plain_path[128];
    snprintf(plain_path, sizeof(plain_path), "%s", plain);
    start_node(plain_path, write_nr_config(""));
    copy_build(NODE_REGISTRATION_TEST_SO, "plain.so");
    kill(node, SIGHUP);
    watch(5000, "event=plugin_swapped", 1, 1);
    cr_assert(strstr(err_text(), "new=node_registration-test/") != NULL, "%s", err_text());
    watch(3 * INTERVAL_MS, NULL, 0, 1);
    assert_metrics_name("node_registration-test");
    assert_no_delete_and_no_gap();
    assert_sigterm_deregisters(1);
}

/* The swap to target is refused at stage: one ERROR line, the old build
 * keeps heartbeating, SIGTERM still deregisters with exit 0. */
static void assert_refused(const char *target, const char *stage, const char *why)
{
    flip_link(target);
    kill(node, SIGHUP);
    watch(5000, "event=swap_failed", 1, 1);
    long before = orchd_stat(cp, "requests.heartbeat");
    watch(4 * INTERVAL_MS, NULL, 0, 1);
    cr_assert_geq(orchd_stat(cp, "requests.heartbeat"), before + 2, "heartbeats stopped");
    const char *log = err_text();
    cr_assert_eq(count_of(log, " ERROR "), 1, "not exactly one ERROR line:\n%s", log);
    cr_assert(strstr(log, stage) != NULL, "no \"%s\":\n%s", stage, log);
    cr_assert(strstr(log, why) != NULL, "no \"%s\":\n%s", why, log);
    cr_assert(strstr(log, "action=kept_old old=node_registration/") != NULL, "%s", log);
    cr_assert_eq(count_of(log, "event=plugin_swapped"), 0, "%s", log);
    assert_no_delete_and_no_gap();
    assert_sigterm_deregisters(1);
}

Test(shim_swap, a_build_whose_init_refuses_the_config_is_rolled_back)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    write_nr_config(", \"connect_timeout_ms\": -5"); /* out of range */
    assert_refused(NODE_REGISTRATION_TEST_SO, "event=swap_failed stage=init ", "code=4 config=");
}

Test(shim_swap, a_build_of_another_abi_major_is_rolled_back)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    assert_refused(MAJOR2_SO, "event=swap_failed stage=load ", "ABI major mismatch");
}

Test(shim_swap, a_missing_build_is_rolled_back)
{
    char missing[128];
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    snprintf(missing, sizeof(missing), "%s/no-such-build.so", dir);
    assert_refused(missing, "event=swap_failed stage=load ", "No such file or directory");
}

/* The swap to target (a build without handover, config "{}"-like text)
 * falls back: the old instance stops (the node deregisters: one DELETE),
 * the new one starts, and the log says so and why. */
static void assert_stop_start_fallback(const char *target, const char *config, const char *why)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    put_file("node.json", config);
    swap_to(target, 1);
    const char *log = err_text();
    cr_assert(strstr(log, " WARN  plugin=pmd-host-shim event=swap_without_handover reason=") !=
                  NULL,
              "%s", log);
    cr_assert(strstr(log, why) != NULL, "no \"%s\":\n%s", why, log);
    cr_assert(strstr(log, "action=stop_start") != NULL, "%s", log);
    cr_assert(strstr(log, "event=plugin_swapped old=node_registration/") != NULL, "%s", log);
    cr_assert(strstr(log, "mode=stop_start") != NULL, "%s", log);
    cr_assert(strstr(log, "event=deregistered") != NULL, "%s", log);
    cr_assert_eq(orchd_wait_node_status(cp, NODE, NULL, 3000), 0, "the old node is still listed");
    cr_assert_eq(journal("DELETE", NULL), 1);
    watch(500, NULL, 0, 0);
    cr_assert_eq(count_of(err_text(), " ERROR "), 0, "%s", err_text());
    kill(node, SIGTERM);
    int status = 0;
    cr_assert_eq(waitpid(node, &status, 0), node);
    node = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x; stderr:\n%s", status,
              err_text());
}

/* example.so is a 1.2 build that leaves on_handover NULL. */
Test(shim_swap, a_build_without_handover_falls_back_to_stop_and_start)
{
    assert_stop_start_fallback(EXAMPLE_SO, "{\"log_every_ticks\": 0}",
                               "reason=\"example/0.1.0 does not offer on_handover/"
                               "on_start_handed_over\"");
}

/* minor1_plugin.so is an ABI 1.1 build (struct_size PMD_PLUGIN_SIZE_1_1). */
Test(shim_swap, an_abi_1_1_build_falls_back_to_stop_and_start)
{
    assert_stop_start_fallback(MINOR1_SO, "{}", "speaks plugin ABI 1.1 (handover needs 1.2)");
}

/* Same file, new config: nothing restarts, and a line says the config
 * waits for the next swap. */
Test(shim_swap, a_changed_config_without_a_new_build_is_not_applied)
{
    start_node(NODE_REGISTRATION_SO, write_nr_config(""));
    write_nr_config(", \"connect_timeout_ms\": 900");
    kill(node, SIGHUP);
    watch(5000, "event=config_not_applied", 1, 1);
    watch(2 * INTERVAL_MS, NULL, 0, 1);
    cr_assert_eq(count_of(err_text(), "event=plugin_swapped"), 0, "%s", err_text());
    cr_assert_eq(count_of(err_text(), "event=loaded"), 1, "%s", err_text());
    assert_no_delete_and_no_gap();
    assert_sigterm_deregisters(1);
}
