/*
 * plugin.c - node_registration.so's ABI glue: the entry point, the
 * descriptor, and the lifecycle calls mapped onto config, records and the
 * network thread. Host callbacks are made only here, on the host thread,
 * inside an ABI call.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nr_config.h"
#include "nr_log.h"
#include "nr_payload.h"
#include "nr_records.h"
#include "nr_transport.h"
#include "nr_worker.h"
#include "pmd_plugin.h"

#ifndef NR_PLUGIN_VERSION
#define NR_PLUGIN_VERSION "0.1.0"
#endif
#ifndef NR_PLUGIN_NAME
#define NR_PLUGIN_NAME "node_registration"
#endif
/* A deployment's baked-in defaults (CMake: PMD_DEPLOYMENT_CONFIGS). */
#ifdef NR_HAS_BAKED_DEFAULTS
extern const char nr_baked_defaults[];
#define NR_BAKED_DEFAULTS nr_baked_defaults
#else
#define NR_BAKED_DEFAULTS NULL
#endif

#define NR_STOP_SLACK_MS 1000u
#define NR_TICK_EVENTS 64 /* events delivered per tick at most: tick stays short */

enum lifecycle { LC_INITIALIZED, LC_STARTED, LC_STOPPED };

struct pmd_instance {
    pmd_host_t host;
    enum lifecycle state;
    int in_call;
    nr_config_t cfg;
    nr_worker_t *worker;
    uint64_t last_tick_ns;
    uint64_t tick_period_ns;
    char last_pool_problem[160];            /* logged once per distinct problem */
    char last_error[200];                   /* handed out by stats; lives until the next call */
    const pmd_ext_log_fields_t *log_fields; /* the host's, or NULL: text lines */
};

/* One log event to the host, on the host thread: as fields when the host
 * offers pmd.host.ext.log_fields/1, else as the same event's text line. */
static void emit(struct pmd_instance *in, const nr_log_record_t *r)
{
    const char *node = in->cfg.node_id != NULL ? in->cfg.node_id : "?";
    if (in->log_fields != NULL) {
        pmd_log_field_t fields[NR_LOG_FIELDS + 1];
        uint32_t n = nr_log_fields(r, node, fields);
        in->log_fields->log_fields(in->host.host_data, r->level, r->event, fields, n);
        return;
    }
    char line[NR_LOG_LINE];
    nr_log_format_text(r, node, line, sizeof(line));
    in->host.log(in->host.host_data, r->level, line);
}

/* An event from the host thread: event name, then key, value, key, value
 * ... (strings, raw), then NULL. */
static void say(struct pmd_instance *in, int32_t level, const char *event, ...)
    __attribute__((sentinel));

static void say(struct pmd_instance *in, int32_t level, const char *event, ...)
{
    nr_log_record_t r;
    nr_log_begin(&r, level, event);
    va_list ap;
    va_start(ap, event);
    for (const char *key; (key = va_arg(ap, const char *)) != NULL;)
        nr_log_add(&r, key, va_arg(ap, const char *));
    va_end(ap);
    emit(in, &r);
}

/* The host's log_fields table when it offers one that covers the call.
 * Asked in init: host thread, inside the init call. */
static const pmd_ext_log_fields_t *host_log_fields(const pmd_host_t *host)
{
    if (host->struct_size < offsetof(pmd_host_t, get_extension) + sizeof(host->get_extension) ||
        host->abi_minor < 1 || host->get_extension == NULL)
        return NULL;
    const pmd_ext_log_fields_t *t = host->get_extension(host->host_data, PMD_HOST_EXT_LOG_FIELDS);
    if (t == NULL || t->struct_size < PMD_EXT_LOG_FIELDS_MIN_SIZE || t->log_fields == NULL)
        return NULL;
    return t;
}

static void set_error(char *error, uint32_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *error, uint32_t size, const char *fmt, ...)
{
    if (error == NULL || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, size, fmt, ap);
    va_end(ap);
}

