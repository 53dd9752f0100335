/* Unit tests of nr_payload.c: every request body checked field by field and
 * type by type against protocol.md, response parsing, path encoding. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nr_payload.h"

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

static nr_config_t config(void)
{
    nr_config_t c;
    memset(&c, 0, sizeof(c));
    c.node_id = "gpu-node-1";
    c.machine_id = "machine-alpha";
    c.address = "http://10.0.0.5:9200";
    c.base_url = "https://cp.example.com";
    c.heartbeat_interval_ms = 10000;
    return c;
}

static void add_pool(nr_pool_list_t *l, const char *id, const char *engine, uint64_t vram)
{
    pmd_pool_status_t p;
    memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    p.ready = 1;
    p.slots_free = 3;
    p.slots_total = 4;
    p.vram_free_bytes = vram;
    p.pool_id = id;
    p.engine = engine;
    cr_assert_eq(nr_pool_list_add(l, &p), PMD_OK);
}

static void add_gpu(nr_capabilities_t *c, uint32_t id, const char *name, uint64_t vram,
                    const char *cc)
{
    pmd_gpu_info_t g = {sizeof(g), id, vram, name, cc};
    cr_assert_eq(nr_capabilities_add_gpu(c, &g), PMD_OK);
}

/* Parses body as JSON and frees it; the caller puts the returned object. */
static json_object *parse(char *body)
{
    json_object *o;
    cr_assert_not_null(body);
    o = json_tokener_parse(body);
    cr_assert_not_null(o, "not JSON: %s", body);
    free(body);
    return o;
}

static json_object *field(json_object *o, const char *key, json_type type)
{
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, key, &v), "missing \"%s\"", key);
    cr_assert_eq(json_object_get_type(v), type, "\"%s\" is %s", key,
                 json_type_to_name(json_object_get_type(v)));
    return v;
}

/* o has exactly the keys listed (NULL-terminated), no other. */
static void exactly_keys(json_object *o, const char *const *keys)
{
    size_t n = 0;
    cr_assert(json_object_is_type(o, json_type_object));
    for (; keys[n] != NULL; n++)
        cr_assert(json_object_object_get_ex(o, keys[n], NULL), "missing \"%s\"", keys[n]);
    cr_assert_eq((size_t)json_object_object_length(o), n, "extra fields in %s",
                 json_object_to_json_string(o));
}

static const char *str(json_object *o, const char *key)
{
    return json_object_get_string(field(o, key, json_type_string));
}

static struct timespec at(time_t s, long ns)
{
    struct timespec t = {s, ns};
    return t;
}

/* ---------------------------------------------------------------------- */
/* RegisterRequest                                                        */
/* ---------------------------------------------------------------------- */

Test(register_body, has_exactly_the_documented_fields_with_their_types)
{
    static const char *const top[] = {"node_id",      "machine_id", "address", "pools",
                                      "capabilities", "version",    NULL};
    static const char *const caps_keys[] = {"gpus", "cpu_cores", "ram_total_bytes", NULL};
    static const char *const gpu_keys[] = {"device_id", "name", "vram_total_bytes",
                                           "compute_capability", NULL};
    nr_config_t c = config();
    nr_pool_list_t pools = {0};
    nr_capabilities_t caps = {0};
    pmd_node_resources_t r = {sizeof(r), 16, 137438953472ull};
    json_object *o, *caps_o, *gpus, *g, *arr;

    add_pool(&pools, "pool-0", "llamacpp", 1);
    add_gpu(&caps, 0, "NVIDIA H200", 150754820096ull, "9.0");
    cr_assert_eq(nr_capabilities_set_resources(&caps, &r), PMD_OK);
    o = parse(nr_payload_register(&c, &pools, &caps, "0.1.0"));

    exactly_keys(o, top);
    cr_assert_str_eq(str(o, "node_id"), "gpu-node-1");
    cr_assert_str_eq(str(o, "machine_id"), "machine-alpha");
    cr_assert_str_eq(str(o, "address"), "http://10.0.0.5:9200");
    cr_assert_str_eq(str(o, "version"), "0.1.0");
    arr = field(o, "pools", json_type_array);
    cr_assert_eq(json_object_array_length(arr), 1);
    cr_assert_eq(json_object_get_type(json_object_array_get_idx(arr, 0)), json_type_string);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)), "pool-0");

    caps_o = field(o, "capabilities", json_type_object);
    exactly_keys(caps_o, caps_keys);
    cr_assert_eq(json_object_get_int64(field(caps_o, "cpu_cores", json_type_int)), 16);
    cr_assert_eq(json_object_get_uint64(field(caps_o, "ram_total_bytes", json_type_int)),
                 137438953472ull);
    gpus = field(caps_o, "gpus", json_type_array);
    cr_assert_eq(json_object_array_length(gpus), 1);
    g = json_object_array_get_idx(gpus, 0);
    exactly_keys(g, gpu_keys);
    cr_assert_eq(json_object_get_int64(field(g, "device_id", json_type_int)), 0);
    cr_assert_str_eq(str(g, "name"), "NVIDIA H200");
    cr_assert_eq(json_object_get_uint64(field(g, "vram_total_bytes", json_type_int)),
                 150754820096ull);
    cr_assert_str_eq(str(g, "compute_capability"), "9.0");

    json_object_put(o);
    nr_pool_list_clear(&pools);
    nr_capabilities_clear(&caps);
}

