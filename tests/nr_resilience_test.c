/*
 * nr_resilience_test.c - node_registration.so against a misbehaving control
 * plane (orchd-dev's fault injection): retries with backoff, re-registration
 * after a control-plane restart, degradation and recovery, server pacing,
 * token rotation, Retry-After, pool-set changes, bounds, TLS and mTLS.
 * Each test guards one behaviour and fails when that behaviour is removed.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_merge.h"
#include "loader.h"
#include "orchd.h"
#include "test_host.h"

typedef struct fixture {
    orchd_t *cp;
    test_host_t *host;
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    pmd_instance_t *in;
    char node_id[64];
    char dir[64];
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
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/nr-res-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.dir));
}

static void teardown(void)
{
    if (fx.in)
        th_destroy(fx.host, fx.p, fx.in);
    if (fx.host) {
        cr_expect_eq(test_host_violations(fx.host), 0, "%s", test_host_violation(fx.host, 0));
        test_host_free(fx.host);
    }
    if (fx.lp.dl_handle)
        host_loader_close(&fx.lp);
    if (fx.cp)
        orchd_stop(fx.cp);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx.dir);
    if (fx.dir[0] && system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", fx.dir);
    memset(&fx, 0, sizeof(fx));
}

TestSuite(resilience, .init = setup, .fini = teardown, .timeout = 90);

static void start_cp(const orchd_options_t *opt)
{
    fx.cp = orchd_start(opt);
    cr_assert_not_null(fx.cp, "orchd-dev did not start");
}

static void start_node(const char *url, const char *extra)
{
    char *base = NULL, err[512] = "";
    snprintf(fx.node_id, sizeof(fx.node_id), "node-res");
    cr_assert_gt(asprintf(&base,
                          "{\"node_id\":\"node-res\",\"address\":\"http://10.0.0.5:9200\","
                          "\"orchestratord_url\":\"%s\",\"heartbeat_interval_ms\":100,"
                          "\"retry_base_ms\":20,\"retry_max_ms\":200,\"request_timeout_ms\":400}",
                          url),
                 0);
    char *cfg = test_config_merge(base, extra);
    free(base);
    int32_t rc = th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err));
    free(cfg);
    cr_assert_eq(rc, PMD_OK, "init: %s", err);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
}

static int has_status(const char *status)
{
    json_object *n = orchd_node(fx.cp, fx.node_id), *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), status) == 0;
    json_object_put(n);
    return ok;
}

static int online(void *arg)
{
    (void)arg;
    return has_status("Online");
}

static int state_is(void *arg)
{
    return test_host_last_state(fx.host) == *(int32_t *)arg;
}

static void tick_until_state(int32_t state, int timeout_ms)
{
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, state_is, &state, timeout_ms),
              "state %d not reached (last %d)", state, test_host_last_state(fx.host));
}

static void tick_until_online(int timeout_ms)
{
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, online, NULL, timeout_ms), "never Online");
    th_tick_for(fx.host, fx.p, fx.in, 50); /* let queued log lines reach the host */
}

/* Asserts a log line contains needle; on failure prints every line seen. */
static void assert_logged(const char *needle)
{
    if (test_host_log_contains(fx.host, needle))
        return;
    for (int i = 0; i < test_host_log_count(fx.host); i++)
        fprintf(stderr, "  log[%d] %s\n", i, test_host_log(fx.host, i));
    cr_assert_fail("no log line contains \"%s\"", needle);
}

/* Requests of one kind recorded by orchd-dev: their t_ms, oldest first. */
static size_t request_times(const char *suffix, long *t_ms, size_t max)
{
    json_object *all = orchd_get_json(fx.cp, "/_dev/requests");
    size_t n = 0;
    for (size_t i = 0; all && i < json_object_array_length(all) && n < max; i++) {
        json_object *r = json_object_array_get_idx(all, i);
        const char *path = json_object_get_string(json_object_object_get(r, "raw_path"));
        size_t lp = strlen(path), ls = strlen(suffix);
        if (lp >= ls && strcmp(path + lp - ls, suffix) == 0)
            t_ms[n++] = json_object_get_int64(json_object_object_get(r, "t_ms"));
    }
    json_object_put(all);
    return n;
}

