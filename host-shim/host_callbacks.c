/*
 * host_callbacks.c - the pmd_host_t of pmd-host-shim (see host_callbacks.h).
 */
#include "host_callbacks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_fields.h"
#include "log_line.h"

static const char *plugin_name(const shim_host_t *h)
{
    return h->plugin != NULL && h->plugin->name != NULL ? h->plugin->name : "plugin";
}

/* Checks the rules for one callback; logs and counts a violation. Returns
 * 1 when the callback may touch shared data (host thread, inside a call),
 * even if this call is not one it is allowed in. */
static int callback_allowed(shim_host_t *h, shim_callback_t cb, const char *name)
{
    int on_thread = pthread_equal(pthread_self(), h->host_thread);
    int call = atomic_load(&h->current_call);
    if (on_thread && call >= 0 && shim_callback_allowed_in(cb, (shim_call_t)call))
        return 1;
    char problem[64];
    atomic_fetch_add(&h->violations, 1);
    if (!on_thread || call < 0)
        snprintf(problem, sizeof(problem), "%s",
                 !on_thread ? "called from a thread that is not the host thread"
                            : "called outside an ABI call");
    else
        snprintf(problem, sizeof(problem), "called during %s", shim_call_name((shim_call_t)call));
    log_line_emitf(h->out, "ERROR",
                   LOG_SELF " event=abi_violation by=%s callback=%s problem=\"%s\"", plugin_name(h),
                   name, problem);
    return on_thread && call >= 0;
}

static void cb_log(void *host_data, int32_t level, const char *message)
{
    shim_host_t *h = host_data;
    callback_allowed(h, SHIM_CB_LOG, "log");
    /* printing is safe anywhere; the plugin's text follows its name */
    log_line_emitf(h->out, log_line_level_tag(level), "plugin=%s %s", plugin_name(h),
                   message != NULL ? message : "(null)");
}

static const char *state_level(int32_t state)
{
    switch (state) {
    case PMD_NODE_DEGRADED: return "WARN";
    case PMD_NODE_UNAUTHORIZED: return "ERROR";
    default: return pmd_node_state_name(state) != NULL ? "INFO" : "WARN";
    }
}

static void cb_state_changed(void *host_data, int32_t state, const char *detail)
{
    shim_host_t *h = host_data;
    char name[32], node[300] = "", quoted[600] = "";
    const char *known = pmd_node_state_name(state);
    if (callback_allowed(h, SHIM_CB_STATE_CHANGED, "state_changed"))
        atomic_store(&h->last_state, state);
    if (known != NULL)
        snprintf(name, sizeof(name), "%s", known);
    else
        snprintf(name, sizeof(name), "state-%d", (int)state);
    if (h->node_id[0] != '\0')
        snprintf(node, sizeof(node), " node=%s", h->node_id);
    if (detail != NULL)
        log_line_quote(quoted, sizeof(quoted), detail);
    log_line_emitf(h->out, state_level(state), "plugin=%s%s event=state_changed state=%s%s%s",
                   plugin_name(h), node, name, detail != NULL ? " detail=" : "", quoted);
}

static const char *result_name(const shim_host_t *h, int32_t rc)
{
    const char *s = h->plugin != NULL ? h->plugin->result_string(rc) : NULL;
    return s != NULL ? s : pmd_result_name(rc); /* a plugin that broke 5.7 */
}

/* Logs problem unless it is the one logged last time; "" resets. */
static void note_sink_problem(shim_host_t *h, char *last, size_t last_size, const char *problem)
{
    if (strcmp(last, problem) == 0)
        return;
    snprintf(last, last_size, "%s", problem);
    char quoted[sizeof(h->pool_sink_problem) * 2 + 3];
    if (problem[0] != '\0')
        log_line_emitf(h->out, "WARN", LOG_SELF " event=host_data_refused by=%s reason=%s",
                       plugin_name(h), log_line_quote(quoted, sizeof(quoted), problem));
}

static int32_t cb_list_pools(void *host_data, const pmd_pool_sink_t *sink)
{
    shim_host_t *h = host_data;
    char problem[sizeof(h->pool_sink_problem)] = "";
    size_t bad = 0;
    if (!callback_allowed(h, SHIM_CB_LIST_POOLS, "list_pools"))
        return PMD_ERR_STATE;
    int32_t rc = shim_pools_push(h->pools, sink, &bad);
    if (rc == PMD_ERR_INVALID_ARGUMENT)
        snprintf(problem, sizeof(problem),
                 "list_pools: the plugin's pool sink is unusable "
                 "(NULL, too small or no add_pool)");
    else if (rc != PMD_OK)
        snprintf(problem, sizeof(problem), "pool sink refused pool %zu (\"%.64s\"): %s (%d)", bad,
                 h->pools->items[bad].pool_id, result_name(h, rc), (int)rc);
    note_sink_problem(h, h->pool_sink_problem, sizeof(h->pool_sink_problem), problem);
    return rc == PMD_ERR_INVALID_ARGUMENT ? rc : PMD_OK;
}

