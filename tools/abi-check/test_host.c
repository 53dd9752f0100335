/*
 * test_host.c - the recording host of pmd-abi-check. Deliberately small: it
 * answers every callback with fixed data and counts who called it, from
 * which thread, and whether an ABI call on that instance was in progress.
 */
#include "test_host.h"
#include "txt.h"

#include <stdio.h>
#include <string.h>

/* The recorder whose instance has an ABI call in progress (host thread). */
static _Atomic(ac_th_rec_t *) ac_th_current;

void ac_th_rec_init(ac_th_rec_t *rec, int index)
{
    memset(rec, 0, sizeof(*rec));
    rec->index = index;
    rec->host_thread = pthread_self();
    atomic_store(&rec->last_state, -1);
}

int ac_th_rec_guard_records(ac_th_rec_t *rec)
{
    if (ac_guard_map(&rec->pool_guard) != 0 || ac_guard_map(&rec->gpu_guard) != 0 ||
        ac_guard_map(&rec->res_guard) != 0)
        return -1;
    rec->guard_records = 1;
    return 0;
}

void ac_th_rec_fini(ac_th_rec_t *rec)
{
    ac_guard_unmap(&rec->pool_guard);
    ac_guard_unmap(&rec->gpu_guard);
    ac_guard_unmap(&rec->res_guard);
    ac_guard_unmap(&rec->ext_guard);
    rec->guard_records = 0;
}

unsigned ac_th_rec_callbacks(const ac_th_rec_t *rec)
{
    return atomic_load(&rec->n_log) + atomic_load(&rec->n_pools) + atomic_load(&rec->n_caps) +
           atomic_load(&rec->n_state) + atomic_load(&rec->n_ext);
}

unsigned ac_th_rec_violations(const ac_th_rec_t *rec)
{
    return atomic_load(&rec->n_off_thread) + atomic_load(&rec->n_outside_call) +
           atomic_load(&rec->n_foreign);
}

/* Notes the first violation of the call rules, for the report. */
static void bad(ac_th_rec_t *rec, atomic_uint *counter, const char *fmt, const char *arg)
{
    if (atomic_fetch_add(counter, 1) == 0 && rec->bad_what[0] == '\0' &&
        pthread_equal(pthread_self(), rec->host_thread))
        snprintf(rec->bad_what, sizeof(rec->bad_what), fmt, arg);
}

static const char *const phase_names[] = {"no call", "init",    "on_start",    "on_tick",
                                          "on_stop", "destroy", "on_handover", "stats get"};

/* Which callbacks each ABI call may make (plugin.abi.md section 5). */
static int allowed(int phase, const char *cb)
{
    switch (phase) {
    case TH_PH_INIT: return strcmp(cb, "log") == 0 || strcmp(cb, "get_extension") == 0;
    case TH_PH_DESTROY: return strcmp(cb, "list_pools") != 0 && strcmp(cb, "get_capabilities") != 0;
    case TH_PH_STATS: return 0;
    default: return 1;
    }
}

/* Every callback starts here: classify the caller. */
static ac_th_rec_t *seen_as(void *host_data, const char *cb)
{
    ac_th_rec_t *rec = host_data;
    int on_host_thread = pthread_equal(pthread_self(), rec->host_thread);
    if (on_host_thread && atomic_load(&rec->in_call) && !allowed(rec->phase, cb)) {
        char what[96];
        snprintf(what, sizeof(what), "%s called during %s", cb, phase_names[rec->phase]);
        bad(rec, &rec->n_bad_phase, "%s", what);
    }
    if (rec->in_sink)
        bad(rec, &rec->n_in_sink, "%s called from inside a sink call", cb);
    if (on_host_thread && rec->hook != NULL && atomic_load(&rec->in_call))
        rec->hook(rec, cb);
    if (!on_host_thread)
        atomic_fetch_add(&rec->n_off_thread, 1);
    if (!atomic_load(&rec->in_call))
        atomic_fetch_add(&rec->n_outside_call, 1);
    /* On the host thread, during another instance's call: host_data mixed up. */
    ac_th_rec_t *cur = atomic_load(&ac_th_current);
    if (on_host_thread && cur != NULL && cur != rec)
        atomic_fetch_add(&rec->n_foreign, 1);
    return rec;
}