static int32_t enter(struct pmd_instance *in)
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->in_call)
        return PMD_ERR_STATE; /* a host callback called back into us */
    in->in_call = 1;
    return PMD_OK;
}

static int32_t leave(struct pmd_instance *in, int32_t rc)
{
    in->in_call = 0;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Pulling from the host (host thread)                                     */
/* ---------------------------------------------------------------------- */

static void note_pool_problem(struct pmd_instance *in, const char *problem)
{
    if (strcmp(problem, in->last_pool_problem) == 0)
        return; /* said already; a host error repeated every tick is one line */
    snprintf(in->last_pool_problem, sizeof(in->last_pool_problem), "%s", problem);
    if (problem[0] != '\0')
        say(in, PMD_LOG_ERROR, "host_data_rejected", "what", "pools", "reason",
            in->last_pool_problem, NULL);
}

/* Returns 0 with *out filled, -1 when the host could not list (logged). */
static int pull_pools(struct pmd_instance *in, nr_pool_list_t *out)
{
    memset(out, 0, sizeof(*out));
    pmd_pool_sink_t sink = nr_pool_sink(out);
    int32_t rc = in->host.list_pools(in->host.host_data, &sink);
    if (rc != PMD_OK) {
        char why[160];
        snprintf(why, sizeof(why), "host list_pools returned %d; keeping the last list", (int)rc);
        note_pool_problem(in, why);
        nr_pool_list_clear(out);
        return -1;
    }
    note_pool_problem(in, out->first_error);
    return 0;
}

static void pull_capabilities(struct pmd_instance *in, nr_capabilities_t *out)
{
    memset(out, 0, sizeof(*out));
    if (in->cfg.has_capabilities)
        return;
    pmd_capability_sink_t sink = nr_capability_sink(out);
    int32_t rc = in->host.get_capabilities(in->host.host_data, &sink);
    char why[160];
    snprintf(why, sizeof(why), "host get_capabilities returned %d; registering without GPUs",
             (int)rc);
    if (rc != PMD_OK || out->first_error[0] != '\0')
        say(in, PMD_LOG_ERROR, "host_data_rejected", "what", "capabilities", "reason",
            rc != PMD_OK ? why : out->first_error, NULL);
}

/* Up to NR_TICK_EVENTS queued events, taken NR_TAKE_EVENTS at a time so
 * the host thread's stack holds only a few records (about 0.5 KiB each). */
#define NR_TAKE_EVENTS 16

/* with_states 0: log lines only; queued states are dropped (superseded:
 * see stop_now). */
static void deliver_events(struct pmd_instance *in, int with_states)
{
    nr_event_t events[NR_TAKE_EVENTS];
    for (size_t done = 0; done < NR_TICK_EVENTS;) {
        size_t n = nr_worker_take_events(in->worker, events, NR_TAKE_EVENTS);
        for (size_t i = 0; i < n; i++) {
            if (!events[i].is_state)
                emit(in, &events[i].u.log);
            else if (with_states && in->host.state_changed != NULL)
                in->host.state_changed(in->host.host_data, events[i].code, events[i].u.text);
        }
        if (n < NR_TAKE_EVENTS)
            break;
        done += n;
    }
}

static void deliver_all_events(struct pmd_instance *in, int with_states)
{
    for (int i = 0; i < NR_EVENT_QUEUE / NR_TICK_EVENTS + 1; i++)
        deliver_events(in, with_states);
}

/* ---------------------------------------------------------------------- */
/* Warnings an operator must see at every start                            */
/* ---------------------------------------------------------------------- */

/* The proxy is named at every start (without its credentials), and a token
 * that would cross a non-loopback proxy hop in plain text is a warning too:
 * with an http:// control plane the proxy reads every request. */
static void warn_about_proxy(struct pmd_instance *in, int token_in_plain_text)
{
    const nr_config_t *c = &in->cfg;
    char shown[256];
    if (c->proxy == NULL || nr_config_proxy_display(c->proxy, shown, sizeof(shown)) != 0)
        return;
    say(in, PMD_LOG_INFO, "proxy", "url", shown, "reason",
        "the proxy key is set; proxy environment variables are never used", NULL);
    char why[sizeof(shown) + 100];
    snprintf(why, sizeof(why),
             "the API token is sent over plain http through proxy %s, which "
             "is not loopback; use https",
             shown);
    if (token_in_plain_text && !nr_config_url_is_loopback(c->proxy))
        say(in, PMD_LOG_WARN, "plaintext_token", "reason", why, NULL);
}

static void warn_about_transport(struct pmd_instance *in)
{
    const nr_config_t *c = &in->cfg;
    if (c->tls_insecure)
        say(in, PMD_LOG_WARN, "tls_insecure", "reason",
            "tls_insecure is true: the control plane's certificate is NOT verified", NULL);
    int has_token = c->api_token != NULL || c->api_token_file != NULL;
    int plain = strncasecmp(c->base_url, "http://", 7) == 0;
    if (has_token && plain && !nr_config_url_is_loopback(c->base_url))
        say(in, PMD_LOG_WARN, "plaintext_token", "reason",
            "the API token is sent over plain http to a host that is not loopback; use https",
            NULL);
    warn_about_proxy(in, has_token && plain);
}

/* ---------------------------------------------------------------------- */
/* The ABI                                                                 */
/* ---------------------------------------------------------------------- */

static int host_is_usable(const pmd_host_t *host)
{
    return host->struct_size >= PMD_HOST_SIZE_1_0 && host->log != NULL &&
           host->list_pools != NULL && host->get_capabilities != NULL;
}

static void free_instance(struct pmd_instance *in)
{
    nr_worker_free(in->worker);
    nr_config_free(&in->cfg);
    free(in);
}

static int32_t check_init_args(const pmd_host_t *host, pmd_instance_t **out, char *error,
                               uint32_t error_size)
{
    if (host == NULL || out == NULL) {
        set_error(error, error_size, "init: host and out_instance must not be NULL");
        return PMD_ERR_INVALID_ARGUMENT;
    }
    if (host->abi_major != PMD_ABI_VERSION_MAJOR) {
        set_error(error, error_size, "init: host speaks ABI major %u, this plugin speaks %u",
                  (unsigned)host->abi_major, (unsigned)PMD_ABI_VERSION_MAJOR);
        return PMD_ERR_ABI_MAJOR;
    }
    if (!host_is_usable(host)) {
        set_error(error, error_size, "init: host struct too small or lacks a required callback");
        return PMD_ERR_INVALID_ARGUMENT;
    }
    return PMD_OK;
}

static int32_t nr_init(const pmd_host_t *host, const char *config_json,
                       pmd_instance_t **out_instance, char *error, uint32_t error_size)
{
    if (out_instance != NULL)
        *out_instance = NULL;
    int32_t rc = check_init_args(host, out_instance, error, error_size);
    if (rc != PMD_OK)
        return rc;
    char why[512];
    if (config_json == NULL) {
        set_error(error, error_size, "config: missing (NULL); expected a JSON object");
        return PMD_ERR_CONFIG;
    }
    struct pmd_instance *in = calloc(1, sizeof(*in));
    if (in == NULL || nr_transport_global_acquire() != 0) {
        free(in);
        set_error(error, error_size, "init: out of memory or libcurl initialisation failed");
        return PMD_ERR_NO_MEMORY;
    }
    size_t n = host->struct_size < sizeof(in->host) ? host->struct_size : sizeof(in->host);
    memcpy(&in->host, host, n);
    in->host.struct_size = (uint32_t)n;
    if (nr_config_parse(NR_BAKED_DEFAULTS, config_json, nr_config_getenv, NULL, &in->cfg, why,
                        sizeof(why)) != 0) {
        set_error(error, error_size, "%s", why);
        free_instance(in);
        return PMD_ERR_CONFIG;
    }
    /* After the config: a refused init makes no callback but log. */
    in->log_fields = host_log_fields(&in->host);
    in->worker = nr_worker_new(&in->cfg, NR_PLUGIN_VERSION, why, sizeof(why));
    if (in->worker == NULL) {
        set_error(error, error_size, "init: %s", why);
        free_instance(in);
        return PMD_ERR_RESOURCE;
    }
    if (!nr_transport_global_is_threadsafe())
        say(in, PMD_LOG_WARN, "libcurl_not_threadsafe", "reason",
            "this libcurl's global init is not thread-safe; the host must call "
            "curl_global_init at start-up",
            NULL);
    in->state = LC_INITIALIZED;
    *out_instance = in;
    return PMD_OK;
}

/* What a handover hands on, if it is usable to take this node over: the
 * same node, with a heartbeat scheduled. Otherwise 0 and a line saying why
 * (the start is then a plain one). */
static uint64_t takeover_due(struct pmd_instance *in, const pmd_handover_t *h)
{
    if (h == NULL)
        return 0;
    if (strncmp(h->node_id, in->cfg.node_id, sizeof(h->node_id)) != 0 ||
        memchr(h->node_id, '\0', sizeof(h->node_id)) == NULL) {
        say(in, PMD_LOG_WARN, "takeover_refused", "reason", "the handover is for another node id",
            "action", "start", NULL);
        return 0;
    }
    if (!(h->flags & PMD_HANDOVER_REGISTERED) || h->next_heartbeat_due_ns == 0) {
        say(in, PMD_LOG_INFO, "takeover_refused", "reason",
            "the node was not registered with a heartbeat scheduled", "action", "start", NULL);
        return 0;
    }
    return h->next_heartbeat_due_ns;
}

static int32_t start_instance(pmd_instance_t *in, const pmd_handover_t *handover)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_INITIALIZED)
        return leave(in, PMD_ERR_STATE);
    uint64_t due = takeover_due(in, handover);
    if (due != 0) {
        nr_worker_take_over(in->worker, due);
        say(in, PMD_LOG_INFO, "taking_over", "action", "register_then_heartbeat_on_schedule", NULL);
    }
    warn_about_transport(in);
    nr_pool_list_t pools;
    nr_capabilities_t caps;
    pull_pools(in, &pools);
    pull_capabilities(in, &caps);
    nr_worker_seed(in->worker, &pools, &caps);
    char why[240];
    if (nr_worker_start(in->worker, why, sizeof(why)) != 0) {
        say(in, PMD_LOG_ERROR, "start_failed", "reason", why, NULL);
        return leave(in, PMD_ERR_RESOURCE);
    }
    in->state = LC_STARTED;
    return leave(in, PMD_OK);
}

