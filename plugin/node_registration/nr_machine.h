/*
 * nr_machine.h - the registration state machine. Pure: it knows neither curl
 * nor threads nor the clock. The network thread feeds it the outcome of each
 * request and the current time; it answers with the next request to make,
 * when, and what the host should be told.
 *
 *   REGISTERING --200--> REGISTERED --3 failed heartbeats--> DEGRADED
 *        ^  |                |  ^                                |
 *        |  +-fail: backoff  |  +------- heartbeat ok -----------+
 *        +------ 404 --------+
 *   any --401/403--> UNAUTHORIZED --(token changed | long backoff)--> register
 */
#ifndef NR_MACHINE_H
#define NR_MACHINE_H

#include <stdint.h>

#include "nr_schedule.h"

typedef enum nr_state {
    NR_STATE_IDLE = 0,
    NR_STATE_REGISTERING,
    NR_STATE_REGISTERED,
    NR_STATE_DEGRADED,
    NR_STATE_UNAUTHORIZED,
    NR_STATE_STOPPED
} nr_state_t;

typedef enum nr_request {
    NR_REQUEST_NONE = 0,
    NR_REQUEST_REGISTER,
    NR_REQUEST_HEARTBEAT
} nr_request_t;

/* Heartbeat failures in a row that make the node DEGRADED and the
 * connection be dropped and made afresh. */
#define NR_DEGRADED_AFTER 3u

/* Backoff against an auth wall: long, because only a new token can help
 * (and a token change triggers an immediate retry anyway). */
#define NR_AUTH_BACKOFF_MIN_MS 5000u
#define NR_AUTH_BACKOFF_MAX_MS 60000u

typedef struct nr_machine_params {
    uint64_t interval_ns;
    uint64_t retry_base_ns;
    uint64_t retry_max_ns;
    uint64_t pacing_floor_ns;
} nr_machine_params_t;

/* What came back from one request. */
typedef struct nr_outcome {
    nr_request_t request;
    int responded;            /* 0: no HTTP response (refused, timeout, reset, oversized) */
    long status;              /* HTTP status when responded */
    int has_next;             /* heartbeat 200 carried next_heartbeat_ms */
    uint64_t next_heartbeat_ms;
    int has_retry_after;      /* 429/503 carried Retry-After */
    uint64_t retry_after_ms;
} nr_outcome_t;

/* Why the state is what it is, for the host and the log. */
typedef enum nr_reason {
    NR_REASON_NONE = 0,
    NR_REASON_STARTED,
    NR_REASON_REGISTERED,
    NR_REASON_REGISTER_FAILED,
    NR_REASON_HEARTBEAT_OK,
    NR_REASON_HEARTBEAT_FAILED,
    NR_REASON_NOT_REGISTERED,  /* heartbeat 404: the control plane forgot us */
    NR_REASON_UNAUTHORIZED,
    NR_REASON_TOKEN_CHANGED,
    NR_REASON_POOLS_CHANGED
} nr_reason_t;

/* What the caller must do after an event. */
typedef struct nr_decision {
    int state_changed;        /* tell the host (machine.state is the new one) */
    int reset_connection;     /* drop the connection; the next request opens a new one */
    nr_reason_t reason;
    uint64_t delay_ns;        /* wait chosen before the next request (for the log) */
} nr_decision_t;

typedef struct nr_machine {
    nr_machine_params_t p;
    nr_state_t state;
    nr_request_t next_request;
    uint64_t next_due_ns;
    uint32_t register_failures;   /* consecutive */
    uint32_t heartbeat_failures;  /* consecutive */
    uint32_t auth_failures;       /* consecutive */
    nr_grid_t grid;
    uint64_t rng;
    int ever_registered;
} nr_machine_t;

void nr_machine_init(nr_machine_t *m, const nr_machine_params_t *p, uint64_t seed);

/* start: register now. */
nr_decision_t nr_machine_start(nr_machine_t *m, uint64_t now_ns);

/* A request finished (or failed to get a response). */
nr_decision_t nr_machine_on_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns);

/* The API token changed: when unauthorized, retry at once. */
nr_decision_t nr_machine_on_token_changed(nr_machine_t *m, uint64_t now_ns);

/* The host's pool set no longer matches what was registered: register
 * again at once to update the node's info (registration is idempotent). */
nr_decision_t nr_machine_on_pools_changed(nr_machine_t *m, uint64_t now_ns);

/* The state as the ABI names it (enum pmd_node_state). */
int32_t nr_machine_node_state(nr_state_t s);
const char *nr_state_name(nr_state_t s);
const char *nr_reason_name(nr_reason_t r);

#endif /* NR_MACHINE_H */
