/*
 * nr_payload.h - request bodies and response facts, exactly as protocol.md
 * types them. Pure (json-c only): config and records in, JSON text out;
 * status and body text in, facts out.
 */
#ifndef NR_PAYLOAD_H
#define NR_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "nr_config.h"
#include "nr_records.h"

/*
 * RegisterRequest. Pool ids: the config's when it lists them, else those of
 * host_pools. Capabilities: the config's when it has them, else host_caps.
 * version: the plugin's version. Returns malloc'd JSON text or NULL (no memory).
 */
char *nr_payload_register(const nr_config_t *cfg, const nr_pool_list_t *host_pools,
                          const nr_capabilities_t *host_caps, const char *version);

/* HeartbeatRequest with every pool and all seven fields (engine omitted when
 * unknown). now: wall-clock time, formatted RFC 3339 UTC with milliseconds. */
char *nr_payload_heartbeat(const nr_pool_list_t *pools, struct timespec now);

/* The same in two steps, so the network thread serialises the pools only
 * when they change (most heartbeats carry the same pools as the last one):
 * the pools array as JSON text, then a body around it. malloc'd, or NULL. */
char *nr_payload_pools_json(const nr_pool_list_t *pools);
char *nr_payload_heartbeat_with(const char *pools_json, struct timespec now);

/* Formats t as "2026-11-27T07:00:00.123Z" into buf (>= 25 bytes). Always
 * valid RFC 3339: a time after 9999-12-31T23:59:59.999Z is written as that,
 * a time before 1970 (negative tv_sec) as 1970-01-01T00:00:00.000Z. */
void nr_payload_timestamp(struct timespec t, char *buf, size_t size);

/* What a heartbeat response says. has_next = 0 when the body is absent,
 * not JSON, or next_heartbeat_ms is not a non-negative integer. */
typedef struct nr_heartbeat_reply {
    int has_next;
    uint64_t next_heartbeat_ms;
} nr_heartbeat_reply_t;

nr_heartbeat_reply_t nr_payload_parse_heartbeat_reply(const char *body, size_t len);

/* A short, printable summary of an error body for logs: the "message" field
 * when the body is JSON with one, else "" (never raw bytes). */
void nr_payload_error_message(const char *body, size_t len, char *out, size_t size);

/* Copies s into out for a log line's key="value": backslash and double
 * quote are escaped, so a control plane's message cannot break the line's
 * key=value shape. Truncates to fit; out is always NUL-terminated. */
void nr_payload_log_value(const char *s, char *out, size_t size);

/* Percent-encodes s as one path segment (RFC 3986 unreserved kept). malloc'd. */
char *nr_payload_path_segment(const char *s);

#endif /* NR_PAYLOAD_H */