static int32_t nr_start(pmd_instance_t *in)
{
    return start_instance(in, NULL);
}

static int32_t nr_start_handed_over(pmd_instance_t *in, const pmd_handover_t *handover)
{
    if (in != NULL && (handover == NULL || handover->struct_size < PMD_HANDOVER_MIN_SIZE))
        return PMD_ERR_INVALID_ARGUMENT;
    return start_instance(in, handover);
}

/* How far ahead of a heartbeat to pull the pools: about one tick, so the
 * snapshot is at most a tick old and the send itself never waits for us. */
static void track_tick_period(struct pmd_instance *in, uint64_t now_ns)
{
    if (in->last_tick_ns != 0 && now_ns > in->last_tick_ns) {
        uint64_t d = now_ns - in->last_tick_ns;
        in->tick_period_ns = d > 1000000000ull ? 1000000000ull : d;
    }
    in->last_tick_ns = now_ns;
}

static int32_t nr_tick(pmd_instance_t *in, uint64_t now_ns)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_STARTED)
        return leave(in, PMD_ERR_STATE);
    track_tick_period(in, now_ns);
    deliver_events(in, 1);
    if (nr_worker_pools_wanted(in->worker, now_ns, in->tick_period_ns)) {
        nr_pool_list_t pools;
        if (pull_pools(in, &pools) == 0)
            nr_worker_offer_pools(in->worker, &pools);
    }
    return leave(in, PMD_OK);
}