Test(register_body, uses_config_pools_when_configured)
{
    nr_config_t c = config();
    char *ids[] = {"cfg-a", "cfg-b"};
    nr_pool_list_t pools = {0};
    json_object *o, *arr;

    c.has_pools = 1;
    c.pools = ids;
    c.pool_count = 2;
    add_pool(&pools, "host-pool", NULL, 1);
    o = parse(nr_payload_register(&c, &pools, NULL, NULL));
    arr = field(o, "pools", json_type_array);
    cr_assert_eq(json_object_array_length(arr), 2);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 0)), "cfg-a");
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 1)), "cfg-b");
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

Test(register_body, configured_empty_pool_list_sends_an_empty_array)
{
    nr_config_t c = config();
    nr_pool_list_t pools = {0};
    json_object *o;

    c.has_pools = 1;
    add_pool(&pools, "host-pool", NULL, 1);
    o = parse(nr_payload_register(&c, &pools, NULL, NULL));
    cr_assert_eq(json_object_array_length(field(o, "pools", json_type_array)), 0);
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

Test(register_body, uses_host_pools_when_config_has_none)
{
    nr_config_t c = config();
    nr_pool_list_t pools = {0};
    json_object *o, *arr;

    add_pool(&pools, "h0", NULL, 1);
    add_pool(&pools, "h1", NULL, 1);
    o = parse(nr_payload_register(&c, &pools, NULL, NULL));
    arr = field(o, "pools", json_type_array);
    cr_assert_eq(json_object_array_length(arr), 2);
    cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(arr, 1)), "h1");
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

Test(register_body, no_pools_anywhere_sends_an_empty_array)
{
    nr_config_t c = config();
    char *body = nr_payload_register(&c, NULL, NULL, NULL);
    cr_assert_not_null(strstr(body, "\"pools\":[]"), "%s", body);
    free(body);
}

Test(register_body, uses_config_capabilities_when_configured)
{
    nr_config_t c = config();
    nr_config_gpu_t g = {7, 42, "Config GPU", "8.6"};
    nr_capabilities_t caps = {0};
    json_object *o, *co, *gpus, *g0;

    c.has_capabilities = 1;
    c.gpus = &g;
    c.gpu_count = 1;
    c.cpu_cores = 4;
    add_gpu(&caps, 0, "Host GPU", 1, "9.0");
    caps.cpu_cores = 99;
    o = parse(nr_payload_register(&c, NULL, &caps, NULL));
    co = field(o, "capabilities", json_type_object);
    gpus = field(co, "gpus", json_type_array);
    cr_assert_eq(json_object_array_length(gpus), 1);
    g0 = json_object_array_get_idx(gpus, 0);
    cr_assert_str_eq(str(g0, "name"), "Config GPU");
    cr_assert_eq(json_object_get_int64(field(g0, "device_id", json_type_int)), 7);
    cr_assert_eq(json_object_get_int64(field(co, "cpu_cores", json_type_int)), 4);
    json_object_put(o);
    nr_capabilities_clear(&caps);
}

