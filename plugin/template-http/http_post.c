/*
 * http_post.c - a template for a pmd plugin that does I/O: every second it POSTs seq=N to
 * the endpoint {"url": "http://host:port/path"} from a thread of its own, the way
 * plugin.abi.md sections 7 and 12 require. Keep the skeleton, change the request.
 */
#define _GNU_SOURCE 1 /* unshare, close_range, pthread_attr_setsigmask_np */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pmd_plugin.h" /* the one header of the ABI */
#define QUEUE_LEN 32    /* lines queued between two ticks; more are dropped */
#define LINE_LEN 200    /* one log line, NUL included; longer ones are cut */
#define STOP_MS 1000    /* our stop bound; the wake-up makes a stop take microseconds */
enum lifecycle { LC_INITIALIZED, LC_STARTED, LC_STOPPED };
struct line {
    int32_t level;
    char text[LINE_LEN];
}; /* a PMD_LOG_* level, a line without \n */
struct pmd_instance {
    pmd_host_t host;          /* our copy of the host struct, cut to the size we know */
    enum lifecycle lc;        /* checked on every call: a wrong state is PMD_ERR_STATE */
    int in_call;              /* inside an ABI call: re-entry from a callback is refused */
    char *url;                /* copied: the config text is not ours after init returns */
    pthread_t thread;         /* the network thread: created in on_start, joined in on_stop */
    int wake_fd;              /* eventfd: on_stop writes it and the thread's poll returns */
    atomic_int stopping;      /* set by on_stop before the wake-up */
    pthread_mutex_t lock;     /* guards the queue; never held across a host callback */
    unsigned count;           /* lines in the queue */
    struct line q[QUEUE_LEN]; /* the queue: the thread appends, on_tick empties it */
};

/* The one global mutable state section 12 allows: libcurl's init guard (see http_init). */
static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static int curl_ready; /* guarded by curl_lock; curl_global_cleanup is never called */

/* Network thread: queue a line for on_tick. It never calls the host itself. */
static void push(struct pmd_instance *in, int32_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&in->lock);
    if (in->count < QUEUE_LEN) { /* full: the host is not ticking; drop, never wait */
        in->q[in->count].level = level;
        vsnprintf(in->q[in->count++].text, LINE_LEN, fmt, ap);
    }
    pthread_mutex_unlock(&in->lock);
    va_end(ap);
}

/* Host thread (on_tick, on_stop): copy the queue out, then hand it to the host's log. */
static void drain(struct pmd_instance *in)
{
    struct line lines[QUEUE_LEN];
    pthread_mutex_lock(&in->lock); /* held for a copy of a few KiB: a tick never waits */
    unsigned n = in->count;
    memcpy(lines, in->q, n * sizeof(lines[0]));
    in->count = 0;
    pthread_mutex_unlock(&in->lock); /* the callbacks run without our lock */
    for (unsigned i = 0; i < n; i++)
        in->host.log(in->host.host_data, lines[i].level, lines[i].text);
}

static size_t discard_body(char *data, size_t size, size_t n, void *user)
{
    (void)data, (void)user; /* libcurl would write a response body to stdout: we drop it */
    return size * n;
}
static curl_socket_t open_cloexec(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)user, (void)purpose; /* our sockets are close-on-exec: the host may start children */
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Section 12, "Private descriptor tables": libcurl 7.88's own socket pairs cannot be
 * made close-on-exec, so this thread takes a table of its own, keeping the wake-up fd. */
static int private_fd_table(int keep)
{
    if (unshare(CLONE_FILES) != 0) /* needs no privilege; a seccomp filter may refuse it */
        return -1;
    if (keep > 3) /* close the copies of the host's descriptors, all but keep */
        close_range(3, (unsigned)keep - 1, 0);
    close_range(keep < 3 ? 3 : (unsigned)keep + 1, ~0U, 0);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd <= 2 && null_fd >= 0; fd++) /* a stray library write goes nowhere */
        if (fd != keep)
            dup3(null_fd, fd, O_CLOEXEC);
    if (null_fd > 2)
        close(null_fd);
    return 0;
}

