/* journal.h - what the server saw: counters for GET /_dev/stats and the
 * last 1000 node-API requests for GET /_dev/requests. Thread-safe.
 *
 * The Authorization header's value is never handed to this module: an
 * entry carries only the auth verdict ("absent" / "ok" / "wrong"). */
#ifndef OD_JOURNAL_H
#define OD_JOURNAL_H

#include "route.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define OD_JOURNAL_MAX_ENTRIES 1000
#define OD_JOURNAL_MAX_BODY (64 * 1024) /* bytes of each body kept */

typedef struct od_journal od_journal_t;

/* One node-API request as answered. Strings are copied; NULL = absent. */
typedef struct od_entry {
    enum od_kind kind;
    const char *method;
    const char *raw_path; /* as received, still percent-encoded */
    const char *content_type;
    const char *auth;           /* od_auth_name() */
    const char *correlation_id; /* the client's X-Correlation-Id */
    const char *body;
    size_t body_len;
    int status;        /* 0 = no response (drop, hang) */
    const char *error; /* validation message */
    const char *fault; /* which injected fault shaped the answer */
} od_entry_t;

od_journal_t *od_journal_new(void);
void od_journal_free(od_journal_t *j);

/* Connection accounting (see GET /_dev/stats in admin.h). */
void od_journal_conn_accepted(od_journal_t *j);
void od_journal_conn_node(od_journal_t *j); /* first node-API request on it */
void od_journal_conn_closed(od_journal_t *j, int was_node);

/* Count and remember one node-API request. */
void od_journal_record(od_journal_t *j, const od_entry_t *e, uint64_t mono_ms);

void od_journal_clear_requests(od_journal_t *j);

/* New references. */
json_object *od_journal_stats_json(od_journal_t *j);
json_object *od_journal_requests_json(od_journal_t *j);

#endif
