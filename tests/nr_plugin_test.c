/*
 * nr_plugin_test.c - node_registration.so end to end: the real plugin loaded
 * with dlopen, driven by the recording test host, talking real HTTP over
 * loopback to orchd-dev (whose validator is an independent, strict
 * implementation of the server's types).
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "orchd.h"
#include "test_host.h"

#define TOKEN "tok-9f8e7d6c5b4a-SECRET"

typedef struct fixture {
    orchd_t *cp;
    test_host_t *host;
    host_loaded_plugin_t lp;
    const pmd_plugin_t *p;
    pmd_instance_t *in;
    char node_id[64];
} fixture_t;

static fixture_t fx;

static void load_plugin(void)
{
    char err[512];
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &fx.lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    fx.p = fx.lp.plugin;
    fx.host = test_host_new();
}

static void start_control_plane(const orchd_options_t *opt)
{
    fx.cp = orchd_start(opt);
    cr_assert_not_null(fx.cp, "orchd-dev did not start");
}

static void teardown(void)
{
    if (fx.in)
        th_destroy(fx.host, fx.p, fx.in);
    if (fx.host) {
        cr_expect_eq(test_host_violations(fx.host), 0, "host-thread rule broken: %s",
                     test_host_violation(fx.host, 0));
        test_host_free(fx.host);
    }
    if (fx.lp.dl_handle)
        host_loader_close(&fx.lp);
    if (fx.cp)
        orchd_stop(fx.cp);
    memset(&fx, 0, sizeof(fx));
}

/* A config for node_id against the running control plane, plus extra keys. */
static char *config_for(const char *node_id, const char *extra)
{
    char *text = NULL;
    json_object *id = json_object_new_string(node_id);
    int n = asprintf(&text,
                     "{\"node_id\":%s,\"machine_id\":\"machine-alpha\","
                     "\"address\":\"http://10.0.0.5:9200\",\"orchestratord_url\":\"%s\","
                     "\"heartbeat_interval_ms\":100,\"retry_base_ms\":20,\"retry_max_ms\":200%s%s}",
                     json_object_to_json_string(id), orchd_url(fx.cp), extra ? "," : "",
                     extra ? extra : "");
    json_object_put(id);
    cr_assert_gt(n, 0);
    return text;
}

static void init_and_start(const char *node_id, const char *extra)
{
    char err[512] = "";
    char *cfg = config_for(node_id, extra);
    snprintf(fx.node_id, sizeof(fx.node_id), "%s", node_id);
    int32_t rc = th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err));
    free(cfg);
    cr_assert_eq(rc, PMD_OK, "init failed: %s", err);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
}

static int node_online(void *arg)
{
    (void)arg;
    json_object *n = orchd_node(fx.cp, fx.node_id);
    json_object *st = NULL;
    int ok = n && json_object_object_get_ex(n, "status", &st) &&
             strcmp(json_object_get_string(st), "Online") == 0;
    json_object_put(n);
    return ok;
}

static int heartbeats_at_least_3(void *arg)
{
    (void)arg;
    return orchd_stat(fx.cp, "requests.heartbeat") >= 3;
}

/* The newest recorded request whose raw path ends with suffix (new ref). */
static json_object *last_request(const char *method, const char *suffix)
{
    json_object *all = orchd_get_json(fx.cp, "/_dev/requests");
    cr_assert_not_null(all);
    json_object *found = NULL;
    for (size_t i = json_object_array_length(all); i-- > 0 && !found;) {
        json_object *r = json_object_array_get_idx(all, i), *m, *p;
        json_object_object_get_ex(r, "method", &m);
        json_object_object_get_ex(r, "raw_path", &p);
        const char *path = json_object_get_string(p);
        size_t lp = strlen(path), ls = strlen(suffix);
        if (strcmp(json_object_get_string(m), method) == 0 && lp >= ls &&
            strcmp(path + lp - ls, suffix) == 0)
            found = json_object_get(r);
    }
    json_object_put(all);
    cr_assert_not_null(found, "no %s request to ...%s recorded", method, suffix);
    return found;
}

