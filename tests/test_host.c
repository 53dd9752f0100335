/*
 * test_host.c - the recording in-process test host (see test_host.h).
 * One recursive mutex guards every record, so that a callback from a
 * plugin thread is recorded safely; the served data (pools, capabilities)
 * is only touched on the host thread inside a call.
 */
#include "test_host.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_rules.h"
#include "capabilities.h"
#include "log_line.h"
#include "pools_file.h"

typedef struct th_entry {
    int32_t code;
    char *text; /* may be NULL */
} th_entry_t;

typedef struct th_list {
    th_entry_t *items;
    int count, cap;
} th_list_t;

struct test_host {
    pmd_host_t abi;
    pthread_mutex_t lock; /* recursive: a sink may log */
    int verbose;
    int depth;        /* nesting of enter/leave */
    pthread_t owner;  /* the thread inside the call, while depth > 0 */
    shim_call_t call; /* the innermost call running (SHIM_CALL_ANY by hand) */
    th_list_t logs, states, violations;
    int list_pools_calls, capabilities_calls, sink_refusals;
    int32_t list_pools_rc, capabilities_rc;
    shim_pool_list_t pools;
    shim_capabilities_t caps;
    char last_error[512];
};

/* ---- records ---- */

static void list_push(th_list_t *l, int32_t code, const char *text)
{
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        th_entry_t *grown = realloc(l->items, (size_t)cap * sizeof(*grown));
        if (grown == NULL)
            abort(); /* a test host that loses records would lie */
        l->items = grown;
        l->cap = cap;
    }
    char *copy = text ? strdup(text) : NULL;
    if (text != NULL && copy == NULL)
        abort();
    l->items[l->count++] = (th_entry_t){code, copy};
}

