/*
 * fuzz_response.c - libFuzzer target for what the network thread does with
 * a server's answer: the heartbeat reply and error-body parsers, and the
 * state machine fed the outcome they produce (nr_worker.c's outcome_of).
 *
 * Input: 10 bytes of parameters (interval, retry base/max choices, the
 * machine's seed), then steps until the input ends. A step is one byte of
 * opcode: 14 = the token file changed, 15 = the pool set changed, else the
 * request the machine asked for completes, with a flags byte (responded,
 * Retry-After present, body present, Retry-After raw 64-bit), a status, a
 * latency, a Retry-After and a body. Time moves as in the worker: a request
 * starts when it is due and ends after its latency.
 *
 * Invariants after every step: the state is a running one, exactly one
 * request is scheduled and it fits the state, it is never due in the past,
 * delays stay inside the documented bounds (registration backoff <=
 * max(retry_max, min(2 x interval, 5 min)) or Retry-After capped at 1 h,
 * heartbeat <= interval, a heartbeat failure's retry <= 2 intervals with Retry-After honoured up to
 * one interval, auth backoff 2.5..60 s, register at once after a 404/410 only when a heartbeat had
 * succeeded since the registration, else in retry_base/2..retry_max; only repeated 4xx rejections
 * turn heartbeats into a registration), a state change is always reported, and the parsers' facts
 * agree with an independent parse of the body.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_harness.h"
#include "nr_machine.h"
#include "nr_payload.h"

#define MAX_STEPS 4000
#define FAR_NS (10ull * 365 * 24 * 3600 * 1000000000ull) /* ten years */

static const uint32_t intervals_ms[] = {1, 2, 10, 100, 1000, 5000, 10000, 60000, 86400000};
static const uint32_t bases_ms[] = {1, 20, 250, 1000, 86400000};
static const uint32_t maxes_ms[] = {1, 200, 10000, 86400000};
static const long statuses[] = {200, 201, 204, 301, 302, 400, 401, 403, 404, 408, 409,
                                410, 413, 418, 422, 425, 429, 500, 502, 503, 504};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct sim {
    nr_machine_t m;
    uint64_t now;
    uint64_t interval_ns, retry_base_ns, retry_max_ns;
    int hb_ok_since_register; /* the harness's own record, not the machine's */
} sim_t;

static int running(nr_state_t s)
{
    return s == NR_STATE_REGISTERING || s == NR_STATE_REGISTERED || s == NR_STATE_DEGRADED ||
           s == NR_STATE_UNAUTHORIZED;
}

static void check_common(const sim_t *s, nr_state_t before, const nr_decision_t *d)
{
    const nr_machine_t *m = &s->m;
    FUZZ_CHECK(running(m->state), "state %d", m->state);
    FUZZ_CHECK(m->next_request == NR_REQUEST_REGISTER || m->next_request == NR_REQUEST_HEARTBEAT,
               "next_request %d", m->next_request);
    FUZZ_CHECK(m->next_due_ns >= s->now, "next request due in the past: due %llu now %llu",
               (unsigned long long)m->next_due_ns, (unsigned long long)s->now);
    if (m->state == NR_STATE_REGISTERING || m->state == NR_STATE_UNAUTHORIZED)
        FUZZ_CHECK(m->next_request == NR_REQUEST_REGISTER, "heartbeat while %s",
                   nr_state_name(m->state));
    if (m->next_request == NR_REQUEST_HEARTBEAT)
        FUZZ_CHECK(m->ever_registered, "heartbeat before any registration");
    if (m->state != before)
        FUZZ_CHECK(d->state_changed, "%s -> %s not reported", nr_state_name(before),
                   nr_state_name(m->state));
    if (m->heartbeat_failures >= NR_DEGRADED_AFTER &&
        (m->state == NR_STATE_REGISTERED || m->state == NR_STATE_DEGRADED))
        FUZZ_CHECK(m->state == NR_STATE_DEGRADED, "%u failures, not degraded",
                   m->heartbeat_failures);
}

static void check_reply(const char *body, size_t len, nr_heartbeat_reply_t r)
{
    struct json_tokener *tok;
    json_object *root, *v;

    if (!r.has_next)
        return;
    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, body, (int)len);
    FUZZ_CHECK(root != NULL && json_object_is_type(root, json_type_object),
               "has_next from a body that is not an object");
    FUZZ_CHECK(json_object_object_get_ex(root, "next_heartbeat_ms", &v) &&
                   json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
                   json_object_get_uint64(v) == r.next_heartbeat_ms,
               "next_heartbeat_ms %llu", (unsigned long long)r.next_heartbeat_ms);
    json_object_put(root);
    json_tokener_free(tok);
}

