/* nodeapi.c - register / heartbeat / deregister / list against the registry,
 * with the real server's check order: routing, then the auth middleware
 * (401, empty body), then the JSON extractor (415, 400, 422), then the
 * handler. */
#include "nodeapi.h"

#include "stop.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

static void heartbeat_body(const od_node_api_t *api, od_answer_t *out, int status)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(status >= 200 && status < 300));
    json_object_object_add(o, "next_heartbeat_ms", json_object_new_uint64(api->next_heartbeat_ms));
    od_answer_json(out, status, o);
}

static json_object *registered_json(const char *node_id)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "message", json_object_new_string("Registered successfully"));
    json_object_object_add(o, "node_id", json_object_new_string(node_id));
    return o;
}

/* The typed body, or NULL with the rejection already in OUT / ERROR. */
static json_object *typed_body(const od_node_api_t *api, const od_node_request_t *rq,
                               od_answer_t *out, char *error, size_t errlen)
{
    od_verdict_t v = {0};
    json_object *o;
    if (!od_validate_content_type(rq->content_type)) {
        snprintf(error, errlen, "Content-Type must be application/json");
        od_answer_error(out, 415, error);
        return NULL;
    }
    o = rq->route->kind == OD_KIND_REGISTER
            ? od_validate_register(rq->body, rq->len, api->strict_unknown, &v)
            : od_validate_heartbeat(rq->body, rq->len, api->strict_unknown, &v);
    if (!o) {
        snprintf(error, errlen, "%s", v.message);
        od_answer_error(out, v.status, v.message);
    }
    return o;
}

static void do_register(const od_node_api_t *api, json_object *req, od_answer_t *out)
{
    char id[1024];
    snprintf(id, sizeof id, "%s", json_object_get_string(json_object_object_get(req, "node_id")));
    od_registry_register(api->registry, req, od_now_mono_ms(), od_now_wall_ms());
    od_answer_json(out, 200, registered_json(id));
}

static void do_heartbeat(const od_node_api_t *api, const char *node_id, json_object *hb,
                         od_answer_t *out, char *error, size_t errlen)
{
    if (od_registry_heartbeat(api->registry, node_id, hb, od_now_mono_ms(), od_now_wall_ms()) ==
        0) {
        heartbeat_body(api, out, 200);
    } else {
        snprintf(error, errlen, "node not registered");
        heartbeat_body(api, out, 404);
    }
}

static void route_failure(const od_node_request_t *rq, od_answer_t *out, char *error, size_t errlen)
{
    snprintf(error, errlen, "%s",
             rq->route_status == 404   ? "no such endpoint"
             : rq->route_status == 405 ? "method not allowed"
                                       : "node id is not valid percent-encoded UTF-8");
    od_answer_error(out, rq->route_status, error);
}

/* The answer for a routed, authorized request. */
static void dispatch(const od_node_api_t *api, const od_node_request_t *rq, od_answer_t *out,
                     char *error, size_t errlen)
{
    json_object *body;
    switch (rq->route->kind) {
    case OD_KIND_LIST:
        od_answer_json(out, 200, od_registry_list(api->registry, od_now_mono_ms()));
        break;
    case OD_KIND_DEREGISTER:
        if (od_registry_remove(api->registry, rq->route->node_id) == 0) {
            od_answer_raw(out, 204, NULL, 0, 0);
        } else {
            snprintf(error, errlen, "node not registered");
            od_answer_error(out, 404, error);
        }
        break;
    case OD_KIND_REGISTER:
        if ((body = typed_body(api, rq, out, error, errlen)) != NULL)
            do_register(api, body, out);
        break;
    case OD_KIND_HEARTBEAT:
        if ((body = typed_body(api, rq, out, error, errlen)) != NULL)
            do_heartbeat(api, rq->route->node_id, body, out, error, errlen);
        break;
    default: route_failure(rq, out, error, errlen); break;
    }
}

void od_node_api_handle(const od_node_api_t *api, const od_node_request_t *rq, od_answer_t *out,
                        char *error, size_t errlen)
{
    error[0] = '\0';
    if (rq->route_status == 404 || rq->route_status == 405) {
        route_failure(rq, out, error, errlen);
    } else if (api->auth_required && rq->auth != OD_AUTH_OK) {
        snprintf(error, errlen, "unauthorized (Authorization %s)", od_auth_name(rq->auth));
        od_answer_raw(out, 401, NULL, 0, 0);
    } else if (rq->route_status != 0) {
        route_failure(rq, out, error, errlen);
    } else {
        dispatch(api, rq, out, error, errlen);
    }
}

/* node_id from a register body, if it parses; "" otherwise. */
static void body_node_id(const od_node_request_t *rq, char *id, size_t cap)
{
    od_verdict_t v;
    json_object *o = od_validate_parse(rq->body, rq->len, &v), *val = NULL;
    snprintf(id, cap, "%s",
             o && json_object_object_get_ex(o, "node_id", &val) &&
                     json_object_is_type(val, json_type_string)
                 ? json_object_get_string(val)
                 : "");
    json_object_put(o);
}

/* A success-shaped body for an injected 2xx, or NULL for an error body. */
static json_object *fake_success(const od_node_request_t *rq)
{
    char id[1024];
    if (rq->route->kind == OD_KIND_LIST)
        return json_tokener_parse("{\"nodes\":[],\"count\":0}");
    if (rq->route->kind != OD_KIND_REGISTER)
        return NULL;
    body_node_id(rq, id, sizeof id);
    return registered_json(id);
}

void od_node_api_fault_answer(const od_node_api_t *api, const od_node_request_t *rq,
                              const od_fault_t *f, od_answer_t *out)
{
    int ok = f->status >= 200 && f->status < 300;
    json_object *o;
    char msg[64];
    if (f->status == 401 || f->status == 204 || f->status == 304 ||
        (ok && rq->route->kind == OD_KIND_DEREGISTER)) {
        od_answer_raw(out, f->status, NULL, 0, 0);
    } else if (f->body) {
        od_answer_raw(out, f->status, f->body, f->body_len, 1);
    } else if (rq->route->kind == OD_KIND_HEARTBEAT) {
        heartbeat_body(api, out, f->status);
    } else if (ok && (o = fake_success(rq)) != NULL) {
        od_answer_json(out, f->status, o);
    } else {
        snprintf(msg, sizeof msg, "injected fault: status %d", f->status);
        od_answer_error(out, f->status, msg);
    }
}
