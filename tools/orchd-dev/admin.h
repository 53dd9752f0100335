/* admin.h - the /_dev/ API: fault injection, restart, stats, request log.
 *
 * Never requires auth (nor, under mTLS, a client certificate): tests must
 * be able to steer the server whatever the node API demands.
 *
 *   POST   /_dev/fault     add a fault spec (faults.h)      -> {"ok":true}
 *   DELETE /_dev/fault     clear all faults                 -> {"ok":true}
 *   POST   /_dev/restart   forget every node                -> {"ok":true}
 *   GET    /_dev/stats     counters (journal.h) + "faults_active"
 *   GET    /_dev/requests  the last 1000 node-API requests
 *   DELETE /_dev/requests  clear that log                   -> {"ok":true}
 *   GET    /_dev/nodes     the same view as GET /v2/nodes, without auth and
 *                          without being counted or logged (for polling)
 * Errors: 404 unknown path, 405 wrong method, 400/422 bad fault spec, all
 * {"ok":false,"message":...}. */
#ifndef OD_ADMIN_H
#define OD_ADMIN_H

#include "answer.h"
#include "faults.h"
#include "journal.h"
#include "registry.h"

typedef struct od_admin {
    od_registry_t *registry;
    od_faults_t *faults;
    od_journal_t *journal;
} od_admin_t;

/* PATH is the raw path (a query string is ignored). Fills OUT. */
void od_admin_handle(const od_admin_t *ad, const char *method, const char *path, const char *body,
                     size_t len, od_answer_t *out);

#endif
