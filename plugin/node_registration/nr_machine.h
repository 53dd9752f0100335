/*
 * nr_machine.h - the registration state machine. Pure: it knows neither curl
 * nor threads nor the clock. The network thread feeds it the outcome of each
 * request and the current time; it answers with the next request to make,
 * when, and what the host should be told.
 *
 *   REGISTERING --2xx--> REGISTERED --3 failed heartbeats--> DEGRADED
 *        ^  |                |  ^                                |
 *        |  +-fail: backoff  |  +------- heartbeat 2xx ----------+
 *        +-- 404/410, 3 rejections (see below) ------------------+
 *   any --401/403--> UNAUTHORIZED --(token changed | long backoff)--> register
 *
 * What each HTTP status means (nr_machine_classify; the worker asks these
 * functions and never re-derives "success" or "auth" itself):
 *
 *   no response   refused, timeout, reset, oversized reply: a failure; the
 *                 connection is dropped.
 *   2xx           ok.
 *   401, 403      unauthorized: long backoff, a changed token retries at once.
 *   404, 410      not registered. On a heartbeat: if a heartbeat has
 *                 succeeded since the last registration, the control plane
 *                 forgot us: register again at once. If none has (the very
 *                 heartbeats after a 2xx registration say "unknown node": a
 *                 proxy mangling the node id, replicas with separate
 *                 registries), registering at once would loop, so register
 *                 again after exponential backoff with equal jitter
 *                 (retry_base/2 .. retry_max) whose attempt count survives
 *                 the registration's success and is cleared only by a
 *                 successful heartbeat. On a registration: a failure.
 *   408, 425, 429, 5xx
 *                 transient: a failure; Retry-After is honoured (see below).
 *   other 4xx     (400, 409, 413, 415, 418, 422, ...) the request was
 *                 rejected: a failure. On heartbeats, after NR_DEGRADED_AFTER
 *                 rejections with no successful heartbeat between them,
 *                 register again (idempotent, refreshes the node's info)
 *                 after the same backoff as above; the state stays DEGRADED
 *                 until that registration is answered.
 *   1xx, 3xx, anything outside 100-599
 *                 unexpected (a redirect is never followed): a failure, as
 *                 5xx but without Retry-After.
 *
 * A failure is: on registration, a retry after exponential backoff with full
 * jitter (0..retry_base doubling to max(retry_max, 2 x interval), see
 * nr_register_retry_cap_ns); on heartbeats, the next slot of the grid,
 * DEGRADED and a new connection after NR_DEGRADED_AFTER in a row.
 *
 * When (nr_schedule.h has the phase rule and its reason):
 *   start         the first registration after nr_start_jitter_ns (at most
 *                 min(interval / 10, 1 s)), so a fleet booting together, or
 *                 into an outage, does not send its first burst in one instant.
 *   registered    the first heartbeat after nr_start_jitter_ns, so the node
 *                 turns Online within a second (never later than
 *                 min(interval, the control plane's offline timeout)); from
 *                 then on heartbeats fall on the node's phase grid, the first
 *                 slot more than the jitter's bound after that heartbeat. The
 *                 grid is the same after every registration, so a restart of
 *                 the control plane or an outage does not pull phases together.
 *
 * Retry-After (transient statuses only) is a floor under the next request.
 * On registration it is honoured up to NR_MAX_RETRY_AFTER_S (1 h). On a
 * heartbeat it is honoured only up to one heartbeat interval past the slot
 * the next beat would have had, so the control plane (which marks a node
 * offline after ~30 s without a heartbeat) never sees a node go silent
 * while the plugin reports it registered.
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

/* Every class of reply; see the table at the top of this file. */
typedef enum nr_status_class {
    NR_STATUS_NO_RESPONSE = 0, /* no HTTP response */
    NR_STATUS_OK,              /* 2xx */
    NR_STATUS_UNAUTHORIZED,    /* 401, 403 */
    NR_STATUS_NOT_REGISTERED,  /* 404, 410 */
    NR_STATUS_TRANSIENT,       /* 408, 425, 429, 5xx */
    NR_STATUS_REJECTED,        /* every other 4xx */
    NR_STATUS_UNEXPECTED       /* 1xx, 3xx, outside 100-599 */
} nr_status_class_t;

/* Backoff against an auth wall: long, because only a new token can help
 * (and a token change triggers an immediate retry anyway). */
#define NR_AUTH_BACKOFF_MIN_MS 5000u
#define NR_AUTH_BACKOFF_MAX_MS 60000u