static const char *field_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v ? json_object_get_string(v) : NULL;
}

static json_object *parsed_body(json_object *request)
{
    json_object *body = json_tokener_parse(field_str(request, "body"));
    cr_assert_not_null(body, "request body is not JSON");
    return body;
}

static void assert_type(json_object *o, const char *key, json_type t)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, key, &v), "field %s missing", key);
    cr_assert_eq(json_object_get_type(v), t, "field %s has type %s", key,
                 json_type_to_name(json_object_get_type(v)));
}

static void assert_only_keys(json_object *o, const char *const *keys)
{
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        int known = 0;
        for (const char *const *k = keys; *k; k++)
            known |= strcmp(*k, key) == 0;
        cr_assert(known, "undocumented field %s sent", key);
    }
}

TestSuite(nr_plugin, .init = load_plugin, .fini = teardown, .timeout = 60);

Test(nr_plugin, registers_heartbeats_and_deregisters)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-1", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000), "never Online");
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, heartbeats_at_least_3, NULL, 10000));
    cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_REGISTERED);
    cr_assert_eq(th_stop(fx.host, fx.p, fx.in), PMD_OK);
    cr_assert_eq(orchd_wait_node_status(fx.cp, "gpu-node-1", NULL, 2000), 0,
                 "node still registered after stop");
    cr_assert_eq(test_host_last_state(fx.host), PMD_NODE_STOPPED);
    cr_assert(test_host_log_contains(fx.host, "event=deregistered"));
}

Test(nr_plugin, state_changes_reach_the_host_in_order)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-states", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    th_stop(fx.host, fx.p, fx.in);
    int n = test_host_state_count(fx.host);
    cr_assert_geq(n, 3);
    cr_assert_eq(test_host_state(fx.host, 0), PMD_NODE_REGISTERING);
    cr_assert_eq(test_host_state(fx.host, 1), PMD_NODE_REGISTERED);
    cr_assert_eq(test_host_state(fx.host, n - 1), PMD_NODE_STOPPED);
}

static atomic_int stop_done;

static void *stop_on_another_thread(void *arg)
{
    (void)arg;
    int32_t rc = th_stop(fx.host, fx.p, fx.in);
    atomic_store(&stop_done, rc == PMD_OK ? 1 : -1);
    return NULL;
}

/* DEREGISTERING comes from on_stop on the host thread while the DELETE is
 * under way (a state queued by the network thread would arrive only after
 * the join), exactly once, and only STOPPED follows it. */
Test(nr_plugin, stop_reports_deregistering_while_the_delete_is_under_way)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-dereg", "\"deregister_timeout_ms\":3000");
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"deregister\",\"delay_ms\":1000}"), 0);
    atomic_store(&stop_done, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stop_on_another_thread, NULL), 0);
    int seen_during_stop = 0;
    for (int i = 0; i < 1500 && atomic_load(&stop_done) == 0 && !seen_during_stop; i++) {
        seen_during_stop =
            test_host_last_state(fx.host) == PMD_NODE_DEREGISTERING && atomic_load(&stop_done) == 0;
        usleep(1000);
    }
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&stop_done), 1, "on_stop failed");
    cr_assert(seen_during_stop, "DEREGISTERING was not reported while on_stop ran");
    int n = test_host_state_count(fx.host), deregistering = 0;
    for (int i = 0; i < n; i++)
        deregistering += test_host_state(fx.host, i) == PMD_NODE_DEREGISTERING;
    cr_assert_eq(deregistering, 1);
    cr_assert_eq(test_host_state(fx.host, n - 2), PMD_NODE_DEREGISTERING);
    cr_assert_eq(test_host_state(fx.host, n - 1), PMD_NODE_STOPPED);
    cr_assert(test_host_log_contains(fx.host, "event=deregistered"));
}

