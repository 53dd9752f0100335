/*
 * metrics_format.c - stats snapshot -> Prometheus text and status line (see
 * metrics_format.h). Integers are printed as integers and times as fixed
 * decimals, so no float rounding reaches a counter.
 *
 * Naming follows Prometheus' conventions: counters end in _total, wall-clock
 * instants in _timestamp_seconds, durations in _seconds; every family has
 * one label set (a histogram's _bucket adds le). The node state is a state
 * set, pmd_node_state{state=...}: one series per known state, 1 for the
 * current one and 0 for the rest. Every series exists in every scrape, so
 * "pmd_node_state{state="degraded"} == 1" works with "for:" and no series
 * goes stale on a transition.
 */
#include "metrics_format.h"
#include "log_line.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
    int failed;
} buf_t;

static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(buf_t *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
}

size_t shim_metrics_escape_label(char *out, size_t out_size, const char *value)
{
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    size_t len = 0;
    if (out_size == 0)
        return 0;
    while (*s != '\0') {
        const char *piece = (const char *)s;
        size_t n = shim_utf8_len(s), step = n;
        if (*s == '\\' || *s == '"' || *s == '\n') {
            piece = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n";
            n = 2;
        } else if (n == 0) {
            piece = "\xef\xbf\xbd"; /* U+FFFD for a byte that is not UTF-8 */
            n = 3;
            step = 1;
        }
        if (len + n > out_size - 1)
            break;
        memcpy(out + len, piece, n);
        len += n;
        s += step;
    }
    out[len] = '\0';
    return len;
}

static void family(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{node_id="...",<extra labels>} value. */
static void sample(buf_t *b, const shim_metrics_snapshot_t *s, const char *name, const char *labels,
                   const char *value)
{
    char node[SHIM_METRICS_STR_MAX * 3];
    shim_metrics_escape_label(node, sizeof(node), s->node_id);
    buf_printf(b, "%s{node_id=\"%s\"%s%s} %s\n", name, node, labels[0] ? "," : "", labels, value);
}

static void sample_u64(buf_t *b, const shim_metrics_snapshot_t *s, const char *name,
                       const char *labels, uint64_t v)
{
    char value[32];
    snprintf(value, sizeof(value), "%llu", (unsigned long long)v);
    sample(b, s, name, labels, value);
}

/* v / 10^digits as a fixed decimal ("1700000000.123"). */
static void sample_fixed(buf_t *b, const shim_metrics_snapshot_t *s, const char *name, uint64_t v,
                         unsigned digits)
{
    char value[48];
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++)
        scale *= 10;
    snprintf(value, sizeof(value), "%llu.%0*llu", (unsigned long long)(v / scale), (int)digits,
             (unsigned long long)(v % scale));
    sample(b, s, name, "", value);
}

/* The state set is every value 0 .. PMD_NODE_STATE_COUNT - 1, named by the
 * header's map: each value of the map must lie in that range (with the
 * map's distinct values, checked by pmd_node_state_name's switch, that
 * makes the range exactly the states). */