static void check_error_message(const char *body, size_t len, size_t out_size)
{
    char out[256];
    memset(out, 0x5A, sizeof(out));
    nr_payload_error_message(body, len, out, out_size);
    FUZZ_CHECK(memchr(out, '\0', out_size) != NULL, "error message not terminated");
    FUZZ_CHECK(fuzz_utf8_valid(out, strlen(out)), "error message not UTF-8");
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7F, "control byte %02x in error message", *p);
    FUZZ_CHECK(out_size == sizeof(out) || (unsigned char)out[out_size] == 0x5A,
               "error message wrote past its buffer");
}

/* The wait the machine must honour: Retry-After on a transient status only,
 * capped at an hour (computed here from the status, not by the machine). */
static uint64_t honoured_retry_after_ns(const nr_outcome_t *o)
{
    long st = o->status;
    int transient =
        o->responded && (st == 408 || st == 425 || st == 429 || (st >= 500 && st < 600));
    uint64_t ms = o->retry_after_ms < 3600000u ? o->retry_after_ms : 3600000u;
    return o->has_retry_after && transient ? ms * NR_MS : 0;
}

static void check_heartbeat_failure(const sim_t *s, const nr_outcome_t *o, const nr_decision_t *d,
                                    int rejected)
{
    const nr_machine_t *m = &s->m;
    uint64_t delay = m->next_due_ns - s->now;
    uint64_t ra = honoured_retry_after_ns(o), interval = s->interval_ns;

    if (m->next_request == NR_REQUEST_REGISTER) {
        /* only NR_DEGRADED_AFTER rejections re-register, after a backoff */
        FUZZ_CHECK(rejected && d->reason == NR_REASON_HEARTBEAT_REJECTED &&
                       m->state == NR_STATE_DEGRADED,
                   "heartbeat failure %ld -> register (%s)", o->status, nr_state_name(m->state));
        FUZZ_CHECK(delay >= s->retry_base_ns / 2 && delay <= s->retry_max_ns,
                   "re-register backoff %llu ns", (unsigned long long)delay);
        return;
    }
    FUZZ_CHECK(delay > 0 && delay <= 2 * interval, "heartbeat retry in %llu ns (interval %llu)",
               (unsigned long long)delay, (unsigned long long)interval);
    FUZZ_CHECK(delay >= (ra < interval ? ra : interval), "Retry-After not honoured");
}

/* Bounds that depend on which outcome it was. hb_ok: a heartbeat had
 * succeeded since the last registration, before this outcome. */
static void check_outcome(const sim_t *s, const nr_outcome_t *o, const nr_decision_t *d, int hb_ok)
{
    const nr_machine_t *m = &s->m;
    uint64_t delay = m->next_due_ns - s->now;
    int ok = o->responded && o->status >= 200 && o->status < 300;
    int auth = o->responded && (o->status == 401 || o->status == 403);
    int gone = o->responded && (o->status == 404 || o->status == 410);
    int rejected = o->responded && o->status >= 400 && o->status < 500 && !auth && !gone &&
                   o->status != 408 && o->status != 425 && o->status != 429;
    uint64_t ra = honoured_retry_after_ns(o);

    if (auth) {
        FUZZ_CHECK(m->state == NR_STATE_UNAUTHORIZED, "401/403 -> %s", nr_state_name(m->state));
        FUZZ_CHECK(delay >= NR_AUTH_BACKOFF_MIN_MS * NR_MS / 2 &&
                       delay <= NR_AUTH_BACKOFF_MAX_MS * NR_MS,
                   "auth backoff %llu ns", (unsigned long long)delay);
    } else if (o->request == NR_REQUEST_REGISTER && ok) {
        uint64_t jitter = s->interval_ns / 10 < 1000 * NR_MS ? s->interval_ns / 10 : 1000 * NR_MS;
        FUZZ_CHECK(m->state == NR_STATE_REGISTERED && m->next_request == NR_REQUEST_HEARTBEAT,
                   "register 2xx -> %s", nr_state_name(m->state));
        FUZZ_CHECK(delay <= jitter, "first heartbeat after %llu ns", (unsigned long long)delay);
    } else if (o->request == NR_REQUEST_REGISTER) {
        FUZZ_CHECK(m->state == NR_STATE_REGISTERING, "register failure -> %s",
                   nr_state_name(m->state));
        uint64_t cap = nr_register_retry_cap_ns(s->interval_ns, s->retry_max_ns);
        FUZZ_CHECK(delay <= (cap > ra ? cap : ra), "backoff %llu ns", (unsigned long long)delay);
        FUZZ_CHECK(delay >= ra, "Retry-After not honoured");
        FUZZ_CHECK(o->responded || d->reset_connection, "no reset after a transport failure");
    } else if (gone) {
        FUZZ_CHECK(m->state == NR_STATE_REGISTERING && m->next_request == NR_REQUEST_REGISTER,
                   "heartbeat %ld -> %s", o->status, nr_state_name(m->state));
        /* at once only when the control plane had known us: never a loop */
        if (hb_ok)
            FUZZ_CHECK(delay == 0, "heartbeat 404 after a good one: register in %llu ns",
                       (unsigned long long)delay);
        else
            FUZZ_CHECK(delay >= s->retry_base_ns / 2 && delay <= s->retry_max_ns,
                       "first heartbeat 404: register in %llu ns", (unsigned long long)delay);
    } else if (ok) {
        FUZZ_CHECK(m->state == NR_STATE_REGISTERED, "heartbeat 2xx -> %s", nr_state_name(m->state));
        FUZZ_CHECK(delay > 0 && delay <= s->interval_ns, "next heartbeat in %llu ns",
                   (unsigned long long)delay);
    } else {
        check_heartbeat_failure(s, o, d, rejected);
    }
}

