/*
 * fuzz_records.c - libFuzzer target for what a host pushes through the
 * ABI's sinks: pmd_pool_status_t, pmd_gpu_info_t and pmd_node_resources_t
 * records with arbitrary strings, counts, extreme values and struct_size
 * values, through the real sinks (nr_pool_sink / nr_capability_sink), then
 * the heartbeat and register bodies built from what was kept.
 *
 * Each record lives in a heap block of exactly its struct_size bytes (at
 * least the struct_size field), and each string in a block of exactly its
 * length + 1, so reading a field the host's struct_size does not cover, or
 * a byte past a string, is a heap overflow that ASan reports.
 *
 * Input: a byte of ops, each followed by its record's bytes:
 *   0 pool, 1 GPU, 2 resources, 3 many pools at once (a count and a prefix),
 *   4 build the bodies now (also done at the end) and start a new pull.
 * Invariants: every push is either kept or counted as refused; limits hold;
 * kept strings are valid UTF-8 (identities also without control bytes); the
 * bodies are strict JSON and valid UTF-8 and carry every kept pool; copies
 * are equal.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"
#include "nr_payload.h"
#include "nr_records.h"

#define MAX_OPS 64
#define MAX_PUSHES 300

static const uint32_t pool_sizes[] = {0,
                                      4,
                                      8,
                                      12,
                                      16,
                                      24,
                                      PMD_POOL_STATUS_MIN_SIZE - 1,
                                      PMD_POOL_STATUS_MIN_SIZE,
                                      sizeof(pmd_pool_status_t) - 1,
                                      sizeof(pmd_pool_status_t),
                                      sizeof(pmd_pool_status_t) + 8};
static const uint32_t gpu_sizes[] = {
    0, 4, 8, 16, 24, 31, sizeof(pmd_gpu_info_t), sizeof(pmd_gpu_info_t) + 16};
static const uint32_t res_sizes[] = {
    0, 3, 4, 8, 12, 15, sizeof(pmd_node_resources_t), sizeof(pmd_node_resources_t) + 4};
static const uint64_t extremes[] = {0,
                                    1,
                                    0x7fffffffull,
                                    0xffffffffull,
                                    0x100000000ull,
                                    0x7fffffffffffffffull,
                                    0x8000000000000000ull,
                                    UINT64_MAX};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct state {
    nr_pool_list_t pools;
    nr_capabilities_t caps;
    size_t pool_pushes, gpu_pushes, res_refused;
} state_t;

static uint32_t pick_size(fuzz_reader_t *r, const uint32_t *table, size_t n)
{
    uint8_t b = fr_u8(r);
    return b < 0xF0 ? table[b % n] : fr_u16(r); /* rarely: any size */
}

static uint64_t pick_u64(fuzz_reader_t *r)
{
    uint8_t b = fr_u8(r);
    return b < 0x80 ? extremes[b % COUNT(extremes)] : fr_u64(r);
}

/* A string, or (flag bit) NULL. Long ones reach past NR_MAX_STRING. */
static char *pick_string(fuzz_reader_t *r)
{
    uint8_t b = fr_u8(r);
    if (b == 0xFF)
        return NULL;
    return fr_string(r, b & 1 ? 5000 : 200, NULL);
}

/* The record in a block of exactly struct_size bytes. */
static void *host_block(const void *rec, size_t rec_size, uint32_t struct_size)
{
    size_t n = struct_size < sizeof(uint32_t) ? sizeof(uint32_t) : struct_size;
    unsigned char *b = malloc(n);
    if (b == NULL)
        abort();
    memset(b, 0xA5, n); /* a newer host's fields we do not know */
    memcpy(b, rec, n < rec_size ? n : rec_size);
    memcpy(b, &struct_size, sizeof(struct_size));
    return b;
}

static void push_pool(state_t *st, pmd_pool_sink_t *sink, fuzz_reader_t *r)
{
    pmd_pool_status_t p;
    uint32_t size = pick_size(r, pool_sizes, COUNT(pool_sizes));
    memset(&p, 0, sizeof(p));
    p.ready = fr_u8(r);
    p.draining = fr_u8(r);
    p.slots_free = (uint32_t)pick_u64(r);
    p.slots_total = (uint32_t)pick_u64(r);
    p.vram_free_bytes = pick_u64(r);
    p.pool_id = pick_string(r);
    p.engine = pick_string(r);
    void *block = host_block(&p, sizeof(p), size);
    int32_t rc = sink->add_pool(sink->sink_data, fr_u8(r) == 0xFF ? NULL : block);
    FUZZ_CHECK(rc == PMD_OK || rc == PMD_ERR_HOST_DATA || rc == PMD_ERR_LIMIT, "rc %d", rc);
    st->pool_pushes++;
    free(block);
    free((char *)p.pool_id);
    free((char *)p.engine);
}