enum { STATE_COUNT = PMD_NODE_STATE_COUNT }; /* the map cannot expand inside itself */
#define STATE_IN_RANGE(name, value, text)                                                          \
    _Static_assert((value) >= 0 && (value) < STATE_COUNT,                                          \
                   "PMD_NODE_" #name " outside 0 .. PMD_NODE_STATE_COUNT - 1");
PMD_NODE_STATE_MAP(STATE_IN_RANGE)
#undef STATE_IN_RANGE

/* Host-level series: no node_id label, present with or without stats. */
static void format_plugin(buf_t *b, const shim_metrics_snapshot_t *s)
{
    char name[SHIM_METRICS_STR_MAX * 3], version[SHIM_METRICS_STR_MAX * 3];
    shim_metrics_escape_label(name, sizeof(name), s->plugin_name);
    shim_metrics_escape_label(version, sizeof(version), s->plugin_version);
    family(b, "pmd_plugin_info", "gauge", "The plugin the host loaded (always 1).");
    buf_printf(b, "pmd_plugin_info{plugin=\"%s\",version=\"%s\"} 1\n", name, version);
    family(b, "pmd_stats_available", "gauge",
           "1 when the plugin offers pmd.ext.stats/1, else 0 and none of the plugin's counters.");
    buf_printf(b, "pmd_stats_available %d\n", s->stats_available ? 1 : 0);
}

/* The host's own series: no node_id, present whether or not there are stats. */
static void format_host(buf_t *b, const shim_metrics_snapshot_t *s)
{
    family(b, "pmd_log_write_failures_total", "counter",
           "Log lines the host could not write to its stderr (closed pipe or descriptor).");
    buf_printf(b, "pmd_log_write_failures_total %llu\n", (unsigned long long)s->log_write_failures);
}

static void format_state(buf_t *b, const shim_metrics_snapshot_t *s)
{
    const pmd_stats_t *st = &s->stats;
    family(b, "pmd_node_state", "gauge",
           "Node state as a state set: one series per state, 1 for the current one, 0 for the "
           "others.");
    for (int32_t i = 0; i < STATE_COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "state=\"%s\"", pmd_node_state_name(i));
        sample(b, s, "pmd_node_state", labels, st->state == i ? "1" : "0");
    }
    family(b, "pmd_node_state_change_timestamp_seconds", "gauge",
           "Unix time when the node entered its current state.");
    sample_fixed(b, s, "pmd_node_state_change_timestamp_seconds", st->state_since_unix_ms, 3);
}

static void format_requests(buf_t *b, const shim_metrics_snapshot_t *s)
{
    const pmd_stats_t *st = &s->stats;
    const char *reg = "pmd_registrations_total", *hb = "pmd_heartbeats_total";
    family(b, reg, "counter",
           "Registration attempts by result: ok, or the failure (transport, status, auth).");
    sample_u64(b, s, reg, "result=\"ok\"", st->registrations_ok);
    sample_u64(b, s, reg, "result=\"transport\"", st->registrations_failed_transport);
    sample_u64(b, s, reg, "result=\"status\"", st->registrations_failed_status);
    sample_u64(b, s, reg, "result=\"auth\"", st->registrations_failed_auth);
    family(b, "pmd_reregistrations_total", "counter",
           "Registrations after the first success (control plane restarted, pools changed).");
    sample_u64(b, s, "pmd_reregistrations_total", "", st->reregistrations);
    family(b, hb, "counter",
           "Heartbeats by result: ok, or the failure (transport, status, auth, not_registered).");
    sample_u64(b, s, hb, "result=\"ok\"", st->heartbeats_ok);
    sample_u64(b, s, hb, "result=\"transport\"", st->heartbeats_failed_transport);
    sample_u64(b, s, hb, "result=\"status\"", st->heartbeats_failed_status);
    sample_u64(b, s, hb, "result=\"auth\"", st->heartbeats_failed_auth);
    sample_u64(b, s, hb, "result=\"not_registered\"", st->heartbeats_not_registered);
    family(b, "pmd_deregistrations_total", "counter", "Deregistrations by result (ok, failed).");
    sample_u64(b, s, "pmd_deregistrations_total", "result=\"ok\"", st->deregistrations_ok);
    sample_u64(b, s, "pmd_deregistrations_total", "result=\"failed\"", st->deregistrations_failed);
}