typedef struct nr_machine_params {
    uint64_t interval_ns;
    uint64_t retry_base_ns;
    uint64_t retry_max_ns; /* registration retries: see nr_register_retry_cap_ns */
    uint64_t pacing_floor_ns;
    uint64_t phase_key;      /* nr_phase_key(node_id) */
    uint64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, read once */
} nr_machine_params_t;

/* What came back from one request. */
typedef struct nr_outcome {
    nr_request_t request;
    int responded; /* 0: no HTTP response (refused, timeout, reset, oversized) */
    long status;   /* HTTP status when responded */
    int has_next;  /* heartbeat 200 carried next_heartbeat_ms */
    uint64_t next_heartbeat_ms;
    int has_retry_after; /* the reply carried a valid Retry-After (any status) */
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
    NR_REASON_NOT_REGISTERED, /* heartbeat 404: the control plane forgot us */
    NR_REASON_UNAUTHORIZED,
    NR_REASON_TOKEN_CHANGED,
    NR_REASON_POOLS_CHANGED,
    NR_REASON_HEARTBEAT_REJECTED /* heartbeats rejected (4xx) NR_DEGRADED_AFTER times: register */
} nr_reason_t;

/* What the caller must do after an event. */
typedef struct nr_decision {
    int state_changed;    /* tell the host (machine.state is the new one) */
    int reset_connection; /* drop the connection; the next request opens a new one */
    int reread_token;     /* the token was refused (401/403): re-read the token file
                             (a changed one is nr_machine_on_token_changed) */
    nr_reason_t reason;
    uint64_t delay_ns; /* wait chosen before the next request (for the log) */
} nr_decision_t;

typedef struct nr_machine {
    nr_machine_params_t p;
    nr_state_t state;
    nr_request_t next_request;
    uint64_t next_due_ns;
    uint32_t register_failures;  /* consecutive */
    uint32_t heartbeat_failures; /* consecutive */
    uint32_t auth_failures;      /* consecutive */
    nr_grid_t grid;
    uint64_t rng;
    int ever_registered;
    uint64_t takeover_due_ns;        /* handed-over first heartbeat; 0 = none */
    int heartbeat_ok_since_register; /* a heartbeat got 2xx since the last registration */
    uint32_t reregister_backoffs;    /* re-registrations not yet followed by a good heartbeat */
    uint32_t heartbeat_rejections;   /* rejected (other 4xx) heartbeats since the last good one */
    int beat_off_grid;               /* the heartbeat due is the prompt first one after a
                                        registration, before the grid's first slot */
    int register_sent;               /* a register went out: stop DELETEs the node */
    int register_in_doubt;           /* a register was abandoned at stop: the DELETE
                                        may overtake it */
} nr_machine_t;

/* What the worker may read of the machine: a copy, for carrying decisions
 * out and for log lines. The worker never reads or writes nr_machine_t's
 * fields (tests/worker_decisions.sh checks it). */
typedef struct nr_machine_view {
    int32_t node_state; /* enum pmd_node_state */
    nr_request_t next_request;
    uint64_t next_due_ns;
    uint64_t next_heartbeat_due_ns; /* next_due_ns when a heartbeat is next, else 0 */
    int registered;                 /* REGISTERED or DEGRADED: the node is known */
    uint32_t register_attempts;     /* failed registrations in a row, auth ones included */
    uint32_t heartbeat_failures;    /* consecutive */
    uint64_t interval_ns;           /* the configured heartbeat interval */
} nr_machine_view_t;

/* Which counter of pmd.ext.stats/1 one request's outcome goes to: exactly
 * one. A heartbeat's 404/410 has its own; a registration's counts as a
 * failed status. */
typedef enum nr_tally {
    NR_TALLY_OK = 0,
    NR_TALLY_TRANSPORT,      /* no response */
    NR_TALLY_AUTH,           /* 401, 403 */
    NR_TALLY_NOT_REGISTERED, /* heartbeats only: 404, 410 */
    NR_TALLY_STATUS          /* any other status */
} nr_tally_t;

/* What a DELETE's reply means (nr_machine_on_deregister_outcome). */
typedef struct nr_deregister_verdict {
    int ok;                 /* the node is gone: 200, 204, 404, 410 */
    int retry_if_new_token; /* refused for its token on the first try: re-read the
                               token file, and DELETE once more if it changed */
    const char *note;       /* for the log ("was not registered"), or NULL */
} nr_deregister_verdict_t;