Test(register_body, no_capabilities_anywhere_sends_empty_gpus_only)
{
    static const char *const caps_keys[] = {"gpus", NULL};
    nr_config_t c = config();
    json_object *o = parse(nr_payload_register(&c, NULL, NULL, NULL));
    json_object *co = field(o, "capabilities", json_type_object);
    exactly_keys(co, caps_keys);
    cr_assert_eq(json_object_array_length(field(co, "gpus", json_type_array)), 0);
    json_object_put(o);
}

Test(register_body, omits_cpu_cores_when_zero)
{
    nr_config_t c = config();
    nr_capabilities_t caps = {0};
    json_object *o, *co;

    caps.ram_total_bytes = 5;
    o = parse(nr_payload_register(&c, NULL, &caps, NULL));
    co = field(o, "capabilities", json_type_object);
    cr_assert_not(json_object_object_get_ex(co, "cpu_cores", NULL));
    cr_assert(json_object_object_get_ex(co, "ram_total_bytes", NULL));
    json_object_put(o);
}

Test(register_body, omits_ram_total_bytes_when_zero)
{
    nr_config_t c = config();
    nr_capabilities_t caps = {0};
    json_object *o, *co;

    caps.cpu_cores = 5;
    o = parse(nr_payload_register(&c, NULL, &caps, NULL));
    co = field(o, "capabilities", json_type_object);
    cr_assert_not(json_object_object_get_ex(co, "ram_total_bytes", NULL));
    cr_assert(json_object_object_get_ex(co, "cpu_cores", NULL));
    json_object_put(o);
}

Test(register_body, omits_version_when_null)
{
    nr_config_t c = config();
    json_object *o = parse(nr_payload_register(&c, NULL, NULL, NULL));
    cr_assert_not(json_object_object_get_ex(o, "version", NULL));
    json_object_put(o);
}

Test(register_body, u64_fields_keep_their_full_range_verbatim)
{
    nr_config_t c = config();
    nr_capabilities_t caps = {0};
    char *body;

    add_gpu(&caps, 4294967295u, "g", UINT64_MAX, "9.0");
    caps.cpu_cores = 4294967295u;
    caps.ram_total_bytes = 9223372036854775807ull;
    body = nr_payload_register(&c, NULL, &caps, NULL);
    cr_assert_not_null(strstr(body, "\"vram_total_bytes\":18446744073709551615"), "%s", body);
    cr_assert_not_null(strstr(body, "\"ram_total_bytes\":9223372036854775807"), "%s", body);
    cr_assert_not_null(strstr(body, "\"device_id\":4294967295"), "%s", body);
    cr_assert_not_null(strstr(body, "\"cpu_cores\":4294967295"), "%s", body);
    free(body);
    nr_capabilities_clear(&caps);
}

Test(register_body, strings_are_json_escaped_and_round_trip)
{
    nr_config_t c = config();
    json_object *o;
    char *body;

    c.node_id = "quote\"back\\slash";
    c.machine_id = "caf\xC3\xA9-\xE2\x82\xAC-\xF0\x9F\x98\x80";
    body = nr_payload_register(&c, NULL, NULL, NULL);
    cr_assert_not_null(strstr(body, "\"quote\\\"back\\\\slash\""), "%s", body);
    o = parse(body);
    cr_assert_str_eq(str(o, "node_id"), "quote\"back\\slash");
    cr_assert_str_eq(str(o, "machine_id"), "caf\xC3\xA9-\xE2\x82\xAC-\xF0\x9F\x98\x80");
    json_object_put(o);
}

Test(register_body, slashes_are_not_escaped)
{
    nr_config_t c = config();
    char *body = nr_payload_register(&c, NULL, NULL, NULL);
    cr_assert_not_null(strstr(body, "\"address\":\"http://10.0.0.5:9200\""), "%s", body);
    free(body);
}