/* Many pools with generated ids (a count byte). The total per input stays
 * below NR_MAX_POOLS: the plugin's duplicate check is quadratic, so an input
 * that reached the limit would take a second under ASan and the fuzzer would
 * spend its time there; the limit itself is covered by nr_records_test. */
static void push_many(state_t *st, pmd_pool_sink_t *sink, fuzz_reader_t *r)
{
    unsigned n = fr_u8(r);
    char prefix = (char)('a' + fr_u8(r) % 3);
    for (unsigned i = 0; i < n && st->pool_pushes < MAX_PUSHES; i++) {
        char id[32];
        pmd_pool_status_t p;
        memset(&p, 0, sizeof(p));
        p.struct_size = sizeof(p);
        snprintf(id, sizeof(id), "%c%u", prefix, i);
        p.pool_id = id;
        sink->add_pool(sink->sink_data, &p);
        st->pool_pushes++;
    }
}

static void push_gpu(state_t *st, pmd_capability_sink_t *sink, fuzz_reader_t *r)
{
    pmd_gpu_info_t g;
    uint32_t size = pick_size(r, gpu_sizes, COUNT(gpu_sizes));
    memset(&g, 0, sizeof(g));
    g.device_id = (uint32_t)pick_u64(r);
    g.vram_total_bytes = pick_u64(r);
    g.name = pick_string(r);
    g.compute_capability = fr_u8(r) & 1 ? pick_string(r) : strdup("9.0");
    void *block = host_block(&g, sizeof(g), size);
    int32_t rc = sink->add_gpu(sink->sink_data, block);
    FUZZ_CHECK(rc == PMD_OK || rc == PMD_ERR_HOST_DATA || rc == PMD_ERR_LIMIT, "rc %d", rc);
    st->gpu_pushes++;
    free(block);
    free((char *)g.name);
    free((char *)g.compute_capability);
}

static void push_resources(state_t *st, pmd_capability_sink_t *sink, fuzz_reader_t *r)
{
    pmd_node_resources_t res;
    uint32_t size = pick_size(r, res_sizes, COUNT(res_sizes));
    memset(&res, 0, sizeof(res));
    res.cpu_cores = (uint32_t)pick_u64(r);
    res.ram_total_bytes = pick_u64(r);
    void *block = host_block(&res, sizeof(res), size);
    int32_t rc = sink->set_resources(sink->sink_data, block);
    FUZZ_CHECK(rc == PMD_OK || rc == PMD_ERR_HOST_DATA, "rc %d", rc);
    st->res_refused += rc != PMD_OK;
    free(block);
}

static int clean_identity(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return n > 0 && n <= NR_MAX_STRING && fuzz_utf8_valid(s, n);
}

static void check_lists(const state_t *st)
{
    const nr_pool_list_t *l = &st->pools;
    FUZZ_CHECK(l->count + l->refused == st->pool_pushes, "%zu kept + %zu refused != %zu pushed",
               l->count, l->refused, st->pool_pushes);
    FUZZ_CHECK(l->count <= NR_MAX_POOLS && l->count <= l->capacity, "pool count %zu", l->count);
    FUZZ_CHECK(l->refused == 0 || l->first_error[0] != '\0', "refusal without a message");
    FUZZ_CHECK(fuzz_utf8_valid(l->first_error, strlen(l->first_error)), "first_error UTF-8");
    for (size_t i = 0; i < l->count; i++) {
        FUZZ_CHECK(clean_identity(l->items[i].pool_id), "kept pool_id %zu", i);
        FUZZ_CHECK(l->items[i].ready <= 1 && l->items[i].draining <= 1, "flags not 0/1");
        for (size_t j = 0; j < i && l->count <= 128; j++) /* quadratic: small lists only */
            FUZZ_CHECK(strcmp(l->items[i].pool_id, l->items[j].pool_id) != 0, "duplicate kept");
        const char *e = l->items[i].engine;
        FUZZ_CHECK(e == NULL ||
                       (e[0] && strlen(e) <= NR_MAX_STRING && fuzz_utf8_valid(e, strlen(e))),
                   "engine %zu", i);
    }
    const nr_capabilities_t *c = &st->caps;
    FUZZ_CHECK(c->gpu_count + c->refused == st->gpu_pushes + st->res_refused,
               "%zu gpus + %zu refused != %zu pushed", c->gpu_count, c->refused,
               st->gpu_pushes + st->res_refused);
    FUZZ_CHECK(c->gpu_count <= NR_MAX_GPUS, "gpu count %zu", c->gpu_count);
    for (size_t i = 0; i < c->gpu_count; i++) {
        const char *n = c->gpus[i].name;
        FUZZ_CHECK(n && n[0] && fuzz_utf8_valid(n, strlen(n)), "gpu name %zu", i);
        FUZZ_CHECK(nr_compute_capability_valid(c->gpus[i].compute_capability), "cc %zu", i);
    }
}

