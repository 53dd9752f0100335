/*
 * nr_transport.c - libcurl glue (see nr_transport.h): one node's easy
 * handle and connection, its requests begun on and ended off the engine's
 * multi handle (nr_engine.c drives the transfers).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_transport.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nr_retry_after.h"

typedef struct body_sink {
    nr_http_response_t *resp;
    size_t capacity;
    int overflow;
} body_sink_t;

struct nr_transport {
    CURL *easy;
    CURLSH *own_connection;     /* this node's connection cache: never another node's */
    struct curl_slist *headers; /* of the request in flight */
    body_sink_t sink;
    int fresh_connect;
    int out_of_descriptors; /* socket() failed with EMFILE/ENFILE */
    uint64_t started_ns;
    uint64_t connections;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_done;
static int libcurl_pinned;

int nr_transport_global_acquire(void)
{
    int rc = 0;
    pthread_mutex_lock(&global_lock);
    if (!global_done) {
        rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
        global_done = rc == 0;
    }
    pthread_mutex_unlock(&global_lock);
    return rc;
}

/* Keeps libcurl (and so what it links) mapped for the life of the process,
 * whatever the host does with the plugin: dlopen of an object that is
 * already loaded, with RTLD_NODELETE, marks it never to be unloaded. Done
 * once, and only when needed: glibc keeps 64 bytes of scope bookkeeping for
 * it that a leak checker reports. */
static void pin_libcurl(void)
{
    pthread_mutex_lock(&global_lock);
    Dl_info info;
    if (!libcurl_pinned && dladdr((void *)curl_easy_init, &info) != 0 && info.dli_fname != NULL)
        libcurl_pinned = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
    pthread_mutex_unlock(&global_lock);
}

/* A transfer that ended before its host name was resolved may have left
 * libcurl's resolver thread running (CURLOPT_QUICK_EXIT detaches it rather
 * than wait for getaddrinfo): from then on libcurl must stay mapped, even if
 * the host unloads the plugin, until that thread ends by itself. */