static void list_free(th_list_t *l)
{
    for (int i = 0; i < l->count; i++)
        free(l->items[i].text);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* Copies entry i out under the lock (the array may grow meanwhile); the
 * text it points to never moves. {-1, NULL} when out of range. */
static th_entry_t list_get(test_host_t *h, th_list_t *l, int i)
{
    th_entry_t e = {-1, NULL};
    pthread_mutex_lock(&h->lock);
    if (i >= 0 && i < l->count)
        e = l->items[i];
    pthread_mutex_unlock(&h->lock);
    return e;
}

static int list_count(test_host_t *h, th_list_t *l)
{
    pthread_mutex_lock(&h->lock);
    int n = l->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* Records a violation when the callback is not on the thread inside a call,
 * or not allowed in the call running. Returns 1 when the callback may touch
 * the served data (right thread, inside a call). Called with the lock held. */
static int check_callback(test_host_t *h, shim_callback_t cb, const char *callback)
{
    char what[128];
    int inside = h->depth > 0 && pthread_equal(h->owner, pthread_self());
    if (inside && shim_callback_allowed_in(cb, h->call))
        return 1;
    if (inside)
        snprintf(what, sizeof(what), "%s called during %s", callback, shim_call_name(h->call));
    else
        snprintf(what, sizeof(what), "%s called %s", callback,
                 h->depth == 0 ? "outside an ABI call"
                               : "from a thread that is not the host thread");
    list_push(&h->violations, 0, what);
    if (h->verbose)
        log_line_emitf(stderr, "ERROR", "test_host: ABI violation: %s", what);
    return inside;
}

/* ---- callbacks ---- */

static void cb_log(void *data, int32_t level, const char *message)
{
    test_host_t *h = data;
    pthread_mutex_lock(&h->lock);
    check_callback(h, SHIM_CB_LOG, "log");
    list_push(&h->logs, level, message ? message : "(null)");
    if (h->verbose)
        log_line_emit(stderr, log_line_level_tag(level), message);
    pthread_mutex_unlock(&h->lock);
}

static void cb_state_changed(void *data, int32_t state, const char *detail)
{
    test_host_t *h = data;
    pthread_mutex_lock(&h->lock);
    check_callback(h, SHIM_CB_STATE_CHANGED, "state_changed");
    list_push(&h->states, state, detail);
    if (h->verbose)
        log_line_emitf(stderr, "STATE", "%d (%s)", (int)state, detail ? detail : "-");
    pthread_mutex_unlock(&h->lock);
}

static int32_t cb_list_pools(void *data, const pmd_pool_sink_t *sink)
{
    test_host_t *h = data;
    size_t bad = 0;
    int32_t rc;
    pthread_mutex_lock(&h->lock);
    h->list_pools_calls++;
    if (!check_callback(h, SHIM_CB_LIST_POOLS, "list_pools"))
        rc = PMD_ERR_STATE;
    else if ((rc = h->list_pools_rc) == PMD_OK &&
             (rc = shim_pools_push(&h->pools, sink, &bad)) != PMD_ERR_INVALID_ARGUMENT) {
        h->sink_refusals += rc != PMD_OK;
        rc = PMD_OK;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static int32_t cb_get_capabilities(void *data, const pmd_capability_sink_t *sink)
{
    test_host_t *h = data;
    size_t bad = 0;
    int32_t rc;
    pthread_mutex_lock(&h->lock);
    h->capabilities_calls++;
    if (!check_callback(h, SHIM_CB_GET_CAPABILITIES, "get_capabilities"))
        rc = PMD_ERR_STATE;
    else if ((rc = h->capabilities_rc) == PMD_OK &&
             (rc = shim_capabilities_push(&h->caps, sink, &bad)) != PMD_ERR_INVALID_ARGUMENT) {
        h->sink_refusals += rc != PMD_OK;
        rc = PMD_OK;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static const void *cb_get_extension(void *data, const char *id)
{
    test_host_t *h = data;
    (void)id;
    pthread_mutex_lock(&h->lock);
    check_callback(h, SHIM_CB_GET_EXTENSION, "get_extension");
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- setup ---- */

test_host_t *test_host_new(void)
{
    pthread_mutexattr_t attr;
    test_host_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    const char *v = getenv("TEST_HOST_VERBOSE");
    h->verbose = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
    h->abi = (pmd_host_t){.struct_size = sizeof(pmd_host_t),
                          .abi_major = PMD_ABI_VERSION_MAJOR,
                          .abi_minor = PMD_ABI_VERSION_MINOR,
                          .host_data = h,
                          .host_name = "test_host",
                          .host_version = "0",
                          .log = cb_log,
                          .list_pools = cb_list_pools,
                          .get_capabilities = cb_get_capabilities,
                          .state_changed = cb_state_changed,
                          .get_extension = cb_get_extension};
    return h;
}

void test_host_free(test_host_t *h)
{
    if (h == NULL)
        return;
    list_free(&h->logs);
    list_free(&h->states);
    list_free(&h->violations);
    shim_pools_free(&h->pools);
    shim_capabilities_free(&h->caps);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

const pmd_host_t *test_host_abi(test_host_t *h)
{
    return &h->abi;
}

void test_host_set_abi(test_host_t *h, uint32_t struct_size, uint32_t abi_major, uint32_t abi_minor)
{
    h->abi.struct_size = struct_size;
    h->abi.abi_major = abi_major;
    h->abi.abi_minor = abi_minor;
}

int test_host_set_pools_json(test_host_t *h, const char *json_array)
{
    shim_pool_list_t fresh;
    pthread_mutex_lock(&h->lock);
    int rc = shim_pools_parse(json_array ? json_array : "", "pools", &fresh, h->last_error,
                              sizeof(h->last_error));
    if (rc == 0) {
        shim_pools_free(&h->pools);
        h->pools = fresh;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int test_host_set_capabilities_json(test_host_t *h, const char *json_object)
{
    shim_capabilities_t fresh;
    pthread_mutex_lock(&h->lock);
    int rc = shim_capabilities_parse(json_object ? json_object : "", "capabilities", &fresh,
                                     h->last_error, sizeof(h->last_error));
    if (rc == 0) {
        shim_capabilities_free(&h->caps);
        h->caps = fresh;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

const char *test_host_last_error(test_host_t *h)
{
    return h->last_error;
}

void test_host_set_list_pools_result(test_host_t *h, int32_t rc)
{
    h->list_pools_rc = rc;
}

void test_host_set_capabilities_result(test_host_t *h, int32_t rc)
{
    h->capabilities_rc = rc;
}

/* ---- queries ---- */

int test_host_log_count(test_host_t *h)
{
    return list_count(h, &h->logs);
}

const char *test_host_log(test_host_t *h, int i)
{
    return list_get(h, &h->logs, i).text;
}

int test_host_log_level(test_host_t *h, int i)
{
    return list_get(h, &h->logs, i).code;
}

int test_host_log_count_matching(test_host_t *h, const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->logs.count; i++)
        n += strstr(h->logs.items[i].text, needle) != NULL;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int test_host_log_contains(test_host_t *h, const char *needle)
{
    return test_host_log_count_matching(h, needle) > 0;
}

int test_host_state_count(test_host_t *h)
{
    return list_count(h, &h->states);
}

int32_t test_host_state(test_host_t *h, int i)
{
    return list_get(h, &h->states, i).code;
}

const char *test_host_state_detail(test_host_t *h, int i)
{
    return list_get(h, &h->states, i).text;
}

int32_t test_host_last_state(test_host_t *h)
{
    return test_host_state(h, test_host_state_count(h) - 1);
}

int test_host_violations(test_host_t *h)
{
    return list_count(h, &h->violations);
}

const char *test_host_violation(test_host_t *h, int i)
{
    return list_get(h, &h->violations, i).text;
}

static int read_counter(test_host_t *h, const int *counter)
{
    pthread_mutex_lock(&h->lock);
    int n = *counter;
    pthread_mutex_unlock(&h->lock);
    return n;
}

int test_host_list_pools_calls(test_host_t *h)
{
    return read_counter(h, &h->list_pools_calls);
}

int test_host_capabilities_calls(test_host_t *h)
{
    return read_counter(h, &h->capabilities_calls);
}

int test_host_sink_refusals(test_host_t *h)
{
    return read_counter(h, &h->sink_refusals);
}

/* ---- calls ---- */

/* Enters call; returns the call that was running, for leave_call. */
static shim_call_t enter_call(test_host_t *h, shim_call_t call)
{
    pthread_mutex_lock(&h->lock);
    shim_call_t outer = h->call;
    if (h->depth++ == 0)
        h->owner = pthread_self();
    h->call = call;
    pthread_mutex_unlock(&h->lock);
    return outer;
}

static void leave_call(test_host_t *h, shim_call_t outer)
{
    pthread_mutex_lock(&h->lock);
    if (h->depth > 0)
        h->depth--;
    h->call = h->depth > 0 ? outer : SHIM_CALL_ANY;
    pthread_mutex_unlock(&h->lock);
}

/* By hand the call is not known: only the thread rules are checked. A
 * bracket inside a th_* call keeps that call's rules. */
void test_host_enter(test_host_t *h)
{
    pthread_mutex_lock(&h->lock);
    enter_call(h, h->depth > 0 ? h->call : SHIM_CALL_ANY);
    pthread_mutex_unlock(&h->lock);
}

void test_host_leave(test_host_t *h)
{
    pthread_mutex_lock(&h->lock);
    leave_call(h, h->call);
    pthread_mutex_unlock(&h->lock);
}

int32_t th_init(test_host_t *h, const pmd_plugin_t *p, const char *config, pmd_instance_t **out,
                char *err, uint32_t err_size)
{
    shim_call_t outer = enter_call(h, SHIM_CALL_INIT);
    int32_t rc = p->init(&h->abi, config, out, err, err_size);
    leave_call(h, outer);
    return rc;
}

int32_t th_start(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in)
{
    shim_call_t outer = enter_call(h, SHIM_CALL_START);
    int32_t rc = p->on_start(in);
    leave_call(h, outer);
    return rc;
}

int32_t th_tick(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, uint64_t now_ns)
{
    shim_call_t outer = enter_call(h, SHIM_CALL_TICK);
    int32_t rc = p->on_tick(in, now_ns);
    leave_call(h, outer);
    return rc;
}

int32_t th_stop(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in)
{
    shim_call_t outer = enter_call(h, SHIM_CALL_STOP);
    int32_t rc = p->on_stop(in);
    leave_call(h, outer);
    return rc;
}

void th_destroy(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in)
{
    shim_call_t outer = enter_call(h, SHIM_CALL_DESTROY);
    p->destroy(in);
    leave_call(h, outer);
}

uint64_t th_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_5ms(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

int th_tick_until(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, int (*pred)(void *arg),
                  void *arg, int timeout_ms)
{
    uint64_t end = th_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
    for (;;) {
        if (pred(arg))
            return 1;
        if (th_now_ns() >= end)
            return 0;
        th_tick(h, p, in, th_now_ns());
        if (pred(arg))
            return 1;
        sleep_5ms();
    }
}

int th_tick_for(test_host_t *h, const pmd_plugin_t *p, pmd_instance_t *in, int duration_ms)
{
    uint64_t end = th_now_ns() + (uint64_t)(duration_ms > 0 ? duration_ms : 0) * 1000000ull;
    int ticks = 0;
    while (th_now_ns() < end) {
        th_tick(h, p, in, th_now_ns());
        ticks++;
        sleep_5ms();
    }
    return ticks;
}