/* on_stop, and destroy of a STARTED instance. States reach the host in the
 * order they happened: those queued so far first, then DEREGISTERING, sent
 * from this (the host) thread before the worker is told to stop, so the
 * host sees it while the DELETE is under way (a state the worker queued
 * would only be delivered after the join, when it is over). The worker
 * sends the DELETE once a register was sent (nr_worker.c, deregister).
 * After the join its log lines are delivered (the deregistration's
 * outcome), its states are not: a heartbeat that failed during the stop
 * would report DEGRADED after DEREGISTERING; STOPPED follows. */
static void stop_now(struct pmd_instance *in)
{
    deliver_all_events(in, 1);
    if (in->host.state_changed != NULL)
        in->host.state_changed(in->host.host_data, PMD_NODE_DEREGISTERING, "deregistering");
    nr_worker_stop(in->worker, in->cfg.deregister_timeout_ms);
    in->state = LC_STOPPED;
    deliver_all_events(in, 0);
    if (in->host.state_changed != NULL)
        in->host.state_changed(in->host.host_data, PMD_NODE_STOPPED, "stopped");
}

static void fill_handover(struct pmd_instance *in, const nr_worker_handover_t *w,
                          pmd_handover_t *out)
{
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    h.flags = w->registered ? PMD_HANDOVER_REGISTERED : 0;
    h.next_heartbeat_due_ns = w->next_heartbeat_due_ns;
    h.heartbeat_interval_ns = w->heartbeat_interval_ns;
    h.last_heartbeat_ok_ns = w->last_heartbeat_ok_ns;
    snprintf(h.node_id, sizeof(h.node_id), "%s", in->cfg.node_id);
    size_t n = out->struct_size < sizeof(h) ? out->struct_size : sizeof(h);
    memcpy(out, &h, n);
    out->struct_size = (uint32_t)n;
}