static void write_file(const char *path, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

/* ---------------------------------------------------------------------- */

Test(resilience, registration_retries_with_backoff_until_accepted)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"status\":503,\"count\":3}"), 0);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"drop\":true,\"count\":2}"), 0);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    long t[16];
    size_t n = request_times("/v2/nodes/register", t, 16);
    cr_assert_eq(n, 6, "expected 5 failures then success, saw %zu registrations", n);
    cr_assert(test_host_log_contains(fx.host, "event=register_failed"));
}

Test(resilience, registration_timeout_is_retried)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"hang\":true,\"count\":1}"), 0);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    assert_logged("Timeout");
}

Test(resilience, registration_is_retried_against_a_closed_port)
{
    start_cp(NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", orchd_port(fx.cp));
    orchd_stop(fx.cp); /* nothing listens there any more */
    fx.cp = NULL;
    start_node(url, NULL);
    th_tick_for(fx.host, fx.p, fx.in, 600);
    int failures = test_host_log_count_matching(fx.host, "event=register_failed");
    cr_assert_geq(failures, 2, "refused registrations must be retried");
    cr_assert_lt(failures, 60, "backoff must keep retries sparse (%d in 600 ms)", failures);
    cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_REGISTERING);
}

Test(resilience, retry_after_is_honoured)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"status\":503,\"retry_after\":1,"
                                    "\"count\":1}"),
                 0);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    long t[4];
    cr_assert_eq(request_times("/v2/nodes/register", t, 4), 2);
    cr_assert_geq(t[1] - t[0], 1000, "retried after %ld ms despite Retry-After: 1", t[1] - t[0]);
}

Test(resilience, heartbeat_404_registers_again_without_a_404_loop)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    cr_assert_eq(orchd_restart(fx.cp), 0); /* the control plane forgot every node */
    tick_until_online(5000);
    th_tick_for(fx.host, fx.p, fx.in, 400);
    json_object *all = orchd_get_json(fx.cp, "/_dev/requests");
    int not_found = 0;
    for (size_t i = 0; i < json_object_array_length(all); i++)
        not_found += json_object_get_int(json_object_object_get(json_object_array_get_idx(all, i),
                                                                "status")) == 404;
    json_object_put(all);
    cr_assert_eq(not_found, 1, "heartbeated into 404 %d times", not_found);
    cr_assert(test_host_log_contains(fx.host, "event=heartbeat_not_registered"));
}

Test(resilience, three_heartbeat_failures_degrade_then_recover_on_a_new_connection)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    long before = orchd_stat(fx.cp, "connections");
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"status\":500,\"count\":3}"), 0);
    tick_until_state(PMD_NODE_DEGRADED, 5000);
    tick_until_state(PMD_NODE_REGISTERED, 5000);
    cr_assert_gt(orchd_stat(fx.cp, "connections"), before,
                 "the connection must be made afresh after degradation");
    cr_assert(test_host_log_contains(fx.host, "action=reconnect"));
}

Test(resilience, a_hanging_heartbeat_never_overlaps_the_next)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), "\"request_timeout_ms\":800");
    tick_until_online(10000);
    long before = orchd_stat(fx.cp, "requests.heartbeat");
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"hang\":true,\"count\":1}"), 0);
    th_tick_for(fx.host, fx.p, fx.in, 150); /* the next heartbeat now hangs */
    long during_start = orchd_stat(fx.cp, "requests.heartbeat");
    th_tick_for(fx.host, fx.p, fx.in, 500); /* 5 intervals pass inside the hang */
    long during_end = orchd_stat(fx.cp, "requests.heartbeat");
    cr_assert_eq(during_end, during_start, "a second heartbeat was sent while one hung");
    cr_assert_gt(during_start, before);
    th_tick_for(fx.host, fx.p, fx.in, 600);
    cr_assert_gt(orchd_stat(fx.cp, "requests.heartbeat"), during_end, "heartbeats resume");
}

Test(resilience, server_pacing_shortens_the_interval_to_its_deadline)
{
    orchd_options_t opt = {.next_heartbeat_ms = 1000};
    start_cp(&opt);
    start_node(orchd_url(fx.cp), "\"heartbeat_interval_ms\":4000");
    tick_until_online(10000);
    long before = orchd_stat(fx.cp, "requests.heartbeat");
    th_tick_for(fx.host, fx.p, fx.in, 3300);
    long sent = orchd_stat(fx.cp, "requests.heartbeat") - before;
    cr_assert_geq(sent, 3, "server asked for 1 s, node sent %ld heartbeats in 3.3 s", sent);
}