Test(nr_plugin, register_body_has_every_field_with_its_type)
{
    orchd_options_t opt = {.strict_unknown = 1};
    start_control_plane(&opt);
    test_host_set_capabilities_json(
        fx.host, "{\"gpus\":[{\"device_id\":0,\"name\":\"NVIDIA H200\",\"vram_total_bytes\":"
                 "150754820096,\"compute_capability\":\"9.0\"}],\"cpu_cores\":16,"
                 "\"ram_total_bytes\":137438953472}");
    test_host_set_pools_json(fx.host, "[{\"pool_id\":\"pool-0\",\"ready\":true,\"draining\":false,"
                                      "\"slots_free\":3,\"slots_total\":4,\"vram_free_bytes\":1}]");
    init_and_start("gpu-node-body", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    json_object *req = last_request("POST", "/v2/nodes/register");
    cr_assert_eq(json_object_get_int(json_object_object_get(req, "status")), 200);
    cr_assert_str_eq(field_str(req, "content_type"), "application/json");
    json_object *b = parsed_body(req);
    static const char *const keys[] = {"node_id",      "machine_id", "address", "pools",
                                       "capabilities", "version",    NULL};
    assert_only_keys(b, keys);
    assert_type(b, "node_id", json_type_string);
    assert_type(b, "machine_id", json_type_string);
    assert_type(b, "address", json_type_string);
    assert_type(b, "pools", json_type_array);
    assert_type(b, "capabilities", json_type_object);
    assert_type(b, "version", json_type_string);
    cr_assert_str_eq(field_str(b, "node_id"), "gpu-node-body");
    cr_assert_str_eq(field_str(b, "version"), fx.p->version);
    cr_assert_str_eq(
        json_object_get_string(json_object_array_get_idx(json_object_object_get(b, "pools"), 0)),
        "pool-0");
    json_object *caps = json_object_object_get(b, "capabilities");
    assert_type(caps, "gpus", json_type_array);
    assert_type(caps, "cpu_cores", json_type_int);
    assert_type(caps, "ram_total_bytes", json_type_int);
    json_object *gpu = json_object_array_get_idx(json_object_object_get(caps, "gpus"), 0);
    assert_type(gpu, "device_id", json_type_int);
    assert_type(gpu, "name", json_type_string);
    assert_type(gpu, "vram_total_bytes", json_type_int);
    assert_type(gpu, "compute_capability", json_type_string);
    cr_assert(strstr(field_str(req, "body"), "150754820096") != NULL);
    json_object_put(b);
    json_object_put(req);
}

Test(nr_plugin, heartbeat_body_carries_every_pool_with_all_seven_fields)
{
    orchd_options_t opt = {.strict_unknown = 1};
    start_control_plane(&opt);
    test_host_set_pools_json(
        fx.host,
        "[{\"pool_id\":\"pool-0\",\"ready\":true,\"draining\":false,\"slots_free\":3,"
        "\"slots_total\":4,\"vram_free_bytes\":18446744073709551615,\"engine\":\"llamacpp\"},"
        "{\"pool_id\":\"pool-\\\"1\\\"\",\"ready\":false,\"draining\":true,\"slots_free\":0,"
        "\"slots_total\":4294967295,\"vram_free_bytes\":9223372036854775807}]");
    init_and_start("gpu-node-hb", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    json_object *req = last_request("POST", "/heartbeat");
    cr_assert_eq(json_object_get_int(json_object_object_get(req, "status")), 200, "%s",
                 field_str(req, "error"));
    const char *raw = field_str(req, "body");
    cr_assert(strstr(raw, "18446744073709551615") != NULL, "u64 max not sent verbatim: %s", raw);
    cr_assert(strstr(raw, "9223372036854775807") != NULL);
    cr_assert(strstr(raw, "4294967295") != NULL);
    json_object *b = parsed_body(req);
    static const char *const top[] = {"timestamp", "pools", NULL};
    assert_only_keys(b, top);
    assert_type(b, "timestamp", json_type_string);
    const char *ts = field_str(b, "timestamp");
    cr_assert_eq(strlen(ts), 24, "timestamp %s", ts);
    cr_assert_eq(ts[23], 'Z');
    json_object *pools = json_object_object_get(b, "pools");
    cr_assert_eq(json_object_array_length(pools), 2);
    static const char *const fields[] = {"pool_id",     "ready",           "draining", "slots_free",
                                         "slots_total", "vram_free_bytes", "engine",   NULL};
    for (size_t i = 0; i < 2; i++) {
        json_object *p = json_object_array_get_idx(pools, i);
        assert_only_keys(p, fields);
        assert_type(p, "pool_id", json_type_string);
        assert_type(p, "ready", json_type_boolean);
        assert_type(p, "draining", json_type_boolean);
        assert_type(p, "slots_free", json_type_int);
        assert_type(p, "slots_total", json_type_int);
        assert_type(p, "vram_free_bytes", json_type_int);
    }
    assert_type(json_object_array_get_idx(pools, 0), "engine", json_type_string);
    cr_assert_str_eq(field_str(json_object_array_get_idx(pools, 1), "pool_id"), "pool-\"1\"");
    json_object_put(b);
    json_object_put(req);
}

Test(nr_plugin, bearer_token_sent_on_every_request_when_configured)
{
    orchd_options_t opt = {.token = TOKEN};
    start_control_plane(&opt);
    init_and_start("gpu-node-auth", "\"api_token\":\"" TOKEN "\"");
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    th_stop(fx.host, fx.p, fx.in);
    json_object *all = orchd_get_json(fx.cp, "/_dev/requests");
    cr_assert_gt(json_object_array_length(all), 2);
    for (size_t i = 0; i < json_object_array_length(all); i++)
        cr_assert_str_eq(field_str(json_object_array_get_idx(all, i), "auth"), "ok");
    json_object_put(all);
}

Test(nr_plugin, no_authorization_header_without_a_token)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-noauth", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    json_object *req = last_request("POST", "/v2/nodes/register");
    cr_assert_str_eq(field_str(req, "auth"), "absent");
    json_object_put(req);
}

Test(nr_plugin, odd_node_id_is_percent_encoded_in_paths)
{
    start_control_plane(NULL);
    init_and_start("a/b c%", NULL);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    json_object *req = last_request("POST", "/heartbeat");
    cr_assert_str_eq(field_str(req, "raw_path"), "/v2/nodes/a%2Fb%20c%25/heartbeat");
    json_object_put(req);
    th_stop(fx.host, fx.p, fx.in);
    json_object *del = last_request("DELETE", "/v2/nodes/a%2Fb%20c%25");
    cr_assert_eq(json_object_get_int(json_object_object_get(del, "status")), 204);
    json_object_put(del);
}

Test(nr_plugin, url_path_prefix_and_trailing_slash_are_kept_in_request_paths)
{
    /* orchd-dev serves at its root, so the prefix shows up verbatim in the
     * recorded path (and the server answers 404, which is fine here). */
    start_control_plane(NULL);
    char err[512];
    char *cfg = NULL;
    cr_assert_gt(asprintf(&cfg,
                          "{\"node_id\":\"n-prefix\",\"address\":\"http://10.0.0.5:9200\","
                          "\"orchestratord_url\":\"%s/orch/\",\"heartbeat_interval_ms\":100}",
                          orchd_url(fx.cp)),
                 0);
    cr_assert_eq(th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err)), PMD_OK, "%s", err);
    free(cfg);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
    th_tick_for(fx.host, fx.p, fx.in, 300);
    json_object *req = last_request("POST", "/orch/v2/nodes/register");
    cr_assert_str_eq(field_str(req, "raw_path"), "/orch/v2/nodes/register");
    json_object_put(req);
}