static int32_t nr_handover(pmd_instance_t *in, pmd_handover_t *out)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_STARTED)
        return leave(in, PMD_ERR_STATE);
    if (out == NULL || out->struct_size < PMD_HANDOVER_MIN_SIZE)
        return leave(in, PMD_ERR_INVALID_ARGUMENT);
    nr_worker_handover_t w;
    nr_worker_handover(in->worker, in->cfg.deregister_timeout_ms, &w);
    in->state = LC_STOPPED;
    deliver_all_events(in, 1);
    fill_handover(in, &w, out);
    if (in->host.state_changed != NULL)
        in->host.state_changed(in->host.host_data, PMD_NODE_STOPPED, "handed over");
    return leave(in, PMD_OK);
}

static int32_t nr_stop(pmd_instance_t *in)
{
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    if (in->state != LC_STARTED)
        return leave(in, PMD_ERR_STATE);
    stop_now(in);
    return leave(in, PMD_OK);
}

static void nr_destroy(pmd_instance_t *in)
{
    if (in == NULL || in->in_call)
        return;
    in->in_call = 1;
    if (in->state == LC_STARTED)
        stop_now(in);
    free_instance(in);
}

/* What pmd-abi-check needs to run this plugin: a node pointed at {{url}},
 * with short timeouts so its checks stay quick. */
static const pmd_ext_conformance_t nr_conformance = {
    sizeof(pmd_ext_conformance_t), 0,
    "{\"node_id\":\"abi-check-node\",\"machine_id\":\"abi-check\","
    "\"address\":\"http://127.0.0.1:9200\",\"orchestratord_url\":\"{{url}}\","
    "\"heartbeat_interval_ms\":200,\"request_timeout_ms\":500,"
    "\"deregister_timeout_ms\":500,\"retry_base_ms\":50,\"retry_max_ms\":200}"};

/* Copies src into the part of dst both sides know; dst->struct_size then
 * says how much was filled. */
static void copy_within(pmd_stats_t *dst, const pmd_stats_t *src)
{
    size_t n = dst->struct_size < sizeof(*src) ? dst->struct_size : sizeof(*src);
    memcpy(dst, src, n);
    dst->struct_size = (uint32_t)n;
}