static void check_heartbeat(const nr_pool_list_t *l, struct timespec now)
{
    char *body = nr_payload_heartbeat(l, now);
    json_object *root, *pools;
    FUZZ_CHECK(body != NULL, "heartbeat body");
    root = fuzz_parse_json("heartbeat body", body);
    FUZZ_CHECK(json_object_object_get_ex(root, "pools", &pools) &&
                   json_object_array_length(pools) == l->count,
               "heartbeat pools");
    for (size_t i = 0; i < l->count; i++) {
        json_object *p = json_object_array_get_idx(pools, i), *v;
        FUZZ_CHECK(json_object_object_get_ex(p, "pool_id", &v) &&
                       strcmp(json_object_get_string(v), l->items[i].pool_id) == 0,
                   "pool_id %zu round trip", i);
        FUZZ_CHECK(json_object_object_get_ex(p, "vram_free_bytes", &v) &&
                       json_object_get_uint64(v) == l->items[i].vram_free_bytes,
                   "vram %zu round trip", i);
    }
    json_object_put(root);
    free(body);
}

static void check_bodies(const state_t *st, fuzz_reader_t *r)
{
    nr_config_t cfg;
    nr_pool_list_t copy;
    nr_capabilities_t caps_copy;
    struct timespec now = {(time_t)fr_u64(r), (long)fr_u32(r)};
    char *ids[NR_MAX_POOLS];

    check_lists(st);
    check_heartbeat(&st->pools, now);
    memset(&cfg, 0, sizeof(cfg));
    cfg.node_id = cfg.machine_id = "fuzz-node";
    cfg.address = "http://10.0.0.5:9200";
    cfg.base_url = "http://127.0.0.1:1";
    char *body = nr_payload_register(&cfg, &st->pools, &st->caps, "0.1.0");
    FUZZ_CHECK(body != NULL, "register body");
    json_object_put(fuzz_parse_json("register body", body));

    memset(&copy, 0, sizeof(copy));
    memset(&caps_copy, 0, sizeof(caps_copy));
    FUZZ_CHECK(nr_pool_list_copy(&copy, &st->pools) == PMD_OK, "pool copy");
    FUZZ_CHECK(nr_capabilities_copy(&caps_copy, &st->caps) == PMD_OK, "caps copy");
    char *again = nr_payload_register(&cfg, &copy, &caps_copy, "0.1.0");
    FUZZ_CHECK(again != NULL && strcmp(body, again) == 0, "a copy builds another body");
    for (size_t i = 0; i < copy.count; i++)
        ids[copy.count - 1 - i] = copy.items[i].pool_id;
    FUZZ_CHECK(nr_pool_ids_equal(&st->pools, ids, copy.count), "ids equal to themselves");
    if (copy.count > 0)
        FUZZ_CHECK(!nr_pool_ids_equal(&st->pools, ids, copy.count - 1), "fewer ids equal");
    free(again);
    free(body);
    nr_pool_list_clear(&copy);
    nr_capabilities_clear(&caps_copy);
}

int nr_fuzz_records(const uint8_t *data, size_t size)
{
    fuzz_reader_t r = {data, size};
    state_t st;
    pmd_pool_sink_t psink;
    pmd_capability_sink_t csink;

    memset(&st, 0, sizeof(st));
    psink = nr_pool_sink(&st.pools);
    csink = nr_capability_sink(&st.caps);
    FUZZ_CHECK(psink.struct_size >= sizeof(psink) && csink.struct_size >= sizeof(csink), "sinks");
    for (int i = 0; i < MAX_OPS && r.left > 0 && st.pool_pushes < MAX_PUSHES; i++) {
        switch (fr_u8(&r) % 5) {
        case 0: push_pool(&st, &psink, &r); break;
        case 1: push_gpu(&st, &csink, &r); break;
        case 2: push_resources(&st, &csink, &r); break;
        case 3: push_many(&st, &psink, &r); break;
        default:
            check_bodies(&st, &r);
            nr_pool_list_clear(&st.pools); /* a new pull, as the plugin does */
            nr_capabilities_clear(&st.caps);
            st.pool_pushes = st.gpu_pushes = st.res_refused = 0;
            break;
        }
    }
    check_bodies(&st, &r);
    nr_pool_list_clear(&st.pools);
    nr_capabilities_clear(&st.caps);
    return 0;
}

#ifndef NR_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nr_fuzz_records(data, size);
}
#endif
