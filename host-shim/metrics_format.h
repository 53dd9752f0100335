/*
 * metrics_format.h - what the operator sees of a node: the plugin's
 * pmd.ext.stats/1 counters copied into a snapshot, and that snapshot as
 * Prometheus text (exposition format 0.0.4) or as the terminal status line.
 * Pure: no I/O, no clock, no threads. The shim's run loop fills snapshots on
 * the host thread (metrics_server.h serves them); tests feed them directly.
 */
#ifndef SHIM_METRICS_FORMAT_H
#define SHIM_METRICS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

#define SHIM_METRICS_STR_MAX 256 /* node_id is 1..255 bytes in node_registration */

/* Latency buckets: 5 ms .. 10 s (Prometheus' default bounds), then +Inf. */
#define SHIM_LATENCY_BUCKETS 11

/* A latency histogram: per-bucket (not cumulative) counts, the count of
 * every observation (those past 10 s in no bucket) and their sum. */
typedef struct shim_latency_histogram {
    uint64_t bucket[SHIM_LATENCY_BUCKETS];
    uint64_t count;
    uint64_t sum_us;
} shim_latency_histogram_t;

/* Adds one observation of us microseconds. */
void shim_latency_observe(shim_latency_histogram_t *h, uint64_t us);

/* Everything one scrape shows; plain data, copied by value between threads. */
typedef struct shim_metrics_snapshot {
    char plugin_name[SHIM_METRICS_STR_MAX];
    char plugin_version[SHIM_METRICS_STR_MAX];
    int stats_available; /* 0: only pmd_plugin_info and pmd_stats_available */
    pmd_stats_t stats;   /* string pointers are NULL: use node_id below */
    char node_id[SHIM_METRICS_STR_MAX];
    uint64_t log_write_failures;                /* the host's own: log lines it could not write */
    shim_latency_histogram_t heartbeat_latency; /* kept by shim_metrics_snapshot_set_stats */
    shim_latency_histogram_t registration_latency; /* likewise, when the plugin reports it */
} shim_metrics_snapshot_t;

/* Copies a plugin's stats (strings included) into snap and sets
 * stats_available. stats->node_id may be NULL (then ""). When
 * heartbeats_ok moved since the stats snap held, last_heartbeat_latency_us
 * goes into snap->heartbeat_latency (so keep one snapshot across reads). */
void shim_metrics_snapshot_set_stats(shim_metrics_snapshot_t *snap, const pmd_stats_t *stats);

/*
 * The whole scrape as Prometheus text: every family with its # HELP and
 * # TYPE lines, names prefixed pmd_, a node_id label on every node sample
 * (the host's own series, pmd_plugin_info included, have none),
 * label values escaped (\\, \", \n; invalid UTF-8 becomes U+FFFD).
 * Returns a malloc'd NUL-terminated string (caller frees), NULL when out of
 * memory; *len (if not NULL) gets its length.
 */
char *shim_metrics_format(const shim_metrics_snapshot_t *snap, size_t *len);

/* Writes value as a Prometheus label value body (without the quotes) into
 * out, cut on a character boundary to fit. Returns the length written. */
size_t shim_metrics_escape_label(char *out, size_t out_size, const char *value);

/*
 * The terminal status line's text, e.g. "registered, last heartbeat 2.1 s
 * ago, 0 failures". state is the last state the plugin reported through
 * state_changed (-1 = none yet); the snapshot's stats, when available,
 * win. now_unix_ms is the wall clock. Returns the length written.
 */
size_t shim_status_format(char *out, size_t out_size, const shim_metrics_snapshot_t *snap,
                          int32_t state, uint64_t now_unix_ms);

/*
 * The same in whole seconds, without "0 failures", for systemd's STATUS=
 * ("registered, last heartbeat 2 s ago"; "degraded, last heartbeat 31 s
 * ago, 4 failures in a row"; just the state name without stats), so that
 * the text changes at most once a second. Returns the length written.
 */
size_t shim_status_format_brief(char *out, size_t out_size, const shim_metrics_snapshot_t *snap,
                                int32_t state, uint64_t now_unix_ms);

#endif /* SHIM_METRICS_FORMAT_H */