Test(register_body, is_plain_without_whitespace)
{
    nr_config_t c = config();
    char *body = nr_payload_register(&c, NULL, NULL, "1");
    cr_assert_str_eq(body, "{\"node_id\":\"gpu-node-1\",\"machine_id\":\"machine-alpha\","
                           "\"address\":\"http://10.0.0.5:9200\",\"pools\":[],"
                           "\"capabilities\":{\"gpus\":[]},\"version\":\"1\"}");
    free(body);
}

Test(register_body, null_config_gives_null)
{
    cr_assert_null(nr_payload_register(NULL, NULL, NULL, NULL));
}

/* ---------------------------------------------------------------------- */
/* HeartbeatRequest                                                       */
/* ---------------------------------------------------------------------- */

Test(heartbeat_body, has_exactly_the_documented_fields_with_their_types)
{
    static const char *const top[] = {"timestamp", "pools", NULL};
    static const char *const pool_keys[] = {"pool_id",    "ready",       "draining",
                                            "slots_free", "slots_total", "vram_free_bytes",
                                            "engine",     NULL};
    nr_pool_list_t pools = {0};
    json_object *o, *arr, *p;

    add_pool(&pools, "pool-0", "llamacpp", 18000000000ull);
    o = parse(nr_payload_heartbeat(&pools, at(1795762800, 0)));
    exactly_keys(o, top);
    cr_assert_str_eq(str(o, "timestamp"), "2026-11-27T07:00:00.000Z");
    arr = field(o, "pools", json_type_array);
    cr_assert_eq(json_object_array_length(arr), 1);
    p = json_object_array_get_idx(arr, 0);
    exactly_keys(p, pool_keys);
    cr_assert_str_eq(str(p, "pool_id"), "pool-0");
    cr_assert_eq(json_object_get_boolean(field(p, "ready", json_type_boolean)), 1);
    cr_assert_eq(json_object_get_boolean(field(p, "draining", json_type_boolean)), 0);
    cr_assert_eq(json_object_get_int64(field(p, "slots_free", json_type_int)), 3);
    cr_assert_eq(json_object_get_int64(field(p, "slots_total", json_type_int)), 4);
    cr_assert_eq(json_object_get_uint64(field(p, "vram_free_bytes", json_type_int)),
                 18000000000ull);
    cr_assert_str_eq(str(p, "engine"), "llamacpp");
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, omits_engine_when_unknown)
{
    static const char *const pool_keys[] = {
        "pool_id", "ready", "draining", "slots_free", "slots_total", "vram_free_bytes", NULL};
    nr_pool_list_t pools = {0};
    json_object *o;

    add_pool(&pools, "pool-0", NULL, 1);
    o = parse(nr_payload_heartbeat(&pools, at(0, 0)));
    exactly_keys(json_object_array_get_idx(field(o, "pools", json_type_array), 0), pool_keys);
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, vram_free_bytes_u64_max_appears_verbatim)
{
    nr_pool_list_t pools = {0};
    char *body;

    add_pool(&pools, "pool-0", NULL, UINT64_MAX);
    body = nr_payload_heartbeat(&pools, at(0, 0));
    cr_assert_not_null(strstr(body, "\"vram_free_bytes\":18446744073709551615"), "%s", body);
    free(body);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, vram_free_bytes_i64_max_appears_verbatim)
{
    nr_pool_list_t pools = {0};
    char *body;

    add_pool(&pools, "pool-0", NULL, 9223372036854775807ull);
    body = nr_payload_heartbeat(&pools, at(0, 0));
    cr_assert_not_null(strstr(body, "\"vram_free_bytes\":9223372036854775807"), "%s", body);
    free(body);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, u32_slots_keep_their_full_range)
{
    nr_pool_list_t pools = {0};
    pmd_pool_status_t p;
    char *body;

    memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    p.pool_id = "pool-0";
    p.slots_free = 4294967295u;
    p.slots_total = 4294967295u;
    cr_assert_eq(nr_pool_list_add(&pools, &p), PMD_OK);
    body = nr_payload_heartbeat(&pools, at(0, 0));
    cr_assert_not_null(strstr(body, "\"slots_free\":4294967295"), "%s", body);
    cr_assert_not_null(strstr(body, "\"slots_total\":4294967295"), "%s", body);
    free(body);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, flags_are_json_booleans)
{
    nr_pool_list_t pools = {0};
    pmd_pool_status_t p;
    char *body;

    memset(&p, 0, sizeof(p));
    p.struct_size = sizeof(p);
    p.pool_id = "pool-0";
    p.draining = 7;
    cr_assert_eq(nr_pool_list_add(&pools, &p), PMD_OK);
    body = nr_payload_heartbeat(&pools, at(0, 0));
    cr_assert_not_null(strstr(body, "\"ready\":false,\"draining\":true"), "%s", body);
    free(body);
    nr_pool_list_clear(&pools);
}

