/*
 * nr_worker.c - one node on the shared network thread (see nr_worker.h for
 * the hand-off, nr_engine.h for the thread).
 *
 * The engine calls the node back; each call does a little and returns,
 * never blocking, so thousands of nodes share one thread. Idle: ask the
 * state machine what to send and when; set a timer for then. Due: build the
 * body from the newest pool snapshot and begin the request. Ended: feed the
 * outcome to the machine; queue what the host must hear. Each request also
 * has a deadline of our own (its timeout plus slack), so no transfer of
 * libcurl's can hold a node for longer. On stop: let a request in flight
 * finish within the first half of the stop budget (so a DELETE never
 * overtakes a register), DELETE the node within what is left, and end.
 *
 * The transport is made and freed on the engine thread, in its descriptor
 * table (nr_fdtable.h), never on the host thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "nr_engine.h"
#include "nr_machine.h"
#include "nr_payload.h"
#include "nr_schedule.h"
#include "nr_token.h"
#include "nr_transport.h"

/* A request's own deadline is its timeout plus this: libcurl's timeout
 * normally ends it first, with its own words. */
#define NR_DEADLINE_SLACK_MS 1000u
/* With a token file, wake at least this often to notice its rotation;
 * otherwise sleep until the next request is due (or stop wakes us). */
#define NR_TOKEN_POLL_MS 1000u
#define NR_MAX_SLEEP_MS 60000u

/* Where the node is, on the engine thread. */
typedef enum nr_phase {
    NR_PHASE_NEW,      /* joined, transport not made yet */
    NR_PHASE_IDLE,     /* waiting for the next request's time */
    NR_PHASE_SENDING,  /* a register or heartbeat in flight */
    NR_PHASE_DELETING, /* stopping: the DELETE in flight */
    NR_PHASE_DONE
} nr_phase_t;

struct nr_worker {
    nr_engine_client_t client; /* first: the engine's callbacks get &w->client */
    /* What every tick reads without the lock, side by side: one cache line
     * per node and tick (a host may tick 10,000 nodes ten times a second).
     * Written under the lock with atomic stores. */
    nr_event_queue_t events;     /* for the host; its count read unlocked */
    uint64_t pools_wanted_at_ns; /* 0 = not wanted */
    const nr_config_t *cfg;
    char version[64];
    char user_agent[96];

    /* --- shared with the host thread, under lock --- */
    pthread_mutex_t lock;
    pthread_cond_t ready_cv;
    int ready;    /* 0 starting, 1 running, -1 could not start */
    int released; /* the engine let go of the node (finished) */
    int stop_requested;
    uint64_t stop_deadline_ns;
    uint64_t in_flight_cut_ns; /* on stop: a request in flight ends by then */
    int handing_over;          /* stop without DELETE: another instance takes over */
    int take_over;             /* set before start: take a handed-over node over */
    uint64_t takeover_due_ns;  /* its next heartbeat, 0 = none was due */
    nr_pool_list_t offered;    /* newest snapshot from the host */
    int offered_fresh;
    int pools_changed;
    char **registered_ids; /* pool ids last registered (host compares) */
    size_t registered_count;
    int registered_ids_valid;
    nr_worker_stats_t stats;

    nr_transport_opts_t topts;

    /* --- engine thread only --- */
    nr_transport_t *transport;
    nr_phase_t phase;
    nr_request_t sending;    /* what is in flight in NR_PHASE_SENDING */
    char *body;              /* its body: libcurl reads it until the end */
    nr_http_response_t resp; /* filled by the transport when it ends */
    char cid[40];
    uint64_t deadline_ns;     /* the request in flight ends by then, whatever libcurl does */
    int delete_attempt;       /* 0 first DELETE, 1 the retry with a rotated token */
    char token_problem[200];  /* the token file problem last logged, "" if none */
    nr_machine_t machine;     /* only through nr_machine_* (tests/worker_decisions.sh) */
    nr_machine_view_t at_end; /* the machine as the engine left it (after release) */
    uint64_t last_heartbeat_ok_ns;
    nr_token_t token;
    nr_pool_list_t pools;
    char *pools_json; /* pools serialised; NULL = serialise again */
    nr_capabilities_t caps;
    char *url_register;  /* the request URLs, made once: the node id */
    char *url_heartbeat; /* percent-encoded, the base's path prefix kept */
    char *url_node;
    uint64_t request_seq;
    uint64_t rng;

