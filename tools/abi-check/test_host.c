/*
 * test_host.c - the recording host of pmd-abi-check. Deliberately small: it
 * answers every callback with fixed data and counts who called it, from
 * which thread, and whether an ABI call on that instance was in progress.
 */
#include "test_host.h"

#include <stdio.h>
#include <string.h>

/* The recorder whose instance has an ABI call in progress (host thread). */
static _Atomic(th_rec_t *) th_current;

void th_rec_init(th_rec_t *rec, int index)
{
    memset(rec, 0, sizeof(*rec));
    rec->index = index;
    rec->host_thread = pthread_self();
    atomic_store(&rec->last_state, -1);
}

int th_rec_guard_records(th_rec_t *rec)
{
    if (ac_guard_map(&rec->pool_guard) != 0 || ac_guard_map(&rec->gpu_guard) != 0 ||
        ac_guard_map(&rec->res_guard) != 0)
        return -1;
    rec->guard_records = 1;
    return 0;
}

void th_rec_fini(th_rec_t *rec)
{
    ac_guard_unmap(&rec->pool_guard);
    ac_guard_unmap(&rec->gpu_guard);
    ac_guard_unmap(&rec->res_guard);
    rec->guard_records = 0;
}

unsigned th_rec_callbacks(const th_rec_t *rec)
{
    return atomic_load(&rec->n_log) + atomic_load(&rec->n_pools) + atomic_load(&rec->n_caps) +
           atomic_load(&rec->n_state) + atomic_load(&rec->n_ext);
}

unsigned th_rec_violations(const th_rec_t *rec)
{
    return atomic_load(&rec->n_off_thread) + atomic_load(&rec->n_outside_call) +
           atomic_load(&rec->n_foreign);
}

/* Every callback starts here: classify the caller. */
static th_rec_t *seen(void *host_data)
{
    th_rec_t *rec = host_data;
    int on_host_thread = pthread_equal(pthread_self(), rec->host_thread);
    if (!on_host_thread)
        atomic_fetch_add(&rec->n_off_thread, 1);
    if (!atomic_load(&rec->in_call))
        atomic_fetch_add(&rec->n_outside_call, 1);
    /* On the host thread, during another instance's call: host_data mixed up. */
    th_rec_t *cur = atomic_load(&th_current);
    if (on_host_thread && cur != NULL && cur != rec)
        atomic_fetch_add(&rec->n_foreign, 1);
    return rec;
}

static void cb_log(void *host_data, int32_t level, const char *message)
{
    th_rec_t *rec = seen(host_data);
    (void)level;
    atomic_fetch_add(&rec->n_log, 1);
    if (message != NULL && pthread_equal(pthread_self(), rec->host_thread))
        snprintf(rec->last_log, sizeof(rec->last_log), "%s", message);
}

/* A record for the plugin: on the stack, or ending at a guard page. */
static void *record_slot(th_rec_t *rec, ac_guard_t *g, void *local, size_t n)
{
    return rec->guard_records ? ac_guard_tail(g, n) : local;
}

static int32_t cb_list_pools(void *host_data, const pmd_pool_sink_t *sink)
{
    th_rec_t *rec = seen(host_data);
    atomic_fetch_add(&rec->n_pools, 1);
    if (sink == NULL || sink->struct_size < offsetof(pmd_pool_sink_t, add_pool) +
                                                sizeof(sink->add_pool) ||
        sink->add_pool == NULL) {
        atomic_fetch_add(&rec->n_bad_sink, 1);
        return PMD_ERR_INVALID_ARGUMENT;
    }
    static const char *const ids[] = {"pool-a", "pool-b"};
    for (int i = 0; i < 2; i++) {
        pmd_pool_status_t local;
        pmd_pool_status_t *pool = record_slot(rec, &rec->pool_guard, &local, sizeof(local));
        memset(pool, 0, sizeof(*pool));
        pool->struct_size = sizeof(*pool);
        pool->ready = 1;
        pool->slots_free = 3;
        pool->slots_total = 4;
        pool->vram_free_bytes = (uint64_t)8 << 30;
        pool->pool_id = ids[i];
        pool->engine = i == 0 ? "llamacpp" : NULL;
        sink->add_pool(sink->sink_data, pool);
    }
    return PMD_OK;
}

static int32_t cb_get_capabilities(void *host_data, const pmd_capability_sink_t *sink)
{
    th_rec_t *rec = seen(host_data);
    atomic_fetch_add(&rec->n_caps, 1);
    if (sink == NULL || sink->struct_size < offsetof(pmd_capability_sink_t, add_gpu) +
                                                sizeof(sink->add_gpu) ||
        sink->set_resources == NULL || sink->add_gpu == NULL) {
        atomic_fetch_add(&rec->n_bad_sink, 1);
        return PMD_ERR_INVALID_ARGUMENT;
    }
    pmd_node_resources_t lres;
    pmd_node_resources_t *res = record_slot(rec, &rec->res_guard, &lres, sizeof(lres));
    memset(res, 0, sizeof(*res));
    res->struct_size = sizeof(*res);
    res->cpu_cores = 16;
    res->ram_total_bytes = (uint64_t)128 << 30;
    sink->set_resources(sink->sink_data, res);
    for (uint32_t i = 0; i < 2; i++) {
        pmd_gpu_info_t lgpu;
        pmd_gpu_info_t *gpu = record_slot(rec, &rec->gpu_guard, &lgpu, sizeof(lgpu));
        memset(gpu, 0, sizeof(*gpu));
        gpu->struct_size = sizeof(*gpu);
        gpu->device_id = i;
        gpu->vram_total_bytes = (uint64_t)80 << 30;
        gpu->name = "Test GPU";
        gpu->compute_capability = "9.0";
        sink->add_gpu(sink->sink_data, gpu);
    }
    return PMD_OK;
}