static void pin_if_resolver_left_behind(nr_transport_t *t, CURLcode rc, int aborted)
{
    char *ip = NULL;
    curl_off_t lookup_us = 0;
    if ((rc == CURLE_OK && !aborted) ||
        (curl_easy_getinfo(t->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && ip[0]) ||
        (curl_easy_getinfo(t->easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup_us) == CURLE_OK &&
         lookup_us > 0))
        return;
    pin_libcurl();
}

int nr_transport_global_is_threadsafe(void)
{
#ifdef CURL_VERSION_THREADSAFE
    return (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_THREADSAFE) != 0;
#else
    return 0;
#endif
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every socket libcurl connects with is close-on-exec: inside the network
 * thread's private table this is belt and braces, and it is what keeps a
 * child clean when the table could not be made private. */
static curl_socket_t open_cloexec_socket(void *clientp, curlsocktype purpose,
                                         struct curl_sockaddr *a)
{
    (void)purpose;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE))
        ((nr_transport_t *)clientp)->out_of_descriptors = 1;
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static void set_tls_options(CURL *e, const nr_transport_opts_t *o)
{
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->client_cert)
        curl_easy_setopt(e, CURLOPT_SSLCERT, o->client_cert);
    if (o->client_key)
        curl_easy_setopt(e, CURLOPT_SSLKEY, o->client_key);
    /* Always a password, if only an empty one: without it OpenSSL's default
     * callback would prompt for a passphrase on the terminal, from the
     * network thread, and wait there for ever. */
    curl_easy_setopt(e, CURLOPT_KEYPASSWD, o->client_key_password ? o->client_key_password : "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->tls_insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->tls_insecure ? 0L : 2L);
}

static void set_fixed_options(CURL *e, const nr_transport_opts_t *o, char *errbuf)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* A resolver that never answers must not hold up stop: abandon its
     * thread instead of joining it (libcurl >= 7.87). */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
    /* "" = no proxy: libcurl would otherwise take one from http_proxy,
     * ALL_PROXY and the like, and send the bearer token through it. */
    curl_easy_setopt(e, CURLOPT_PROXY, o->proxy ? o->proxy : "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, ""); /* nor no_proxy from the environment */
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec_socket);
    /* Responses are a few hundred bytes: a 16 KiB receive buffer per node
     * would be most of a node's memory in a 10,000-node process. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, NR_RECEIVE_BUFFER);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NR_MAX_RESPONSE_BYTES);
    if (o->user_agent)
        curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
    set_tls_options(e, o);
}

static size_t count_connection(void *clientp, curl_socket_t fd, int purpose)
{
    (void)fd;
    (void)purpose;
    ((nr_transport_t *)clientp)->connections++;
    return CURL_SOCKOPT_OK;
}

/* libcurl closes a connection cache's connections through an internal
 * handle that takes CURLOPT_NOSIGNAL from the last easy handle added to a
 * multi handle with that cache; until then it would set SIGPIPE's
 * disposition process-wide around the close (the host's handler, replaced
 * under it). Adding and removing one NOSIGNAL handle sets it. */
void nr_transport_quiet_signals(void *multi, void *easy)
{
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (curl_multi_add_handle(multi, easy) == CURLM_OK)
        curl_multi_remove_handle(multi, easy);
}

nr_transport_t *nr_transport_new(const nr_transport_opts_t *opts, void *owner, void *multi)
{
    nr_transport_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->easy = curl_easy_init();
    t->own_connection = curl_share_init();
    /* Every easy handle of a multi handle shares its connections, unless it
     * has a connection cache of its own: one per node, so each node keeps
     * its own kept-alive connection, as it would in a process of its own. */
    if (t->easy == NULL || t->own_connection == NULL ||
        curl_share_setopt(t->own_connection, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) !=
            CURLSHE_OK) {
        nr_transport_free(t);
        return NULL;
    }
    set_fixed_options(t->easy, opts, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_SHARE, t->own_connection);
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_SOCKOPTFUNCTION, count_connection);
    curl_easy_setopt(t->easy, CURLOPT_SOCKOPTDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, owner);
    nr_transport_quiet_signals(multi, t->easy);
    return t;
}

/* Engine thread, with no transfer in flight: the node's connection is
 * closed here, in the engine's descriptor table. */
void nr_transport_free(nr_transport_t *t)
{
    if (t == NULL)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    if (t->own_connection)
        curl_share_cleanup(t->own_connection);
    free(t);
}

void nr_transport_reset_connection(nr_transport_t *t)
{
    t->fresh_connect = 1;
}

uint64_t nr_transport_connections(const nr_transport_t *t)
{
    return t->connections;
}

