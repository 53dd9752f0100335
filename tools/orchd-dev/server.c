/* server.c - libmicrohttpd glue: daemon setup, per-request state, the
 * split between /_dev/ (admin.c) and the node API (nodeapi.c), injected
 * faults, and sending answers.
 *
 * MHD runs one thread per connection, so a handler may simply block for a
 * "delay_ms" or "hang" fault; every such wait goes through stop.h so that
 * shutdown wakes it. MHD's default URL unescaping is switched off (it would
 * turn "%2F" into "/" before routing); the raw URI comes from the URI log
 * callback, the only place MHD shows it unmodified. */
#include "server.h"

#include "admin.h"
#include "auth.h"
#include "faults.h"
#include "journal.h"
#include "nodeapi.h"
#include "rawsend.h"
#include "registry.h"
#include "route.h"
#include "slowbody.h"
#include "stop.h"
#include "tls.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>

#define MAX_BODY (1024 * 1024)
#define HANG_MAX_MS 120000u

struct od_server {
    od_config_t cfg;
    struct MHD_Daemon *daemon;
    od_registry_t *registry;
    od_faults_t *faults;
    od_journal_t *journal;
    od_auth_t *auth;
    od_admin_t admin;
    od_node_api_t api;
    char *cert_pem, *key_pem, *ca_pem;
    uint16_t port;
};

/* One request, from the URI log callback to the completion callback. */
struct request {
    char *raw_uri; /* as received, query included */
    char *method;
    char *client_cid; /* the client's X-Correlation-Id, or NULL */
    char cid[80];     /* the one we answer with */
    char *body;
    size_t len, cap;
    int started, too_large;
    int status; /* sent; 0 = none (drop, hang, error) */
    uint64_t t0;
};

/* One TCP connection (MHD socket context). */
struct conn {
    int node; /* has carried a node-API request */
};

/* One node-API request being answered. */
struct exchange {
    od_route_t route;
    od_node_request_t nr;
    od_answer_t answer;
    od_fault_t fault;
    int faulted;
    char error[512];
    char fault_label[160];
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct request *rq = calloc(1, sizeof *rq);
    (void)cls;
    (void)c;
    if (rq && !(rq->raw_uri = strdup(uri))) {
        free(rq);
        return NULL;
    }
    if (rq)
        rq->t0 = od_now_mono_ms();
    return rq;
}

static void log_line(const struct request *rq)
{
    char status[16];
    snprintf(status, sizeof status, rq->status ? "%d" : "-", rq->status);
    fprintf(stderr, "orchd-dev: %s %s %s cid=%s %llums\n", rq->method ? rq->method : "-",
            rq->raw_uri, status, rq->cid[0] ? rq->cid : "-",
            (unsigned long long)(od_now_mono_ms() - rq->t0));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    od_server_t *s = cls;
    struct request *rq = *con_cls;
    (void)c;
    (void)toe;
    if (!rq)
        return;
    if (!s->cfg.quiet && rq->started)
        log_line(rq);
    free(rq->raw_uri);
    free(rq->method);
    free(rq->client_cid);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    od_server_t *s = cls;
    struct conn *cn;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn));
        od_journal_conn_accepted(s->journal);
    } else {
        cn = *socket_context;
        od_journal_conn_closed(s->journal, cn && cn->node);
        free(cn);
        *socket_context = NULL;
    }
}

/* Count a connection in "connections" once it carries a node-API request,
 * so test-side polling of /_dev/ does not disturb the count. */
static void mark_node_connection(od_server_t *s, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *cn = ci ? ci->socket_context : NULL;
    if (cn && !cn->node) {
        cn->node = 1;
        od_journal_conn_node(s->journal);
    }
}

/* Leave URIs percent-encoded: the router decodes the node id itself. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* Echo a sane client id (visible ASCII, bounded), else make one up. */
static void correlation_id(struct MHD_Connection *c, struct request *rq)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Correlation-Id");
    size_t n = v ? strlen(v) : 0;
    int usable = n > 0 && n < sizeof rq->cid;
    uint64_t r = 0;
    for (size_t i = 0; usable && i < n; i++)
        usable = v[i] > 0x20 && v[i] < 0x7f;
    rq->client_cid = v ? strdup(v) : NULL;
    if (usable) {
        memcpy(rq->cid, v, n + 1);
        return;
    }
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = od_now_mono_ms() ^ (uint64_t)(uintptr_t)rq;
    snprintf(rq->cid, sizeof rq->cid, "orchd-%016llx", (unsigned long long)r);
}