Test(resilience, server_pacing_cannot_make_the_node_flood)
{
    orchd_options_t opt = {.next_heartbeat_ms = 1};
    start_cp(&opt);
    start_node(orchd_url(fx.cp), "\"heartbeat_interval_ms\":4000");
    tick_until_online(10000);
    long before = orchd_stat(fx.cp, "requests.heartbeat");
    th_tick_for(fx.host, fx.p, fx.in, 2500);
    long sent = orchd_stat(fx.cp, "requests.heartbeat") - before;
    cr_assert_leq(sent, 4, "floor of 1 s broken: %ld heartbeats in 2.5 s", sent);
    cr_assert_geq(sent, 1);
}

Test(resilience, token_rotation_recovers_from_unauthorized_within_seconds)
{
    char server_token[128], node_token[128], extra[200];
    snprintf(server_token, sizeof(server_token), "%s/server-token", fx.dir);
    snprintf(node_token, sizeof(node_token), "%s/node-token", fx.dir);
    write_file(server_token, "tok-AAAA-first\n");
    write_file(node_token, "tok-AAAA-first\n");
    orchd_options_t opt = {.token_file = server_token};
    start_cp(&opt);
    snprintf(extra, sizeof(extra), "\"api_token_file\":\"%s\"", node_token);
    start_node(orchd_url(fx.cp), extra);
    tick_until_online(10000);
    write_file(server_token, "tok-BBBB-second\n"); /* the control plane rotated */
    tick_until_state(PMD_NODE_UNAUTHORIZED, 5000);
    long attempts = orchd_stat(fx.cp, "status.401");
    th_tick_for(fx.host, fx.p, fx.in, 1000);
    cr_assert_leq(orchd_stat(fx.cp, "status.401") - attempts, 1, "tight loop against 401");
    uint64_t t0 = th_now_ns();
    write_file(node_token, "tok-BBBB-second\n"); /* the operator rotates the node */
    tick_until_state(PMD_NODE_REGISTERED, 5000);
    uint64_t ms = (th_now_ns() - t0) / 1000000;
    cr_assert_lt(ms, 3000, "rotation took %llu ms", (unsigned long long)ms);
    cr_assert(test_host_log_contains(fx.host, "event=token_reloaded"));
}

/* A token file others can read is reported once at start, naming the mode;
 * one only its owner can read is not. */
static int token_file_warnings_for_mode(mode_t mode)
{
    char node_token[128], extra[200];
    snprintf(node_token, sizeof(node_token), "%s/node-token-%o", fx.dir, (unsigned)mode);
    write_file(node_token, "tok-perm\n");
    cr_assert_eq(chmod(node_token, mode), 0);
    snprintf(extra, sizeof(extra), "\"api_token_file\":\"%s\"", node_token);
    start_node(orchd_url(fx.cp), extra);
    tick_until_online(10000);
    th_tick_for(fx.host, fx.p, fx.in, 300);
    int n = test_host_log_count_matching(fx.host, "event=token_file_permissions");
    th_stop(fx.host, fx.p, fx.in);
    th_destroy(fx.host, fx.p, fx.in);
    fx.in = NULL;
    return n;
}

Test(resilience, a_token_file_readable_by_others_is_warned_about_once)
{
    orchd_options_t opt = {.token = "tok-perm"};
    start_cp(&opt);
    cr_assert_eq(token_file_warnings_for_mode(0644), 1, "one warning for mode 0644");
    cr_assert(test_host_log_contains(fx.host, "mode=0644"));
    cr_assert_eq(token_file_warnings_for_mode(0600), 1, "no new warning for mode 0600");
}

