/* orchd_dev_test.c - behaviour of orchd-dev, the development control plane:
 * the four node endpoints and their strict typing, auth, the offline rule,
 * every /_dev/ fault kind, stats, the request log, TLS and mTLS, shutdown.
 *
 * Each test starts its own server through tests/support/orchd.h and talks
 * to it with libcurl. */
#include "orchd.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define JSON "application/json"

/* A valid RegisterRequest with four holes: device_id, vram_total_bytes,
 * cpu_cores, version (raw JSON text). */
#define REG_FMT                                                                                    \
    "{\"node_id\":\"%s\",\"machine_id\":\"m1\",\"address\":\"http://"                              \
    "10.0.0.5:9200\",\"pools\":[\"pool-0\"],"                                                      \
    "\"capabilities\":{\"gpus\":[{\"device_id\":%s,\"name\":\"NVIDIA "                             \
    "H200\",\"vram_total_bytes\":%s,"                                                              \
    "\"compute_capability\":\"9.0\"}],\"cpu_cores\":%s,\"ram_total_bytes\":137438953472},"         \
    "\"version\":%s}"

/* A valid HeartbeatRequest with holes: timestamp, ready, draining, slots_free, vram_free_bytes. */
#define HB_FMT                                                                                     \
    "{\"timestamp\":%s,\"pools\":[{\"pool_id\":\"pool-0\",\"ready\":%s,\"draining\":%s,\"slots_"   \
    "free\":%s,"                                                                                   \
    "\"slots_total\":4,\"vram_free_bytes\":%s,\"engine\":\"llamacpp\"}]}"

static orchd_t *srv;
static char certdir[256];
static char reg_buf[4096], hb_buf[4096];

static void teardown(void)
{
    char cmd[512];
    orchd_stop(srv);
    srv = NULL;
    if (certdir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", certdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", certdir);
        certdir[0] = '\0';
    }
}

TestSuite(orchd_dev, .fini = teardown, .timeout = 20);

static orchd_t *start(const orchd_options_t *opt)
{
    srv = orchd_start(opt);
    cr_assert_not_null(srv, "orchd-dev did not start");
    return srv;
}

/* ---- HTTP client for the tests ---------------------------------------- */

typedef struct call {
    const char *method, *path, *content_type, *body;
    const char *auth; /* full Authorization value */
    const char *cid;  /* X-Correlation-Id to send */
    long timeout_ms;  /* 0 = 5000 */
    size_t max_body;  /* abort the transfer past this; 0 = 1 MiB */
    const char *cainfo, *cert, *key;
    CURL *handle;     /* reuse for keep-alive; NULL = fresh */
    const char *base; /* URL base; NULL = the test's server */
} call_t;

typedef struct reply {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char cid[128], retry_after[32], location[256], content_length[32], transfer_encoding[32];
    long elapsed_ms;
} reply_t;