static void cb_log(void *host_data, int32_t level, const char *message)
{
    ac_th_rec_t *rec = seen_as(host_data, "log");
    atomic_fetch_add(&rec->n_log, 1);
    if (message == NULL)
        bad(rec, &rec->n_bad_log, "log line NULL%s", "");
    else if (strpbrk(message, "\r\n") != NULL)
        bad(rec, &rec->n_bad_log, "log line with a newline: \"%.100s\"", message);
    else if (!txt_utf8_valid(message, strlen(message)))
        bad(rec, &rec->n_bad_log, "log line not UTF-8: \"%.100s\"", message);
    else if (level < PMD_LOG_ERROR || level > PMD_LOG_DEBUG)
        bad(rec, &rec->n_bad_log, "log level out of 1..4: \"%.100s\"", message);
    if (message != NULL && pthread_equal(pthread_self(), rec->host_thread))
        snprintf(rec->last_log, sizeof(rec->last_log), "%s", message);
}

/* A record for the plugin: on the stack, or ending at a guard page. */
static void *record_slot(ac_th_rec_t *rec, ac_guard_t *g, void *local, size_t n)
{
    return rec->guard_records ? ac_guard_tail(g, n) : local;
}

/* A string on the record's own page (sealed with it), or the literal. */
static const char *page_string(ac_th_rec_t *rec, ac_guard_t *g, size_t at, const char *text)
{
    if (!rec->guard_records || g->base == NULL)
        return text;
    char *s = (char *)g->base + at;
    snprintf(s, 64, "%s", text);
    return s;
}

/* Calls a sink function with the in_sink mark set; seals the record after. */
static void sink_done(ac_th_rec_t *rec, ac_guard_t *g)
{
    rec->in_sink = 0;
    if (rec->guard_records && rec->seal_records)
        ac_guard_seal(g);
}

static void push_invalid_pools(ac_th_rec_t *rec, const pmd_pool_sink_t *sink)
{
    static const char *const why[] = {"a NULL record", "a record of struct_size 8", "pool_id NULL",
                                      "pool_id not UTF-8"};
    for (int i = 0; i < 4; i++) {
        pmd_pool_status_t pool;
        memset(&pool, 0, sizeof(pool));
        pool.struct_size = i == 1 ? 8 : sizeof(pool);
        pool.slots_total = 1;
        pool.pool_id = i == 2 ? NULL : i == 3 ? "pool-\xff\xfe" : "pool-bad";
        rec->in_sink = 1;
        int32_t rc = sink->add_pool(sink->sink_data, i == 0 ? NULL : &pool);
        rec->in_sink = 0;
        if (rc == PMD_OK)
            bad(rec, &rec->n_bad_accept, "add_pool accepted %s", why[i]);
    }
}

static int sink_ok(ac_th_rec_t *rec, const void *sink, uint32_t size, uint32_t need,
                   uint32_t reserved, const char *name)
{
    if (sink == NULL || size < need) {
        bad(rec, &rec->n_bad_sink, "%s sink NULL or with a struct_size not covering it", name);
        return 0;
    }
    if (reserved != 0)
        bad(rec, &rec->n_bad_sink, "%s sink with a non-zero reserved field", name);
    return 1;
}