Test(heartbeat_body, no_pools_sends_an_empty_array)
{
    char *body = nr_payload_heartbeat(NULL, at(0, 0));
    cr_assert_str_eq(body, "{\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"pools\":[]}");
    free(body);
}

Test(heartbeat_body, every_pool_is_sent_in_order)
{
    nr_pool_list_t pools = {0};
    json_object *o, *arr;

    add_pool(&pools, "a", NULL, 1);
    add_pool(&pools, "b", "vllm", 2);
    add_pool(&pools, "c", NULL, 3);
    o = parse(nr_payload_heartbeat(&pools, at(0, 0)));
    arr = field(o, "pools", json_type_array);
    cr_assert_eq(json_object_array_length(arr), 3);
    cr_assert_str_eq(str(json_object_array_get_idx(arr, 2), "pool_id"), "c");
    cr_assert_str_eq(str(json_object_array_get_idx(arr, 1), "engine"), "vllm");
    json_object_put(o);
    nr_pool_list_clear(&pools);
}

/* ---------------------------------------------------------------------- */
/* timestamps                                                             */
/* ---------------------------------------------------------------------- */

Test(timestamp, formats_rfc3339_utc_with_milliseconds)
{
    char buf[32];
    nr_payload_timestamp(at(1795762800, 123456789), buf, sizeof(buf));
    cr_assert_str_eq(buf, "2026-11-27T07:00:00.123Z");
}

Test(timestamp, truncates_nanoseconds_instead_of_rounding)
{
    char buf[32];
    nr_payload_timestamp(at(59, 999999999), buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:59.999Z");
}

Test(timestamp, fits_the_documented_25_byte_buffer)
{
    char buf[25];
    nr_payload_timestamp(at(1759270500, 0), buf, sizeof(buf));
    cr_assert_str_eq(buf, "2025-09-30T22:15:00.000Z");
}

Test(timestamp, out_of_range_nanoseconds_read_as_zero)
{
    char buf[32];
    nr_payload_timestamp(at(0, 1000000000L), buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}

Test(timestamp, small_buffer_is_truncated_and_terminated)
{
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    nr_payload_timestamp(at(0, 0), buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01");
}

Test(timestamp, after_year_9999_is_clamped_to_the_last_representable_instant)
{
    char buf[25];
    nr_payload_timestamp(at((time_t)253402300800LL, 0), buf, sizeof(buf)); /* 10000-01-01 */
    cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
    nr_payload_timestamp(at((time_t)316016078400LL, 500000000L), buf, sizeof(buf)); /* 10021 */
    cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
    nr_payload_timestamp(at((time_t)INT64_MAX, 0), buf, sizeof(buf));
    cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
}

Test(timestamp, last_second_of_year_9999_is_written_exactly)
{
    char buf[25];
    nr_payload_timestamp(at((time_t)253402300799LL, 123000000L), buf, sizeof(buf));
    cr_assert_str_eq(buf, "9999-12-31T23:59:59.123Z");
}

Test(timestamp, before_1970_is_clamped_to_the_epoch)
{
    char buf[25];
    nr_payload_timestamp(at(-1, 999000000L), buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    nr_payload_timestamp(at((time_t)-62167219201LL, 0), buf, sizeof(buf)); /* before year 0 */
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    nr_payload_timestamp(at((time_t)INT64_MIN, 0), buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}

Test(timestamp, heartbeat_far_in_the_future_carries_a_valid_timestamp)
{
    char *body = nr_payload_heartbeat(NULL, at((time_t)316016078400LL, 0));
    cr_assert_not_null(body);
    cr_assert_str_eq(body, "{\"timestamp\":\"9999-12-31T23:59:59.999Z\",\"pools\":[]}");
    free(body);
}

/* ---------------------------------------------------------------------- */
/* HeartbeatResponse                                                      */
/* ---------------------------------------------------------------------- */

static nr_heartbeat_reply_t reply(const char *body)
{
    return nr_payload_parse_heartbeat_reply(body, body != NULL ? strlen(body) : 0);
}

Test(heartbeat_reply, reads_next_heartbeat_ms)
{
    nr_heartbeat_reply_t r = reply("{\"success\":true,\"next_heartbeat_ms\":10000}");
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, 10000);
}

Test(heartbeat_reply, reads_it_from_a_404_body_too)
{
    nr_heartbeat_reply_t r = reply("{\"success\":false,\"next_heartbeat_ms\":5000}");
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, 5000);
}

Test(heartbeat_reply, accepts_zero)
{
    nr_heartbeat_reply_t r = reply("{\"next_heartbeat_ms\":0}");
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, 0);
}

Test(heartbeat_reply, accepts_u64_max)
{
    nr_heartbeat_reply_t r = reply("{\"next_heartbeat_ms\":18446744073709551615}");
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, UINT64_MAX);
}

Test(heartbeat_reply, rejects_negative)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":-1}").has_next, 0);
}