struct sink {
    reply_t *r;
    size_t max;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t size, size_t n, void *cls)
{
    struct sink *s = cls;
    size_t add = size * n;
    if (s->r->len + add > s->max)
        return 0;
    s->r->body = realloc(s->r->body, s->r->len + add + 1);
    memcpy(s->r->body + s->r->len, p, add);
    s->r->len += add;
    s->r->body[s->r->len] = '\0';
    return add;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n > nl + 1 && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
        const char *v = line + nl + 1;
        size_t vl = n - nl - 1;
        while (vl && (*v == ' '))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(out, cap, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t size, size_t n, void *cls)
{
    reply_t *r = cls;
    header_value(p, size * n, "X-Correlation-Id", r->cid, sizeof r->cid);
    header_value(p, size * n, "Retry-After", r->retry_after, sizeof r->retry_after);
    header_value(p, size * n, "Location", r->location, sizeof r->location);
    header_value(p, size * n, "Content-Length", r->content_length, sizeof r->content_length);
    header_value(p, size * n, "Transfer-Encoding", r->transfer_encoding,
                 sizeof r->transfer_encoding);
    return size * n;
}

static void set_headers(CURL *h, const call_t *c, struct curl_slist **hdr)
{
    char line[1024];
    if (c->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
        *hdr = curl_slist_append(*hdr, line);
    } else if (c->body) {
        *hdr = curl_slist_append(*hdr, "Content-Type:"); /* remove curl's form default */
    }
    if (c->auth) {
        snprintf(line, sizeof line, "Authorization: %s", c->auth);
        *hdr = curl_slist_append(*hdr, line);
    }
    if (c->cid) {
        snprintf(line, sizeof line, "X-Correlation-Id: %s", c->cid);
        *hdr = curl_slist_append(*hdr, line);
    }
    *hdr = curl_slist_append(*hdr, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdr);
}

static reply_t call(call_t c)
{
    reply_t r = {0};
    struct sink sink = {&r, c.max_body ? c.max_body : 1024 * 1024};
    struct curl_slist *hdr = NULL;
    CURL *h = c.handle ? c.handle : curl_easy_init();
    char url[1024];
    long t0 = now_ms();
    curl_easy_reset(h);
    snprintf(url, sizeof url, "%s%s", c.base ? c.base : orchd_url(srv), c.path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c.method ? c.method : "GET");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c.timeout_ms ? c.timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    if (c.body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c.body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(c.body));
    }
    if (c.cainfo)
        curl_easy_setopt(h, CURLOPT_CAINFO, c.cainfo);
    if (c.cert) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c.cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c.key);
    }
    set_headers(h, &c, &hdr);
    r.rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    r.elapsed_ms = now_ms() - t0;
    curl_slist_free_all(hdr);
    if (!c.handle)
        curl_easy_cleanup(h);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static void reply_free(reply_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* POST a JSON body to PATH; the status. */
static long post(const char *path, const char *body)
{
    reply_t r = call((call_t){.method = "POST", .path = path, .content_type = JSON, .body = body});
    long s = r.status;
    reply_free(&r);
    return s;
}

static const char *reg_body(const char *id, const char *device_id, const char *vram,
                            const char *cpu, const char *version)
{
    snprintf(reg_buf, sizeof reg_buf, REG_FMT, id, device_id, vram, cpu, version);
    return reg_buf;
}

static const char *good_reg(const char *id)
{
    return reg_body(id, "0", "150754820096", "16", "\"0.1.0\"");
}

static const char *hb_body(const char *ts, const char *ready, const char *draining,
                           const char *slots, const char *vram)
{
    snprintf(hb_buf, sizeof hb_buf, HB_FMT, ts, ready, draining, slots, vram);
    return hb_buf;
}

static const char *good_hb(void)
{
    return hb_body("\"2026-11-27T07:00:00Z\"", "true", "false", "3", "18000000000");
}

static long register_node(const char *id)
{
    return post("/v2/nodes/register", good_reg(id));
}

static long heartbeat(const char *encoded_id)
{
    char path[512];
    snprintf(path, sizeof path, "/v2/nodes/%s/heartbeat", encoded_id);
    return post(path, good_hb());
}

static json_object *parse(const reply_t *r)
{
    json_object *o = json_tokener_parse(r->body);
    cr_assert_not_null(o, "body is not JSON: %s", r->body);
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    return json_object_get_string(json_object_object_get(o, key));
}

static int64_t jint(json_object *o, const char *key)
{
    return json_object_get_int64(json_object_object_get(o, key));
}

/* Register with BODY; expect STATUS and (for errors) a message naming FIELD. */
static void expect_register(const char *body, long status, const char *field)
{
    reply_t r = call((call_t){
        .method = "POST", .path = "/v2/nodes/register", .content_type = JSON, .body = body});
    json_object *o;
    cr_assert_eq(r.status, status, "expected %ld, got %ld: %s", status, r.status, r.body);
    if (field) {
        o = parse(&r);
        cr_assert_eq(json_object_get_boolean(json_object_object_get(o, "success")), 0);
        cr_assert(strstr(jstr(o, "message"), field), "message '%s' does not name '%s'",
                  jstr(o, "message"), field);
        json_object_put(o);
    }
    reply_free(&r);
}

static void expect_heartbeat(const char *body, long status, const char *field)
{
    reply_t r;
    cr_assert_eq(register_node("n1"), 200);
    r = call((call_t){
        .method = "POST", .path = "/v2/nodes/n1/heartbeat", .content_type = JSON, .body = body});
    cr_assert_eq(r.status, status, "expected %ld, got %ld: %s", status, r.status, r.body);
    if (field)
        cr_assert(strstr(r.body, field), "message '%s' does not name '%s'", r.body, field);
    reply_free(&r);
}

/* ---- endpoints -------------------------------------------------------- */

Test(orchd_dev, register_returns_200_with_node_id)
{
    reply_t r;
    json_object *o;
    start(NULL);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/register",
                      .content_type = JSON,
                      .body = good_reg("gpu-1")});
    cr_assert_eq(r.status, 200);
    o = parse(&r);
    cr_assert_eq(json_object_get_boolean(json_object_object_get(o, "success")), 1);
    cr_assert_str_eq(jstr(o, "message"), "Registered successfully");
    cr_assert_str_eq(jstr(o, "node_id"), "gpu-1");
    json_object_put(o);
    reply_free(&r);
}

Test(orchd_dev, register_again_replaces_node_info)
{
    json_object *n;
    start(NULL);
    cr_assert_eq(register_node("gpu-1"), 200);
    cr_assert_eq(post("/v2/nodes/register", reg_body("gpu-1", "0", "1", "32", "\"0.2.0\"")), 200);
    n = orchd_node(srv, "gpu-1");
    cr_assert_not_null(n);
    cr_assert_str_eq(jstr(n, "version"), "0.2.0");
    cr_assert_eq(jint(n, "registrations"), 2);
    json_object_put(n);
    n = orchd_get_json(srv, "/v2/nodes");
    cr_assert_eq(jint(n, "count"), 1);
    json_object_put(n);
}

Test(orchd_dev, heartbeat_of_known_node_returns_200_with_configured_interval)
{
    orchd_options_t opt = {.next_heartbeat_ms = 1234};
    reply_t r;
    start(&opt);
    cr_assert_eq(register_node("n1"), 200);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/n1/heartbeat",
                      .content_type = JSON,
                      .body = good_hb()});
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"success\":true,\"next_heartbeat_ms\":1234}");
    reply_free(&r);
}

Test(orchd_dev, heartbeat_of_unknown_node_returns_404_with_interval)
{
    reply_t r;
    start(NULL);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/ghost/heartbeat",
                      .content_type = JSON,
                      .body = good_hb()});
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "{\"success\":false,\"next_heartbeat_ms\":10000}");
    reply_free(&r);
}

Test(orchd_dev, deregister_returns_204_then_404)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(register_node("n1"), 200);
    r = call((call_t){.method = "DELETE", .path = "/v2/nodes/n1"});
    cr_assert_eq(r.status, 204);
    cr_assert_eq(r.len, 0);
    reply_free(&r);
    r = call((call_t){.method = "DELETE", .path = "/v2/nodes/n1"});
    cr_assert_eq(r.status, 404);
    reply_free(&r);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", NULL, 100), 0);
}

