/* nodeapi.h - the four node-API endpoints as decisions: a request (already
 * routed, auth already classified) in, an answer out. No MHD here, so the
 * order of checks (route, auth, 415, 400, 422, registry) is in one place. */
#ifndef OD_NODEAPI_H
#define OD_NODEAPI_H

#include "answer.h"
#include "auth.h"
#include "faults.h"
#include "registry.h"
#include "route.h"

#include <stdint.h>

typedef struct od_node_api {
    od_registry_t *registry;
    int auth_required; /* a token is configured */
    int strict_unknown;
    uint64_t next_heartbeat_ms;
} od_node_api_t;

typedef struct od_node_request {
    const od_route_t *route;
    int route_status; /* od_route_parse()'s result */
    enum od_auth_result auth;
    const char *content_type; /* NULL = absent */
    const char *body;
    size_t len;
} od_node_request_t;

/* Decide the answer. ERROR receives why a request was rejected (for the
 * request log), "" otherwise. */
void od_node_api_handle(const od_node_api_t *api, const od_node_request_t *rq, od_answer_t *out,
                        char *error, size_t errlen);

/* The answer for an injected STATUS: F's raw body if it has one, else a
 * body shaped like the endpoint's real one; 204 and 401 stay empty. The
 * registry is not touched. */
void od_node_api_fault_answer(const od_node_api_t *api, const od_node_request_t *rq,
                              const od_fault_t *f, od_answer_t *out);

#endif