Test(nr_plugin, stop_returns_within_deregister_timeout_against_a_hanging_server)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-hang", "\"deregister_timeout_ms\":500");
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"any\",\"hang\":true}"), 0);
    th_tick_for(fx.host, fx.p, fx.in, 300); /* a heartbeat is now hanging mid-request */
    uint64_t t0 = th_now_ns();
    cr_assert_eq(th_stop(fx.host, fx.p, fx.in), PMD_OK);
    uint64_t ms = (th_now_ns() - t0) / 1000000;
    cr_assert_lt(ms, 500 + 400, "stop took %llu ms", (unsigned long long)ms);
    cr_assert(test_host_log_contains(fx.host, "event=deregister_failed"));
}

Test(nr_plugin, tick_stays_short_while_the_server_hangs)
{
    start_control_plane(NULL);
    cr_assert_eq(orchd_fault(fx.cp, "{\"match\":\"any\",\"hang\":true}"), 0);
    init_and_start("gpu-node-tick", "\"deregister_timeout_ms\":200,\"request_timeout_ms\":3000");
    uint64_t worst = 0;
    for (int i = 0; i < 400; i++) {
        uint64_t t0 = th_now_ns();
        th_tick(fx.host, fx.p, fx.in, t0);
        uint64_t dt = th_now_ns() - t0;
        worst = dt > worst ? dt : worst;
        usleep(1000);
    }
    /* Generous: a shared machine can stall any thread; a blocking tick would
     * take the whole request timeout (3 s here). */
    cr_assert_lt(worst, 500 * 1000000ull, "worst tick %llu ns", (unsigned long long)worst);
}

