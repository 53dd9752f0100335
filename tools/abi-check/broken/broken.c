/*
 * broken.c - deliberately broken plugins for pmd-abi-check's own tests.
 *
 * Without any BROKEN_* definition this is a minimal correct plugin (config:
 * {"url": "..."} optional). Each target of broken/CMakeLists.txt defines one
 * BROKEN_* switch that breaks exactly one rule, so that exactly one check of
 * pmd-abi-check fails. Never install these.
 *
 * It offers ABI 1.2 handover and makes no network traffic, except that
 * BROKEN_HANDOVER_DELETE sends one DELETE to the config's url on handover.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pmd_plugin.h"

#ifdef BROKEN_STOP_BOUND
#define STOP_TIMEOUT_MS 300
#elif defined(BROKEN_STOP_BOUND_STATS)
#define STOP_TIMEOUT_MS 1000 /* the descriptor's bound; the instance says 50 */
#else
#define STOP_TIMEOUT_MS 100
#endif

enum lifecycle { LC_INITIALIZED, LC_STARTED, LC_STOPPED };

struct pmd_instance {
    pmd_host_t host;
    enum lifecycle state;
    uint64_t ticks;
    char url[128]; /* "" when the config has none */
    int in_call;   /* a host callback of ours is running: re-entry refused */
#ifdef BROKEN_HOST_THREAD
    pthread_t thread;
#endif
#ifdef BROKEN_INIT_BUFFERS
    const char *config; /* the bug: the host's config kept past init */
#endif
#ifdef BROKEN_PLUGIN_THREADS
    pthread_t worker;
    volatile int worker_stop;
#endif
#ifdef BROKEN_PROCESS_STATE
    int fd;
#endif
};

/* Re-entry from inside one of our host callbacks is refused. */
#ifdef BROKEN_CALLS
#define REENTERED(in) 0 /* the bug: calls from inside a callback are run */
#else
#define REENTERED(in) ((in)->in_call)
#endif

#ifdef BROKEN_INSTANCES
static pmd_host_t shared_host; /* the bug: one host for every instance */
#define HOST(in) (&shared_host)
#else
#define HOST(in) (&(in)->host)
#endif

#ifdef BROKEN_LOAD
extern void pmd_broken_no_such_function(void); /* defined nowhere */
#endif

#ifdef BROKEN_EXPORTS
PMD_EXPORT int pmd_broken_extra_export(void);
PMD_EXPORT int pmd_broken_extra_export(void)
{
    return 42;
}
#endif

__attribute__((unused)) static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void say(struct pmd_instance *in, const char *msg)
{
    in->in_call = 1;
    HOST(in)->log(HOST(in)->host_data, PMD_LOG_INFO, msg);
    in->in_call = 0;
}

static void set_error(char *error, uint32_t size, const char *msg)
{
    if (error != NULL && size > 0)
        snprintf(error, size, "%s", msg);
}

static int parse_config(const char *text, char *url, size_t url_size, char *error, uint32_t size)
{
#ifdef BROKEN_INIT_ERRORS
    if (text == NULL)
        return 0; /* the bug: NULL config accepted */
#endif
    if (text == NULL || text[0] == '\0') {
        set_error(error, size, "config: empty");
        return -1;
    }
    json_object *root = json_tokener_parse(text);
    if (root == NULL || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        set_error(error, size, "config: not a JSON object");
        return -1;
    }
    int rc = 0;
    json_object_object_foreach(root, key, value)
    {
        if (strcmp(key, "url") == 0 && json_object_is_type(value, json_type_string))
            snprintf(url, url_size, "%s", json_object_get_string(value));
#ifndef BROKEN_INIT_ERRORS
        if (strcmp(key, "url") != 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "config: unknown key \"%.64s\"", key);
            set_error(error, size, msg);
            rc = -1;
            break;
        }
#endif
    }
    json_object_put(root);
    return rc;
}