Test(orchd_dev, list_returns_node_info_and_count)
{
    json_object *list, *n;
    start(NULL);
    cr_assert_eq(register_node("a"), 200);
    cr_assert_eq(register_node("b"), 200);
    cr_assert_eq(heartbeat("b"), 200);
    list = orchd_get_json(srv, "/v2/nodes");
    cr_assert_not_null(list);
    cr_assert_eq(jint(list, "count"), 2);
    n = json_object_array_get_idx(json_object_object_get(list, "nodes"), 1);
    cr_assert_str_eq(jstr(n, "node_id"), "b");
    cr_assert_str_eq(jstr(n, "machine_id"), "m1");
    cr_assert_str_eq(jstr(n, "address"), "http://10.0.0.5:9200");
    cr_assert_str_eq(jstr(n, "status"), "Online");
    cr_assert_eq(jint(n, "heartbeats"), 1);
    cr_assert(jint(n, "registered_at_ms") > 0 &&
              jint(n, "last_heartbeat_ms") >= jint(n, "registered_at_ms"));
    cr_assert_eq(json_object_array_length(json_object_object_get(n, "pool_status")), 1);
    cr_assert_eq(json_object_array_length(
                     json_object_object_get(json_object_object_get(n, "capabilities"), "gpus")),
                 1);
    json_object_put(list);
}

Test(orchd_dev, wrong_method_on_known_path_is_405)
{
    reply_t r;
    start(NULL);
    r = call((call_t){.method = "DELETE", .path = "/v2/nodes/register"});
    cr_assert_eq(r.status, 405);
    reply_free(&r);
}

/* ---- status rule ------------------------------------------------------ */

Test(orchd_dev, node_is_registering_until_first_heartbeat_then_online)
{
    start(NULL);
    cr_assert_eq(register_node("n1"), 200);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Registering", 0), 0);
    cr_assert_eq(heartbeat("n1"), 200);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Online", 0), 0);
}

Test(orchd_dev, node_goes_offline_without_heartbeat_and_back_online_with_one)
{
    orchd_options_t opt = {.offline_timeout_ms = 150};
    start(&opt);
    cr_assert_eq(register_node("n1"), 200);
    cr_assert_eq(heartbeat("n1"), 200);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Online", 0), 0);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Offline", 1000), 0);
    cr_assert_eq(heartbeat("n1"), 200);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Online", 0), 0);
}

Test(orchd_dev, node_with_every_pool_draining_is_draining)
{
    start(NULL);
    cr_assert_eq(register_node("n1"), 200);
    cr_assert_eq(post("/v2/nodes/n1/heartbeat",
                      hb_body("\"2026-11-27T07:00:00Z\"", "true", "true", "0", "1")),
                 200);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", "Draining", 0), 0);
}

/* ---- strict typing ---------------------------------------------------- */

Test(orchd_dev, u32_rejects_float)
{
    start(NULL);
    expect_register(reg_body("n", "1.0", "1", "16", "null"), 422, "device_id");
}

Test(orchd_dev, u32_rejects_string)
{
    start(NULL);
    expect_register(reg_body("n", "\"1\"", "1", "16", "null"), 422, "device_id");
}

Test(orchd_dev, u32_rejects_negative)
{
    start(NULL);
    expect_register(reg_body("n", "-1", "1", "16", "null"), 422, "device_id");
}

Test(orchd_dev, u32_rejects_null_when_required)
{
    start(NULL);
    expect_register(reg_body("n", "null", "1", "16", "null"), 422, "device_id");
}

Test(orchd_dev, u32_rejects_2_pow_32)
{
    start(NULL);
    expect_register(reg_body("n", "0", "1", "4294967296", "null"), 422, "cpu_cores");
}

Test(orchd_dev, u32_accepts_max)
{
    start(NULL);
    expect_register(reg_body("n", "4294967295", "1", "4294967295", "null"), 200, NULL);
}

Test(orchd_dev, u64_accepts_values_above_2_pow_63_exactly)
{
    json_object *n, *gpu;
    start(NULL);
    expect_register(reg_body("n", "0", "18446744073709551615", "1", "null"), 200, NULL);
    n = orchd_node(srv, "n");
    gpu = json_object_array_get_idx(
        json_object_object_get(json_object_object_get(n, "capabilities"), "gpus"), 0);
    cr_assert_eq(json_object_get_uint64(json_object_object_get(gpu, "vram_total_bytes")),
                 UINT64_MAX);
    json_object_put(n);
    expect_register(reg_body("n", "0", "9223372036854775808", "1", "null"), 200, NULL);
}

Test(orchd_dev, u64_rejects_2_pow_64)
{
    start(NULL);
    expect_register(reg_body("n", "0", "18446744073709551616", "1", "null"), 422,
                    "vram_total_bytes");
}

Test(orchd_dev, u64_rejects_negative_and_float)
{
    start(NULL);
    expect_register(reg_body("n", "0", "-1", "1", "null"), 422, "vram_total_bytes");
    expect_register(reg_body("n", "0", "1e3", "1", "null"), 422, "vram_total_bytes");
}

Test(orchd_dev, bool_rejects_string_and_integer)
{
    start(NULL);
    expect_heartbeat(hb_body("\"2026-11-27T07:00:00Z\"", "\"true\"", "false", "1", "1"), 422,
                     "ready");
    expect_heartbeat(hb_body("\"2026-11-27T07:00:00Z\"", "true", "0", "1", "1"), 422, "draining");
}