/* What stop does (nr_machine_stop_plan). */
typedef struct nr_stop_plan {
    int deregister; /* DELETE the node: a register was sent, and no other
                       instance takes the node over */
    int unordered;  /* a register was abandoned at the in-flight cut: the
                       DELETE may reach the control plane first (warn) */
} nr_stop_plan_t;

void nr_machine_init(nr_machine_t *m, const nr_machine_params_t *p, uint64_t seed);

/* The machine as the worker may see it. */
nr_machine_view_t nr_machine_view(const nr_machine_t *m);

/* start: register now. */
nr_decision_t nr_machine_start(nr_machine_t *m, uint64_t now_ns);

/* Take over a node another instance handed over (ABI 1.2): register at once
 * (idempotent on the control plane; it reports the new build's version),
 * heartbeat at once after it (a re-registered node shows Registering until
 * its next heartbeat), then keep the old instance's schedule: the next slot
 * of the grid through due_ns, its next heartbeat. due_ns 0 (the old instance
 * had no heartbeat due) is a due time long past: heartbeat at once. */
nr_decision_t nr_machine_start_takeover(nr_machine_t *m, uint64_t now_ns, uint64_t due_ns);

/* The request the machine asked for is about to be sent. Returns 1 when it
 * is a re-registration (a register after one succeeded), for the stats. */
int nr_machine_on_send(nr_machine_t *m, nr_request_t r);

/* The request was abandoned without an outcome (stop cut it off). */
void nr_machine_on_abandoned(nr_machine_t *m, nr_request_t r);

/* The request's body could not be built (out of memory): the same request
 * again after retry_max. */
nr_decision_t nr_machine_on_internal_error(nr_machine_t *m, uint64_t now_ns);

/* Stop: what to do before the thread ends; handing_over: another instance
 * takes the node over (ABI 1.2), so it is not deregistered. */
nr_stop_plan_t nr_machine_stop_plan(const nr_machine_t *m, int handing_over);

/* The worker has stopped: the state is STOPPED. */
nr_decision_t nr_machine_stop(nr_machine_t *m);

/* On stop, the time a request in flight must end by: half the stop budget,
 * so the DELETE (which has the other half) never overtakes a register. */
uint64_t nr_machine_in_flight_cut_ns(uint64_t stop_ns, uint64_t budget_ns);

/* The DELETE's reply; attempt 0 for the first, 1 for the one retry. */
nr_deregister_verdict_t nr_machine_on_deregister_outcome(int responded, long status,
                                                         unsigned attempt);

/* The counter an outcome goes to. */
nr_tally_t nr_machine_tally(const nr_outcome_t *o);

/* 1 when the reply's body carries schedule hints the machine reads
 * (next_heartbeat_ms: a heartbeat's 200), so the worker parses it. */
int nr_machine_reads_reply_body(const nr_outcome_t *o);

/* A request finished (or failed to get a response). */
nr_decision_t nr_machine_on_outcome(nr_machine_t *m, const nr_outcome_t *o, uint64_t now_ns);

/* The API token changed: when unauthorized, retry at once. */
nr_decision_t nr_machine_on_token_changed(nr_machine_t *m, uint64_t now_ns);

/* The host's pool set no longer matches what was registered: register
 * again at once to update the node's info (registration is idempotent). */
nr_decision_t nr_machine_on_pools_changed(nr_machine_t *m, uint64_t now_ns);

/* The class of a reply. responded = 0 gives NR_STATUS_NO_RESPONSE whatever
 * the status. Pure; any thread. */
nr_status_class_t nr_machine_status_class(int responded, long status);

/* The same for an outcome (o must not be NULL). */
nr_status_class_t nr_machine_classify(const nr_outcome_t *o);

/* A short lowercase name for a class, for log lines and metrics labels
 * ("ok", "unauthorized", "not_registered", ...); never NULL. */
const char *nr_status_class_name(nr_status_class_t c);

/* 1 when a status that came back is a success (2xx), else 0. */
int nr_machine_is_success(long status);

/* 1 when a status that came back is an auth failure (401, 403): the worker
 * re-reads the token file. Else 0. */
int nr_machine_is_auth_failure(long status);

/* 1 when a DELETE's reply means the node is gone from the control plane:
 * 200 or 204 (removed now), 404 or 410 (was not registered). 0 when there
 * was no response or any other status. */
int nr_machine_deregister_succeeded(int responded, long status);

/* The state as the ABI names it (enum pmd_node_state). */
int32_t nr_machine_node_state(nr_state_t s);
const char *nr_state_name(nr_state_t s);
const char *nr_reason_name(nr_reason_t r);

#endif /* NR_MACHINE_H */