static int32_t cb_list_pools(void *host_data, const pmd_pool_sink_t *sink)
{
    ac_th_rec_t *rec = seen_as(host_data, "list_pools");
    atomic_fetch_add(&rec->n_pools, 1);
    if (!sink_ok(rec, sink, sink ? sink->struct_size : 0,
                 offsetof(pmd_pool_sink_t, add_pool) + sizeof(sink->add_pool),
                 sink ? sink->reserved : 0, "pool") ||
        sink->add_pool == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    static const char *const ids[] = {"pool-a", "pool-b"};
    uint32_t size = rec->pool_size ? rec->pool_size : (uint32_t)sizeof(pmd_pool_status_t);
    for (int i = 0; i < 2; i++) {
        pmd_pool_status_t local;
        pmd_pool_status_t *pool = record_slot(rec, &rec->pool_guard, &local, size);
        memset(pool, 0, size);
        pool->struct_size = size;
        pool->ready = 1;
        pool->slots_free = 3;
        pool->slots_total = 4;
        pool->vram_free_bytes = (uint64_t)8 << 30;
        pool->pool_id = page_string(rec, &rec->pool_guard, 0, ids[i]);
        if (size >= sizeof(pmd_pool_status_t))
            pool->engine = i == 0 ? page_string(rec, &rec->pool_guard, 64, "llamacpp") : NULL;
        rec->in_sink = 1;
        sink->add_pool(sink->sink_data, pool);
        sink_done(rec, &rec->pool_guard);
    }
    if (rec->push_invalid)
        push_invalid_pools(rec, sink);
    return PMD_OK;
}

static int32_t cb_get_capabilities(void *host_data, const pmd_capability_sink_t *sink)
{
    ac_th_rec_t *rec = seen_as(host_data, "get_capabilities");
    atomic_fetch_add(&rec->n_caps, 1);
    if (!sink_ok(rec, sink, sink ? sink->struct_size : 0,
                 offsetof(pmd_capability_sink_t, add_gpu) + sizeof(sink->add_gpu),
                 sink ? sink->reserved : 0, "capability") ||
        sink->set_resources == NULL || sink->add_gpu == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    pmd_node_resources_t lres;
    pmd_node_resources_t *res = record_slot(rec, &rec->res_guard, &lres, sizeof(lres));
    memset(res, 0, sizeof(*res));
    res->struct_size = sizeof(*res);
    res->cpu_cores = 16;
    res->ram_total_bytes = (uint64_t)128 << 30;
    rec->in_sink = 1;
    sink->set_resources(sink->sink_data, res);
    sink_done(rec, &rec->res_guard);
    for (uint32_t i = 0; i < 2; i++) {
        pmd_gpu_info_t lgpu;
        pmd_gpu_info_t *gpu = record_slot(rec, &rec->gpu_guard, &lgpu, sizeof(lgpu));
        memset(gpu, 0, sizeof(*gpu));
        gpu->struct_size = sizeof(*gpu);
        gpu->device_id = i;
        gpu->vram_total_bytes = (uint64_t)80 << 30;
        gpu->name = page_string(rec, &rec->gpu_guard, 0, "Test GPU");
        gpu->compute_capability = page_string(rec, &rec->gpu_guard, 64, "9.0");
        rec->in_sink = 1;
        sink->add_gpu(sink->sink_data, gpu);
        sink_done(rec, &rec->gpu_guard);
    }
    if (rec->push_invalid) {
        pmd_gpu_info_t gpu = {sizeof(gpu), 7, 1, NULL, "9.0"};
        rec->in_sink = 1;
        int32_t a = sink->add_gpu(sink->sink_data, NULL), b = sink->add_gpu(sink->sink_data, &gpu);
        gpu.name = "Bad GPU";
        gpu.compute_capability = NULL;
        int32_t c = sink->add_gpu(sink->sink_data, &gpu);
        int32_t d = sink->set_resources(sink->sink_data, NULL);
        rec->in_sink = 0;
        if (a == PMD_OK || b == PMD_OK || c == PMD_OK || d == PMD_OK)
            bad(rec, &rec->n_bad_accept, "%s",
                a == PMD_OK   ? "add_gpu accepted a NULL record"
                : b == PMD_OK ? "add_gpu accepted a GPU whose name is NULL"
                : c == PMD_OK ? "add_gpu accepted a GPU whose compute_capability is NULL"
                              : "set_resources accepted a NULL record");
    }
    return PMD_OK;
}

static void cb_state_changed(void *host_data, int32_t state, const char *detail)
{
    ac_th_rec_t *rec = seen_as(host_data, "state_changed");
    atomic_fetch_add(&rec->n_state, 1);
    if (pmd_node_state_name(state) == NULL)
        bad(rec, &rec->n_bad_state, "state_changed with a state the header does not define%s", "");
    else if (detail == NULL)
        bad(rec, &rec->n_bad_state, "state_changed with a NULL detail%s", "");
    if (pthread_equal(pthread_self(), rec->host_thread))
        snprintf(rec->last_detail, sizeof(rec->last_detail), "%s", detail ? detail : "");
    atomic_store(&rec->last_state, state);
}

static const void *cb_get_extension(void *host_data, const char *id)
{
    ac_th_rec_t *rec = seen_as(host_data, "get_extension");
    atomic_fetch_add(&rec->n_ext, 1);
    if (rec->ext_short_table && id != NULL && strcmp(id, PMD_HOST_EXT_LOG_FIELDS) == 0 &&
        (rec->ext_guard.base != NULL || ac_guard_map(&rec->ext_guard) == 0)) {
        /* struct_size 8: log_fields lies outside it, and past the page. */
        uint32_t *t = ac_guard_tail(&rec->ext_guard, 8);
        t[0] = 8;
        t[1] = 0;
        return t;
    }
    return NULL;
}

void ac_th_host_fill(pmd_host_t *h, ac_th_rec_t *rec)
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

static void enter_as(ac_th_rec_t *rec, int phase)
{
    rec->phase = phase;
    atomic_store(&rec->in_call, 1);
    atomic_store(&ac_th_current, rec);
}

static void leave(ac_th_rec_t *rec)
{
    atomic_store(&ac_th_current, NULL);
    atomic_store(&rec->in_call, 0);
    rec->phase = TH_PH_NONE;
}

int32_t ac_th_init(ac_th_rec_t *rec, const pmd_plugin_t *p, const pmd_host_t *h, const char *config,
                   pmd_instance_t **out, char *err, uint32_t err_size)
{
    enter_as(rec, TH_PH_INIT);
    int32_t rc = p->init(h, config, out, err, err_size);
    leave(rec);
    return rc;
}

pmd_instance_t *ac_th_init_default(ac_th_rec_t *rec, pmd_host_t *host, const ac_session_t *s,
                                   const char *label, ac_result_t *r)
{
    ac_th_rec_init(rec, 0);
    ac_th_host_fill(host, rec);
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, host, s->config, &in, err, sizeof(err));
    if (rc == PMD_OK && in != NULL)
        return in;
    ac_fail(r, "%s%sinit returned %d: %s", label ? label : "", label ? ": " : "", (int)rc, err);
    return NULL;
}

int32_t ac_th_start(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter_as(rec, TH_PH_START);
    int32_t rc = p->on_start(in);
    leave(rec);
    return rc;
}

int32_t ac_th_tick(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in, uint64_t now_ns)
{
    enter_as(rec, TH_PH_TICK);
    int32_t rc = p->on_tick(in, now_ns);
    leave(rec);
    return rc;
}

int32_t ac_th_stop(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter_as(rec, TH_PH_STOP);
    int32_t rc = p->on_stop(in);
    leave(rec);
    return rc;
}

void ac_th_destroy(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in)
{
    enter_as(rec, TH_PH_DESTROY);
    p->destroy(in);
    leave(rec);
}

int32_t ac_th_handover(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                       pmd_handover_t *out)
{
    enter_as(rec, TH_PH_HANDOVER);
    int32_t rc = p->on_handover(in, out);
    leave(rec);
    return rc;
}

int32_t ac_th_start_handed_over(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                                const pmd_handover_t *h)
{
    enter_as(rec, TH_PH_START);
    int32_t rc = p->on_start_handed_over(in, h);
    leave(rec);
    return rc;
}

int32_t ac_th_stats(ac_th_rec_t *rec, const ac_session_t *s, pmd_instance_t *in, pmd_stats_t *out)
{
    if (!host_loader_has_extensions(&s->lp))
        return -1;
    const pmd_ext_stats_t *ext = s->p->get_extension(PMD_EXT_STATS);
    if (ext == NULL || ext->struct_size < offsetof(pmd_ext_stats_t, get) + sizeof(ext->get) ||
        ext->get == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    enter_as(rec, TH_PH_STATS);
    int32_t rc = ext->get(in, out);
    leave(rec);
    return rc;
}

int ac_th_lifecycle(ac_th_rec_t *rec, const ac_session_t *s, const pmd_host_t *host, int nticks,
                    unsigned tick_us, ac_result_t *r)
{
    pmd_host_t local;
    if (host == NULL) {
        ac_th_host_fill(&local, rec);
        host = &local;
    }
    char err[256] = "";
    pmd_instance_t *in = NULL;
    int32_t rc = ac_th_init(rec, s->p, host, s->config, &in, err, sizeof(err));
    if (rc != PMD_OK || in == NULL) {
        ac_fail(r, "init returned %d (%s) with the plugin's config: %s", (int)rc,
                s->p->result_string(rc), err);
        return -1;
    }
    int failed = 0;
    if ((rc = ac_th_start(rec, s->p, in)) != PMD_OK) {
        ac_fail(r, "start returned %d", (int)rc);
        failed = 1;
    }
    for (int i = 0; !failed && i < nticks; i++) {
        if (tick_us > 0)
            ac_sleep_us(tick_us);
        if ((rc = ac_th_tick(rec, s->p, in, ac_now_ns())) != PMD_OK) {
            ac_fail(r, "tick %d returned %d", i, (int)rc);
            failed = 1;
        }
    }
    if (!failed && (rc = ac_th_stop(rec, s->p, in)) != PMD_OK) {
        ac_fail(r, "stop returned %d", (int)rc);
        failed = 1;
    }
    ac_th_destroy(rec, s->p, in);
    return failed ? -1 : 0;
}
