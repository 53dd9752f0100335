/* faults.c - parse fault specs and keep them in arrival order.
 *
 * Unknown keys in a spec are an error (422): a typo such as "delay" for
 * "delay_ms" would otherwise make a test pass for the wrong reason. */
#include "faults.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    od_fault_t fault;
};

struct od_faults {
    pthread_mutex_t mu;
    struct entry *head;
};

od_faults_t *od_faults_new(void)
{
    od_faults_t *f = calloc(1, sizeof *f);
    if (f)
        pthread_mutex_init(&f->mu, NULL);
    return f;
}

void od_fault_release(od_fault_t *fault)
{
    free(fault->body);
    free(fault->redirect);
    fault->body = fault->redirect = NULL;
}

void od_faults_clear(od_faults_t *f)
{
    pthread_mutex_lock(&f->mu);
    while (f->head) {
        struct entry *e = f->head;
        f->head = e->next;
        od_fault_release(&e->fault);
        free(e);
    }
    pthread_mutex_unlock(&f->mu);
}

void od_faults_free(od_faults_t *f)
{
    if (!f)
        return;
    od_faults_clear(f);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* A JSON integer in [lo, hi], else -1 and a message. */
static int get_int(json_object *v, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   od_verdict_t *vd)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < lo ||
        json_object_get_int64(v) > hi) {
        vd->status = 422;
        snprintf(vd->message, sizeof vd->message, "%s: expected an integer in [%lld, %lld]", key,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_object_get_int64(v);
    return 0;
}

static int bad(od_verdict_t *vd, const char *key, const char *what)
{
    vd->status = 422;
    snprintf(vd->message, sizeof vd->message, "%s: %s", key, what);
    return -1;
}

static int parse_match(json_object *v, od_fault_t *f, od_verdict_t *vd)
{
    const char *s = json_object_get_string(v);
    if (!json_object_is_type(v, json_type_string))
        return bad(vd, "match", "expected a string");
    f->match_any = strcmp(s, "any") == 0;
    for (int k = 0; k < OD_KIND_OTHER && !f->match_any; k++)
        if (strcmp(s, od_kind_name((enum od_kind)k)) == 0) {
            f->match = (enum od_kind)k;
            return 0;
        }
    return f->match_any ? 0 : bad(vd, "match", "expected register|heartbeat|deregister|list|any");
}

static int parse_body_mode(json_object *v, od_fault_t *f, od_verdict_t *vd)
{
    static const char *const NAMES[] = {"huge", "endless", "trickle", "tiny_segments"};
    const char *s = json_object_get_string(v);
    for (int i = 0; json_object_is_type(v, json_type_string) && i < 4; i++)
        if (strcmp(s, NAMES[i]) == 0) {
            f->body_mode = (enum od_body_mode)(OD_BODY_HUGE + i);
            return 0;
        }
    return bad(vd, "body_mode", "expected huge|endless|trickle|tiny_segments");
}

static int parse_string(json_object *v, const char *key, char **out, size_t *len, od_verdict_t *vd)
{
    if (!json_object_is_type(v, json_type_string))
        return bad(vd, key, "expected a string");
    *len = (size_t)json_object_get_string_len(v);
    *out = malloc(*len + 1);
    if (!*out)
        return bad(vd, key, "out of memory");
    memcpy(*out, json_object_get_string(v), *len + 1);
    return 0;
}

static int parse_bool(json_object *v, const char *key, int *out, od_verdict_t *vd)
{
    if (!json_object_is_type(v, json_type_boolean))
        return bad(vd, key, "expected true or false");
    *out = json_object_get_boolean(v);
    return 0;
}

/* One key of the spec. */
static int parse_key(const char *key, json_object *v, od_fault_t *f, od_verdict_t *vd)
{
    int64_t n;
    size_t len;
    if (strcmp(key, "match") == 0)
        return parse_match(v, f, vd);
    if (strcmp(key, "body_mode") == 0)
        return parse_body_mode(v, f, vd);
    if (strcmp(key, "body") == 0)
        return parse_string(v, key, &f->body, &f->body_len, vd);
    if (strcmp(key, "redirect") == 0)
        return parse_string(v, key, &f->redirect, &len, vd);
    if (strcmp(key, "hang") == 0)
        return parse_bool(v, key, &f->hang, vd);
    if (strcmp(key, "drop") == 0)
        return parse_bool(v, key, &f->drop, vd);
    if (strcmp(key, "reset") == 0)
        return parse_bool(v, key, &f->reset, vd);
    if (strcmp(key, "count") == 0 && get_int(v, key, 0, UINT32_MAX, &n, vd) == 0)
        return f->count = (uint32_t)n, 0;
    if (strcmp(key, "status") == 0 && get_int(v, key, 100, 599, &n, vd) == 0)
        return f->status = (int)n, 0;
    if (strcmp(key, "retry_after") == 0 && get_int(v, key, 0, INT32_MAX, &n, vd) == 0)
        return f->retry_after = n, 0;
    if (strcmp(key, "delay_ms") == 0 && get_int(v, key, 0, 600000, &n, vd) == 0)
        return f->delay_ms = (uint32_t)n, 0;
    if (vd->status == 0)
        bad(vd, key, "unknown key");
    return -1;
}

int od_faults_add(od_faults_t *f, const char *text, size_t len, od_verdict_t *v)
{
    json_object *spec = od_validate_parse(text, len, v);
    struct entry *e, **tail;
    if (!spec)
        return -1;
    e = calloc(1, sizeof *e);
    if (!e) {
        json_object_put(spec);
        return bad(v, "fault", "out of memory");
    }
    e->fault.match_any = 1;
    e->fault.retry_after = -1;
    json_object_object_foreach(spec, key, val)
    {
        if (parse_key(key, val, &e->fault, v) != 0) {
            json_object_put(spec);
            od_fault_release(&e->fault);
            free(e);
            return -1;
        }
    }
    json_object_put(spec);
    pthread_mutex_lock(&f->mu);
    for (tail = &f->head; *tail; tail = &(*tail)->next)
        ;
    *tail = e;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

size_t od_faults_active(od_faults_t *f)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (struct entry *e = f->head; e; e = e->next)
        n++;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *d = s ? malloc(len + 1) : NULL;
    if (d)
        memcpy(d, s, len + 1);
    return d;
}

int od_faults_take(od_faults_t *f, enum od_kind kind, od_fault_t *out)
{
    struct entry **p, *e = NULL;
    int found;
    if (kind == OD_KIND_OTHER)
        return 0; /* unrouted requests are never faulted */
    pthread_mutex_lock(&f->mu);
    /* *p is non-NULL inside the loop (its condition); after it, *p is NULL
     * when no fault matched, hence the check of e. cppcheck takes that
     * check for one of *p inside the loop. */
    for (p = &f->head; *p; p = &(*p)->next)
        /* cppcheck-suppress nullPointerRedundantCheck */
        if ((*p)->fault.match_any || (*p)->fault.match == kind)
            break;
    e = *p;
    found = e != NULL;
    if (e) {
        *out = e->fault;
        out->body = dup_bytes(e->fault.body, e->fault.body_len);
        out->redirect = e->fault.redirect ? strdup(e->fault.redirect) : NULL;
        if (e->fault.count > 0 && --e->fault.count == 0) {
            *p = e->next; /* used up */
            od_fault_release(&e->fault);
            free(e);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}
