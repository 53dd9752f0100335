/*
 * hostile_test.c - node_registration.so against a hostile control plane:
 * bodies that never end or are far too big, a server that trickles, answers
 * that are not JSON or have the wrong types, a redirect to another host, a
 * 204 with a body, an answer cut into 1-byte TCP segments, a reset
 * connection. orchd-dev plays the server (its fault injection, including
 * the raw-socket modes "tiny_segments" and "reset").
 *
 * Each test asserts what the plugin does about it - stays registered or
 * retries, keeps its memory and time bounded, never lets the token reach
 * another host - and that the node recovers when the fault clears. The host
 * thread is never blocked: every tick is timed.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_merge.h"
#include "loader.h"
#include "orchd.h"
#include "proc_usage.h"
#include "test_host.h"

#define NODE "node-hostile"
#define TOKEN "tok-hostile-0123456789"
#define TICK_BUDGET_MS 50 /* on_tick never blocks: far below a request */

typedef struct fixture {
    orchd_t *cp, *other;
    test_host_t *host;
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    pmd_instance_t *in;
    uint64_t max_tick_ns;
    long rss_max_kb;
} fixture_t;

static fixture_t fx;

static void setup(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &fx.lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    fx.p = fx.lp.plugin;
    fx.host = test_host_new();
}

static void teardown(void)
{
    if (fx.in)
        th_destroy(fx.host, fx.p, fx.in);
    if (fx.host) {
        cr_expect_eq(test_host_violations(fx.host), 0, "%s", test_host_violation(fx.host, 0));
        for (int i = 0; i < test_host_log_count(fx.host); i++)
            cr_expect_null(strstr(test_host_log(fx.host, i), TOKEN), "token in a log line");
        test_host_free(fx.host);
    }
    if (fx.lp.dl_handle)
        host_loader_close(&fx.lp);
    orchd_stop(fx.cp);
    orchd_stop(fx.other);
    memset(&fx, 0, sizeof(fx));
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 60);

/* ---------------------------------------------------------------------- */

static void start_cp(void)
{
    orchd_options_t opt = {.token = TOKEN, .next_heartbeat_ms = 100};
    fx.cp = orchd_start(&opt);
    cr_assert_not_null(fx.cp, "orchd-dev did not start");
}

static void start_node(const char *extra)
{
    char *base = NULL, err[512] = "";
    cr_assert_gt(asprintf(&base,
                          "{\"node_id\":\"" NODE "\",\"address\":\"http://10.0.0.5:9200\","
                          "\"orchestratord_url\":\"%s\",\"api_token\":\"" TOKEN "\","
                          "\"heartbeat_interval_ms\":100,\"retry_base_ms\":20,"
                          "\"retry_max_ms\":200,\"request_timeout_ms\":1000}",
                          orchd_url(fx.cp)),
                 0);
    char *cfg = test_config_merge(base, extra);
    free(base);
    int32_t rc = th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err));
    free(cfg);
    cr_assert_eq(rc, PMD_OK, "init: %s", err);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
}

/* One timed tick; remembers the slowest tick and the highest RSS. */
static void tick(void)
{
    uint64_t t0 = th_now_ns();
    th_tick(fx.host, fx.p, fx.in, t0);
    uint64_t dt = th_now_ns() - t0;
    long kb = proc_rss_kb();
    if (dt > fx.max_tick_ns)
        fx.max_tick_ns = dt;
    if (kb > fx.rss_max_kb)
        fx.rss_max_kb = kb;
    usleep(5000);
}

static void tick_for(int ms)
{
    uint64_t end = th_now_ns() + (uint64_t)ms * 1000000u;
    while (th_now_ns() < end)
        tick();
}

/* Ticks until pred() or timeout_ms; returns the milliseconds it took, or -1. */
static long tick_until(int (*pred)(void), int timeout_ms)
{
    uint64_t t0 = th_now_ns(), end = t0 + (uint64_t)timeout_ms * 1000000u;
    while (!pred()) {
        if (th_now_ns() > end)
            return -1;
        tick();
    }
    return (long)((th_now_ns() - t0) / 1000000u);
}