Test(resilience, pool_set_change_registers_again)
{
    start_cp(NULL);
    test_host_set_pools_json(fx.host, "[{\"pool_id\":\"pool-0\",\"ready\":true,\"draining\":false,"
                                      "\"slots_free\":1,\"slots_total\":1,\"vram_free_bytes\":1}]");
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    test_host_set_pools_json(fx.host, "[{\"pool_id\":\"pool-0\",\"ready\":true,\"draining\":false,"
                                      "\"slots_free\":1,\"slots_total\":1,\"vram_free_bytes\":1},"
                                      "{\"pool_id\":\"pool-new\",\"ready\":true,\"draining\":false,"
                                      "\"slots_free\":1,\"slots_total\":1,\"vram_free_bytes\":1}]");
    for (int i = 0; i < 200; i++) {
        json_object *n = orchd_node(fx.cp, "node-res");
        json_object *pools = n ? json_object_object_get(n, "pools") : NULL;
        size_t len = pools ? json_object_array_length(pools) : 0;
        json_object_put(n);
        if (len == 2)
            return;
        th_tick_for(fx.host, fx.p, fx.in, 20);
    }
    cr_assert_fail("the new pool never reached the control plane's registration");
}

Test(resilience, oversized_response_is_an_error_not_an_allocation)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"register\",\"body_mode\":\"huge\",\"count\":1}"),
                 0);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(15000);
    cr_assert(test_host_log_contains(fx.host, "response body over"));
}

Test(resilience, redirects_are_never_followed)
{
    start_cp(NULL);
    char target[128];
    snprintf(target, sizeof(target), "%s/elsewhere", orchd_url(fx.cp));
    char fault[256];
    snprintf(fault, sizeof(fault), "{\"match\":\"register\",\"redirect\":\"%s\",\"count\":1}",
             target);
    cr_assert_eq(orchd_fault(fx.cp, fault), 0);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    long t[4];
    cr_assert_eq(request_times("/elsewhere", t, 4), 0, "a redirect was followed");
    cr_assert(test_host_log_contains(fx.host, "HTTP 302"));
}

Test(resilience, stop_is_bounded_while_retrying_registration)
{
    start_cp(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"any\",\"hang\":true}"), 0);
    start_node(orchd_url(fx.cp), "\"deregister_timeout_ms\":300,\"request_timeout_ms\":5000");
    th_tick_for(fx.host, fx.p, fx.in, 200); /* registration hangs mid-request */
    uint64_t t0 = th_now_ns();
    cr_assert_eq(th_stop(fx.host, fx.p, fx.in), PMD_OK);
    uint64_t ms = (th_now_ns() - t0) / 1000000;
    cr_assert_lt(ms, 300 + 400, "stop took %llu ms", (unsigned long long)ms);
}

/* ---------------------------------------------------------------------- */
/* TLS, with certificates made at test time                                */
/* ---------------------------------------------------------------------- */

static void make_certs(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && exec >openssl.log 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca "
             "-keyout ca.key -out ca.pem && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wrong-ca "
             "-keyout wrong.key -out wrong.pem && "
             "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
             "-out server.csr && "
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile san.ext -out server.pem && "
             "openssl req -newkey rsa:2048 -nodes -subj /CN=gpu-node -keyout client.key "
             "-out client.csr && "
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -out client.pem",
             fx.dir);
    cr_assert_eq(system(cmd), 0, "openssl failed; see %s/openssl.log", fx.dir);
}

