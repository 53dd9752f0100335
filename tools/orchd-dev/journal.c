/* journal.c - counters and a ring buffer of request records.
 *
 * Records are kept as plain copies and turned into JSON only when asked, so
 * recording stays cheap on the request path. Bodies are cut at 64 KiB
 * (body_bytes says how long they were) and made valid UTF-8 on output. */
#include "journal.h"

#include "txt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATUS 600

struct record {
    uint64_t seq, t_ms;
    enum od_kind kind;
    char *method, *raw_path, *content_type, *auth, *correlation_id, *body, *error, *fault;
    size_t body_len, body_bytes;
    int status;
};

struct od_journal {
    pthread_mutex_t mu;
    uint64_t conn_total, conn_node, conn_open;
    uint64_t requests[OD_KIND_COUNT];
    uint64_t status[MAX_STATUS];
    uint64_t rejected;
    struct record ring[OD_JOURNAL_MAX_ENTRIES];
    size_t first, used; /* oldest slot, slots in use */
    uint64_t next_seq;
};

od_journal_t *od_journal_new(void)
{
    od_journal_t *j = calloc(1, sizeof *j);
    if (j) {
        pthread_mutex_init(&j->mu, NULL);
        j->next_seq = 1;
    }
    return j;
}

static void record_free(struct record *r)
{
    free(r->method);
    free(r->raw_path);
    free(r->content_type);
    free(r->auth);
    free(r->correlation_id);
    free(r->body);
    free(r->error);
    free(r->fault);
    memset(r, 0, sizeof *r);
}

void od_journal_clear_requests(od_journal_t *j)
{
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < OD_JOURNAL_MAX_ENTRIES; i++)
        record_free(&j->ring[i]);
    j->first = j->used = 0;
    pthread_mutex_unlock(&j->mu);
}