Test(nr_plugin, two_instances_register_independently)
{
    start_control_plane(NULL);
    init_and_start("gpu-node-a", NULL);
    test_host_t *h2 = test_host_new();
    pmd_instance_t *in2 = NULL;
    char err[256];
    char *cfg = config_for("gpu-node-b", NULL);
    cr_assert_eq(th_init(h2, fx.p, cfg, &in2, err, sizeof(err)), PMD_OK, "%s", err);
    free(cfg);
    cr_assert_eq(th_start(h2, fx.p, in2), PMD_OK);
    for (int i = 0; i < 400 && !(node_online(NULL) &&
                                 orchd_wait_node_status(fx.cp, "gpu-node-b", "Online", 0) == 0);
         i++) {
        th_tick(fx.host, fx.p, fx.in, th_now_ns());
        th_tick(h2, fx.p, in2, th_now_ns());
        usleep(5000);
    }
    cr_assert(node_online(NULL));
    cr_assert_eq(orchd_wait_node_status(fx.cp, "gpu-node-b", "Online", 100), 0);
    th_stop(h2, fx.p, in2);
    th_destroy(h2, fx.p, in2);
    cr_assert_eq(orchd_wait_node_status(fx.cp, "gpu-node-b", NULL, 2000), 0);
    cr_assert(node_online(NULL), "stopping b must leave a registered");
    cr_assert_eq(test_host_violations(h2), 0);
    test_host_free(h2);
}

Test(nr_plugin, config_errors_fail_init_naming_the_field)
{
    static const struct {
        const char *config, *field;
    } cases[] = {
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
         "\"heartbeat_intervall_ms\":5}",
         "heartbeat_intervall_ms"},
        {"{\"node_id\":\"\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\"}",
         "node_id"},
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"ftp://x\"}",
         "orchestratord_url"},
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
         "\"heartbeat_interval_ms\":0}",
         "heartbeat_interval_ms"},
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
         "\"request_timeout_ms\":-5}",
         "request_timeout_ms"},
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
         "\"retry_base_ms\":1.5}",
         "retry_base_ms"},
        {"{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
         "\"api_token_file\":\"/nonexistent/token\"}",
         "api_token_file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        pmd_instance_t *in = (pmd_instance_t *)&err; /* must be reset to NULL */
        int32_t rc = th_init(fx.host, fx.p, cases[i].config, &in, err, sizeof(err));
        cr_assert_eq(rc, PMD_ERR_CONFIG, "case %zu accepted", i);
        cr_assert_null(in);
        cr_assert(strstr(err, cases[i].field) != NULL, "case %zu: \"%s\" does not name %s", i, err,
                  cases[i].field);
        cr_assert(strchr(err, '\n') == NULL, "error must be one line");
    }
}