static void cb_state_changed(void *host_data, int32_t state, const char *detail)
{
    th_rec_t *rec = seen(host_data);
    atomic_fetch_add(&rec->n_state, 1);
    if (pthread_equal(pthread_self(), rec->host_thread))
        snprintf(rec->last_detail, sizeof(rec->last_detail), "%s", detail ? detail : "");
    atomic_store(&rec->last_state, state);
}

static const void *cb_get_extension(void *host_data, const char *id)
{
    th_rec_t *rec = seen(host_data);
    (void)id;
    atomic_fetch_add(&rec->n_ext, 1);
    return NULL;
}

void th_host_fill(pmd_host_t *h, th_rec_t *rec)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->abi_major = PMD_ABI_VERSION_MAJOR;
    h->abi_minor = PMD_ABI_VERSION_MINOR;
    h->host_data = rec;
    h->host_name = "pmd-abi-check";
    h->host_version = "0.1.0";
    h->log = cb_log;
    h->list_pools = cb_list_pools;
    h->get_capabilities = cb_get_capabilities;
    h->state_changed = cb_state_changed;
    h->get_extension = cb_get_extension;
}

static void enter(th_rec_t *rec)
{
    atomic_store(&rec->in_call, 1);
    atomic_store(&th_current, rec);
}

static void leave(th_rec_t *rec)
{
    atomic_store(&th_current, NULL);
    atomic_store(&rec->in_call, 0);
}

int32_t th_init(th_rec_t *rec, const pmd_plugin_t *p, const pmd_host_t *h, const char *config,
                pmd_instance_t **out, char *err, uint32_t err_size)
{
    enter(rec);
    int32_t rc = p->init(h, config, out, err, err_size);
    leave(rec);
    return rc;
}

int32_t th_start(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter(rec);
    int32_t rc = p->on_start(in);
    leave(rec);
    return rc;
}

int32_t th_tick(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in, uint64_t now_ns)
{
    enter(rec);
    int32_t rc = p->on_tick(in, now_ns);
    leave(rec);
    return rc;
}

int32_t th_stop(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter(rec);
    int32_t rc = p->on_stop(in);
    leave(rec);
    return rc;
}

void th_destroy(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter(rec);
    p->destroy(in);
    leave(rec);
}

int32_t th_handover(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                    pmd_handover_t *out)
{
    enter(rec);
    int32_t rc = p->on_handover(in, out);
    leave(rec);
    return rc;
}

int32_t th_start_handed_over(th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                             const pmd_handover_t *h)
{
    enter(rec);
    int32_t rc = p->on_start_handed_over(in, h);
    leave(rec);
    return rc;
}

int32_t th_stats(th_rec_t *rec, const ac_session_t *s, pmd_instance_t *in, pmd_stats_t *out)
{
    if (!pmd_loader_has_extensions(&s->lp))
        return -1;
    const pmd_ext_stats_t *ext = s->p->get_extension(PMD_EXT_STATS);
    if (ext == NULL || ext->struct_size < offsetof(pmd_ext_stats_t, get) + sizeof(ext->get) ||
        ext->get == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    enter(rec);
    int32_t rc = ext->get(in, out);
    leave(rec);
    return rc;
}

int th_lifecycle(th_rec_t *rec, const ac_session_t *s, const pmd_host_t *host, int nticks,
                 unsigned tick_us, ac_result_t *r)
{
    pmd_host_t local;
    if (host == NULL) {
        th_host_fill(&local, rec);
        host = &local;
    }
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = th_init(rec, s->p, host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d (%s) with the plugin's config: %s", (int)rc,
                s->p->result_string(rc), err);
        return -1;
    }
    int failed = 0;
    if ((rc = th_start(rec, s->p, in)) != PMD_OK) {
        ac_fail(r, "start returned %d", (int)rc);
        failed = 1;
    }
    for (int i = 0; !failed && i < nticks; i++) {
        if (tick_us > 0)
            ac_sleep_us(tick_us);
        if ((rc = th_tick(rec, s->p, in, ac_now_ns())) != PMD_OK) {
            ac_fail(r, "tick %d returned %d", i, (int)rc);
            failed = 1;
        }
    }
    if (!failed && (rc = th_stop(rec, s->p, in)) != PMD_OK) {
        ac_fail(r, "stop returned %d", (int)rc);
        failed = 1;
    }
    th_destroy(rec, s->p, in);
    return failed ? -1 : 0;
}