static void start_tls_cp(int require_client_cert)
{
    make_certs();
    static char cert[128], key[128], ca[128];
    snprintf(cert, sizeof(cert), "%s/server.pem", fx.dir);
    snprintf(key, sizeof(key), "%s/server.key", fx.dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", fx.dir);
    orchd_options_t opt = {
        .tls_cert = cert, .tls_key = key, .tls_client_ca = require_client_cert ? ca : NULL};
    start_cp(&opt);
}

static void start_tls_node(const char *ca_name, const char *more)
{
    char extra[512];
    snprintf(extra, sizeof(extra), "\"ca_file\":\"%s/%s\"%s%s", fx.dir, ca_name, more ? "," : "",
             more ? more : "");
    start_node(orchd_url(fx.cp), extra);
}

Test(resilience, tls_with_a_good_chain_registers)
{
    start_tls_cp(0);
    cr_assert(strncmp(orchd_url(fx.cp), "https://", 8) == 0);
    start_tls_node("ca.pem", NULL);
    tick_until_online(10000);
}

Test(resilience, tls_with_a_wrong_ca_is_refused)
{
    start_tls_cp(0);
    start_tls_node("wrong.pem", NULL);
    th_tick_for(fx.host, fx.p, fx.in, 800);
    cr_assert(!has_status("Online") && !has_status("Registering"), "registered over bad TLS");
    cr_assert(test_host_log_contains(fx.host, "event=register_failed"));
}

Test(resilience, tls_insecure_skips_verification_with_a_warning)
{
    start_tls_cp(0);
    start_tls_node("wrong.pem", "\"tls_insecure\":true");
    tick_until_online(10000);
    cr_assert(test_host_log_contains(fx.host, "event=tls_insecure"));
}

Test(resilience, mtls_presents_the_client_certificate)
{
    start_tls_cp(1);
    char more[300];
    snprintf(more, sizeof(more),
             "\"client_cert\":\"%s/client.pem\",\"client_key\":\"%s/client.key\"", fx.dir, fx.dir);
    start_tls_node("ca.pem", more);
    tick_until_online(10000);
}

Test(resilience, mtls_without_a_client_certificate_is_refused)
{
    start_tls_cp(1);
    start_tls_node("ca.pem", NULL);
    th_tick_for(fx.host, fx.p, fx.in, 800);
    cr_assert(!has_status("Online"));
    cr_assert(test_host_log_contains(fx.host, "event=register_failed"));
}

Test(resilience, plaintext_token_to_a_remote_host_warns_at_start)
{
    /* 0.0.0.0 reaches this machine, but is not a loopback name or address:
     * the warning must fire, and no packet leaves the machine. */
    start_cp(NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://0.0.0.0:%d", orchd_port(fx.cp));
    start_node(url, "\"api_token\":\"tok-warn-123\"");
    cr_assert(test_host_log_contains(fx.host, "event=plaintext_token"));
}

Test(resilience, plaintext_token_to_loopback_does_not_warn)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), "\"api_token\":\"tok-warn-123\"");
    cr_assert(!test_host_log_contains(fx.host, "event=plaintext_token"));
}

/* ---------------------------------------------------------------------- */
/* pmd.ext.stats/1                                                         */
/* ---------------------------------------------------------------------- */

static pmd_stats_t read_stats(void)
{
    const pmd_ext_stats_t *ext = fx.p->get_extension(PMD_EXT_STATS);
    cr_assert_not_null(ext);
    pmd_stats_t s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    test_host_enter(fx.host);
    cr_assert_eq(ext->get(fx.in, &s), PMD_OK);
    test_host_leave(fx.host);
    return s;
}

Test(resilience, stats_count_failures_by_reason_and_recovery)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), NULL);
    tick_until_online(10000);
    pmd_stats_t before = read_stats();
    cr_assert_eq(before.state, PMD_NODE_REGISTERED);
    cr_assert_eq(before.registrations_ok, 1);
    cr_assert_str_eq(before.node_id, "node-res");
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"status\":500,\"count\":3}"), 0);
    tick_until_state(PMD_NODE_DEGRADED, 5000);
    pmd_stats_t degraded = read_stats();
    cr_assert_eq(degraded.heartbeats_failed_status - before.heartbeats_failed_status, 3);
    cr_assert_eq(degraded.consecutive_failures, 3);
    cr_assert(strstr(degraded.last_error, "HTTP 500") != NULL, "%s", degraded.last_error);
    tick_until_state(PMD_NODE_REGISTERED, 5000);
    pmd_stats_t after = read_stats();
    cr_assert_gt(after.heartbeats_ok, degraded.heartbeats_ok);
    cr_assert_eq(after.consecutive_failures, 0);
    cr_assert_gt(after.last_heartbeat_ok_unix_ms, 0);
    cr_assert_geq(after.state_since_unix_ms, degraded.state_since_unix_ms);
    orchd_restart(fx.cp);
    tick_until_online(5000);
    cr_assert_eq(read_stats().reregistrations, 1);
    cr_assert_eq(read_stats().heartbeats_not_registered, 1);
}

Test(resilience, stats_refuse_a_struct_below_the_minimum_size)
{
    start_cp(NULL);
    start_node(orchd_url(fx.cp), NULL);
    const pmd_ext_stats_t *ext = fx.p->get_extension(PMD_EXT_STATS);
    pmd_stats_t s = {.struct_size = 8};
    cr_assert_eq(ext->get(fx.in, &s), PMD_ERR_INVALID_ARGUMENT);
}