static int32_t b_init(const pmd_host_t *host, const char *config, pmd_instance_t **out, char *error,
                      uint32_t error_size)
{
    if (out != NULL)
        *out = NULL;
    if (host == NULL || out == NULL) {
        set_error(error, error_size, "init: NULL argument");
        return PMD_ERR_INVALID_ARGUMENT;
    }
#ifdef BROKEN_STRUCT_BOUNDS
    if (host->abi_minor >= 1) { /* the bug: trusts the minor, not struct_size */
        const void *volatile ext = (const void *)host->get_extension;
        (void)ext;
    }
#endif
#ifdef BROKEN_STRUCT_SIZE
    const volatile unsigned char *raw = (const volatile unsigned char *)host;
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(pmd_host_t) + 64; i++) /* the bug: ignores struct_size */
        sum += raw[i];
    (void)sum;
#endif
#ifndef BROKEN_ABI_MAJOR
    if (host->abi_major != PMD_ABI_VERSION_MAJOR) {
        set_error(error, error_size, "init: host ABI major differs");
        return PMD_ERR_ABI_MAJOR;
    }
#endif
    if (host->struct_size < PMD_HOST_SIZE_1_0 || host->log == NULL || host->list_pools == NULL ||
        host->get_capabilities == NULL) {
        set_error(error, error_size, "init: host struct unusable");
        return PMD_ERR_INVALID_ARGUMENT;
    }
#ifdef BROKEN_NULL_CONFIG
    if (config == NULL) { /* the bug: a missing config read as a NULL argument */
        set_error(error, error_size, "init: config is NULL");
        return PMD_ERR_INVALID_ARGUMENT;
    }
#endif
    char url[128] = "";
    if (parse_config(config, url, sizeof(url), error, error_size) != 0)
        return PMD_ERR_CONFIG;
#ifdef BROKEN_LOAD
    pmd_broken_no_such_function();
#endif
#ifdef BROKEN_GLOBAL
    signal(SIGPIPE, SIG_IGN); /* the bug: process-wide state changed */
#endif
    struct pmd_instance *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return PMD_ERR_NO_MEMORY;
    size_t n = host->struct_size < sizeof(in->host) ? host->struct_size : sizeof(in->host);
    memcpy(&in->host, host, n);
    in->host.struct_size = (uint32_t)n;
    snprintf(in->url, sizeof(in->url), "%s", url);
#ifdef BROKEN_INIT_BUFFERS
    in->config = config;
#endif
#ifdef BROKEN_PROCESS_STATE
    in->fd = -1;
#endif
#ifdef BROKEN_INSTANCES
    shared_host = in->host;
#endif
    *out = in;
    return PMD_OK;
}

#ifdef BROKEN_HOST_THREAD
static void *log_from_thread(void *arg)
{
    say(arg, "broken: hello from the plugin's own thread"); /* the bug */
    return NULL;
}
#endif

#ifdef BROKEN_TEARDOWN
static int thread_left; /* survives dlclose: linked with -z nodelete */
static void *linger(void *arg)
{
    (void)arg;
    for (;;)
        sleep_ms(1000);
    return NULL;
}
#endif

#ifdef BROKEN_PLUGIN_THREADS
static void *idle_worker(void *arg)
{
    struct pmd_instance *in = arg;
    while (!in->worker_stop)
        sleep_ms(1);
    return NULL;
}
#endif

/* Ends what on_start began: threads joined, descriptors closed. */
static void end_work(struct pmd_instance *in)
{
#ifdef BROKEN_PLUGIN_THREADS
    in->worker_stop = 1;
    pthread_join(in->worker, NULL);
#endif
#ifdef BROKEN_PROCESS_STATE
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
#endif
    (void)in;
}

static int32_t b_start(pmd_instance_t *in)
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->state != LC_INITIALIZED || REENTERED(in))
        return PMD_ERR_STATE;
#ifdef BROKEN_INIT_BUFFERS
    if (strlen(in->config) == 0) /* the bug: reads the config after init returned */
        return PMD_ERR_INTERNAL;
#endif
#ifdef BROKEN_PLUGIN_THREADS
    in->worker_stop = 0; /* the bug: created with the host thread's signal mask */
    if (pthread_create(&in->worker, NULL, idle_worker, in) != 0)
        return PMD_ERR_RESOURCE;
#endif
#ifdef BROKEN_PROCESS_STATE
    in->fd = open("/dev/null", O_RDONLY); /* the bug: no O_CLOEXEC */
#endif
#ifdef BROKEN_HOST_THREAD
    if (pthread_create(&in->thread, NULL, log_from_thread, in) != 0)
        return PMD_ERR_RESOURCE;