/* One request completes; returns 0 to stop the run (time ran out). */
static int step_outcome(sim_t *s, fuzz_reader_t *r)
{
    uint8_t flags = fr_u8(r);
    uint16_t st = fr_u16(r);
    uint64_t latency = (uint64_t)fr_u16(r) * NR_MS / 8;
    uint64_t retry = flags & 8 ? fr_u64(r) : (uint64_t)fr_u16(r) * 1000;
    size_t len = 0;
    char *body = flags & 4 ? fr_string(r, 400, &len) : NULL;
    nr_outcome_t o;
    nr_state_t before = s->m.state;

    if (s->m.next_due_ns > s->now)
        s->now = s->m.next_due_ns;
    s->now += latency;
    memset(&o, 0, sizeof(o));
    o.request = s->m.next_request;
    o.responded = flags & 1;
    o.status = st & 0x8000 ? statuses[st % COUNT(statuses)] : (long)(st % 1000);
    o.has_retry_after = (flags & 2) != 0;
    o.retry_after_ms = retry;
    if (o.request == NR_REQUEST_HEARTBEAT && o.responded && o.status == 200) {
        nr_heartbeat_reply_t reply = nr_payload_parse_heartbeat_reply(body, len);
        check_reply(body, len, reply);
        o.has_next = reply.has_next;
        o.next_heartbeat_ms = reply.next_heartbeat_ms;
    } else if (body != NULL) {
        check_error_message(body, len, 1 + flags % 255u);
    }
    free(body);
    int hb_ok = s->hb_ok_since_register;
    nr_decision_t d = nr_machine_on_outcome(&s->m, &o, s->now);
    check_common(s, before, &d);
    check_outcome(s, &o, &d, hb_ok);
    if (o.responded && o.status >= 200 && o.status < 300)
        s->hb_ok_since_register = o.request == NR_REQUEST_HEARTBEAT;
    return s->m.next_due_ns - s->now < FAR_NS;
}

int nr_fuzz_response(const uint8_t *data, size_t size)
{
    fuzz_reader_t r = {data, size};
    sim_t s;
    nr_machine_params_t p = {0};
    uint8_t b = fr_u8(&r), c = fr_u8(&r);
    uint64_t base_ns = (uint64_t)bases_ms[c % COUNT(bases_ms)] * NR_MS;
    uint64_t max_ns = (uint64_t)maxes_ms[(c / 8) % COUNT(maxes_ms)] * NR_MS;

    memset(&s, 0, sizeof(s));
    s.interval_ns = (uint64_t)intervals_ms[b % COUNT(intervals_ms)] * NR_MS;
    s.retry_base_ns = base_ns;
    s.retry_max_ns = max_ns > base_ns ? max_ns : base_ns;
    p.interval_ns = s.interval_ns;
    p.retry_base_ns = base_ns;
    p.retry_max_ns = s.retry_max_ns;
    p.pacing_floor_ns = NR_PACING_FLOOR_MS * NR_MS;
    p.phase_key = (uint64_t)c * 0x9e3779b97f4a7c15ull;
    p.wall_offset_ns = (uint64_t)b * 0x51ed2701ull;
    nr_machine_init(&s.m, &p, fr_u64(&r));
    s.now = 1000000000ull + (uint64_t)b * 7777;
    nr_decision_t d = nr_machine_start(&s.m, s.now);
    check_common(&s, NR_STATE_IDLE, &d);

    for (int i = 0; i < MAX_STEPS && r.left > 0; i++) {
        uint8_t op = fr_u8(&r);
        nr_state_t before = s.m.state;
        if (op % 16 == 14 || op % 16 == 15) {
            uint64_t due = s.m.next_due_ns;
            s.now += (uint64_t)fr_u16(&r) * 1000;
            if (s.now > due && s.m.next_request != NR_REQUEST_NONE)
                s.now = due; /* the worker checks inputs before a due request */
            d = op % 16 == 14 ? nr_machine_on_token_changed(&s.m, s.now)
                              : nr_machine_on_pools_changed(&s.m, s.now);
            check_common(&s, before, &d);
        } else if (!step_outcome(&s, &r)) {
            break;
        }
    }
    return 0;
}

#ifndef NR_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nr_fuzz_response(data, size);
}
#endif
