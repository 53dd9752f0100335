/* registry.h - the in-memory node registry and the offline rule.
 *
 * Thread-safe (one mutex). Times are passed in, so the status rule is
 * testable without a clock: MONO = monotonic ms (offline rule), WALL = Unix
 * epoch ms (the *_ms fields reported to clients). */
#ifndef OD_REGISTRY_H
#define OD_REGISTRY_H

#include <json-c/json.h>
#include <stdint.h>

typedef struct od_registry od_registry_t;

od_registry_t *od_registry_new(uint64_t offline_timeout_ms);
void od_registry_free(od_registry_t *r);

/* Store or replace a node from a normalized RegisterRequest (validate.h);
 * takes over the caller's reference. Replacing starts the node afresh
 * (Registering, heartbeats 0) but counts the registration. */
void od_registry_register(od_registry_t *r, json_object *req, uint64_t mono, uint64_t wall);

/* Record a normalized HeartbeatRequest (the reference is taken over either
 * way). Returns 0, or -1 when NODE_ID is not registered. */
int od_registry_heartbeat(od_registry_t *r, const char *node_id, json_object *hb, uint64_t mono,
                          uint64_t wall);

/* 0 removed, -1 not registered. */
int od_registry_remove(od_registry_t *r, const char *node_id);

/* Forget every node (a control-plane restart). */
void od_registry_clear(od_registry_t *r);

/* {"nodes":[NodeInfo...],"count":N}, every node including offline ones,
 * in registration order. New reference. */
json_object *od_registry_list(od_registry_t *r, uint64_t mono);

/* The status rule, exposed for tests:
 *   Offline     - no heartbeat (or, before the first, no registration) for
 *                 more than offline_timeout_ms;
 *   Registering - registered, no heartbeat yet;
 *   Draining    - the last heartbeat listed pools and every one was draining;
 *   Online      - otherwise. ("Failed" is never produced.) */
const char *od_registry_status(uint64_t heartbeats, uint64_t last_seen_mono, uint64_t now_mono,
                               uint64_t offline_timeout_ms, int all_draining);

#endif
