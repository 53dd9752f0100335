/*
 * nr_transport.c - libcurl glue (see nr_transport.h). The host thread never
 * touches the multi handle: it wakes the network thread through an eventfd
 * that every wait of libcurl also polls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_transport.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nr_retry_after.h"

struct nr_transport {
    CURLM *multi;
    CURL *easy;
    int wake_fd;
    int fresh_connect;
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
    (void)clientp;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
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

nr_transport_t *nr_transport_new(const nr_transport_opts_t *opts)
{
    nr_transport_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->wake_fd = opts->wake_fd;
    t->multi = curl_multi_init();
    t->easy = curl_easy_init();
    if (t->multi == NULL || t->easy == NULL) {
        nr_transport_free(t);
        return NULL;
    }
    /* One connection per node: a new one replaces the old in the cache. */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, 1L);
    set_fixed_options(t->easy, opts, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_SOCKOPTFUNCTION, count_connection);
    curl_easy_setopt(t->easy, CURLOPT_SOCKOPTDATA, t);
    return t;
}

void nr_transport_free(nr_transport_t *t)
{
    if (t == NULL)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    if (t->multi)
        curl_multi_cleanup(t->multi);
    free(t);
}

void nr_transport_wake(int wake_fd)
{
    if (wake_fd >= 0)
        eventfd_write(wake_fd, 1);
}

/* Waits on libcurl's sockets and the wake-up eventfd; consumes a wake-up. */
static void poll_with_wakeup(nr_transport_t *t, uint32_t timeout_ms)
{
    struct curl_waitfd wake = {t->wake_fd, CURL_WAIT_POLLIN, 0};
    int has_wake = t->wake_fd >= 0;
    int ms = timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms;
    curl_multi_poll(t->multi, has_wake ? &wake : NULL, has_wake ? 1u : 0u, ms, NULL);
    if (has_wake && (wake.revents & CURL_WAIT_POLLIN)) {
        eventfd_t drained;
        eventfd_read(t->wake_fd, &drained); /* non-blocking: set by the worker */
    }
}

void nr_transport_wait(nr_transport_t *t, uint32_t timeout_ms)
{
    poll_with_wakeup(t, timeout_ms);
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

typedef struct body_sink {
    nr_http_response_t *resp;
    size_t capacity;
    int overflow;
} body_sink_t;

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

/* Drives the transfer until it completes or its budget runs out. */
static CURLcode run_transfer(nr_transport_t *t, nr_transfer_budget_fn budget, void *ctx,
                             int *aborted)
{
    int running = 1;
    CURLcode result = CURLE_OK;
    curl_multi_add_handle(t->multi, t->easy);
    while (running) {
        curl_multi_perform(t->multi, &running);
        if (!running)
            break;
        uint32_t left_ms = budget ? budget(ctx) : NR_NO_LIMIT_MS;
        if (left_ms == 0) {
            *aborted = 1;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        poll_with_wakeup(t, left_ms < 1000 ? left_ms : 1000);
    }
    if (!*aborted) {
        int left;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                result = msg->data.result;
    }
    curl_multi_remove_handle(t->multi, t->easy);
    return result;
}

static void describe_failure(nr_transport_t *t, CURLcode rc, const body_sink_t *sink,
                             nr_http_response_t *resp)
{
    if (sink->overflow)
        snprintf(resp->error, sizeof(resp->error), "response body over %u bytes",
                 NR_MAX_RESPONSE_BYTES);
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

int nr_transport_perform(nr_transport_t *t, const nr_http_request_t *req, nr_http_response_t *resp,
                         nr_transfer_budget_fn budget, void *ctx)
{
    memset(resp, 0, sizeof(*resp));
    body_sink_t sink = {resp, 0, 0};
    struct curl_slist *headers = build_headers(req);
    set_request_options(t, req, headers, &sink);
    uint64_t started = mono_ns();
    CURLcode rc = run_transfer(t, budget, ctx, &resp->aborted);
    resp->latency_ns = mono_ns() - started;
    pin_if_resolver_left_behind(t, rc, resp->aborted);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (resp->aborted) {
        snprintf(resp->error, sizeof(resp->error), "abandoned: plugin stopping");
        t->fresh_connect = 1; /* the connection is mid-request: never reuse it */
        return -1;
    }
    if (rc != CURLE_OK) {
        describe_failure(t, rc, &sink, resp);
        return -1;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    read_retry_after(t, resp);
    resp->responded = 1;
    return 0;
}