void od_journal_free(od_journal_t *j)
{
    if (!j)
        return;
    od_journal_clear_requests(j);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void od_journal_conn_accepted(od_journal_t *j)
{
    pthread_mutex_lock(&j->mu);
    j->conn_total++;
    pthread_mutex_unlock(&j->mu);
}

void od_journal_conn_node(od_journal_t *j)
{
    pthread_mutex_lock(&j->mu);
    j->conn_node++;
    j->conn_open++;
    pthread_mutex_unlock(&j->mu);
}

void od_journal_conn_closed(od_journal_t *j, int was_node)
{
    pthread_mutex_lock(&j->mu);
    if (was_node && j->conn_open > 0)
        j->conn_open--;
    pthread_mutex_unlock(&j->mu);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void fill(struct record *r, const od_entry_t *e, uint64_t seq, uint64_t t_ms)
{
    size_t keep = e->body_len < OD_JOURNAL_MAX_BODY ? e->body_len : OD_JOURNAL_MAX_BODY;
    r->seq = seq;
    r->t_ms = t_ms;
    r->kind = e->kind;
    r->method = dup_or_null(e->method);
    r->raw_path = dup_or_null(e->raw_path);
    r->content_type = dup_or_null(e->content_type);
    r->auth = dup_or_null(e->auth);
    r->correlation_id = dup_or_null(e->correlation_id);
    r->error = dup_or_null(e->error);
    r->fault = dup_or_null(e->fault);
    r->status = e->status;
    r->body_bytes = e->body_len;
    r->body = malloc(keep + 1);
    if (r->body) {
        memcpy(r->body, e->body ? e->body : "", keep);
        r->body[keep] = '\0';
        r->body_len = keep;
    }
}

void od_journal_record(od_journal_t *j, const od_entry_t *e, uint64_t mono_ms)
{
    struct record *slot;
    pthread_mutex_lock(&j->mu);
    j->requests[e->kind < OD_KIND_COUNT ? e->kind : OD_KIND_OTHER]++;
    if (e->status > 0 && e->status < MAX_STATUS)
        j->status[e->status]++;
    if (e->status == 400 || e->status == 415 || e->status == 422)
        j->rejected++;
    if (j->used == OD_JOURNAL_MAX_ENTRIES) { /* full: overwrite the oldest */
        slot = &j->ring[j->first];
        record_free(slot);
        j->first = (j->first + 1) % OD_JOURNAL_MAX_ENTRIES;
    } else {
        slot = &j->ring[(j->first + j->used++) % OD_JOURNAL_MAX_ENTRIES];
    }
    fill(slot, e, j->next_seq++, mono_ms);
    pthread_mutex_unlock(&j->mu);
}

json_object *od_journal_stats_json(od_journal_t *j)
{
    json_object *o = json_object_new_object(), *req = json_object_new_object(),
                *st = json_object_new_object();
    char code[8];
    pthread_mutex_lock(&j->mu);
    json_object_object_add(o, "connections", json_object_new_uint64(j->conn_node));
    json_object_object_add(o, "connections_open", json_object_new_uint64(j->conn_open));
    json_object_object_add(o, "connections_total", json_object_new_uint64(j->conn_total));
    for (int k = 0; k < OD_KIND_COUNT; k++)
        json_object_object_add(req, od_kind_name((enum od_kind)k),
                               json_object_new_uint64(j->requests[k]));
    for (int s = 0; s < MAX_STATUS; s++)
        if (j->status[s]) {
            snprintf(code, sizeof code, "%d", s);
            json_object_object_add(st, code, json_object_new_uint64(j->status[s]));
        }
    json_object_object_add(o, "rejected", json_object_new_uint64(j->rejected));
    pthread_mutex_unlock(&j->mu);
    json_object_object_add(o, "requests", req);
    json_object_object_add(o, "status", st);
    return o;
}

/* A NUL-terminated copy of s[0..len) with each byte that does not start a
 * valid sequence (txt.h) replaced by U+FFFD (embedded NULs are kept), its
 * length in *out_len. Caller frees; NULL when out of memory. */
static char *utf8_lossy(const char *s, size_t len, size_t *out_len)
{
    static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(len * 3 + 1), *o = out;
    size_t i = 0;
    if (!out)
        return NULL;
    while (i < len) {
        size_t n = txt_utf8_seq_len(p + i, len - i);
        if (n == 0) {
            memcpy(o, REPLACEMENT, 3);
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    *out_len = (size_t)(o - out);
    return out;
}

/* Header values are bytes; JSON output must be UTF-8. */
static json_object *str_or_null(const char *s)
{
    size_t n;
    char *clean = s ? utf8_lossy(s, strlen(s), &n) : NULL;
    json_object *o = clean ? json_object_new_string_len(clean, (int)n) : NULL;
    free(clean);
    return o;
}

static json_object *record_json(const struct record *r)
{
    json_object *o = json_object_new_object();
    size_t blen = 0;
    char *body = r->body ? utf8_lossy(r->body, r->body_len, &blen) : NULL;
    json_object_object_add(o, "seq", json_object_new_uint64(r->seq));
    json_object_object_add(o, "t_ms", json_object_new_uint64(r->t_ms));
    json_object_object_add(o, "kind", json_object_new_string(od_kind_name(r->kind)));
    json_object_object_add(o, "method", str_or_null(r->method));
    json_object_object_add(o, "raw_path", str_or_null(r->raw_path));
    json_object_object_add(o, "content_type", str_or_null(r->content_type));
    json_object_object_add(o, "auth", str_or_null(r->auth));
    json_object_object_add(o, "correlation_id", str_or_null(r->correlation_id));
    json_object_object_add(o, "body", body ? json_object_new_string_len(body, (int)blen) : NULL);
    json_object_object_add(o, "body_bytes", json_object_new_uint64(r->body_bytes));
    json_object_object_add(o, "status", json_object_new_int(r->status));
    json_object_object_add(o, "error", str_or_null(r->error));
    json_object_object_add(o, "fault", str_or_null(r->fault));
    free(body);
    return o;
}

json_object *od_journal_requests_json(od_journal_t *j)
{
    json_object *arr = json_object_new_array();
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->used; i++)
        json_object_array_add(arr, record_json(&j->ring[(j->first + i) % OD_JOURNAL_MAX_ENTRIES]));
    pthread_mutex_unlock(&j->mu);
    return arr;
}