static pmd_stats_t stats(void)
{
    pmd_stats_t s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    cr_assert(host_loader_has_extensions(&fx.lp));
    const pmd_ext_stats_t *ext = fx.p->get_extension(PMD_EXT_STATS);
    cr_assert_not_null(ext);
    cr_assert_eq(ext->get(fx.in, &s), PMD_OK);
    return s;
}

static int registered(void)
{
    return test_host_last_state(fx.host) == PMD_NODE_REGISTERED;
}

static int online(void)
{
    json_object *n = orchd_node(fx.cp, NODE), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), "Online") == 0;
    json_object_put(n);
    return ok;
}

static int degraded(void)
{
    return test_host_last_state(fx.host) == PMD_NODE_DEGRADED;
}

static uint64_t hb_ok_mark;
static int heartbeats_ok_again(void)
{
    return registered() && stats().heartbeats_ok >= hb_ok_mark + 3;
}

static int hb_failed_mark;
static int three_more_heartbeat_failures(void)
{
    pmd_stats_t s = stats();
    return (int)(s.heartbeats_failed_transport + s.heartbeats_failed_status) >= hb_failed_mark + 3;
}

static void online_now(void)
{
    start_cp();
    start_node(NULL);
    cr_assert_geq(tick_until(online, 10000), 0, "never Online");
}

/* The fault is cleared: the node must be registered and heartbeating. */
static void recovers(void)
{
    cr_assert_eq(orchd_clear_faults(fx.cp), 0);
    hb_ok_mark = stats().heartbeats_ok;
    cr_assert_geq(tick_until(heartbeats_ok_again, 10000), 0, "no recovery: state %d",
                  test_host_last_state(fx.host));
    cr_assert(online());
}

static void host_never_blocked(void)
{
    cr_assert_lt(fx.max_tick_ns / 1000000u, TICK_BUDGET_MS, "a tick took %llu ms",
                 (unsigned long long)(fx.max_tick_ns / 1000000u));
}

static void set_fault(const char *json)
{
    cr_assert_eq(orchd_fault(fx.cp, json), 0, "fault %s", json);
}

/* ---------------------------------------------------------------------- */

/* A huge or endless body is cut at 64 KiB: memory stays flat while the
 * server offers a gigabyte per request, and the node keeps its schedule. */
static void bounded_body(const char *fault)
{
    online_now();
    tick_for(300);
    long base = proc_rss_kb();
    fx.rss_max_kb = base;
    hb_failed_mark = (int)(stats().heartbeats_failed_transport + stats().heartbeats_failed_status);
    set_fault(fault);
    cr_assert_geq(tick_until(three_more_heartbeat_failures, 5000), 0, "heartbeats did not fail");
    tick_for(1000);
    cr_assert_lt(fx.rss_max_kb - base, 16 * 1024, "RSS grew by %ld KiB", fx.rss_max_kb - base);
    cr_assert(test_host_log_contains(fx.host, "response body over"));
    recovers();
    host_never_blocked();
}

Test(hostile, a_1_gib_response_is_cut_at_64_kib_and_memory_stays_flat)
{
    bounded_body("{\"match\":\"heartbeat\",\"body_mode\":\"huge\"}");
}

Test(hostile, an_endless_chunked_body_is_cut_at_64_kib_and_memory_stays_flat)
{
    bounded_body("{\"match\":\"heartbeat\",\"body_mode\":\"endless\"}");
}

Test(hostile, a_huge_registration_answer_is_retried_not_swallowed)
{
    start_cp();
    set_fault("{\"match\":\"register\",\"body_mode\":\"huge\",\"count\":3}");
    long base = proc_rss_kb();
    fx.rss_max_kb = base;
    start_node(NULL);
    cr_assert_geq(tick_until(online, 15000), 0, "never Online");
    cr_assert_geq(stats().registrations_failed_transport, 3);
    cr_assert_lt(fx.rss_max_kb - base, 16 * 1024, "RSS grew by %ld KiB", fx.rss_max_kb - base);
    host_never_blocked();
}

/* 1 byte a second: each heartbeat ends at the request timeout, not when the
 * server is done; three of them make the node degraded, then it recovers. */