Test(orchd_dev, heartbeat_u32_and_u64_fields_are_strict)
{
    start(NULL);
    expect_heartbeat(hb_body("\"2026-11-27T07:00:00Z\"", "true", "false", "1.5", "1"), 422,
                     "slots_free");
    expect_heartbeat(hb_body("\"2026-11-27T07:00:00Z\"", "true", "false", "1", "null"), 422,
                     "vram_free_bytes");
}

Test(orchd_dev, string_rejects_number)
{
    start(NULL);
    expect_register(reg_body("n", "0", "1", "1", "1"), 422, "version");
}

Test(orchd_dev, heartbeat_timestamp_must_be_rfc3339)
{
    start(NULL);
    expect_heartbeat(hb_body("\"yesterday\"", "true", "false", "1", "1"), 422, "timestamp");
    expect_heartbeat(hb_body("\"2025-09-30T22:15:00.123456789+00:00\"", "true", "false", "1", "1"),
                     200, NULL);
}

Test(orchd_dev, missing_required_field_is_422)
{
    start(NULL);
    expect_register(
        "{\"node_id\":\"n\",\"machine_id\":\"m\",\"pools\":[],\"capabilities\":{\"gpus\":[]}}", 422,
        "address");
}

Test(orchd_dev, optional_fields_may_be_absent_or_null)
{
    start(NULL);
    expect_register("{\"node_id\":\"n\",\"machine_id\":\"m\",\"address\":\"a\",\"pools\":[],"
                    "\"capabilities\":{\"gpus\":[]}}",
                    200, NULL);
    expect_register(reg_body("n", "0", "1", "null", "null"), 200, NULL);
}

Test(orchd_dev, unknown_fields_are_ignored_by_default)
{
    start(NULL);
    expect_register(
        "{\"node_id\":\"n\",\"machine_id\":\"m\",\"address\":\"a\",\"pools\":[],\"extra\":1,"
        "\"capabilities\":{\"gpus\":[],\"x\":[1.5,{\"y\":null}]}}",
        200, NULL);
}

Test(orchd_dev, unknown_fields_are_422_with_strict_unknown)
{
    orchd_options_t opt = {.strict_unknown = 1};
    start(&opt);
    expect_register("{\"node_id\":\"n\",\"machine_id\":\"m\",\"address\":\"a\",\"pools\":[],"
                    "\"capabilities\":{\"gpus\":[],\"gpu_count\":0}}",
                    422, "capabilities.gpu_count");
    expect_register(good_reg("n"), 200, NULL);
}

Test(orchd_dev, wrong_or_missing_content_type_is_415)
{
    reply_t r;
    start(NULL);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/register",
                      .content_type = "text/plain",
                      .body = good_reg("n")});
    cr_assert_eq(r.status, 415);
    reply_free(&r);
    r = call((call_t){.method = "POST", .path = "/v2/nodes/register", .body = good_reg("n")});
    cr_assert_eq(r.status, 415);
    reply_free(&r);
}

Test(orchd_dev, json_content_type_with_charset_is_accepted)
{
    reply_t r;
    start(NULL);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/register",
                      .content_type = "application/json; charset=utf-8",
                      .body = good_reg("n")});
    cr_assert_eq(r.status, 200);
    reply_free(&r);
}

Test(orchd_dev, json_syntax_error_is_400)
{
    start(NULL);
    expect_register("{\"node_id\":", 400, "syntax");
    expect_register("", 400, "syntax");
    expect_register("{\"node_id\":\"n\"} x", 400, "syntax");
}

Test(orchd_dev, invalid_utf8_is_400)
{
    start(NULL);
    expect_register("{\"node_id\":\"\xff\xfe\"}", 400, "UTF-8");
}

Test(orchd_dev, number_beyond_f64_range_is_400_like_serde)
{
    start(NULL);
    expect_register("{\"node_id\":\"n\",\"extra\":1e999}", 400, "syntax");
}

Test(orchd_dev, body_that_is_not_an_object_is_400)
{
    start(NULL);
    expect_register("[1,2]", 400, "object");
}

Test(orchd_dev, body_over_1_mib_is_413)
{
    size_t n = 1024 * 1024 + 16;
    char *big = malloc(n + 1);
    reply_t r;
    start(NULL);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    r = call((call_t){
        .method = "POST", .path = "/v2/nodes/register", .content_type = JSON, .body = big});
    cr_assert_eq(r.status, 413);
    reply_free(&r);
    free(big);
}

/* ---- node id encoding -------------------------------------------------- */

Test(orchd_dev, percent_encoded_node_id_round_trips)
{
    json_object *log, *last;
    reply_t r;
    start(NULL);
    cr_assert_eq(register_node("a/b c%"), 200);
    cr_assert_eq(heartbeat("a%2Fb%20c%25"), 200);
    cr_assert_eq(orchd_wait_node_status(srv, "a/b c%", "Online", 0), 0);
    log = orchd_get_json(srv, "/_dev/requests");
    last = json_object_array_get_idx(log, json_object_array_length(log) - 1);
    cr_assert_str_eq(jstr(last, "raw_path"), "/v2/nodes/a%2Fb%20c%25/heartbeat");
    json_object_put(log);
    r = call((call_t){.method = "DELETE", .path = "/v2/nodes/a%2Fb%20c%25"});
    cr_assert_eq(r.status, 204);
    reply_free(&r);
}

Test(orchd_dev, unencoded_slash_in_node_id_does_not_match)
{
    start(NULL);
    cr_assert_eq(register_node("a/b"), 200);
    cr_assert_eq(heartbeat("a/b"), 404);
    cr_assert_eq(orchd_wait_node_status(srv, "a/b", "Registering", 0), 0);
}

/* ---- auth ------------------------------------------------------------- */