Test(heartbeat_reply, rejects_fraction)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":1.5}").has_next, 0);
    cr_assert_eq(reply("{\"next_heartbeat_ms\":1000.0}").has_next, 0);
}

Test(heartbeat_reply, rejects_string)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":\"10000\"}").has_next, 0);
}

Test(heartbeat_reply, rejects_null_and_bool)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":null}").has_next, 0);
    cr_assert_eq(reply("{\"next_heartbeat_ms\":true}").has_next, 0);
}

Test(heartbeat_reply, missing_field_gives_nothing)
{
    cr_assert_eq(reply("{\"success\":true}").has_next, 0);
}

Test(heartbeat_reply, empty_or_absent_body_gives_nothing)
{
    cr_assert_eq(reply("").has_next, 0);
    cr_assert_eq(reply(NULL).has_next, 0);
}

Test(heartbeat_reply, non_json_gives_nothing)
{
    cr_assert_eq(reply("<html>502 Bad Gateway</html>").has_next, 0);
}

Test(heartbeat_reply, truncated_json_gives_nothing)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":10000").has_next, 0);
}

Test(heartbeat_reply, trailing_garbage_gives_nothing)
{
    cr_assert_eq(reply("{\"next_heartbeat_ms\":10000} junk").has_next, 0);
}

Test(heartbeat_reply, non_object_root_gives_nothing)
{
    cr_assert_eq(reply("[{\"next_heartbeat_ms\":10000}]").has_next, 0);
    cr_assert_eq(reply("10000").has_next, 0);
}

Test(heartbeat_reply, reads_only_len_bytes)
{
    const char body[] = "{\"next_heartbeat_ms\":1234}{{{{ not part of the body";
    nr_heartbeat_reply_t r = nr_payload_parse_heartbeat_reply(body, 26);
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, 1234);
}

Test(heartbeat_reply, body_without_terminating_nul_is_read_safely)
{
    char *body = malloc(26);
    nr_heartbeat_reply_t r;
    memcpy(body, "{\"next_heartbeat_ms\":1234}", 26);
    r = nr_payload_parse_heartbeat_reply(body, 26);
    cr_assert_eq(r.has_next, 1);
    cr_assert_eq(r.next_heartbeat_ms, 1234);
    free(body);
}

/* ---------------------------------------------------------------------- */
/* error messages                                                         */
/* ---------------------------------------------------------------------- */