#endif
#ifdef BROKEN_TEARDOWN
    pthread_t t;
    if (!thread_left && pthread_create(&t, NULL, linger, NULL) == 0) {
        pthread_detach(t); /* the bug: never stopped */
        thread_left = 1;
    }
#endif
    in->state = LC_STARTED;
    say(in, "broken: started");
    return PMD_OK;
}

static int32_t b_tick(pmd_instance_t *in, uint64_t now_ns)
{
    (void)now_ns;
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
#ifdef BROKEN_LIFECYCLE
    if (in->state == LC_INITIALIZED)
        return PMD_OK; /* the bug */
#endif
    if (in->state != LC_STARTED || REENTERED(in))
        return PMD_ERR_STATE;
    in->ticks++;
#ifdef BROKEN_TICK_COST
    sleep_ms(5); /* the bug: blocks the host thread */
#endif
#ifdef BROKEN_TICK_MAX
    if (in->ticks % 150 == 0)
        sleep_ms(3); /* the bug: one tick in 150 blocks (p99 does not see it) */
#endif
    return PMD_OK;
}

static int32_t b_stop(pmd_instance_t *in)
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->state != LC_STARTED || REENTERED(in))
        return PMD_ERR_STATE;
#ifdef BROKEN_HOST_THREAD
    pthread_join(in->thread, NULL);
#endif
    end_work(in);
#ifdef BROKEN_STOP_BOUND
    if (in->ticks > 100)
        sleep_ms(2 * STOP_TIMEOUT_MS); /* the bug: twice the declared bound */
#endif
#ifdef BROKEN_STOP_BOUND_STATS
    if (in->ticks > 100)
        sleep_ms(200); /* the bug: within the descriptor's bound, not the instance's 50 ms */
#endif
    in->state = LC_STOPPED;
    say(in, "broken: stopped");
    return PMD_OK;
}

#ifdef BROKEN_HANDOVER_DELETE
/* One blocking DELETE to http://127.0.0.1:PORT (the checker's control plane),
 * waiting briefly for the answer. */
static void send_delete(const char *url)
{
    int port = 0;
    if (sscanf(url, "http://127.0.0.1:%d", &port) != 1)
        return;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct timeval tv = {0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char rq[] = "DELETE /v2/nodes/broken HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 0\r\n\r\n";
    char answer[256];
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        send(fd, rq, sizeof(rq) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(rq) - 1))
        (void)!recv(fd, answer, sizeof(answer), 0);
    close(fd);
}
#endif

static int32_t b_handover(pmd_instance_t *in, pmd_handover_t *out)
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->state != LC_STARTED || REENTERED(in))
        return PMD_ERR_STATE;
#ifdef BROKEN_HANDOVER_ARGS
    if (out == NULL)
        return PMD_ERR_INVALID_ARGUMENT; /* the bug: any struct_size accepted */
#else
    if (out == NULL || out->struct_size < PMD_HANDOVER_MIN_SIZE)
        return PMD_ERR_INVALID_ARGUMENT;
#endif
#ifdef BROKEN_HOST_THREAD
    pthread_join(in->thread, NULL);
#endif
    end_work(in);
#ifdef BROKEN_HANDOVER_DELETE
    send_delete(in->url); /* the bug: deregisters on handover */
#endif
#ifdef BROKEN_HANDOVER_STOP_BOUND
    sleep_ms(STOP_TIMEOUT_MS + 400); /* the bug: past the declared bound */
#endif
    pmd_handover_t h;
    memset(&h, 0, sizeof(h));
    h.struct_size = sizeof(h);
    snprintf(h.node_id, sizeof(h.node_id), "broken");
#ifdef BROKEN_HANDOVER_ARGS
    memcpy(out, &h, sizeof(h)); /* the bug: writes past a short struct */
#else
    size_t n = out->struct_size < sizeof(h) ? out->struct_size : sizeof(h);
    memcpy(out, &h, n);
    out->struct_size = (uint32_t)n;
#endif
    in->state = LC_STOPPED;
    in->in_call = 1;
    if (HOST(in)->state_changed != NULL)
        HOST(in)->state_changed(HOST(in)->host_data, PMD_NODE_STOPPED, "handed over");
    in->in_call = 0;
    return PMD_OK;
}