static long list_with_auth(const char *auth, size_t *body_len)
{
    reply_t r = call((call_t){.path = "/v2/nodes", .auth = auth});
    long s = r.status;
    *body_len = r.len;
    reply_free(&r);
    return s;
}

Test(orchd_dev, missing_token_is_401_with_empty_body)
{
    orchd_options_t opt = {.token = "tok-123"};
    size_t len;
    start(&opt);
    cr_assert_eq(list_with_auth(NULL, &len), 401);
    cr_assert_eq(len, 0);
}

Test(orchd_dev, wrong_token_or_scheme_is_401_with_empty_body)
{
    orchd_options_t opt = {.token = "tok-123"};
    size_t len;
    start(&opt);
    cr_assert_eq(list_with_auth("Bearer tok-124", &len), 401);
    cr_assert_eq(len, 0);
    cr_assert_eq(list_with_auth("Basic tok-123", &len), 401);
    cr_assert_eq(list_with_auth("Bearer tok-123x", &len), 401);
}

Test(orchd_dev, right_token_is_accepted)
{
    orchd_options_t opt = {.token = "tok-123"};
    json_object *list;
    size_t len;
    start(&opt);
    cr_assert_eq(list_with_auth("Bearer tok-123", &len), 200);
    list = orchd_get_json(srv, "/v2/nodes"); /* the support client sends it too */
    cr_assert_not_null(list);
    json_object_put(list);
}

static void write_file(const char *path, const char *text)
{
    char tmp[512];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, path), 0);
}

Test(orchd_dev, token_file_rotation_applies_without_restart)
{
    char dir[] = "/tmp/orchd-tok-XXXXXX", path[64];
    orchd_options_t opt;
    size_t len;
    cr_assert_not_null(mkdtemp(dir));
    snprintf(certdir, sizeof certdir, "%s", dir);
    snprintf(path, sizeof path, "%s/token", dir);
    write_file(path, "first-token\n");
    opt = (orchd_options_t){.token_file = path};
    start(&opt);
    cr_assert_eq(list_with_auth("Bearer first-token", &len), 200);
    write_file(path, "second-token\n");
    cr_assert_eq(list_with_auth("Bearer first-token", &len), 401);
    cr_assert_eq(list_with_auth("Bearer second-token", &len), 200);
}

Test(orchd_dev, dev_api_needs_no_token)
{
    orchd_options_t opt = {.token = "tok-123"};
    start(&opt);
    cr_assert_geq(orchd_stat(srv, "connections"), 0);
    cr_assert_eq(orchd_restart(srv), 0);
}

Test(orchd_dev, request_log_records_auth_verdict_but_never_the_token)
{
    orchd_options_t opt = {.token = "s3cret-TOKEN"};
    reply_t r;
    size_t len;
    start(&opt);
    list_with_auth("Bearer s3cret-TOKEN", &len);
    list_with_auth("Bearer wr0ng-TOKEN", &len);
    list_with_auth(NULL, &len);
    r = call((call_t){.path = "/_dev/requests"});
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body, "s3cret"), "token leaked: %s", r.body);
    cr_assert_null(strstr(r.body, "wr0ng"), "wrong token leaked: %s", r.body);
    cr_assert_not_null(strstr(r.body, "\"auth\":\"ok\""));
    cr_assert_not_null(strstr(r.body, "\"auth\":\"wrong\""));
    cr_assert_not_null(strstr(r.body, "\"auth\":\"absent\""));
    reply_free(&r);
}

/* ---- correlation id ---------------------------------------------------- */

Test(orchd_dev, correlation_id_is_echoed_or_generated)
{
    reply_t r;
    start(NULL);
    r = call((call_t){.path = "/v2/nodes", .cid = "req-42"});
    cr_assert_str_eq(r.cid, "req-42");
    reply_free(&r);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert(strlen(r.cid) > 0);
    reply_free(&r);
}

/* ---- faults ----------------------------------------------------------- */

Test(orchd_dev, fault_status_answers_with_it_and_retry_after)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"register\",\"status\":503,\"retry_after\":7}"), 0);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/register",
                      .content_type = JSON,
                      .body = good_reg("n")});
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.retry_after, "7");
    cr_assert_not_null(strstr(r.body, "\"success\":false"));
    reply_free(&r);
    cr_assert_eq(orchd_wait_node_status(srv, "n", NULL, 0), 0,
                 "a faulted register must not register");
}

Test(orchd_dev, fault_401_has_empty_body)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"any\",\"status\":401}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 401);
    cr_assert_eq(r.len, 0);
    reply_free(&r);
}

Test(orchd_dev, fault_raw_body_is_sent_verbatim)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(
        orchd_fault(srv, "{\"match\":\"list\",\"status\":502,\"body\":\"<html>bad gateway\"}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 502);
    cr_assert_str_eq(r.body, "<html>bad gateway");
    reply_free(&r);
}

Test(orchd_dev, fault_count_limits_how_often_it_applies)
{
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"register\",\"status\":500,\"count\":2}"), 0);
    cr_assert_eq(register_node("n"), 500);
    cr_assert_eq(register_node("n"), 500);
    cr_assert_eq(register_node("n"), 200);
    cr_assert_eq(orchd_stat(srv, "faults_active"), 0);
}

Test(orchd_dev, fault_applies_only_to_its_match)
{
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"heartbeat\",\"status\":500}"), 0);
    cr_assert_eq(register_node("n"), 200);
    cr_assert_eq(heartbeat("n"), 500);
    cr_assert_eq(heartbeat("n"), 500);
}