void nr_http_response_clear(nr_http_response_t *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static size_t collect_body(char *data, size_t size, size_t nmemb, void *userp)
{
    body_sink_t *sink = userp;
    size_t n = size * nmemb;
    nr_http_response_t *r = sink->resp;
    if (r->body_len + n > NR_MAX_RESPONSE_BYTES) {
        sink->overflow = 1;
        return 0; /* makes libcurl stop the transfer: an error, not an allocation */
    }
    if (r->body_len + n + 1 > sink->capacity) {
        size_t cap = sink->capacity ? sink->capacity * 2 : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (grown == NULL)
            return 0;
        r->body = grown;
        sink->capacity = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static struct curl_slist *build_headers(const nr_http_request_t *req)
{
    char line[4200];
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    h = curl_slist_append(h, "Accept: application/json");
    if (req->body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (req->correlation_id) {
        snprintf(line, sizeof(line), "X-Correlation-Id: %s", req->correlation_id);
        h = curl_slist_append(h, line);
    }
    if (req->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", req->token);
        h = curl_slist_append(h, line);
        explicit_bzero(line, sizeof(line)); /* the secret lives only in curl's list */
    }
    return h;
}

static void set_request_options(nr_transport_t *t, const nr_http_request_t *req,
                                struct curl_slist *headers, body_sink_t *sink)
{
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, t->fresh_connect ? 1L : 0L);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                         strcmp(req->method, "GET") == 0 ? NULL : req->method);
    }
    t->fresh_connect = 0;
    t->errbuf[0] = '\0';
}

static void describe_failure(nr_transport_t *t, CURLcode rc, const body_sink_t *sink,
                             nr_http_response_t *resp)
{
    if (sink->overflow)
        snprintf(resp->error, sizeof(resp->error), "response body over %u bytes",
                 NR_MAX_RESPONSE_BYTES);
    else if (t->out_of_descriptors)
        snprintf(resp->error, sizeof(resp->error),
                 "no descriptor for a socket: the process is at RLIMIT_NOFILE (%.60s)",
                 curl_easy_strerror(rc));
    else if (rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(resp->error, sizeof(resp->error), "response body over %u bytes (declared)",
                 NR_MAX_RESPONSE_BYTES);
    else
        snprintf(resp->error, sizeof(resp->error), "%.60s%s%.120s", curl_easy_strerror(rc),
                 t->errbuf[0] ? ": " : "", t->errbuf);
}

/* Retry-After as the server sent it (delta-seconds or an HTTP date),
 * saturated and capped by nr_retry_after_parse. */
static void read_retry_after(nr_transport_t *t, nr_http_response_t *resp)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
        h == NULL || h->value == NULL)
        return;
    uint64_t ms = 0;
    if (nr_retry_after_parse(h->value, (int64_t)time(NULL), &ms) && ms > 0) {
        resp->has_retry_after = 1;
        resp->retry_after_ms = ms;
    }
}

int nr_transport_begin(nr_transport_t *t, void *multi, const nr_http_request_t *req,
                       nr_http_response_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    t->sink = (body_sink_t){resp, 0, 0};
    t->headers = build_headers(req);
    t->out_of_descriptors = 0;
    set_request_options(t, req, t->headers, &t->sink);
    t->started_ns = mono_ns();
    if (curl_multi_add_handle(multi, t->easy) != CURLM_OK) {
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(t->headers);
        t->headers = NULL;
        return -1;
    }
    return 0;
}

/* Takes the handle out of the engine's multi handle and drops the request's
 * headers (the only copy of the token outside nr_token). */
static void end_transfer(nr_transport_t *t, void *multi, CURLcode rc, int aborted)
{
    nr_http_response_t *resp = t->sink.resp;
    resp->latency_ns = mono_ns() - t->started_ns;
    curl_multi_remove_handle(multi, t->easy);
    pin_if_resolver_left_behind(t, rc, aborted);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(t->headers);
    t->headers = NULL;
}

void nr_transport_finish(nr_transport_t *t, void *multi, int curl_result)
{
    CURLcode rc = (CURLcode)curl_result;
    nr_http_response_t *resp = t->sink.resp;
    end_transfer(t, multi, rc, 0);
    if (rc != CURLE_OK) {
        describe_failure(t, rc, &t->sink, resp);
        return;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    read_retry_after(t, resp);
    resp->responded = 1;
}

void nr_transport_abandon(nr_transport_t *t, void *multi, int stopping)
{
    nr_http_response_t *resp = t->sink.resp;
    end_transfer(t, multi, CURLE_ABORTED_BY_CALLBACK, 1);
    resp->aborted = stopping;
    if (stopping)
        snprintf(resp->error, sizeof(resp->error), "abandoned: plugin stopping");
    else
        snprintf(resp->error, sizeof(resp->error),
                 "no response within %llu ms (the request's timeout)",
                 (unsigned long long)(resp->latency_ns / 1000000u));
    t->fresh_connect = 1; /* the connection is mid-request: never reuse it */
}