Test(hostile, a_trickling_server_is_bounded_by_the_request_timeout)
{
    start_cp();
    start_node("\"request_timeout_ms\":300");
    cr_assert_geq(tick_until(online, 10000), 0, "never Online");
    set_fault("{\"match\":\"heartbeat\",\"body_mode\":\"trickle\"}");
    long ms = tick_until(degraded, 5000);
    cr_assert_geq(ms, 0, "heartbeats did not time out");
    /* three timeouts of 300 ms on a 100 ms grid, plus slack */
    cr_assert_lt(ms, 3 * (300 + 100) + 600, "three trickled heartbeats took %ld ms", ms);
    cr_assert_geq(stats().heartbeats_failed_transport, 3);
    cr_assert(test_host_log_contains(fx.host, "Timeout") ||
              test_host_log_contains(fx.host, "timed out"));
    recovers();
    host_never_blocked();
}

/* Garbage in a 200 is still a 200: the status decides, the body is only
 * advice, so the node stays registered at its own pace. */
Test(hostile, invalid_json_in_answers_keeps_the_node_registered)
{
    start_cp();
    set_fault(
        "{\"match\":\"register\",\"status\":200,\"body\":\"{\\\"success\\\":tru\",\"count\":1}");
    set_fault("{\"match\":\"heartbeat\",\"status\":200,\"body\":\"\\u0000\\u00ff{]]\"}");
    start_node(NULL);
    cr_assert_geq(tick_until(registered, 10000), 0, "not registered");
    uint64_t before = stats().heartbeats_ok;
    tick_for(1000);
    pmd_stats_t s = stats();
    cr_assert_geq(s.heartbeats_ok - before, 5, "%llu heartbeats in 1 s",
                  (unsigned long long)(s.heartbeats_ok - before));
    cr_assert_leq(s.heartbeats_ok - before, 12, "%llu heartbeats in 1 s at 100 ms",
                  (unsigned long long)(s.heartbeats_ok - before));
    cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_REGISTERED);
    recovers();
    host_never_blocked();
}

/* next_heartbeat_ms as a string, negative, fractional, huge, or success as a
 * number: ignored as advice, never a crash, never a faster pace. */
Test(hostile, wrongly_typed_fields_are_ignored)
{
    static const char *const bodies[] = {
        "{\\\"success\\\":true,\\\"next_heartbeat_ms\\\":\\\"1\\\"}",
        "{\\\"success\\\":true,\\\"next_heartbeat_ms\\\":-1}",
        "{\\\"success\\\":true,\\\"next_heartbeat_ms\\\":0.5}",
        "{\\\"success\\\":true,\\\"next_heartbeat_ms\\\":1e30}",
        "{\\\"success\\\":true,\\\"next_heartbeat_ms\\\":99999999999999999999999}",
        "{\\\"success\\\":1,\\\"next_heartbeat_ms\\\":null}",
        "[1,2,3]",
    };
    start_cp();
    start_node("\"heartbeat_interval_ms\":200");
    cr_assert_geq(tick_until(registered, 10000), 0, "not registered");
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char fault[256];
        snprintf(fault, sizeof(fault), "{\"match\":\"heartbeat\",\"status\":200,\"body\":\"%s\"}",
                 bodies[i]);
        cr_assert_eq(orchd_clear_faults(fx.cp), 0);
        set_fault(fault);
        uint64_t before = stats().heartbeats_ok;
        tick_for(600);
        uint64_t sent = stats().heartbeats_ok - before;
        cr_assert_geq(sent, 1, "body %zu: no heartbeat in 600 ms", i);
        cr_assert_leq(sent, 4, "body %zu: %llu heartbeats in 600 ms at 200 ms", i,
                      (unsigned long long)sent);
        cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_REGISTERED, "body %zu", i);
    }
    recovers();
    host_never_blocked();
}

/* A redirect to another host is an error: never followed, so the second
 * control plane never sees a request, let alone the token. */
