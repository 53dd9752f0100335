/* admin.c - route and answer /_dev/ requests (no MHD here). */
#include "admin.h"

#include "stop.h"

#include <string.h>

static void ok(od_answer_t *out)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    od_answer_json(out, 200, o);
}

static void not_ok(od_answer_t *out, int status, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    json_object_object_add(o, "message", json_object_new_string(msg));
    od_answer_json(out, status, o);
}

static void fault(const od_admin_t *ad, const char *method, const char *body, size_t len,
                  od_answer_t *out)
{
    od_verdict_t v;
    if (strcmp(method, "DELETE") == 0) {
        od_faults_clear(ad->faults);
        ok(out);
    } else if (strcmp(method, "POST") != 0) {
        not_ok(out, 405, "use POST or DELETE");
    } else if (od_faults_add(ad->faults, body, len, &v) == 0) {
        ok(out);
    } else {
        not_ok(out, v.status, v.message);
    }
}

static void stats(const od_admin_t *ad, od_answer_t *out)
{
    json_object *o = od_journal_stats_json(ad->journal);
    json_object_object_add(o, "faults_active",
                           json_object_new_uint64(od_faults_active(ad->faults)));
    od_answer_json(out, 200, o);
}

static void requests(const od_admin_t *ad, const char *method, od_answer_t *out)
{
    if (strcmp(method, "GET") == 0) {
        od_answer_json(out, 200, od_journal_requests_json(ad->journal));
    } else if (strcmp(method, "DELETE") == 0) {
        od_journal_clear_requests(ad->journal);
        ok(out);
    } else {
        not_ok(out, 405, "use GET or DELETE");
    }
}

static int is(const char *path, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(path, want, len) == 0;
}

void od_admin_handle(const od_admin_t *ad, const char *method, const char *path, const char *body,
                     size_t len, od_answer_t *out)
{
    size_t plen = strcspn(path, "?");
    int get = strcmp(method, "GET") == 0;
    if (is(path, plen, "/_dev/fault"))
        fault(ad, method, body, len, out);
    else if (is(path, plen, "/_dev/requests"))
        requests(ad, method, out);
    else if (is(path, plen, "/_dev/restart") && strcmp(method, "POST") == 0) {
        od_registry_clear(ad->registry);
        ok(out);
    } else if (is(path, plen, "/_dev/stats") && get)
        stats(ad, out);
    else if (is(path, plen, "/_dev/nodes") && get)
        od_answer_json(out, 200, od_registry_list(ad->registry, od_now_mono_ms()));
    else if (is(path, plen, "/_dev/restart") || is(path, plen, "/_dev/stats") ||
             is(path, plen, "/_dev/nodes"))
        not_ok(out, 405, "method not allowed");
    else
        not_ok(out, 404, "no such /_dev/ endpoint");
}