/* The network thread: every descriptor it opens is opened, used and closed here. */
static void *network_thread(void *arg)
{
    struct pmd_instance *in = arg;
    struct curl_waitfd wake = {.fd = in->wake_fd, .events = CURL_WAIT_POLLIN}; /* stop */
    if (private_fd_table(in->wake_fd) != 0)
        push(in, PMD_LOG_WARN, "http_post: event=fds_shared (unshare refused)");
    CURLM *multi = curl_multi_init();
    CURL *easy = curl_easy_init();
    if (multi == NULL || easy == NULL) /* then the loop below does not run */
        push(in, PMD_LOG_ERROR, "http_post: libcurl could not create its handles");
    curl_easy_setopt(easy, CURLOPT_URL, in->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM, no signal handlers */
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body); /* nothing on stdout */
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 1000L); /* a POST gets 1 s: a silent server */
    curl_easy_setopt(easy, CURLOPT_FAILONERROR, 1L);   /* an HTTP status >= 400 is an error */
    for (unsigned long long seq = 1; multi && easy && !atomic_load(&in->stopping); seq++) {
        char body[32]; /* a form; for JSON set CURLOPT_HTTPHEADER "Content-Type: ..." */
        snprintf(body, sizeof(body), "seq=%llu", seq);
        curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body); /* a POST of this body */
        curl_multi_add_handle(multi, easy);
        int running = 1, left;
        while (running && !atomic_load(&in->stopping)) { /* the transfer, stoppable */
            curl_multi_perform(multi, &running);
            if (running) /* until libcurl has work, or the wake-up */
                curl_multi_poll(multi, &wake, 1, 1000, NULL);
        }
        CURLMsg *msg = curl_multi_info_read(multi, &left); /* NULL when stop cut it short */
        if (msg != NULL) /* posted (DEBUG), or why not in libcurl's words (WARN) */
            push(in, msg->data.result ? PMD_LOG_WARN : PMD_LOG_DEBUG, "http_post: seq=%llu: %s",
                 seq, msg->data.result ? curl_easy_strerror(msg->data.result) : "posted");
        curl_multi_remove_handle(multi, easy); /* ready for the next round */
        if (!atomic_load(&in->stopping))       /* 1 s until the next POST, or the wake-up */
            curl_multi_poll(multi, &wake, 1, 1000, NULL);
    }
    curl_easy_cleanup(easy); /* closes this thread's sockets, on this thread */
    curl_multi_cleanup(multi);
    return NULL;
}