    int joined; /* host thread: between a successful start and stop */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------------- */
/* Events to the host (queued; delivered on the host thread by tick)       */
/* ---------------------------------------------------------------------- */

/* The next event's slot. Called with the lock held. */
static nr_event_t *next_slot(nr_worker_t *w)
{
    nr_event_t *e = nr_events_push(&w->events);
    w->stats.events_dropped = w->events.dropped;
    return e;
}

static void push_state(nr_worker_t *w, int32_t state, const char *detail)
{
    pthread_mutex_lock(&w->lock);
    nr_event_t *e = next_slot(w);
    e->is_state = 1;
    e->code = state;
    snprintf(e->u.text, sizeof(e->u.text), "%s", detail);
    pthread_mutex_unlock(&w->lock);
}

/* Queues a log event; the node id is added at delivery (plugin.c). */
static void push_log(nr_worker_t *w, const nr_log_record_t *r)
{
    pthread_mutex_lock(&w->lock);
    nr_event_t *e = next_slot(w);
    e->is_state = 0;
    e->code = r->level;
    e->u.log = *r;
    pthread_mutex_unlock(&w->lock);
}

/* An event with no fields, or the start of one (add fields, then push_log). */
static nr_log_record_t *log_begin(nr_log_record_t *r, int32_t level, const char *event)
{
    nr_log_begin(r, level, event);
    return r;
}

size_t nr_worker_take_events(nr_worker_t *w, nr_event_t *out, size_t max)
{
    /* Most ticks find nothing: no lock for them (a host running thousands
     * of nodes ticks each ten times a second). An event queued just after
     * this look is taken on the next tick. */
    if (nr_events_pending(&w->events) == 0)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = nr_events_take(&w->events, out, max);
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Pools: host -> network thread                                           */
/* ---------------------------------------------------------------------- */

int nr_worker_pools_wanted(nr_worker_t *w, uint64_t now_ns, uint64_t lookahead_ns)
{
    uint64_t at =
        __atomic_load_n(&w->pools_wanted_at_ns, __ATOMIC_ACQUIRE); /* no lock: every tick */
    return at != 0 && now_ns + lookahead_ns >= at;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

void nr_worker_offer_pools(nr_worker_t *w, nr_pool_list_t *pools)
{
    nr_pool_list_t old;
    int wake = 0;
    pthread_mutex_lock(&w->lock);
    old = w->offered;
    w->offered = *pools;
    w->offered_fresh = 1;
    __atomic_store_n(&w->pools_wanted_at_ns, 0, __ATOMIC_RELEASE);
    if (!w->cfg->has_pools && w->registered_ids_valid &&
        !nr_pool_ids_equal(&w->offered, w->registered_ids, w->registered_count)) {
        w->pools_changed = 1;
        w->registered_ids_valid = 0; /* once per change, until registered again */
        wake = 1;
    }
    pthread_mutex_unlock(&w->lock);
    memset(pools, 0, sizeof(*pools));
    nr_pool_list_clear(&old);
    if (wake && w->joined)
        nr_engine_poke(&w->client);
}

/* Network thread: adopt the newest snapshot, if any. An unchanged snapshot
 * keeps the serialised pools (the JSON is rebuilt only when they change). */
static void take_offered_pools(nr_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->offered_fresh) {
        nr_pool_list_t mine = w->pools;
        w->pools = w->offered;
        w->offered = mine; /* freed by the host's next offer, or at the end */
        w->offered_fresh = 0;
        if (!nr_pool_list_equal(&w->pools, &w->offered)) {
            free(w->pools_json);
            w->pools_json = NULL;
        }
    }
    pthread_mutex_unlock(&w->lock);
}

static void remember_registered_ids(nr_worker_t *w)
{
    const char *const *src = (const char *const *)w->cfg->pools;
    size_t n = w->cfg->has_pools ? w->cfg->pool_count : w->pools.count;
    char **ids = calloc(n ? n : 1, sizeof(*ids));
    for (size_t i = 0; ids && i < n; i++) {
        ids[i] = strdup(w->cfg->has_pools ? src[i] : w->pools.items[i].pool_id);
        if (ids[i] == NULL) {
            free_ids(ids, i);
            ids = NULL;
        }
    }
    pthread_mutex_lock(&w->lock);
    free_ids(w->registered_ids, w->registered_count);
    w->registered_ids = ids;
    w->registered_count = ids ? n : 0;
    w->registered_ids_valid = ids != NULL;
    pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */
/* ---------------------------------------------------------------------- */

static int stop_requested(nr_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    int stop = w->stop_requested;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

/* After stop, a request in flight may run until the cut that leaves the
 * DELETE its half of the budget. Finishing the request rather than
 * abandoning it at once is what keeps a DELETE from reaching the control
 * plane before a register in flight. */
static uint64_t in_flight_cut(nr_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t cut = w->in_flight_cut_ns;
    pthread_mutex_unlock(&w->lock);
    return cut;
}

/* Begins one request (the response lands in w->resp), which ends by
 * deadline_ns whatever libcurl does; 0 when it started. */
static int begin_request(nr_worker_t *w, const char *method, const char *url, const char *body,
                         uint32_t timeout_ms, uint64_t deadline_ns)
{
    snprintf(w->cid, sizeof(w->cid), "%016llx-%llu", (unsigned long long)nr_rand_next(&w->rng),
             (unsigned long long)++w->request_seq);
    nr_http_request_t req = {method, url, body, w->token.value, w->cid, timeout_ms};
    w->deadline_ns = deadline_ns;
    if (nr_transport_begin(w->transport, nr_engine_multi(&w->client), &req, &w->resp) != 0) {
        snprintf(w->resp.error, sizeof(w->resp.error), "libcurl refused to start the transfer");
        return -1;
    }
    nr_engine_wake_at(&w->client, w->deadline_ns);
    return 0;
}

/* A one-line reason, raw (the text line quotes and escapes it, nr_log.h). */
static void describe_response(const nr_http_response_t *r, char *out, size_t size)
{
    if (!r->responded) {
        snprintf(out, size, "no response: %.180s", r->error);
    } else {
        char msg[120];
        nr_payload_error_message(r->body, r->body_len, msg, sizeof(msg));
        snprintf(out, size, "HTTP %ld%s%s", r->status, msg[0] ? ": " : "", msg);
    }
}

/* ---------------------------------------------------------------------- */
/* The state machine's decisions, carried out                              */
/* ---------------------------------------------------------------------- */

static void publish_state(nr_worker_t *w, const char *detail)
{
    int32_t s = nr_machine_view(&w->machine).node_state;
    pthread_mutex_lock(&w->lock);
    if (w->stats.state != s)
        w->stats.state_since_unix_ms = unix_ms();
    w->stats.state = s;
    pthread_mutex_unlock(&w->lock);
    push_state(w, s, detail);
}

static void want_pools_for_next_heartbeat(nr_worker_t *w)
{
    uint64_t due = nr_machine_view(&w->machine).next_heartbeat_due_ns;
    pthread_mutex_lock(&w->lock);
    __atomic_store_n(&w->pools_wanted_at_ns, due, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->lock);
}

static void apply(nr_worker_t *w, const nr_decision_t *d, const char *detail)
{
    if (d->reset_connection)
        nr_transport_reset_connection(w->transport);
    if (d->state_changed)
        publish_state(w, detail);
    want_pools_for_next_heartbeat(w);
}

static nr_outcome_t outcome_of(nr_request_t kind, const nr_http_response_t *r)
{
    nr_outcome_t o;
    memset(&o, 0, sizeof(o));
    o.request = kind;
    o.responded = r->responded;
    o.status = r->status;
    o.has_retry_after = r->has_retry_after;
    o.retry_after_ms = r->retry_after_ms;
    if (nr_machine_reads_reply_body(&o)) {
        nr_heartbeat_reply_t reply = nr_payload_parse_heartbeat_reply(r->body, r->body_len);
        o.has_next = reply.has_next;
        o.next_heartbeat_ms = reply.next_heartbeat_ms;
    }
    return o;
}

/* Counts one request's outcome for nr_worker_stats (pmd.ext.stats/1), in
 * the counter the machine names (nr_machine_tally). */
static void record(nr_worker_t *w, const nr_outcome_t *o, const nr_http_response_t *r,
                   const char *what)
{
    nr_worker_stats_t *st = &w->stats;
    nr_tally_t t = nr_machine_tally(o);
    int ok = t == NR_TALLY_OK;
    pthread_mutex_lock(&w->lock);
    st->connections = nr_transport_connections(w->transport);
    if (o->request == NR_REQUEST_REGISTER) {
        st->registrations_ok += ok;
        if (ok)
            st->last_registration_latency_ns = r->latency_ns;
        st->registrations_failed_transport += t == NR_TALLY_TRANSPORT;
        st->registrations_failed_auth += t == NR_TALLY_AUTH;
        st->registrations_failed_status += t == NR_TALLY_STATUS;
    } else {
        st->heartbeats_ok += ok;
        st->heartbeats_failed_transport += t == NR_TALLY_TRANSPORT;
        st->heartbeats_failed_auth += t == NR_TALLY_AUTH;
        st->heartbeats_not_registered += t == NR_TALLY_NOT_REGISTERED;
        st->heartbeats_failed_status += t == NR_TALLY_STATUS;
        if (ok) {
            st->last_heartbeat_ok_unix_ms = unix_ms();
            w->last_heartbeat_ok_ns = mono_ns();
            st->last_heartbeat_latency_ns = r->latency_ns;
        }
    }
    st->consecutive_failures = ok ? 0 : st->consecutive_failures + 1;
    if (!ok)
        snprintf(st->last_error, sizeof(st->last_error), "%s", what);
    pthread_mutex_unlock(&w->lock);
}

static void record_deregistration(nr_worker_t *w, int ok, const char *what)
{
    pthread_mutex_lock(&w->lock);
    w->stats.deregistrations_ok += ok;
    w->stats.deregistrations_failed += !ok;
    if (!ok)
        snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s", what);
    pthread_mutex_unlock(&w->lock);
}

static void log_register(nr_worker_t *w, const nr_http_response_t *r, const nr_decision_t *d,
                         const char *what, const char *cid)
{
    nr_log_record_t ev;
    if (d->reason == NR_REASON_REGISTERED) {
        log_begin(&ev, PMD_LOG_INFO, "registered");
        nr_log_addf(&ev, "status", "%ld", r->status);
        nr_log_addf(&ev, "latency_ms", "%.1f", (double)r->latency_ns / 1e6);
        nr_log_add(&ev, "cid", cid);
        push_log(w, &ev);
        return;
    }
    log_begin(&ev, d->reason == NR_REASON_UNAUTHORIZED ? PMD_LOG_ERROR : PMD_LOG_WARN,
              "register_failed");
    nr_log_add(&ev, "reason", what);
    nr_log_addf(&ev, "attempt", "%u", nr_machine_view(&w->machine).register_attempts);
    nr_log_addf(&ev, "retry_in_ms", "%llu", (unsigned long long)(d->delay_ns / NR_MS));
    nr_log_add(&ev, "cid", cid);
    push_log(w, &ev);
}

static void log_heartbeat(nr_worker_t *w, const nr_http_response_t *r, const nr_decision_t *d,
                          const char *what, const char *cid)
{
    nr_log_record_t ev;
    if (d->reason == NR_REASON_HEARTBEAT_OK) {
        if (d->state_changed) {
            log_begin(&ev, PMD_LOG_INFO, "heartbeat_recovered");
        } else {
            log_begin(&ev, PMD_LOG_DEBUG, "heartbeat");
            nr_log_addf(&ev, "status", "%ld", r->status);
        }
        nr_log_addf(&ev, "latency_ms", "%.1f", (double)r->latency_ns / 1e6);
        if (d->state_changed)
            nr_log_add(&ev, "cid", cid);
        else
            nr_log_addf(&ev, "pools", "%zu", w->pools.count);
        push_log(w, &ev);
        return;
    }
    if (d->reason == NR_REASON_NOT_REGISTERED || d->reason == NR_REASON_HEARTBEAT_REJECTED) {
        log_begin(&ev, PMD_LOG_WARN,
                  d->reason == NR_REASON_NOT_REGISTERED ? "heartbeat_not_registered"
                                                        : "heartbeat_rejected");
        nr_log_addf(&ev, "status", "%ld", r->status);
        nr_log_add(&ev, "action", "register");
        nr_log_addf(&ev, "retry_in_ms", "%llu", (unsigned long long)(d->delay_ns / NR_MS));
    } else {
        log_begin(&ev, d->reason == NR_REASON_UNAUTHORIZED ? PMD_LOG_ERROR : PMD_LOG_WARN,
                  "heartbeat_failed");
        nr_log_add(&ev, "reason", what);
        nr_log_addf(&ev, "consecutive", "%u", nr_machine_view(&w->machine).heartbeat_failures);
        if (d->reset_connection)
            nr_log_add(&ev, "action", "reconnect");
    }
    nr_log_add(&ev, "cid", cid);
    push_log(w, &ev);
}

static char *build_body(nr_worker_t *w, nr_request_t kind)
{
    take_offered_pools(w);
    if (kind == NR_REQUEST_REGISTER)
        return nr_payload_register(w->cfg, &w->pools, &w->caps, w->version);
    if (w->pools_json == NULL)
        w->pools_json = nr_payload_pools_json(&w->pools);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return nr_payload_heartbeat_with(w->pools_json, now);
}

/* event=token_reloaded; trigger: what made us look, NULL for the periodic check. */
static void log_token_reloaded(nr_worker_t *w, const char *trigger)
{
    nr_log_record_t ev;
    log_begin(&ev, PMD_LOG_INFO, "token_reloaded");
    nr_log_add(&ev, "source", "api_token_file");
    if (trigger != NULL)
        nr_log_add(&ev, "trigger", trigger);
    push_log(w, &ev);
}

/* The token was refused: it may have been rotated since the last periodic
 * check. A different token is tried at once (the machine decides when). */
static void reread_token_after_refusal(nr_worker_t *w)
{
    uint64_t now = mono_ns();
    if (nr_token_refresh(&w->token, now, 1) != 1)
        return;
    log_token_reloaded(w, "refused");
    nr_decision_t d = nr_machine_on_token_changed(&w->machine, now);
    apply(w, &d, "token changed");
}

/* The register or heartbeat in flight ended (w->resp): count it, let the
 * machine decide, tell the host. */
static void request_ended(nr_worker_t *w, uint64_t now)
{
    nr_request_t kind = w->sending;
    nr_http_response_t *resp = &w->resp;
    char what[200];
    free(w->body);
    w->body = NULL;
    w->phase = NR_PHASE_IDLE;
    if (resp->aborted) {
        nr_machine_on_abandoned(&w->machine, kind);
        nr_http_response_clear(resp);
        return;
    }
    nr_outcome_t o = outcome_of(kind, resp);
    what[0] = '\0';
    if (nr_machine_tally(&o) != NR_TALLY_OK)
        describe_response(resp, what, sizeof(what)); /* only failures need words */
    record(w, &o, resp, what);
    nr_decision_t d = nr_machine_on_outcome(&w->machine, &o, now);
    if (kind == NR_REQUEST_REGISTER) {
        if (d.reason == NR_REASON_REGISTERED)
            remember_registered_ids(w);
        log_register(w, resp, &d, what, w->cid);
    } else {
        log_heartbeat(w, resp, &d, what, w->cid);
    }
    apply(w, &d,
          d.reason == NR_REASON_REGISTERED || d.reason == NR_REASON_HEARTBEAT_OK ? "registered"
                                                                                 : what);
    nr_http_response_clear(resp);
    if (d.reread_token)
        reread_token_after_refusal(w);
}

/* Begins the request the machine asked for. */
static void start_request(nr_worker_t *w, nr_request_t kind, uint64_t now)
{
    char *body = build_body(w, kind);
    if (body == NULL) {
        nr_log_record_t ev;
        nr_log_add(log_begin(&ev, PMD_LOG_ERROR, "internal_error"), "reason",
                   "cannot build request body");
        push_log(w, &ev);
        nr_decision_t d = nr_machine_on_internal_error(&w->machine, now);
        apply(w, &d, "internal error");
        return;
    }
    if (nr_machine_on_send(&w->machine, kind)) {
        pthread_mutex_lock(&w->lock);
        w->stats.reregistrations++;
        pthread_mutex_unlock(&w->lock);
    }
    w->body = body;
    w->sending = kind;
    w->phase = NR_PHASE_SENDING;
    uint32_t timeout_ms = w->cfg->request_timeout_ms;
    if (begin_request(w, "POST", kind == NR_REQUEST_REGISTER ? w->url_register : w->url_heartbeat,
                      body, timeout_ms,
                      now + ((uint64_t)timeout_ms + NR_DEADLINE_SLACK_MS) * NR_MS) != 0)
        request_ended(w, now); /* a failure with no response, like any other */
}

/* A token file problem is reported once, again only when it changes, and
 * its end once: the old token keeps working meanwhile, and a line every
 * second would bury everything else (86k a day). */
static void report_token_file(nr_worker_t *w, int refreshed)
{
    if (refreshed < 0 && strcmp(w->token.last_error, w->token_problem) != 0) {
        nr_log_record_t ev;
        nr_log_add(log_begin(&ev, PMD_LOG_WARN, "token_reload_failed"), "reason",
                   w->token.last_error);
        nr_log_add(&ev, "action", "keep_current_token");
        push_log(w, &ev);
        snprintf(w->token_problem, sizeof(w->token_problem), "%s", w->token.last_error);
    } else if (refreshed >= 0 && w->token_problem[0] != '\0' && w->token.last_error[0] == '\0') {
        nr_log_record_t ev;
        nr_log_add(log_begin(&ev, PMD_LOG_INFO, "token_reload_recovered"), "source",
                   "api_token_file");
        push_log(w, &ev);
        w->token_problem[0] = '\0';
    }
}

/* Token file and pool-set changes, between requests. */
static void check_inputs(nr_worker_t *w, uint64_t now)
{
    int changed = nr_token_refresh(&w->token, now, 0);
    report_token_file(w, changed);
    if (changed == 1) {
        log_token_reloaded(w, NULL);
        nr_decision_t d = nr_machine_on_token_changed(&w->machine, now);
        apply(w, &d, "token changed");
    }
    pthread_mutex_lock(&w->lock);
    int pools_changed = w->pools_changed;
    w->pools_changed = 0;
    pthread_mutex_unlock(&w->lock);
    if (pools_changed) {
        nr_log_record_t ev;
        nr_log_add(log_begin(&ev, PMD_LOG_INFO, "pools_changed"), "action", "register");
        push_log(w, &ev);
        nr_decision_t d = nr_machine_on_pools_changed(&w->machine, now);
        apply(w, &d, "pool set changed");
    }
}

/* One DELETE within what is left of the stop budget: 1 begun, 0 no time
 * left (none sent), -1 libcurl refused it (w->resp says why). Its deadline
 * is the stop's own, with no slack. */
static int begin_delete(nr_worker_t *w, uint64_t now)
{
    pthread_mutex_lock(&w->lock);
    uint64_t deadline = w->stop_deadline_ns;
    pthread_mutex_unlock(&w->lock);
    if (now + NR_MS >= deadline)
        return 0;
    w->phase = NR_PHASE_DELETING;
    return begin_request(w, "DELETE", w->url_node, NULL, (uint32_t)((deadline - now) / NR_MS),
                         deadline) == 0
               ? 1
               : -1;
}

static void log_deregistration(nr_worker_t *w, const nr_http_response_t *resp,
                               const nr_deregister_verdict_t *v, const char *cid)
{
    char what[200];
    describe_response(resp, what, sizeof(what));
    record_deregistration(w, v->ok, what);
    nr_log_record_t ev;
    if (!v->ok) {
        nr_log_add(log_begin(&ev, PMD_LOG_WARN, "deregister_failed"), "reason", what);
    } else {
        nr_log_addf(log_begin(&ev, PMD_LOG_INFO, "deregistered"), "status", "%ld", resp->status);
        if (v->note != NULL)
            nr_log_add(&ev, "note", v->note);
        nr_log_addf(&ev, "latency_ms", "%.1f", (double)resp->latency_ns / 1e6);
    }
    nr_log_add(&ev, "cid", cid);
    push_log(w, &ev);
}

/* The node is finished: its connection is closed here, in the engine's
 * descriptor table. Returns 1 for the engine (release it). */
static int finish(nr_worker_t *w)
{
    nr_transport_free(w->transport);
    w->transport = NULL;
    w->phase = NR_PHASE_DONE;
    return 1;
}

/* The DELETE ended (w->resp). One refused for its token is sent once more
 * if the token file holds a new one (rotated on both sides just before
 * stop; nr_machine_on_deregister_outcome). */
static int delete_ended(nr_worker_t *w, uint64_t now)
{
    nr_deregister_verdict_t v =
        nr_machine_on_deregister_outcome(w->resp.responded, w->resp.status, w->delete_attempt);
    if (w->delete_attempt == 0 && v.retry_if_new_token &&
        nr_token_refresh(&w->token, now, 1) == 1) {
        log_token_reloaded(w, "refused");
        nr_http_response_t first = w->resp;
        char first_cid[sizeof(w->cid)];
        memcpy(first_cid, w->cid, sizeof(first_cid));
        w->delete_attempt = 1;
        int begun = begin_delete(w, now);
        if (begun == 1) {
            nr_http_response_clear(&first);
            return 0;
        }
        if (begun == 0) { /* no time for the retry: report the first */
            w->resp = first;
            memcpy(w->cid, first_cid, sizeof(first_cid));
        } else {
            nr_http_response_clear(&first);
        }
        v = nr_machine_on_deregister_outcome(w->resp.responded, w->resp.status, w->delete_attempt);
    }
    log_deregistration(w, &w->resp, &v, w->cid);
    nr_http_response_clear(&w->resp);
    return finish(w);
}

/* Stop or handover, with no request in flight: DELETE the node if the
 * machine's stop plan says so. Returns 1 when the node is finished. */
static int begin_stop(nr_worker_t *w, uint64_t now)
{
    pthread_mutex_lock(&w->lock);
    int handing_over = w->handing_over;
    pthread_mutex_unlock(&w->lock);
    nr_stop_plan_t plan = nr_machine_stop_plan(&w->machine, handing_over);
    nr_log_record_t ev;
    if (handing_over) {
        nr_log_add(log_begin(&ev, PMD_LOG_INFO, "handed_over"), "action", "no_deregistration");
        push_log(w, &ev);
        return finish(w);
    }
    if (!plan.deregister)
        return finish(w);
    if (plan.unordered) {
        nr_log_add(log_begin(&ev, PMD_LOG_WARN, "deregister_unordered"), "reason",
                   "a register was still in flight at half the stop budget; the DELETE may "
                   "reach the control plane first");
        push_log(w, &ev);
    }
    w->delete_attempt = 0;
    int begun = begin_delete(w, now);
    if (begun == 0)
        return finish(w);
    return begun == 1 ? 0 : delete_ended(w, now);
}

/* Token files hold a secret: one readable by group or others is reported
 * once at start, as OpenSSH does for loose key files (it is not refused:
 * the operator may have reasons, e.g. a group-readable credentials dir). */
static void warn_if_token_file_loose(nr_worker_t *w)
{
    struct stat st;
    if (w->token.file == NULL || stat(w->token.file, &st) != 0 || (st.st_mode & 077) == 0)
        return;
    nr_log_record_t ev;
    nr_log_addf(log_begin(&ev, PMD_LOG_WARN, "token_file_permissions"), "mode", "%04o",
                (unsigned)(st.st_mode & 07777));
    nr_log_add(&ev, "reason", "api_token_file is readable by group or others; chmod 600 it");
    push_log(w, &ev);
}

/* Between requests: stop, or the next request when it is due, or a timer
 * for then (at most a second away with a token file, to notice rotation). */
static int idle(nr_worker_t *w, uint64_t now)
{
    if (stop_requested(w))
        return begin_stop(w, now);
    check_inputs(w, now);
    nr_machine_view_t v = nr_machine_view(&w->machine);
    if (v.next_due_ns > now) {
        uint64_t cap = (w->token.file ? NR_TOKEN_POLL_MS : NR_MAX_SLEEP_MS) * NR_MS;
        nr_engine_wake_at(&w->client, v.next_due_ns < now + cap ? v.next_due_ns : now + cap);
        return 0;
    }
    start_request(w, v.next_request, now);
    if (w->phase == NR_PHASE_IDLE) /* it could not start: the machine has set when to retry */
        nr_engine_wake_at(&w->client, now + NR_MS);
    return 0;
}

/* Woken with a register or heartbeat in flight: past its own deadline it is
 * a failure; after stop it may run until the cut, then it is abandoned. */
static int sending_woken(nr_worker_t *w, uint64_t now)
{
    if (now >= w->deadline_ns) {
        nr_transport_abandon(w->transport, nr_engine_multi(&w->client), 0);
        request_ended(w, now);
        return idle(w, now);
    }
    uint64_t wake = w->deadline_ns;
    if (stop_requested(w)) {
        uint64_t cut = in_flight_cut(w);
        if (now >= cut) {
            nr_transport_abandon(w->transport, nr_engine_multi(&w->client), 1);
            request_ended(w, now);
            return begin_stop(w, now);
        }
        wake = cut < wake ? cut : wake;
    }
    nr_engine_wake_at(&w->client, wake);
    return 0;
}

static void announce_ready(nr_worker_t *w, int ready)
{
    pthread_mutex_lock(&w->lock);
    w->ready = ready;
    pthread_cond_broadcast(&w->ready_cv);
    pthread_mutex_unlock(&w->lock);
}

/* The first call on the engine thread: make the transport, start the
 * machine, say so. */
static int begin(nr_worker_t *w, uint64_t now)
{
    w->transport = nr_transport_new(&w->topts, &w->client, nr_engine_multi(&w->client));
    announce_ready(w, w->transport != NULL ? 1 : -1);
    if (w->transport == NULL)
        return finish(w);
    w->phase = NR_PHASE_IDLE;
    nr_decision_t d = w->take_over ? nr_machine_start_takeover(&w->machine, now, w->takeover_due_ns)
                                   : nr_machine_start(&w->machine, now);
    apply(w, &d, "registering");
    nr_log_record_t ev;
    nr_log_add(log_begin(&ev, PMD_LOG_INFO, "registering"), "url", w->cfg->base_url);
    push_log(w, &ev);
    if (!nr_engine_fds_private(&w->client)) {
        nr_log_add(log_begin(&ev, PMD_LOG_WARN, "fds_shared"), "reason",
                   "unshare(CLONE_FILES) refused: libcurl's socket pairs may be inherited by "
                   "the host's children");
        push_log(w, &ev);
    }
    warn_if_token_file_loose(w);
    return idle(w, now);
}

static int on_wake(nr_engine_client_t *c, uint64_t now)
{
    nr_worker_t *w = (nr_worker_t *)c;
    switch (w->phase) {
    case NR_PHASE_NEW: return begin(w, now);
    case NR_PHASE_IDLE: return idle(w, now);
    case NR_PHASE_SENDING: return sending_woken(w, now);
    case NR_PHASE_DELETING:
        if (now < w->deadline_ns) {
            nr_engine_wake_at(c, w->deadline_ns);
            return 0;
        }
        nr_transport_abandon(w->transport, nr_engine_multi(c), 0);
        return delete_ended(w, now);
    case NR_PHASE_DONE: break;
    }
    return 1;
}

static int on_done(nr_engine_client_t *c, int curl_result, uint64_t now)
{
    nr_worker_t *w = (nr_worker_t *)c;
    nr_transport_finish(w->transport, nr_engine_multi(c), curl_result);
    if (w->phase == NR_PHASE_DELETING)
        return delete_ended(w, now);
    request_ended(w, now);
    return idle(w, now);
}

static void on_released(nr_engine_client_t *c)
{
    nr_worker_t *w = (nr_worker_t *)c;
    pthread_mutex_lock(&w->lock);
    w->released = 1;
    pthread_cond_broadcast(&w->ready_cv);
    pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------------- */
/* Life of the worker                                                      */
/* ---------------------------------------------------------------------- */

nr_worker_t *nr_worker_new(const nr_config_t *cfg, const char *version, char *err, size_t err_size)
{
    nr_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL || nr_events_init(&w->events) != 0) {
        free(w);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    w->cfg = cfg;
    snprintf(w->version, sizeof(w->version), "%s", version);
    snprintf(w->user_agent, sizeof(w->user_agent), "pmd-node-registration/%s", version);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->ready_cv, NULL);
    char *node = nr_payload_path_segment(cfg->node_id);
    if (node != NULL) {
        if (asprintf(&w->url_register, "%s/v2/nodes/register", cfg->base_url) < 0)
            w->url_register = NULL;
        if (asprintf(&w->url_heartbeat, "%s/v2/nodes/%s/heartbeat", cfg->base_url, node) < 0)
            w->url_heartbeat = NULL;
        if (asprintf(&w->url_node, "%s/v2/nodes/%s", cfg->base_url, node) < 0)
            w->url_node = NULL;
        free(node);
    }
    nr_transport_opts_t topts = {
        cfg->connect_timeout_ms,  cfg->ca_file,      cfg->client_cert, cfg->client_key,
        cfg->client_key_password, cfg->tls_insecure, w->user_agent,    cfg->proxy};
    w->topts = topts;
    if (w->url_register == NULL || w->url_heartbeat == NULL || w->url_node == NULL ||
        nr_token_init(&w->token, cfg->api_token, cfg->api_token_file) != 0) {
        snprintf(err, err_size, "out of memory");
        nr_worker_free(w);
        return NULL;
    }
    if (cfg->api_token_file)
        nr_token_refresh(&w->token, mono_ns(), 1); /* records the file's stat */
    nr_machine_params_t p = {cfg->heartbeat_interval_ms * NR_MS, cfg->retry_base_ms * NR_MS,
                             cfg->retry_max_ms * NR_MS,          NR_PACING_FLOOR_MS * NR_MS,
                             nr_phase_key(cfg->node_id),         unix_ms() * NR_MS - mono_ns()};
    w->rng = nr_seed(cfg->node_id, mono_ns(), (uintptr_t)w);
    nr_machine_init(&w->machine, &p, nr_rand_next(&w->rng));
    return w;
}

void nr_worker_seed(nr_worker_t *w, nr_pool_list_t *pools, nr_capabilities_t *caps)
{
    nr_pool_list_clear(&w->pools);
    free(w->pools_json);
    w->pools_json = NULL;
    w->pools = *pools;
    memset(pools, 0, sizeof(*pools));
    nr_capabilities_clear(&w->caps);
    w->caps = *caps;
    memset(caps, 0, sizeof(*caps));
}

static void wait_released(nr_worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->released)
        pthread_cond_wait(&w->ready_cv, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

int nr_worker_start(nr_worker_t *w, char *err, size_t err_size)
{
    w->client.on_wake = on_wake;
    w->client.on_done = on_done;
    w->client.on_released = on_released;
    w->ready = 0; /* a start after a failed one begins afresh */
    w->released = 0;
    w->phase = NR_PHASE_NEW;
    if (nr_engine_join(&w->client, err, err_size) != 0)
        return -1;
    /* The engine makes the HTTP client in its own descriptor table; wait
     * for it, so that a failure is the host's error, not a silent node. */
    pthread_mutex_lock(&w->lock);
    while (w->ready == 0)
        pthread_cond_wait(&w->ready_cv, &w->lock);
    int ready = w->ready;
    pthread_mutex_unlock(&w->lock);
    if (ready < 0) {
        wait_released(w);
        nr_engine_leave();
        snprintf(err, err_size, "libcurl cannot make an easy handle (out of memory?)");
        return -1;
    }
    w->joined = 1;
    return 0;
}

void nr_worker_take_over(nr_worker_t *w, uint64_t due_ns)
{
    w->take_over = 1;
    w->takeover_due_ns = due_ns;
}

int nr_worker_handover(nr_worker_t *w, uint32_t timeout_ms, nr_worker_handover_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!w->joined)
        return -1;
    pthread_mutex_lock(&w->lock);
    w->handing_over = 1;
    pthread_mutex_unlock(&w->lock);
    nr_worker_stop(w, timeout_ms);
    /* The engine let go of the node: its machine, as it left it, can be read here. */
    out->registered = w->at_end.registered;
    out->next_heartbeat_due_ns = w->at_end.next_heartbeat_due_ns;
    out->heartbeat_interval_ns = w->at_end.interval_ns;
    out->last_heartbeat_ok_ns = w->last_heartbeat_ok_ns;
    return 0;
}

void nr_worker_stop(nr_worker_t *w, uint32_t timeout_ms)
{
    if (!w->joined)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop_requested = 1;
    uint64_t now = mono_ns();
    w->stop_deadline_ns = now + (uint64_t)timeout_ms * NR_MS;
    w->in_flight_cut_ns = nr_machine_in_flight_cut_ns(now, (uint64_t)timeout_ms * NR_MS);
    pthread_mutex_unlock(&w->lock);
    nr_engine_poke(&w->client);
    wait_released(w);
    nr_engine_leave();
    w->joined = 0;
    w->at_end = nr_machine_view(&w->machine);
    nr_machine_stop(&w->machine);
    int32_t stopped = nr_machine_view(&w->machine).node_state;
    pthread_mutex_lock(&w->lock);
    w->stats.state = stopped;
    w->stats.state_since_unix_ms = unix_ms();
    pthread_mutex_unlock(&w->lock);
}

void nr_worker_stats(nr_worker_t *w, nr_worker_stats_t *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

void nr_worker_free(nr_worker_t *w)
{
    if (w == NULL)
        return;
    nr_worker_stop(w, 0);
    free(w->body);
    nr_token_free(&w->token);
    nr_pool_list_clear(&w->pools);
    free(w->pools_json);
    nr_pool_list_clear(&w->offered);
    nr_capabilities_clear(&w->caps);
    free_ids(w->registered_ids, w->registered_count);
    free(w->url_register);
    free(w->url_heartbeat);
    free(w->url_node);
    nr_events_free(&w->events);
    pthread_cond_destroy(&w->ready_cv);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
