/*
 * metrics_server.c - the Prometheus endpoint (see metrics_server.h).
 * One libmicrohttpd thread polls every connection, so a client that connects
 * and sends nothing only holds its own connection (until the 10 s timeout),
 * never the run loop and never the other scrapers.
 */
#include "metrics_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_line.h"

#define CONNECTION_TIMEOUT_S 10u
#define CONNECTION_LIMIT 32u
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct shim_metrics_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t lock; /* guards snap; held only to copy it */
    shim_metrics_snapshot_t snap;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                               const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    char *body = strdup(text);
    if (body == NULL)
        return MHD_NO;
    return respond(c, status, body, strlen(body), "text/plain; charset=utf-8");
}

static enum MHD_Result serve_metrics(shim_metrics_server_t *s, struct MHD_Connection *c)
{
    shim_metrics_snapshot_t *copy = malloc(sizeof(*copy));
    if (copy == NULL)
        return MHD_NO;
    pthread_mutex_lock(&s->lock);
    *copy = s->snap;
    pthread_mutex_unlock(&s->lock);
    size_t len = 0;
    char *text = shim_metrics_format(copy, &len);
    free(copy);
    if (text == NULL)
        return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return respond(c, MHD_HTTP_OK, text, len, CONTENT_TYPE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) { /* first call: headers only; answer once the body is in */
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
    if (strcmp(url, "/metrics") != 0)
        return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    return serve_metrics(cls, c);
}

/* libmicrohttpd's own complaints, as one shim log line each. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    char msg[512], quoted[1100];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_line_emitf(stderr, "WARN", LOG_SELF " event=metrics_error reason=%s",
                   log_line_quote(quoted, sizeof(quoted), msg));
}

static struct MHD_Daemon *start_daemon(shim_metrics_server_t *s, const shim_listen_address_t *at)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (at->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The server thread inherits this mask: SIGINT/SIGTERM stay with the
     * run loop's thread, which is the one that checks for them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&at->addr, MHD_OPTION_CONNECTION_TIMEOUT,
        CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

shim_metrics_server_t *shim_metrics_server_start(const shim_listen_address_t *at,
                                                 const shim_metrics_snapshot_t *initial, char *err,
                                                 size_t err_size)
{
    char where[64];
    shim_metrics_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->snap = *initial;
    s->daemon = start_daemon(s, at);
    const union MHD_DaemonInfo *info =
        s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (info == NULL) {
        uint16_t port = ntohs(at->addr.ss_family == AF_INET6
                                  ? ((const struct sockaddr_in6 *)&at->addr)->sin6_port
                                  : ((const struct sockaddr_in *)&at->addr)->sin_port);
        snprintf(err, err_size, "cannot listen on %s (port in use, or no such local address?)",
                 shim_listen_format(at, port, where, sizeof(where)));
        shim_metrics_server_stop(s);
        return NULL;
    }
    s->port = info->port;
    return s;
}

uint16_t shim_metrics_server_port(const shim_metrics_server_t *s)
{
    return s->port;
}

void shim_metrics_server_publish(shim_metrics_server_t *s, const shim_metrics_snapshot_t *snap)
{
    pthread_mutex_lock(&s->lock);
    s->snap = *snap;
    pthread_mutex_unlock(&s->lock);
}

void shim_metrics_server_stop(shim_metrics_server_t *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int shim_write_port_file(const char *path, uint16_t port)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%u\n", (unsigned)port) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}