static int32_t enter(pmd_instance_t *in, enum lifecycle want) /* every instance call... */
{
    if (in == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    if (in->in_call || in->lc != want) /* re-entry from a callback, or the wrong state */
        return PMD_ERR_STATE;          /* and nothing changes */
    return in->in_call = 1, PMD_OK;
}
static int32_t leave(pmd_instance_t *in, int32_t rc) /* ...and every one ends here */
{
    return in->in_call = 0, rc;
}
static int32_t http_start(pmd_instance_t *in)
{
    int32_t rc = enter(in, LC_INITIALIZED);
    if (rc != PMD_OK)
        return rc;
    in->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); /* the wake-up, close-on-exec */
    sigset_t all;
    sigfillset(&all);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setsigmask_np(&attr, &all); /* born with every signal blocked */
    int bad = in->wake_fd < 0 || pthread_create(&in->thread, &attr, network_thread, in) != 0;
    pthread_attr_destroy(&attr);
    if (bad && in->wake_fd >= 0)
        close(in->wake_fd);
    if (bad)
        return leave(in, PMD_ERR_RESOURCE); /* nothing started, nothing left behind */
    in->lc = LC_STARTED;
    in->host.log(in->host.host_data, PMD_LOG_INFO, "http_post: started");
    return leave(in, PMD_OK);
}
static int32_t http_tick(pmd_instance_t *in, uint64_t now_ns __attribute__((unused)))
{
    int32_t rc = enter(in, LC_STARTED);
    if (rc != PMD_OK)
        return rc;
    drain(in); /* never blocks: the thread holds the lock only to append one line */
    return leave(in, PMD_OK);
}
static int32_t http_stop(pmd_instance_t *in)
{
    int32_t rc = enter(in, LC_STARTED);
    if (rc != PMD_OK)
        return rc;
    atomic_store(&in->stopping, 1);
    eventfd_write(in->wake_fd, 1);  /* the thread's poll returns now (a first write of 1 works) */
    pthread_join(in->thread, NULL); /* well within STOP_MS: a transfer in flight is dropped */
    close(in->wake_fd);
    in->lc = LC_STOPPED;
    drain(in);                          /* the thread's last lines */
    if (in->host.state_changed != NULL) /* an optional callback: may be NULL */
        in->host.state_changed(in->host.host_data, PMD_NODE_STOPPED, "stopped");
    return leave(in, PMD_OK);
}
static void http_destroy(pmd_instance_t *in)
{
    if (in == NULL || in->in_call) /* destroy from inside a callback: refused */
        return;
    if (in->lc == LC_STARTED)
        http_stop(in); /* the thread is joined before its memory goes */
    pthread_mutex_destroy(&in->lock);
    free(in->url);
    free(in);
}
static int32_t fail(char *error, uint32_t size, int32_t rc, const char *msg)
{
    if (error != NULL && size > 0) /* an error buffer of size 0 is never written */
        snprintf(error, size, "%s", msg);
    return rc;
}
/* {"url": "http://..." or "https://..."}: nothing else; an unknown key is named. */
static int32_t parse_config(struct pmd_instance *in, const char *text, char *err, uint32_t size)
{
    json_object *root = text != NULL ? json_tokener_parse(text) : NULL, *url = NULL;
    char msg[96] = "config: expected {\"url\": \"http://...\" or \"https://...\"}";
    int unknown = 0;
    if (json_object_is_type(root, json_type_object)) { /* NULL is not an object */
        json_object_object_foreach(root, key, value) if (strcmp(key, "url") == 0) url = value;
        else if (!unknown++) snprintf(msg, sizeof(msg), "config: unknown key \"%.64s\"", key);
    }
    const char *s = json_object_get_string(url); /* NULL when url is NULL */
    int32_t rc = PMD_OK;
    if (unknown || !json_object_is_type(url, json_type_string) ||
        (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
        rc = fail(err, size, PMD_ERR_CONFIG, msg);
    else if ((in->url = strdup(s)) == NULL) /* our own copy */
        rc = fail(err, size, PMD_ERR_NO_MEMORY, "init: out of memory");
    json_object_put(root); /* the config text and its tree are not ours after init */
    return rc;
}

static int32_t http_init(const pmd_host_t *host, const char *config, pmd_instance_t **out,
                         char *error, uint32_t error_size)
{
    if (out != NULL)
        *out = NULL;
    if (host == NULL || out == NULL || host->struct_size < PMD_HOST_SIZE_1_0 || !host->log)
        return fail(error, error_size, PMD_ERR_INVALID_ARGUMENT, "init: bad arguments");
    if (host->abi_major != PMD_ABI_VERSION_MAJOR)
        return fail(error, error_size, PMD_ERR_ABI_MAJOR, "init: another ABI major");
    pthread_mutex_lock(&curl_lock); /* once per loaded copy: not thread-safe everywhere */
    if (!curl_ready)
        curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    int curl_ok = curl_ready;
    pthread_mutex_unlock(&curl_lock);
    if (!curl_ok)
        return fail(error, error_size, PMD_ERR_RESOURCE, "init: curl_global_init failed");
    struct pmd_instance *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return fail(error, error_size, PMD_ERR_NO_MEMORY, "init: out of memory");
    size_t n = host->struct_size < sizeof(in->host) ? host->struct_size : sizeof(in->host);
    memcpy(&in->host, host, n); /* fields past the host's struct_size stay zero (NULL) */
    in->host.struct_size = (uint32_t)n;
    pthread_mutex_init(&in->lock, NULL);
    int32_t rc = parse_config(in, config, error, error_size);
    if (rc != PMD_OK)
        http_destroy(in); /* a refused init leaves nothing behind and made no callback */
    else
        *out = in;
    return rc;
}
/* pmd-abi-check runs us against its own control plane: it replaces {{url}}. */
static const pmd_ext_conformance_t conformance = {sizeof(pmd_ext_conformance_t), 0,
                                                  "{\"url\": \"{{url}}/template-http\"}"};
static const void *http_get_extension(const char *id)
{
    return id != NULL && strcmp(id, PMD_EXT_CONFORMANCE) == 0 ? &conformance : NULL;
}

static const pmd_plugin_t plugin = {
    .struct_size = sizeof(pmd_plugin_t), /* this header's size: ABI 1.2 */
    .abi_major = PMD_ABI_VERSION_MAJOR,
    .abi_minor = PMD_ABI_VERSION_MINOR,
    .name = "http_post",
    .version = "0.1.0", /* static strings: the host keeps the pointers */
    .description = "Template: POSTs to an HTTP endpoint",
    .stop_timeout_ms = STOP_MS,
    .init = http_init,
    .on_start = http_start,
    .on_tick = http_tick,
    .on_stop = http_stop,
    .destroy = http_destroy,
    .result_string = pmd_result_name,
    .get_extension = http_get_extension, /* handover (1.2) not offered: members stay NULL */
};

/* The one exported symbol (the version script hides everything else). */
PMD_EXPORT int32_t pmd_plugin_entry(uint32_t host_major, uint32_t host_minor,
                                    const pmd_plugin_t **out)
{
    (void)host_minor; /* one descriptor serves every minor of our major */
    if (out == NULL)
        return PMD_ERR_INVALID_ARGUMENT;
    *out = &plugin;
    return host_major == PMD_ABI_VERSION_MAJOR ? PMD_OK : PMD_ERR_ABI_MAJOR;
}