Test(orchd_dev, faults_apply_first_in_first_out)
{
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"status\":500,\"count\":1}"), 0);
    cr_assert_eq(orchd_fault(srv, "{\"status\":502,\"count\":1}"), 0);
    cr_assert_eq(register_node("n"), 500);
    cr_assert_eq(register_node("n"), 502);
    cr_assert_eq(register_node("n"), 200);
}

Test(orchd_dev, clear_faults_restores_normal_answers)
{
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"status\":500}"), 0);
    cr_assert_eq(register_node("n"), 500);
    cr_assert_eq(orchd_clear_faults(srv), 0);
    cr_assert_eq(register_node("n"), 200);
}

Test(orchd_dev, invalid_fault_spec_is_rejected)
{
    reply_t r;
    start(NULL);
    r = call((call_t){
        .method = "POST", .path = "/_dev/fault", .content_type = JSON, .body = "{\"delay\":5}"});
    cr_assert_eq(r.status, 422);
    reply_free(&r);
    r = call((call_t){.method = "POST",
                      .path = "/_dev/fault",
                      .content_type = JSON,
                      .body = "{\"match\":\"reg\"}"});
    cr_assert_eq(r.status, 422);
    reply_free(&r);
}

Test(orchd_dev, fault_delay_delays_a_normal_answer)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"delay_ms\":300}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 200);
    cr_assert_geq(r.elapsed_ms, 290);
    reply_free(&r);
}

Test(orchd_dev, fault_hang_is_bounded_by_the_client_timeout)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"hang\":true,\"count\":1}"), 0);
    r = call((call_t){.path = "/v2/nodes", .timeout_ms = 300});
    cr_assert_eq(r.rc, CURLE_OPERATION_TIMEDOUT);
    cr_assert_lt(r.elapsed_ms, 2000);
    reply_free(&r);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 200);
    reply_free(&r);
}

Test(orchd_dev, stop_is_prompt_while_a_request_hangs)
{
    reply_t r;
    long t0;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"hang\":true}"), 0);
    r = call((call_t){.path = "/v2/nodes", .timeout_ms = 200});
    reply_free(&r);
    t0 = now_ms();
    orchd_stop(srv);
    srv = NULL;
    cr_assert_lt(now_ms() - t0, 2000, "SIGTERM did not stop the server promptly");
}

Test(orchd_dev, fault_drop_closes_without_response)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"heartbeat\",\"drop\":true}"), 0);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/n/heartbeat",
                      .content_type = JSON,
                      .body = good_hb()});
    cr_assert_eq(r.rc, CURLE_GOT_NOTHING);
    reply_free(&r);
}

Test(orchd_dev, fault_redirect_answers_302_with_location)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(
        orchd_fault(srv, "{\"match\":\"list\",\"redirect\":\"http://127.0.0.1:1/elsewhere\"}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 302);
    cr_assert_str_eq(r.location, "http://127.0.0.1:1/elsewhere");
    reply_free(&r);
}

Test(orchd_dev, fault_huge_body_declares_1_gib)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"body_mode\":\"huge\"}"), 0);
    r = call((call_t){.path = "/v2/nodes", .max_body = 256 * 1024});
    cr_assert_eq(r.rc, CURLE_WRITE_ERROR);
    cr_assert_str_eq(r.content_length, "1073741824");
    cr_assert_eq(strncmp(r.body, "{\"nodes\":[]", 11), 0);
    reply_free(&r);
}

Test(orchd_dev, fault_endless_body_is_chunked_without_end)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"body_mode\":\"endless\",\"status\":500}"),
                 0);
    r = call((call_t){.path = "/v2/nodes", .max_body = 4 * 1024 * 1024});
    cr_assert_eq(r.rc, CURLE_WRITE_ERROR);
    cr_assert_eq(r.status, 500);
    cr_assert_str_eq(r.transfer_encoding, "chunked");
    reply_free(&r);
}

Test(orchd_dev, fault_trickle_sends_one_byte_per_second)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"body_mode\":\"trickle\"}"), 0);
    r = call((call_t){.path = "/v2/nodes", .timeout_ms = 1500});
    cr_assert_eq(r.rc, CURLE_OPERATION_TIMEDOUT);
    cr_assert(r.len >= 1 && r.len <= 3, "got %zu bytes in 1.5 s", r.len);
    reply_free(&r);
}

/* A raw GET of /v2/nodes on a fresh TCP connection: what arrived (up to
 * CAP - 1 bytes, NUL-terminated) and in how many recv() calls. */
static size_t raw_get(char *buf, size_t cap, int *reads)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)orchd_port(srv))};
    const char *rq = "GET /v2/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    struct timeval tv = {5, 0};
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(send(fd, rq, strlen(rq), 0), (ssize_t)strlen(rq));
    *reads = 0;
    while (got + 1 < cap && (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0) {
        got += (size_t)n;
        (*reads)++;
    }
    buf[got] = '\0';
    close(fd);
    return got;
}