static const char *message(const char *body, char *out, size_t size)
{
    nr_payload_error_message(body, body != NULL ? strlen(body) : 0, out, size);
    return out;
}

Test(error_message, reads_the_message_field)
{
    char out[64];
    cr_assert_str_eq(message("{\"success\":false,\"message\":\"Cloud profile disabled\","
                             "\"node_id\":\"n\"}",
                             out, sizeof(out)),
                     "Cloud profile disabled");
}

Test(error_message, non_json_body_gives_empty)
{
    char out[64] = "x";
    cr_assert_str_eq(message("<html>Bad Gateway</html>", out, sizeof(out)), "");
}

Test(error_message, absent_body_gives_empty)
{
    char out[64] = "x";
    cr_assert_str_eq(message(NULL, out, sizeof(out)), "");
}

Test(error_message, body_without_message_gives_empty)
{
    char out[64] = "x";
    cr_assert_str_eq(message("{\"success\":false}", out, sizeof(out)), "");
}

Test(error_message, non_string_message_gives_empty)
{
    char out[64] = "x";
    cr_assert_str_eq(message("{\"message\":42}", out, sizeof(out)), "");
}

Test(error_message, control_characters_are_stripped)
{
    char out[64];
    cr_assert_str_eq(
        message("{\"message\":\"line1\\nline2\\u001b[31m\\u0000!\"}", out, sizeof(out)),
        "line1line2[31m!");
}

Test(error_message, invalid_utf8_is_replaced)
{
    char out[64];
    cr_assert_str_eq(message("{\"message\":\"bad \xFF byte\"}", out, sizeof(out)),
                     "bad \xEF\xBF\xBD byte");
}

Test(error_message, is_truncated_to_fit_at_a_character_boundary)
{
    char out[6];
    cr_assert_str_eq(message("{\"message\":\"abcd\xE2\x82\xAC\"}", out, sizeof(out)), "abcd");
}

Test(error_message, zero_size_buffer_is_left_alone)
{
    char out[1] = {'x'};
    nr_payload_error_message("{\"message\":\"m\"}", 15, out, 0);
    cr_assert_eq(out[0], 'x');
}

/* ---------------------------------------------------------------------- */
/* path segments                                                          */
/* ---------------------------------------------------------------------- */

static void segment_is(const char *in, const char *want)
{
    char *got = nr_payload_path_segment(in);
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(path_segment, encodes_reserved_characters)
{
    segment_is("a/b c%", "a%2Fb%20c%25");
}

Test(path_segment, keeps_unreserved_characters)
{
    segment_is("AZaz09-._~", "AZaz09-._~");
}

Test(path_segment, encodes_utf8_bytes_in_uppercase_hex)
{
    segment_is("caf\xC3\xA9", "caf%C3%A9");
}

Test(path_segment, encodes_query_and_fragment_delimiters)
{
    segment_is("a?b#c&d=e+f", "a%3Fb%23c%26d%3De%2Bf");
}

Test(path_segment, encodes_dot_segments_so_they_stay_one_id)
{
    segment_is(".", "%2E");
    segment_is("..", "%2E%2E");
    segment_is("...", "...");
    segment_is("a.b", "a.b");
}

Test(path_segment, empty_string_gives_empty)
{
    segment_is("", "");
}

Test(path_segment, null_gives_null)
{
    cr_assert_null(nr_payload_path_segment(NULL));
}

Test(payload, log_value_escapes_quotes_and_backslashes)
{
    char out[64];
    nr_payload_log_value("HTTP 500: say \"hi\" \\ bye", out, sizeof(out));
    cr_assert_str_eq(out, "HTTP 500: say \\\"hi\\\" \\\\ bye");
}

Test(payload, log_value_truncates_without_splitting_an_escape)
{
    char out[6];
    nr_payload_log_value("ab\"cd", out, sizeof(out));
    cr_assert_str_eq(out, "ab\\\"c");
    nr_payload_log_value("abcd\"", out, sizeof(out));
    cr_assert_str_eq(out, "abcd");
}