/* Upper bounds of the latency buckets, in microseconds and as "le" text. */
static const uint64_t bucket_us[SHIM_LATENCY_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const bucket_le[SHIM_LATENCY_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

void shim_latency_observe(shim_latency_histogram_t *h, uint64_t us)
{
    for (size_t i = 0; i < SHIM_LATENCY_BUCKETS; i++) {
        if (us <= bucket_us[i]) {
            h->bucket[i]++;
            break;
        }
    }
    h->count++;
    h->sum_us += us;
}

/* One histogram's _bucket (cumulative, +Inf last), _sum and _count. */
static void format_histogram(buf_t *b, const shim_metrics_snapshot_t *s, const char *name,
                             const char *labels, const shim_latency_histogram_t *h)
{
    char series[128], le[96], value[48];
    uint64_t cumulative = 0;
    snprintf(series, sizeof(series), "%s_bucket", name);
    for (size_t i = 0; i <= SHIM_LATENCY_BUCKETS; i++) {
        cumulative = i < SHIM_LATENCY_BUCKETS ? cumulative + h->bucket[i] : h->count;
        snprintf(le, sizeof(le), "%s,le=\"%s\"", labels,
                 i < SHIM_LATENCY_BUCKETS ? bucket_le[i] : "+Inf");
        sample_u64(b, s, series, le, cumulative);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    snprintf(value, sizeof(value), "%llu.%06llu", (unsigned long long)(h->sum_us / 1000000),
             (unsigned long long)(h->sum_us % 1000000));
    sample(b, s, series, labels, value);
    snprintf(series, sizeof(series), "%s_count", name);
    sample_u64(b, s, series, labels, h->count);
}

static void format_health(buf_t *b, const shim_metrics_snapshot_t *s)
{
    const pmd_stats_t *st = &s->stats;
    family(b, "pmd_heartbeat_consecutive_failures", "gauge",
           "Failures in a row of the current request kind (0 after a success).");
    sample_u64(b, s, "pmd_heartbeat_consecutive_failures", "", st->consecutive_failures);
    family(b, "pmd_last_heartbeat_success_timestamp_seconds", "gauge",
           "Unix time of the last successful heartbeat (0 = none yet).");
    sample_fixed(b, s, "pmd_last_heartbeat_success_timestamp_seconds",
                 st->last_heartbeat_ok_unix_ms, 3);
    family(b, "pmd_last_heartbeat_latency_seconds", "gauge",
           "Round trip of the last successful heartbeat.");
    sample_fixed(b, s, "pmd_last_heartbeat_latency_seconds", st->last_heartbeat_latency_us, 6);
    family(b, "pmd_request_duration_seconds", "histogram",
           "Round trip of successful requests to the control plane, by request; sampled from the "
           "plugin's last latency each time its ok counter moves.");
    format_histogram(b, s, "pmd_request_duration_seconds", "request=\"heartbeat\"",
                     &s->heartbeat_latency);
    format_histogram(b, s, "pmd_request_duration_seconds", "request=\"register\"",
                     &s->registration_latency);
    family(b, "pmd_connections_opened_total", "counter",
           "Connections opened to the control plane.");
    sample_u64(b, s, "pmd_connections_opened_total", "", st->connections_opened);
    family(b, "pmd_events_dropped_total", "counter",
           "Log lines and state changes the plugin dropped because the host did not tick.");
    sample_u64(b, s, "pmd_events_dropped_total", "", st->events_dropped);
}

char *shim_metrics_format(const shim_metrics_snapshot_t *snap, size_t *len)
{
    buf_t b = {malloc(8192), 0, 8192, 0};
    if (b.data == NULL)
        return NULL;
    b.data[0] = '\0';
    format_plugin(&b, snap);
    if (snap->stats_available) {
        format_state(&b, snap);
        format_requests(&b, snap);
        format_health(&b, snap);
    }
    format_host(&b, snap);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.data;
}

void shim_metrics_snapshot_set_stats(shim_metrics_snapshot_t *snap, const pmd_stats_t *stats)
{
    /* A moved ok counter means a new latency; several heartbeats between
     * two reads give one sample (the plugin keeps only the last). */
    if (stats->heartbeats_ok > snap->stats.heartbeats_ok)
        shim_latency_observe(&snap->heartbeat_latency, stats->last_heartbeat_latency_us);
    if (stats->registrations_ok > snap->stats.registrations_ok &&
        stats->struct_size >= offsetof(pmd_stats_t, last_registration_latency_us) +
                                  sizeof(stats->last_registration_latency_us))
        shim_latency_observe(&snap->registration_latency, stats->last_registration_latency_us);
    snap->stats = *stats;
    snprintf(snap->node_id, sizeof(snap->node_id), "%s",
             stats->struct_size > offsetof(pmd_stats_t, node_id) && stats->node_id != NULL
                 ? stats->node_id
                 : "");
    snap->stats.node_id = NULL;
    snap->stats.last_error = NULL;
    snap->stats_available = 1;
}

/* "last heartbeat 2.1 s ago" (tenths) or "last heartbeat 2 s ago", or
 * "no heartbeat yet". */
static void heartbeat_age(char *out, size_t size, const pmd_stats_t *st, uint64_t now_unix_ms,
                          int tenths)
{
    if (st->last_heartbeat_ok_unix_ms == 0) {
        snprintf(out, size, "no heartbeat yet");
        return;
    }
    uint64_t ago = now_unix_ms > st->last_heartbeat_ok_unix_ms
                       ? now_unix_ms - st->last_heartbeat_ok_unix_ms
                       : 0;
    if (tenths)
        snprintf(out, size, "last heartbeat %llu.%llu s ago", (unsigned long long)(ago / 1000),
                 (unsigned long long)(ago % 1000 / 100));
    else
        snprintf(out, size, "last heartbeat %llu s ago", (unsigned long long)(ago / 1000));
}

static void state_text(char *out, size_t size, int32_t state)
{
    if (pmd_node_state_name(state) != NULL)
        snprintf(out, size, "%s", pmd_node_state_name(state));
    else if (state < 0)
        snprintf(out, size, "no state yet");
    else
        snprintf(out, size, "state-%d", (int)state);
}

static size_t clamp_len(int n, size_t out_size)
{
    if (n < 0)
        return 0;
    return (size_t)n < out_size ? (size_t)n : out_size - 1;
}

size_t shim_status_format(char *out, size_t out_size, const shim_metrics_snapshot_t *snap,
                          int32_t state, uint64_t now_unix_ms)
{
    char name[32], heartbeat[64];
    if (!snap->stats_available) {
        state_text(name, sizeof(name), state);
        return clamp_len(snprintf(out, out_size, "%s, no stats from the plugin", name), out_size);
    }
    const pmd_stats_t *st = &snap->stats;
    uint64_t failures = st->consecutive_failures;
    state_text(name, sizeof(name), st->state);
    heartbeat_age(heartbeat, sizeof(heartbeat), st, now_unix_ms, 1);
    return clamp_len(snprintf(out, out_size, "%s, %s, %llu failure%s", name, heartbeat,
                              (unsigned long long)failures, failures == 1 ? "" : "s"),
                     out_size);
}

size_t shim_status_format_brief(char *out, size_t out_size, const shim_metrics_snapshot_t *snap,
                                int32_t state, uint64_t now_unix_ms)
{
    char name[32], heartbeat[64];
    if (!snap->stats_available) {
        state_text(name, sizeof(name), state);
        return clamp_len(snprintf(out, out_size, "%s", name), out_size);
    }
    const pmd_stats_t *st = &snap->stats;
    uint64_t failures = st->consecutive_failures;
    state_text(name, sizeof(name), st->state);
    heartbeat_age(heartbeat, sizeof(heartbeat), st, now_unix_ms, 0);
    if (failures == 0)
        return clamp_len(snprintf(out, out_size, "%s, %s", name, heartbeat), out_size);
    return clamp_len(snprintf(out, out_size, "%s, %s, %llu failure%s in a row", name, heartbeat,
                              (unsigned long long)failures, failures == 1 ? "" : "s"),
                     out_size);
}