#ifndef BROKEN_HANDOVER_OFFERED
static int32_t b_start_handed_over(pmd_instance_t *in, const pmd_handover_t *h)
{
    if (in != NULL && (h == NULL || h->struct_size < PMD_HANDOVER_MIN_SIZE))
        return PMD_ERR_INVALID_ARGUMENT;
    return b_start(in);
}
#endif

#ifdef BROKEN_UNLOAD
static void *volatile leaked;
#endif

static void b_destroy(pmd_instance_t *in)
{
    if (in == NULL || in->in_call)
        return;
    if (in->state == LC_STARTED)
        b_stop(in);
#ifdef BROKEN_UNLOAD
    leaked = malloc(64 * 1024); /* the bug: 64 KiB lost per instance */
    if (leaked != NULL)
        memset(leaked, 1, 64 * 1024);
#endif
    free(in);
}

static const char *b_result_string(int32_t result)
{
#ifdef BROKEN_DESCRIPTOR
    if (result < 0 || result >= PMD_RESULT_COUNT)
        return NULL; /* the bug: must never be NULL */
#endif
    return pmd_result_name(result);
}

static const pmd_ext_conformance_t b_conformance = {sizeof(pmd_ext_conformance_t), 0,
                                                    "{\"url\": \"{{url}}\"}"};

#ifdef BROKEN_STOP_BOUND_STATS
/* pmd.ext.stats/1, correct but for the bound it states. */
static int32_t b_stats_get(pmd_instance_t *in, pmd_stats_t *out)
{
    if (in == NULL || out == NULL || out->struct_size < PMD_STATS_MIN_SIZE)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->in_call)
        return PMD_ERR_STATE;
    pmd_stats_t st;
    memset(&st, 0, sizeof(st));
    st.state = in->state == LC_STARTED ? PMD_NODE_REGISTERED : PMD_NODE_STOPPED;
    st.node_id = "broken";
    st.last_error = "";
    st.stop_timeout_ms = 50;
    uint32_t n = out->struct_size < sizeof(st) ? out->struct_size : (uint32_t)sizeof(st);
    memcpy(out, &st, n);
    out->struct_size = n;
    return PMD_OK;
}

static const pmd_ext_stats_t b_stats = {sizeof(pmd_ext_stats_t), 0, b_stats_get};
#endif

static const void *b_get_extension(const char *id)
{
#ifdef BROKEN_STOP_BOUND_STATS
    if (id != NULL && strcmp(id, PMD_EXT_STATS) == 0)
        return &b_stats;
#endif
    return id != NULL && strcmp(id, PMD_EXT_CONFORMANCE) == 0 ? &b_conformance : NULL;
}

static const pmd_plugin_t b_plugin = {
    .struct_size = sizeof(pmd_plugin_t),
    .abi_major = PMD_ABI_VERSION_MAJOR,
    .abi_minor = PMD_ABI_VERSION_MINOR,
    .name = "broken",
    .version = "0.0.0",
    .description = "a deliberately broken plugin for pmd-abi-check's tests",
    .stop_timeout_ms = STOP_TIMEOUT_MS,
    .init = b_init,
    .on_start = b_start,
    .on_tick = b_tick,
    .on_stop = b_stop,
    .on_handover = b_handover,
#ifndef BROKEN_HANDOVER_OFFERED
    .on_start_handed_over = b_start_handed_over, /* the bug when absent: half an offer */
#endif
    .destroy = b_destroy,
    .result_string = b_result_string,
    .get_extension = b_get_extension,
};

PMD_EXPORT int32_t pmd_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor,
                                    const pmd_plugin_t **out_plugin)
{
    (void)host_abi_minor;
    if (out_plugin == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
#ifdef BROKEN_NEGOTIATION
    if (host_abi_minor > PMD_ABI_VERSION_MINOR)
        return PMD_ERR_ABI_MAJOR; /* the bug: refuses a newer host of its own major */
#endif
    *out_plugin = &b_plugin;
#ifdef BROKEN_ABI_MAJOR
    (void)host_abi_major;
    return PMD_OK; /* the bug: claims to speak every major */
#else
    return host_abi_major == PMD_ABI_VERSION_MAJOR ? PMD_OK : PMD_ERR_ABI_MAJOR;
#endif
}
