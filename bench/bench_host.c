/*
 * bench_host.c - the counting host (see bench_host.h).
 */
#include "bench_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pool_ids[BH_MAX_POOLS] = {
    "pool-00", "pool-01", "pool-02", "pool-03", "pool-04", "pool-05", "pool-06", "pool-07",
    "pool-08", "pool-09", "pool-10", "pool-11", "pool-12", "pool-13", "pool-14", "pool-15"};

static void on_log(void *data, int32_t level, const char *message)
{
    bh_host_t *h = data;
    h->log_lines++;
    if (h->verbose)
        fprintf(stderr, "log %d %s\n", (int)level, message);
}

static int32_t on_list_pools(void *data, const pmd_pool_sink_t *sink)
{
    bh_host_t *h = data;
    h->list_calls++;
    for (int i = 0; i < h->pools; i++) {
        pmd_pool_status_t p = {sizeof(p),   1,         0, {0, 0}, 3, 4, (uint64_t)(20 + i) << 30,
                               pool_ids[i], "llamacpp"};
        sink->add_pool(sink->sink_data, &p);
    }
    return PMD_OK;
}

static int32_t on_capabilities(void *data, const pmd_capability_sink_t *sink)
{
    (void)data;
    pmd_node_resources_t res = {sizeof(res), 32, 256ull << 30};
    pmd_gpu_info_t gpu = {sizeof(gpu), 0, 141ull << 30, "NVIDIA H200", "9.0"};
    sink->set_resources(sink->sink_data, &res);
    sink->add_gpu(sink->sink_data, &gpu);
    return PMD_OK;
}

static void on_state(void *data, int32_t state, const char *detail)
{
    bh_host_t *h = data;
    h->state_changes++;
    h->last_state = state;
    if (h->verbose)
        fprintf(stderr, "state %d %s\n", (int)state, detail ? detail : "");
}

static const void *on_get_extension(void *data, const char *id)
{
    (void)data;
    (void)id;
    return NULL;
}

void bh_host_init(bh_host_t *h, int pools)
{
    memset(h, 0, sizeof(*h));
    h->pools = pools < 0 ? 0 : pools > BH_MAX_POOLS ? BH_MAX_POOLS : pools;
    h->last_state = -1;
    const char *v = getenv("PMD_BENCH_VERBOSE");
    h->verbose = v != NULL && v[0] == '1';
    h->abi.struct_size = sizeof(h->abi);
    h->abi.abi_major = PMD_ABI_VERSION_MAJOR;
    h->abi.abi_minor = PMD_ABI_VERSION_MINOR;
    h->abi.host_data = h;
    h->abi.host_name = "pmd-bench";
    h->abi.host_version = "0.1.0";
    h->abi.log = on_log;
    h->abi.list_pools = on_list_pools;
    h->abi.get_capabilities = on_capabilities;
    h->abi.state_changed = on_state;
    h->abi.get_extension = on_get_extension;
}

const pmd_ext_stats_t *bh_stats_ext(const pmd_plugin_t *plugin, uint32_t session_minor)
{
    if (session_minor < 1 || plugin->get_extension == NULL)
        return NULL;
    return plugin->get_extension(PMD_EXT_STATS);
}

pmd_stats_t bh_stats(const pmd_ext_stats_t *ext, pmd_instance_t *in)
{
    pmd_stats_t s;
    memset(&s, 0, sizeof(s));
    s.struct_size = sizeof(s);
    s.state = -1;
    if (ext == NULL || ext->get(in, &s) != PMD_OK) {
        memset(&s, 0, sizeof(s));
        s.state = -1;
    }
    return s;
}