static void fill_stats(struct pmd_instance *in, pmd_stats_t *s)
{
    nr_worker_stats_t w;
    nr_worker_stats(in->worker, &w);
    memset(s, 0, sizeof(*s));
    s->struct_size = sizeof(*s);
    s->state = in->state == LC_INITIALIZED ? PMD_NODE_IDLE : w.state;
    s->state_since_unix_ms = w.state_since_unix_ms;
    s->registrations_ok = w.registrations_ok;
    s->registrations_failed_transport = w.registrations_failed_transport;
    s->registrations_failed_status = w.registrations_failed_status;
    s->registrations_failed_auth = w.registrations_failed_auth;
    s->reregistrations = w.reregistrations;
    s->heartbeats_ok = w.heartbeats_ok;
    s->heartbeats_failed_transport = w.heartbeats_failed_transport;
    s->heartbeats_failed_status = w.heartbeats_failed_status;
    s->heartbeats_failed_auth = w.heartbeats_failed_auth;
    s->heartbeats_not_registered = w.heartbeats_not_registered;
    s->deregistrations_ok = w.deregistrations_ok;
    s->deregistrations_failed = w.deregistrations_failed;
    s->consecutive_failures = w.consecutive_failures;
    s->last_heartbeat_ok_unix_ms = w.last_heartbeat_ok_unix_ms;
    s->last_heartbeat_latency_us = w.last_heartbeat_latency_ns / 1000u;
    s->connections_opened = w.connections;
    s->events_dropped = w.events_dropped;
    snprintf(in->last_error, sizeof(in->last_error), "%s", w.last_error);
    s->node_id = in->cfg.node_id;
    s->last_error = in->last_error;
    s->stop_timeout_ms = in->cfg.deregister_timeout_ms + NR_STOP_SLACK_MS;
    s->last_registration_latency_us = w.last_registration_latency_ns / 1000u;
}

static int32_t nr_stats_get(pmd_instance_t *in, pmd_stats_t *out)
{
    if (out == NULL || out->struct_size < PMD_STATS_MIN_SIZE)
        return PMD_ERR_INVALID_ARGUMENT;
    int32_t rc = enter(in);
    if (rc != PMD_OK)
        return rc;
    pmd_stats_t full;
    fill_stats(in, &full);
    copy_within(out, &full);
    return leave(in, PMD_OK);
}

static const pmd_ext_stats_t nr_stats_ext = {sizeof(pmd_ext_stats_t), 0, nr_stats_get};

static const void *nr_get_extension(const char *id)
{
    if (id != NULL && strcmp(id, PMD_EXT_CONFORMANCE) == 0)
        return &nr_conformance;
    if (id != NULL && strcmp(id, PMD_EXT_STATS) == 0)
        return &nr_stats_ext;
    return NULL;
}

static const pmd_plugin_t nr_plugin = {
    .struct_size = sizeof(pmd_plugin_t),
    .abi_major = PMD_ABI_VERSION_MAJOR,
    .abi_minor = PMD_ABI_VERSION_MINOR,
    .name = NR_PLUGIN_NAME,
    .version = NR_PLUGIN_VERSION,
    .description = "Registers this GPU node with orchestratord, heartbeats its pools, "
                   "deregisters on stop",
    .stop_timeout_ms = NR_DEREGISTER_TIMEOUT_MAX_MS + NR_STOP_SLACK_MS,
    .init = nr_init,
    .on_start = nr_start,
    .on_tick = nr_tick,
    .on_stop = nr_stop,
    .on_handover = nr_handover,
    .on_start_handed_over = nr_start_handed_over,
    .destroy = nr_destroy,
    .result_string = pmd_result_name, /* the header's names (PMD_RESULT_MAP) */
    .get_extension = nr_get_extension,
};

PMD_EXPORT int32_t pmd_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                    const pmd_plugin_t **out_plugin)
{
    (void)host_abi_minor;
    if (out_plugin == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    *out_plugin = &nr_plugin;
    return host_abi_major == PMD_ABI_VERSION_MAJOR ? PMD_OK : PMD_ERR_ABI_MAJOR;
}