Test(orchd_dev, fault_tiny_segments_sends_the_answer_a_byte_at_a_time)
{
    char buf[4096];
    int reads;
    reply_t r;
    start(NULL);
    cr_assert_eq(
        orchd_fault(srv, "{\"match\":\"list\",\"body_mode\":\"tiny_segments\",\"count\":1}"), 0);
    size_t n = raw_get(buf, sizeof buf, &reads);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 200 ", 13), 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\n\r\n{\"nodes\":[],\"count\":0}"), "%s", buf);
    cr_assert_gt(reads, (int)n / 2, "%zu bytes came in only %d reads", n, reads);
    cr_assert_eq(
        orchd_fault(srv, "{\"match\":\"list\",\"body_mode\":\"tiny_segments\",\"count\":1}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 200, "an HTTP client reassembles it");
    cr_assert_str_eq(r.body, "{\"nodes\":[],\"count\":0}");
    reply_free(&r);
}

Test(orchd_dev, fault_204_with_a_body_sends_the_body)
{
    char buf[4096];
    int reads;
    start(NULL);
    cr_assert_eq(
        orchd_fault(srv, "{\"match\":\"list\",\"status\":204,\"body\":\"xyz\",\"count\":1}"), 0);
    raw_get(buf, sizeof buf, &reads);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 204 ", 13), 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "Content-Length: 3\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\n\r\nxyz"), "%s", buf);
}

Test(orchd_dev, fault_reset_resets_the_connection)
{
    reply_t r;
    start(NULL);
    cr_assert_eq(orchd_fault(srv, "{\"match\":\"list\",\"reset\":true,\"count\":1}"), 0);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.rc, CURLE_RECV_ERROR, "expected a reset, got %d (%s)", r.rc,
                 curl_easy_strerror(r.rc));
    reply_free(&r);
    r = call((call_t){.path = "/v2/nodes"});
    cr_assert_eq(r.status, 200);
    reply_free(&r);
}

Test(orchd_dev, restart_forgets_every_node)
{
    start(NULL);
    cr_assert_eq(register_node("n1"), 200);
    cr_assert_eq(orchd_restart(srv), 0);
    cr_assert_eq(heartbeat("n1"), 404);
    cr_assert_eq(orchd_wait_node_status(srv, "n1", NULL, 0), 0);
}

/* ---- stats and request log --------------------------------------------- */

Test(orchd_dev, keep_alive_requests_count_as_one_connection)
{
    CURL *h = curl_easy_init();
    reply_t r;
    start(NULL);
    for (int i = 0; i < 3; i++) {
        r = call((call_t){.path = "/v2/nodes", .handle = h});
        cr_assert_eq(r.status, 200);
        reply_free(&r);
    }
    cr_assert_eq(orchd_stat(srv, "connections"), 1);
    cr_assert_eq(orchd_stat(srv, "connections_open"), 1);
    cr_assert_eq(orchd_stat(srv, "requests.list"), 3);
    curl_easy_cleanup(h);
    r = call((call_t){.path = "/v2/nodes"});
    reply_free(&r);
    cr_assert_eq(orchd_stat(srv, "connections"), 2);
}

Test(orchd_dev, stats_count_requests_statuses_and_rejections)
{
    start(NULL);
    cr_assert_eq(register_node("n"), 200);
    cr_assert_eq(heartbeat("n"), 200);
    cr_assert_eq(heartbeat("ghost"), 404);
    cr_assert_eq(post("/v2/nodes/register", "{"), 400);
    cr_assert_eq(orchd_stat(srv, "requests.register"), 2);
    cr_assert_eq(orchd_stat(srv, "requests.heartbeat"), 2);
    cr_assert_eq(orchd_stat(srv, "status.200"), 2);
    cr_assert_eq(orchd_stat(srv, "status.404"), 1);
    cr_assert_eq(orchd_stat(srv, "status.503"), 0);
    cr_assert_eq(orchd_stat(srv, "rejected"), 1);
}

Test(orchd_dev, request_log_records_each_node_request)
{
    json_object *log, *e;
    reply_t r;
    start(NULL);
    r = call((call_t){.method = "POST",
                      .path = "/v2/nodes/register",
                      .content_type = JSON,
                      .cid = "c-1",
                      .body = reg_body("n", "1.0", "1", "1", "null")});
    reply_free(&r);
    log = orchd_get_json(srv, "/_dev/requests");
    cr_assert_eq(json_object_array_length(log), 1);
    e = json_object_array_get_idx(log, 0);
    cr_assert_str_eq(jstr(e, "method"), "POST");
    cr_assert_str_eq(jstr(e, "raw_path"), "/v2/nodes/register");
    cr_assert_str_eq(jstr(e, "content_type"), JSON);
    cr_assert_str_eq(jstr(e, "auth"), "absent");
    cr_assert_str_eq(jstr(e, "correlation_id"), "c-1");
    cr_assert_eq(jint(e, "status"), 422);
    cr_assert_not_null(strstr(jstr(e, "error"), "device_id"));
    cr_assert_not_null(strstr(jstr(e, "body"), "\"device_id\":1.0"));
    json_object_put(log);
    r = call((call_t){.method = "DELETE", .path = "/_dev/requests"});
    reply_free(&r);
    log = orchd_get_json(srv, "/_dev/requests");
    cr_assert_eq(json_object_array_length(log), 0);
    json_object_put(log);
}

/* ---- TLS / mTLS --------------------------------------------------------- */

/* CA + server cert (localhost) + client cert, and an unrelated CA with its
 * own client cert, into a fresh temp dir (certdir). */
static void make_certs(void)
{
    char cmd[4096];
    snprintf(certdir, sizeof certdir, "/tmp/orchd-certs-XXXXXX");
    cr_assert_not_null(mkdtemp(certdir));
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && exec >gen.log 2>&1 && set -e\n"
        "EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
        "openssl req -x509 $EC -keyout ca.key -out ca.pem -days 2 -subj /CN=orchd-test-ca\n"
        "openssl req -x509 $EC -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > "
        "srv.ext\n"
        "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext\n"
        "openssl req $EC -keyout server.key -out server.csr -subj /CN=localhost\n"
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile srv.ext -out server.pem\n"
        "cat server.pem ca.pem > server-chain.pem\n"
        "openssl req $EC -keyout client.key -out client.csr -subj /CN=node-1\n"
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile cli.ext -out client.pem\n"
        "openssl req $EC -keyout rogue.key -out rogue.csr -subj /CN=rogue\n"
        "openssl x509 -req -in rogue.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial "
        "-days 2 "
        "-extfile cli.ext -out rogue.pem\n",
        certdir);
    cr_assert_eq(system(cmd), 0, "openssl failed, see %s/gen.log", certdir);
}