Test(hostile, a_redirect_to_another_host_is_never_followed)
{
    char fault[256];
    start_cp();
    fx.other = orchd_start(NULL);
    cr_assert_not_null(fx.other);
    snprintf(fault, sizeof(fault), "{\"redirect\":\"http://localhost:%d/v2/nodes/register\"}",
             orchd_port(fx.other));
    set_fault(fault);
    start_node(NULL);
    tick_for(1500);
    cr_assert_neq(test_host_last_state(fx.host), PMD_NODE_REGISTERED);
    cr_assert(test_host_log_contains(fx.host, "HTTP 302"));
    json_object *seen = orchd_get_json(fx.other, "/_dev/requests");
    cr_assert_not_null(seen);
    cr_assert_eq(json_object_array_length(seen), 0, "the redirect target got %zu requests",
                 json_object_array_length(seen));
    json_object_put(seen);
    cr_assert_eq(orchd_stat(fx.other, "connections"), 0);
    cr_assert_eq(orchd_clear_faults(fx.cp), 0);
    cr_assert_geq(tick_until(online, 10000), 0, "never Online after the redirect stopped");
    host_never_blocked();
}

/* 204 No Content that carries a body anyway (and a Content-Length): a 2xx,
 * so registered; the stray bytes are not taken for the next answer. */
Test(hostile, a_204_with_a_body_is_a_success_and_harmless)
{
    start_cp();
    set_fault("{\"match\":\"register\",\"status\":204,\"body\":\"x\",\"count\":1}");
    set_fault("{\"match\":\"heartbeat\",\"status\":204,\"body\":\"{\\\"next_heartbeat_ms\\\":1}\","
              "\"count\":5}");
    start_node(NULL);
    cr_assert_geq(tick_until(registered, 10000), 0, "not registered");
    hb_ok_mark = stats().heartbeats_ok;
    cr_assert_geq(tick_until(heartbeats_ok_again, 5000), 0, "heartbeats did not succeed");
    pmd_stats_t s = stats();
    cr_assert_eq(s.heartbeats_failed_transport + s.heartbeats_failed_status, 0);
    recovers();
    host_never_blocked();
}

/* Every byte of the answer, status line included, in its own TCP segment:
 * reassembled, parsed, and the next heartbeat goes out as usual. */
Test(hostile, an_answer_in_1_byte_segments_is_reassembled)
{
    start_cp();
    set_fault("{\"match\":\"register\",\"body_mode\":\"tiny_segments\",\"count\":1}");
    set_fault("{\"match\":\"heartbeat\",\"body_mode\":\"tiny_segments\",\"count\":3}");
    start_node(NULL);
    cr_assert_geq(tick_until(registered, 10000), 0, "not registered");
    hb_ok_mark = stats().heartbeats_ok;
    cr_assert_geq(tick_until(heartbeats_ok_again, 10000), 0, "heartbeats did not succeed");
    pmd_stats_t s = stats();
    cr_assert_eq(s.registrations_failed_transport + s.heartbeats_failed_transport, 0,
                 "a segmented answer was taken for a failure: %s", s.last_error);
    cr_assert_eq(orchd_stat(fx.cp, "faults_active"), 0, "not every segmented answer was used");
    recovers();
    host_never_blocked();
}

/* RST instead of an answer: a transport failure, retried with backoff;
 * heartbeats keep their schedule and the node recovers. */
Test(hostile, an_immediate_reset_is_retried)
{
    start_cp();
    set_fault("{\"match\":\"register\",\"reset\":true,\"count\":2}");
    start_node(NULL);
    cr_assert_geq(tick_until(online, 10000), 0, "never Online");
    cr_assert_geq(stats().registrations_failed_transport, 2);
    /* libcurl itself retries once, on a fresh connection, a request whose
     * reused connection died before any answer: so a reset can cost the
     * fault two uses. Six resets make at least three failures in a row. */
    set_fault("{\"match\":\"heartbeat\",\"reset\":true,\"count\":6}");
    cr_assert_geq(tick_until(degraded, 5000), 0, "resets did not degrade the node");
    cr_assert(test_host_log_contains(fx.host, "reset") ||
              test_host_log_contains(fx.host, "Recv failure"));
    recovers();
    host_never_blocked();
}
