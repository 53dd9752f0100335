/* hollow_node.c - the synthetic host of one hollow node: callbacks that
 * answer from the node's index and never block. */
#include "hollow_node.h"

#include <stdio.h>
#include <string.h>

static void on_log(void *data, int32_t level, const char *message)
{
    hollow_node_t *n = data;
    pf_log_counts_t *c = n->logs;
    pthread_mutex_lock(&c->lock);
    c->by_level[(uint32_t)level & 7u]++;
    if (level == PMD_LOG_ERROR && c->first_error[0] == '\0')
        snprintf(c->first_error, sizeof(c->first_error), "%s: %s", n->node_id, message);
    if (level == PMD_LOG_ERROR) {
        snprintf(c->last_error, sizeof(c->last_error), "%s", message);
        c->last_error_node = n;
    }
    if (c->verbose && level <= PMD_LOG_WARN)
        fprintf(stderr, "%s: %s\n", n->node_id, message);
    pthread_mutex_unlock(&c->lock);
}

static int32_t on_list_pools(void *data, const pmd_pool_sink_t *sink)
{
    hollow_node_t *n = data;
    static const char *const ids[] = {"pool-a", "pool-b"};
    for (uint32_t i = 0; i < 2; i++) {
        pmd_pool_status_t s;
        memset(&s, 0, sizeof(s));
        s.struct_size = sizeof(s);
        s.ready = 1;
        s.slots_total = 8;
        s.slots_free = (n->index + i) % 9;
        s.vram_free_bytes = (uint64_t)(20 + (n->index + i) % 20) << 30;
        s.pool_id = ids[i];
        s.engine = "llamacpp";
        sink->add_pool(sink->sink_data, &s);
    }
    return PMD_OK;
}

static int32_t on_capabilities(void *data, const pmd_capability_sink_t *sink)
{
    (void)data;
    pmd_node_resources_t r = {sizeof(r), 32, 256ull << 30};
    pmd_gpu_info_t g = {sizeof(g), 0, 141ull << 30, "NVIDIA H200", "9.0"};
    sink->set_resources(sink->sink_data, &r);
    sink->add_gpu(sink->sink_data, &g);
    return PMD_OK;
}

int32_t hn_init(hollow_node_t *n, const pmd_plugin_t *p, uint32_t abi_minor, uint32_t index,
                const char *node_id, const char *config, pf_log_counts_t *logs, char *err,
                uint32_t err_size)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->node_id, sizeof(n->node_id), "%s", node_id);
    n->index = index;
    n->logs = logs;
    n->host = (pmd_host_t){.struct_size = sizeof(pmd_host_t),
                           .abi_major = PMD_ABI_VERSION_MAJOR,
                           .abi_minor = abi_minor,
                           .host_data = n,
                           .host_name = "pmd-fleet",
                           .host_version = "1",
                           .log = on_log,
                           .list_pools = on_list_pools,
                           .get_capabilities = on_capabilities};
    n->init_rc = p->init(&n->host, config, &n->inst, err, err_size);
    if (n->init_rc != PMD_OK)
        n->inst = NULL;
    return n->init_rc;
}

int32_t hn_start(hollow_node_t *n, const pmd_plugin_t *p)
{
    if (n->inst == NULL)
        return n->init_rc;
    n->start_rc = p->on_start(n->inst);
    n->started = n->start_rc == PMD_OK;
    return n->start_rc;
}

void hn_tick(hollow_node_t *n, const pmd_plugin_t *p, uint64_t now_ns)
{
    if (n->started)
        p->on_tick(n->inst, now_ns);
}

void hn_finish(hollow_node_t *n, const pmd_plugin_t *p)
{
    if (n->inst == NULL)
        return;
    if (n->started)
        p->on_stop(n->inst);
    p->destroy(n->inst);
    n->inst = NULL;
    n->started = 0;
}