static char *cert(const char *name)
{
    static char paths[8][320];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 320, "%s/%s", certdir, name);
    return p;
}

static void start_tls(int mtls)
{
    orchd_options_t opt = {.tls_cert = cert("server-chain.pem"),
                           .tls_key = cert("server.key"),
                           .tls_client_ca = mtls ? cert("ca.pem") : NULL};
    start(&opt);
    cr_assert_eq(strncmp(orchd_url(srv), "https://localhost:", 18), 0);
}

Test(orchd_dev, tls_client_with_the_right_ca_succeeds)
{
    reply_t r;
    make_certs();
    start_tls(0);
    r = call((call_t){.path = "/v2/nodes", .cainfo = cert("ca.pem")});
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200);
    reply_free(&r);
}

Test(orchd_dev, tls_client_with_a_wrong_ca_fails_verification)
{
    reply_t r;
    make_certs();
    start_tls(0);
    r = call((call_t){.path = "/v2/nodes", .cainfo = cert("other-ca.pem")});
    cr_assert_eq(r.rc, CURLE_PEER_FAILED_VERIFICATION, "%s", curl_easy_strerror(r.rc));
    reply_free(&r);
}

Test(orchd_dev, mtls_without_client_cert_is_403)
{
    reply_t r;
    make_certs();
    start_tls(1);
    r = call((call_t){.path = "/v2/nodes", .cainfo = cert("ca.pem")});
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 403);
    reply_free(&r);
}

Test(orchd_dev, mtls_with_untrusted_client_cert_is_403)
{
    reply_t r;
    make_certs();
    start_tls(1);
    r = call((call_t){.path = "/v2/nodes",
                      .cainfo = cert("ca.pem"),
                      .cert = cert("rogue.pem"),
                      .key = cert("rogue.key")});
    cr_assert_eq(r.status, 403);
    reply_free(&r);
}

Test(orchd_dev, mtls_with_trusted_client_cert_succeeds)
{
    reply_t r;
    make_certs();
    start_tls(1);
    r = call((call_t){.path = "/v2/nodes",
                      .cainfo = cert("ca.pem"),
                      .cert = cert("client.pem"),
                      .key = cert("client.key")});
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    cr_assert_eq(orchd_wait_node_status(srv, "nobody", NULL, 0), 0,
                 "/_dev/ stays reachable without a client cert");
}

/* ---- process behaviour (spawned by hand: needs the exit status and the
 * un-quiet log) ------------------------------------------------------------ */

struct manual {
    pid_t pid;
    char dir[64], base[64], log[128];
};

static void spawn_manual(struct manual *m, const char *token)
{
    char port_file[128];
    const char *bin = getenv("ORCHD_DEV_BIN") ? getenv("ORCHD_DEV_BIN") : ORCHD_DEV_PATH;
    const char *argv[] = {bin, "--port", "0", "--port-file", port_file, "--token", token, NULL};
    posix_spawn_file_actions_t fa;
    int port = 0;
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "/tmp/orchd-manual-XXXXXX");
    cr_assert_not_null(mkdtemp(m->dir));
    snprintf(certdir, sizeof certdir, "%s", m->dir);
    snprintf(port_file, sizeof port_file, "%s/port", m->dir);
    snprintf(m->log, sizeof m->log, "%s/log", m->dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, m->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_eq(posix_spawn(&m->pid, bin, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 500 && port == 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        usleep(10000);
    }
    cr_assert_gt(port, 0, "orchd-dev did not write its port file");
    snprintf(m->base, sizeof m->base, "http://127.0.0.1:%d", port);
}

/* The exit status after SIGTERM, or -1 if it took more than 2 s. */
static int term_and_wait(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void *hang_request(void *base)
{
    reply_t r = call(
        (call_t){.base = base, .path = "/v2/nodes", .auth = "Bearer tok", .timeout_ms = 10000});
    reply_free(&r);
    return NULL;
}

Test(orchd_dev, sigterm_exits_0_promptly_even_with_a_hung_request)
{
    struct manual m;
    pthread_t t;
    reply_t r;
    spawn_manual(&m, "tok");
    r = call((call_t){
        .base = m.base, .method = "POST", .path = "/_dev/fault", .body = "{\"hang\":true}"});
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    pthread_create(&t, NULL, hang_request, m.base);
    usleep(200000);
    cr_assert_eq(term_and_wait(m.pid), 0);
    pthread_join(t, NULL);
}

Test(orchd_dev, server_log_has_request_lines_but_never_the_token)
{
    struct manual m;
    char line[1024];
    int lines = 0;
    FILE *f;
    reply_t r;
    spawn_manual(&m, "very-secret-token");
    r = call((call_t){
        .base = m.base, .path = "/v2/nodes", .auth = "Bearer very-secret-token", .cid = "cid-7"});
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    r = call((call_t){.base = m.base, .path = "/v2/nodes", .auth = "Bearer very-secret-wrong"});
    cr_assert_eq(r.status, 401);
    reply_free(&r);
    cr_assert_eq(term_and_wait(m.pid), 0);
    f = fopen(m.log, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        cr_assert_null(strstr(line, "very-secret"), "token in log: %s", line);
        lines += strstr(line, "GET /v2/nodes") != NULL;
    }
    fclose(f);
    cr_assert_eq(lines, 2);
}