static int32_t cb_get_capabilities(void *host_data, const pmd_capability_sink_t *sink)
{
    shim_host_t *h = host_data;
    char problem[sizeof(h->caps_sink_problem)] = "";
    char what[48] = "the resources record";
    size_t bad = 0;
    if (!callback_allowed(h, SHIM_CB_GET_CAPABILITIES, "get_capabilities"))
        return PMD_ERR_STATE;
    int32_t rc = shim_capabilities_push(h->caps, sink, &bad);
    if (rc != PMD_OK && bad != SIZE_MAX)
        snprintf(what, sizeof(what), "gpu %zu", bad);
    if (rc == PMD_ERR_INVALID_ARGUMENT)
        snprintf(problem, sizeof(problem),
                 "get_capabilities: the plugin's capability sink is "
                 "unusable (NULL, too small or a function missing)");
    else if (rc != PMD_OK)
        snprintf(problem, sizeof(problem), "capability sink refused %s: %s (%d)", what,
                 result_name(h, rc), (int)rc);
    note_sink_problem(h, h->caps_sink_problem, sizeof(h->caps_sink_problem), problem);
    return rc == PMD_ERR_INVALID_ARGUMENT ? rc : PMD_OK;
}

/* pmd.host.ext.log_fields/1: an event as fields, printed as the very line
 * the plugin would have logged as text (log_fields.h), under the rules of
 * log. */
static void cb_log_fields(void *host_data, int32_t level, const char *event,
                          const pmd_log_field_t *fields, uint32_t count)
{
    shim_host_t *h = host_data;
    char text[LOG_LINE_MAX];
    callback_allowed(h, SHIM_CB_LOG, "log_fields");
    shim_log_fields_format(text, sizeof(text), event, fields, count);
    log_line_emitf(h->out, log_line_level_tag(level), "plugin=%s %s", plugin_name(h), text);
}

static const pmd_ext_log_fields_t shim_log_fields_ext = {sizeof(pmd_ext_log_fields_t), 0,
                                                         cb_log_fields};

/* Host extensions: pmd.host.ext.log_fields/1, unless PMD_SHIM_NO_LOG_FIELDS
 * is set (tests compare the plugin's own text lines with these). */
static const void *cb_get_extension(void *host_data, const char *id)
{
    shim_host_t *h = host_data;
    callback_allowed(h, SHIM_CB_GET_EXTENSION, "get_extension");
    if (id != NULL && strcmp(id, PMD_HOST_EXT_LOG_FIELDS) == 0 && h->offer_log_fields)
        return &shim_log_fields_ext;
    return NULL;
}

void shim_host_setup(shim_host_t *h, FILE *out, const char *host_version,
                     const shim_pool_list_t *pools, const shim_capabilities_t *caps,
                     const pmd_plugin_t *plugin)
{
    memset(h, 0, sizeof(*h));
    h->abi = (pmd_host_t){.struct_size = sizeof(pmd_host_t),
                          .abi_major = PMD_ABI_VERSION_MAJOR,
                          .abi_minor = PMD_ABI_VERSION_MINOR,
                          .host_data = h,
                          .host_name = "pmd-host-shim",
                          .host_version = host_version,
                          .log = cb_log,
                          .list_pools = cb_list_pools,
                          .get_capabilities = cb_get_capabilities,
                          .state_changed = cb_state_changed,
                          .get_extension = cb_get_extension};
    h->pools = pools;
    h->caps = caps;
    h->plugin = plugin;
    h->out = out;
    h->host_thread = pthread_self();
    const char *off = getenv("PMD_SHIM_NO_LOG_FIELDS");
    h->offer_log_fields = off == NULL || off[0] == '\0' || strcmp(off, "0") == 0;
    atomic_init(&h->current_call, -1);
    atomic_init(&h->violations, 0);
    atomic_init(&h->last_state, -1);
}

void shim_host_set_node_id(shim_host_t *h, const char *node_id)
{
    snprintf(h->node_id, sizeof(h->node_id), "%s", node_id != NULL ? node_id : "");
}

int32_t shim_host_last_state(shim_host_t *h)
{
    return atomic_load(&h->last_state);
}

void shim_host_enter(shim_host_t *h, shim_call_t call)
{
    atomic_store(&h->current_call, (int)call);
}

void shim_host_leave(shim_host_t *h)
{
    atomic_store(&h->current_call, -1);
}

unsigned shim_host_violations(shim_host_t *h)
{
    return atomic_load(&h->violations);
}