static enum MHD_Result send_answer(struct MHD_Connection *c, struct request *rq,
                                   const od_answer_t *a, const od_fault_t *f)
{
    char num[32];
    enum MHD_Result ret;
    int slow = f && f->body_mode != OD_BODY_NORMAL && a->status != 204 && a->status != 304 &&
               a->status != 401;
    struct MHD_Response *r =
        slow ? od_slowbody_response(f->body_mode, a->body, a->len)
             : MHD_create_response_from_buffer(a->len, a->len ? a->body : (void *)"",
                                               MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (a->is_json)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, "X-Correlation-Id", rq->cid);
    if (f && f->retry_after >= 0) {
        snprintf(num, sizeof num, "%lld", (long long)f->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
    }
    if (f && f->redirect)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, f->redirect);
    rq->status = a->status;
    ret = MHD_queue_response(c, (unsigned int)a->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_admin(od_server_t *s, struct MHD_Connection *c, struct request *rq)
{
    od_answer_t a = {0};
    enum MHD_Result ret;
    if (rq->too_large)
        od_answer_error(&a, 413, "body larger than 1 MiB");
    else
        od_admin_handle(&s->admin, rq->method, rq->raw_uri, rq->body ? rq->body : "", rq->len, &a);
    ret = send_answer(c, rq, &a, NULL);
    od_answer_free(&a);
    return ret;
}

static void record(od_server_t *s, const struct request *rq, const struct exchange *x, int status)
{
    od_entry_t e = {
        .kind = x->nr.route_status == 0 ? x->route.kind : OD_KIND_OTHER,
        .method = rq->method,
        .raw_path = rq->raw_uri,
        .content_type = x->nr.content_type,
        .auth = od_auth_name(x->nr.auth),
        .correlation_id = rq->client_cid,
        .body = rq->body,
        .body_len = rq->len,
        .status = status,
        .error = x->error[0] ? x->error : NULL,
        .fault = x->faulted ? x->fault_label : NULL,
    };
    od_journal_record(s->journal, &e, od_now_mono_ms());
}

static void cleanup(struct exchange *x)
{
    free(x->route.node_id);
    od_answer_free(&x->answer);
    if (x->faulted)
        od_fault_release(&x->fault);
}

static enum MHD_Result finish(od_server_t *s, struct MHD_Connection *c, struct request *rq,
                              struct exchange *x)
{
    enum MHD_Result ret;
    record(s, rq, x, x->answer.status);
    ret = send_answer(c, rq, &x->answer, x->faulted ? &x->fault : NULL);
    cleanup(x);
    return ret;
}

/* No response at all: MHD_NO makes MHD close the connection. */
static enum MHD_Result no_answer(od_server_t *s, struct request *rq, struct exchange *x,
                                 uint32_t hang_ms)
{
    record(s, rq, x, 0);
    if (hang_ms)
        od_stop_sleep_ms(hang_ms);
    cleanup(x);
    return MHD_NO;
}

/* The socket under C, or -1 (TLS: raw bytes would bypass the encryption). */
static int raw_socket(const od_server_t *s, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return s->cert_pem || !ci ? -1 : (int)ci->connect_fd;
}

/* "reset": no answer, and the close MHD does next sends RST, not FIN. */
static enum MHD_Result reset_answer(od_server_t *s, struct MHD_Connection *c, struct request *rq,
                                    struct exchange *x)
{
    int fd = raw_socket(s, c);
    if (fd >= 0)
        od_raw_reset(fd);
    return no_answer(s, rq, x, 0);
}

/* Answers MHD cannot send (1-byte segments, a 204 with a body), written to
 * the socket; MHD then closes the connection. */
static int wants_raw(const od_fault_t *f, const od_answer_t *a)
{
    return f->body_mode == OD_BODY_TINY_SEGMENTS || (a->status == 204 && a->len > 0);
}

static enum MHD_Result raw_finish(od_server_t *s, struct MHD_Connection *c, struct request *rq,
                                  struct exchange *x)
{
    const od_fault_t *f = &x->fault;
    od_raw_answer_t ra = {x->answer.status,  x->answer.body, x->answer.len,
                          x->answer.is_json, rq->cid,        f->retry_after};
    int fd = raw_socket(s, c);
    if (fd < 0)
        return finish(s, c, rq, x);
    record(s, rq, x, x->answer.status);
    rq->status = x->answer.status;
    od_raw_send(fd, &ra, f->body_mode == OD_BODY_TINY_SEGMENTS);
    cleanup(x);
    return MHD_NO;
}

static void describe_fault(const od_fault_t *f, char *out, size_t cap)
{
    static const char *const MODES[] = {"", " body_mode=huge", " body_mode=endless",
                                        " body_mode=trickle", " body_mode=tiny_segments"};
    snprintf(out, cap, "%s%s%s%s%s status=%d delay_ms=%u retry_after=%lld%s",
             f->match_any ? "any" : od_kind_name(f->match), f->drop ? " drop" : "",
             f->hang ? " hang" : "", f->reset ? " reset" : "", f->redirect ? " redirect" : "",
             f->status, (unsigned)f->delay_ms, (long long)f->retry_after, MODES[f->body_mode]);
}

/* Carry out an injected fault: delay, then drop / hang / reset / redirect /
 * status, or (only a delay or body_mode) the normal answer. */
static enum MHD_Result faulted(od_server_t *s, struct MHD_Connection *c, struct request *rq,
                               struct exchange *x)
{
    const od_fault_t *f = &x->fault;
    describe_fault(f, x->fault_label, sizeof x->fault_label);
    if (f->delay_ms && od_stop_sleep_ms(f->delay_ms))
        return no_answer(s, rq, x, 0);
    if (f->drop)
        return no_answer(s, rq, x, 0);
    if (f->hang)
        return no_answer(s, rq, x, HANG_MAX_MS);
    if (f->reset)
        return reset_answer(s, c, rq, x);
    if (f->redirect)
        od_answer_raw(&x->answer, f->status >= 300 && f->status < 400 ? f->status : 302, NULL, 0,
                      0);
    else if (f->status == 204 && f->body)
        od_answer_raw(&x->answer, 204, f->body, f->body_len, 1);
    else if (f->status)
        od_node_api_fault_answer(&s->api, &x->nr, f, &x->answer);
    else
        od_node_api_handle(&s->api, &x->nr, &x->answer, x->error, sizeof x->error);
    return wants_raw(f, &x->answer) ? raw_finish(s, c, rq, x) : finish(s, c, rq, x);
}

static enum MHD_Result serve_node(od_server_t *s, struct MHD_Connection *c, struct request *rq)
{
    struct exchange x;
    memset(&x, 0, sizeof x);
    x.nr.route = &x.route;
    x.nr.route_status = od_route_parse(rq->method, rq->raw_uri, &x.route);
    x.nr.auth = od_auth_check(
        s->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
    x.nr.content_type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    x.nr.body = rq->body ? rq->body : "";
    x.nr.len = rq->len;
    mark_node_connection(s, c);
    if (rq->too_large) {
        snprintf(x.error, sizeof x.error, "body larger than 1 MiB");
        od_answer_error(&x.answer, 413, x.error);
    } else if (s->ca_pem && !od_tls_client_cert_ok(c)) {
        snprintf(x.error, sizeof x.error, "a valid client certificate is required");
        od_answer_error(&x.answer, 403, x.error);
    } else if ((x.faulted = od_faults_take(
                    s->faults, x.nr.route_status ? OD_KIND_OTHER : x.route.kind, &x.fault))) {
        return faulted(s, c, rq, &x);
    } else {
        od_node_api_handle(&s->api, &x.nr, &x.answer, x.error, sizeof x.error);
    }
    return finish(s, c, rq, &x);
}

static enum MHD_Result dispatch(od_server_t *s, struct MHD_Connection *c, struct request *rq)
{
    return strncmp(rq->raw_uri, "/_dev/", 6) == 0 ? serve_admin(s, c, rq) : serve_node(s, c, rq);
}

/* Append upload data; past 1 MiB keep reading but drop it (answer 413). */
static void take_body(struct request *rq, const char *data, size_t n)
{
    char *grown;
    if (rq->too_large)
        return;
    if (rq->len + n > MAX_BODY) {
        rq->too_large = 1;
        return;
    }
    if (rq->len + n + 1 > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 1024;
        while (cap < rq->len + n + 1)
            cap *= 2;
        if (!(grown = realloc(rq->body, cap))) {
            rq->too_large = 1;
            return;
        }
        rq->body = grown;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    rq->body[rq->len] = '\0';
}

/* First call, headers only: a declared body over the limit is refused
 * before it is read. */
static enum MHD_Result start(od_server_t *s, struct MHD_Connection *c, struct request *rq,
                             const char *method)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    rq->started = 1;
    if (!(rq->method = strdup(method)))
        return MHD_NO;
    correlation_id(c, rq);
    if (cl && strtoull(cl, NULL, 10) > MAX_BODY) {
        rq->too_large = 1;
        return dispatch(s, c, rq);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    od_server_t *s = cls;
    struct request *rq = *con_cls;
    (void)url;
    (void)version;
    if (!rq)
        return MHD_NO; /* out of memory in on_uri */
    if (!rq->started)
        return start(s, c, rq, method);
    if (rq->status) {
        *size = 0; /* answered early (413): discard the rest */
        return MHD_YES;
    }
    if (*size > 0) {
        take_body(rq, data, *size);
        *size = 0;
        return MHD_YES;
    }
    return dispatch(s, c, rq);
}

static int fail(char *err, size_t errlen, const char *what, const char *arg)
{
    snprintf(err, errlen, "%s%s%s", what, arg ? ": " : "", arg ? arg : "");
    return -1;
}

/* --bind as a socket address (numeric only: no resolver surprises). */
static int bind_address(const od_config_t *cfg, struct sockaddr_storage *ss, int *ipv6)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    *ipv6 = 0;
    if (inet_pton(AF_INET, cfg->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->port);
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->port);
        *ipv6 = 1;
        return 0;
    }
    return -1;
}

/* Load the PEM files and describe them as MHD options (OPTS has 4 slots). */
static int load_tls(od_server_t *s, struct MHD_OptionItem *opts, char *err, size_t errlen)
{
    const od_config_t *cfg = &s->cfg;
    size_t n = 0;
    if (cfg->tls_cert || cfg->tls_key || cfg->tls_client_ca) {
        if (!cfg->tls_cert || !cfg->tls_key)
            return fail(err, errlen,
                        "--tls-cert and --tls-key go together (and --tls-client-ca needs both)",
                        NULL);
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return fail(err, errlen, "this libmicrohttpd was built without TLS support", NULL);
        if (!(s->cert_pem = od_tls_read_pem(cfg->tls_cert)))
            return fail(err, errlen, "cannot read --tls-cert", cfg->tls_cert);
        if (!(s->key_pem = od_tls_read_pem(cfg->tls_key)))
            return fail(err, errlen, "cannot read --tls-key", cfg->tls_key);
        if (cfg->tls_client_ca && !(s->ca_pem = od_tls_read_pem(cfg->tls_client_ca)))
            return fail(err, errlen, "cannot read --tls-client-ca", cfg->tls_client_ca);
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        if (s->ca_pem)
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return 0;
}

static void free_server(od_server_t *s)
{
    od_registry_free(s->registry);
    od_faults_free(s->faults);
    od_journal_free(s->journal);
    od_auth_free(s->auth);
    free(s->cert_pem);
    free(s->key_pem);
    free(s->ca_pem);
    free(s);
}

static int make_parts(od_server_t *s)
{
    s->registry = od_registry_new(s->cfg.offline_timeout_ms);
    s->faults = od_faults_new();
    s->journal = od_journal_new();
    s->auth = od_auth_new(s->cfg.token, s->cfg.token_file);
    s->admin = (od_admin_t){s->registry, s->faults, s->journal};
    s->api = (od_node_api_t){s->registry, s->auth != NULL, s->cfg.strict_unknown,
                             s->cfg.next_heartbeat_ms};
    return s->registry && s->faults && s->journal &&
                   (s->auth || (!s->cfg.token && !s->cfg.token_file))
               ? 0
               : -1;
}

/* One thread and one descriptor per connection, and clients keep theirs
 * open: as many as the descriptor limit allows, less some for the server's
 * own files. MHD's default (FD_SETSIZE - 4 = 1020) refused every client past
 * the first thousand of a pmd-fleet run. */
static unsigned int connection_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 1100)
        return 1020;
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000 ? 1000000
                                                                 : (unsigned int)rl.rlim_cur - 64;
}

od_server_t *od_server_start(const od_config_t *cfg, char *err, size_t errlen)
{
    od_server_t *s = calloc(1, sizeof *s);
    struct sockaddr_storage ss;
    struct MHD_OptionItem tls[4];
    int ipv6;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_ITC | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (!s || (s->cfg = *cfg, make_parts(s)) != 0) {
        fail(err, errlen, "out of memory", NULL);
        goto error;
    }
    if (bind_address(cfg, &ss, &ipv6) != 0) {
        fail(err, errlen, "--bind wants a numeric IPv4 or IPv6 address", cfg->bind);
        goto error;
    }
    if (load_tls(s, tls, err, errlen) != 0)
        goto error;
    flags |= (s->cert_pem ? MHD_USE_TLS : 0) | (ipv6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped,
        s, MHD_OPTION_CONNECTION_LIMIT, connection_limit(), MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!s->daemon) {
        fail(err, errlen,
             "cannot start the HTTP server (address in use, or bad TLS key/certificate?)",
             cfg->bind);
        goto error;
    }
    s->port = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
error:
    if (s)
        free_server(s);
    return NULL;
}

uint16_t od_server_port(const od_server_t *s)
{
    return s->port;
}

void od_server_stop(od_server_t *s)
{
    if (!s)
        return;
    od_stop_request(); /* wake delayed and hung handlers first, or the join below waits for them */
    MHD_stop_daemon(s->daemon);
    free_server(s);
}