Test(nr_plugin, token_never_appears_in_any_output)
{
    orchd_options_t opt = {.token = TOKEN};
    start_control_plane(&opt);
    char path[] = "/tmp/nr-token-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, TOKEN "\n", strlen(TOKEN) + 1), (ssize_t)strlen(TOKEN) + 1);
    close(fd);
    char extra[256];
    snprintf(extra, sizeof(extra), "\"api_token_file\":\"%s\"", path);
    init_and_start("gpu-node-secret", extra);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    orchd_fault(fx.cp, "{\"match\":\"heartbeat\",\"status\":401,\"count\":2}");
    orchd_fault(fx.cp, "{\"match\":\"any\",\"status\":500,\"count\":2}");
    th_tick_for(fx.host, fx.p, fx.in, 500);
    th_stop(fx.host, fx.p, fx.in);
    /* A bad config whose token has an invalid character in the middle. */
    char err[512] = "";
    pmd_instance_t *bad = NULL;
    th_init(fx.host, fx.p,
            "{\"node_id\":\"n\",\"address\":\"http://a:1\",\"orchestratord_url\":\"http://x\","
            "\"api_token\":\"tok-9f8e7d6c5b4a SECRET\"}",
            &bad, err, sizeof(err));
    cr_assert(strstr(err, "SECRET") == NULL, "token leaked into: %s", err);
    for (int i = 0; i < test_host_log_count(fx.host); i++)
        cr_assert(strstr(test_host_log(fx.host, i), "SECRET") == NULL, "leak: %s",
                  test_host_log(fx.host, i));
    for (int i = 0; i < test_host_state_count(fx.host); i++) {
        const char *d = test_host_state_detail(fx.host, i);
        cr_assert(d == NULL || strstr(d, "SECRET") == NULL);
    }
    FILE *log = fopen(orchd_log_path(fx.cp), "r");
    char line[4096];
    while (log && fgets(line, sizeof(line), log))
        cr_assert(strstr(line, "SECRET") == NULL, "server log leak: %s", line);
    if (log)
        fclose(log);
    unlink(path);
}

/* ---------------------------------------------------------------------- */
/* Per-deployment builds (node_registration-<name>.so, defaults baked in)  */
/* ---------------------------------------------------------------------- */

static void swap_to_deployment_build(void)
{
    char err[512];
    host_loader_close(&fx.lp);
    cr_assert_eq(host_loader_open(NODE_REGISTRATION_TEST_SO, PMD_ABI_VERSION_MAJOR,
                                  PMD_ABI_VERSION_MINOR, &fx.lp, err, sizeof(err)),
                 PMD_OK, "%s", err);
    fx.p = fx.lp.plugin;
    cr_assert_str_eq(fx.p->name, "node_registration-test");
}

static char *register_machine_id(void)
{
    json_object *req = last_request("POST", "/v2/nodes/register");
    json_object *b = parsed_body(req);
    char *id = strdup(field_str(b, "machine_id"));
    json_object_put(b);
    json_object_put(req);
    return id;
}

Test(nr_plugin, deployment_build_applies_its_baked_defaults)
{
    swap_to_deployment_build();
    start_control_plane(NULL);
    char err[512], *cfg = NULL;
    cr_assert_gt(asprintf(&cfg,
                          "{\"node_id\":\"n-deploy\",\"address\":\"http://10.0.0.5:9200\","
                          "\"orchestratord_url\":\"%s\"}",
                          orchd_url(fx.cp)),
                 0);
    snprintf(fx.node_id, sizeof(fx.node_id), "n-deploy");
    cr_assert_eq(th_init(fx.host, fx.p, cfg, &fx.in, err, sizeof(err)), PMD_OK, "%s", err);
    free(cfg);
    cr_assert_eq(th_start(fx.host, fx.p, fx.in), PMD_OK);
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    char *machine = register_machine_id();
    cr_assert_str_eq(machine, "baked-machine");
    free(machine);
    /* Baked interval 150 ms (the built-in default is 10 s): heartbeats flow. */
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, heartbeats_at_least_3, NULL, 5000));
}

Test(nr_plugin, deployment_build_defaults_yield_to_the_init_config)
{
    swap_to_deployment_build();
    start_control_plane(NULL);
    init_and_start("n-deploy-override", NULL); /* config_for sets machine_id */
    cr_assert(th_tick_until(fx.host, fx.p, fx.in, node_online, NULL, 10000));
    char *machine = register_machine_id();
    cr_assert_str_eq(machine, "machine-alpha");
    free(machine);
}
