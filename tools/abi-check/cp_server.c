/*
 * cp_server.c - the checker's own control plane: a loopback HTTP/1.1
 * listener on one thread that journals every request (method, path, arrival
 * time) and either answers each with 200 "{}" and closes the connection, or
 * accepts and reads but never answers (a hung control plane), or answers
 * with a body a plugin must not print: 200 with a body, 500 with a body,
 * the same body sent 32 bytes every 20 ms, or a 307 redirect with a body.
 *
 * The handover checks point a plugin at it through the conformance
 * template's {{url}} and read the journal: which requests came, and when.
 * It understands just enough HTTP to find the end of a request (headers and
 * Content-Length); anything else it reads and ignores.
 */
#include "abi_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CP_MAX_CONN 64
#define CP_MAX_REQ 512
#define CP_BUF 16384

typedef struct cp_conn {
    int fd;
    size_t used;
    int answered; /* hang mode: the request was journaled, keep reading */
    char buf[CP_BUF];
    const char *out; /* slow mode: what is still to send, a piece at a time */
    size_t out_left;
    uint64_t out_next_ns;
} cp_conn_t;

struct ac_cp {
    int mode;
    int listen_fd;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t lock;
    int nreq;
    ac_cp_request_t req[CP_MAX_REQ];
    cp_conn_t conn[CP_MAX_CONN];
};

/* Content-Length of the request whose head is buf[0, head_len); 0 if none. */
static size_t content_length(const char *buf, size_t head_len)
{
    size_t body = 0;
    const char *p = buf;
    while ((p = strstr(p, "\r\n")) != NULL && p < buf + head_len) {
        p += 2;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            body = strtoul(p + 15, NULL, 10);
    }
    return body;
}

static void journal(ac_cp_t *cp, const char *buf)
{
    ac_cp_request_t r;
    memset(&r, 0, sizeof(r));
    r.t_ns = ac_now_ns();
    if (sscanf(buf, "%15s %255s", r.method, r.path) < 1)
        snprintf(r.method, sizeof(r.method), "?");
    pthread_mutex_lock(&cp->lock);
    if (cp->nreq < CP_MAX_REQ)
        cp->req[cp->nreq++] = r;
    pthread_mutex_unlock(&cp->lock);
}

static void drop(cp_conn_t *c)
{
    close(c->fd);
    c->fd = -1;
    c->used = 0;
    c->answered = 0;
    c->out = NULL;
    c->out_left = 0;
}

/* A body long enough to fill a terminal, marked so a report names it. */
#define CP_BODY_TEXT                                                                               \
    "{\"pmd_abi_check\": \"a control-plane body that must never reach stdout or stderr\", "        \
    "\"pad\": \"................................................................"                  \
    "................................................................\"}"

static void send_all(cp_conn_t *c, const char *text)
{
    (void)!send(c->fd, text, strlen(text), MSG_NOSIGNAL);
}

/* The answer of the modes with bodies; 0 when the connection is done. */
static int answer(ac_cp_t *cp, cp_conn_t *c)
{
    static char body_answer[1024], error_answer[1024], redirect_answer[1024];
    static const char body[] = CP_BODY_TEXT;
    if (body_answer[0] == '\0') {
        snprintf(body_answer, sizeof(body_answer),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n%s",
                 sizeof(body) - 1, body);
        snprintf(error_answer, sizeof(error_answer),
                 "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 sizeof(body) - 1, body);
        snprintf(redirect_answer, sizeof(redirect_answer),
                 "HTTP/1.1 307 Temporary Redirect\r\nLocation: /redirected\r\n"
                 "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 sizeof(body) - 1, body);
    }
    switch (cp->mode) {
    case AC_CP_ERROR: send_all(c, error_answer); return 0;
    case AC_CP_BODY: send_all(c, body_answer); return 0;
    case AC_CP_REDIRECT:
        send_all(c, strncmp(c->buf + strcspn(c->buf, " ") + 1, "/redirected", 11) == 0
                        ? body_answer
                        : redirect_answer);
        return 0;
    case AC_CP_SLOW:
        c->out = body_answer;
        c->out_left = strlen(body_answer);
        c->out_next_ns = 0;
        return 1;
    default: break;
    }
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    send_all(c, ok);
    return 0;
}

/* Slow mode: 32 bytes every 20 ms; 0 when the answer is complete. */
static int dribble(cp_conn_t *c)
{
    uint64_t now = ac_now_ns();
    if (now < c->out_next_ns)
        return 1;
    size_t n = c->out_left < 32 ? c->out_left : 32;
    if (send(c->fd, c->out, n, MSG_NOSIGNAL) <= 0)
        return 0;
    c->out += n;
    c->out_left -= n;
    c->out_next_ns = now + 20000000ull;
    return c->out_left > 0;
}

/* Reads what arrived; journals and answers each complete request. */
static void serve(ac_cp_t *cp, cp_conn_t *c)
{
    if (c->out != NULL) { /* slow answer in progress: read and ignore */
        char sink[512];
        if (recv(c->fd, sink, sizeof(sink), 0) <= 0)
            drop(c);
        return;
    }
    if (c->answered || c->used >= sizeof(c->buf) - 1)
        c->used = 0; /* hung, or oversized: what follows is not journaled */
    ssize_t k = recv(c->fd, c->buf + c->used, sizeof(c->buf) - 1 - c->used, 0);
    if (k <= 0) {
        drop(c);
        return;
    }
    c->used += (size_t)k;
    c->buf[c->used] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL || c->answered)
        return;
    size_t head = (size_t)(end - c->buf) + 4, body = content_length(c->buf, head);
    if (cp->mode == AC_CP_HANG) {
        journal(cp, c->buf);
        c->answered = 1; /* read on, answer never */
        return;
    }
    if (c->used < head + body && head + body < sizeof(c->buf))
        return; /* the rest of the body is still to come */
    journal(cp, c->buf);
    if (answer(cp, c) == 0)
        drop(c);
    else
        c->answered = 1; /* slow: the rest goes out from cp_main */
}

static void accept_one(ac_cp_t *cp)
{
    int fd = accept4(cp->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < CP_MAX_CONN; i++)
        if (cp->conn[i].fd < 0) {
            cp->conn[i].fd = fd;
            cp->conn[i].used = 0;
            cp->conn[i].answered = 0;
            return;
        }
    close(fd); /* full: the plugin sees a reset */
}

static void *cp_main(void *arg)
{
    ac_cp_t *cp = arg;
    for (;;) {
        int slow = 0;
        for (int i = 0; i < CP_MAX_CONN; i++)
            if (cp->conn[i].fd >= 0 && cp->conn[i].out != NULL && dribble(&cp->conn[i]) == 0)
                drop(&cp->conn[i]);
            else if (cp->conn[i].fd >= 0 && cp->conn[i].out != NULL)
                slow = 1;
        struct pollfd pfd[CP_MAX_CONN + 2];
        int map[CP_MAX_CONN + 2], n = 0;
        pfd[n] = (struct pollfd){cp->wake[0], POLLIN, 0};
        map[n++] = -2;
        pfd[n] = (struct pollfd){cp->listen_fd, POLLIN, 0};
        map[n++] = -1;
        for (int i = 0; i < CP_MAX_CONN; i++)
            if (cp->conn[i].fd >= 0) {
                pfd[n] = (struct pollfd){cp->conn[i].fd, POLLIN, 0};
                map[n++] = i;
            }
        if (poll(pfd, (nfds_t)n, slow ? 5 : -1) < 0 && errno != EINTR)
            return NULL;
        if (pfd[0].revents != 0)
            return NULL;
        for (int j = 1; j < n; j++) {
            if (pfd[j].revents == 0)
                continue;
            if (map[j] == -1)
                accept_one(cp);
            else
                serve(cp, &cp->conn[map[j]]);
        }
    }
}

ac_cp_t *ac_cp_start(int mode, char *url, size_t size)
{
    ac_cp_t *cp = calloc(1, sizeof(*cp));
    if (cp == NULL)
        return NULL;
    cp->mode = mode;
    for (int i = 0; i < CP_MAX_CONN; i++)
        cp->conn[i].fd = -1;
    pthread_mutex_init(&cp->lock, NULL);
    cp->listen_fd = ac_blackhole_open(url, size);
    if (cp->listen_fd < 0 || pipe2(cp->wake, O_CLOEXEC) != 0)
        goto fail;
    if (pthread_create(&cp->thread, NULL, cp_main, cp) != 0) {
        close(cp->wake[0]);
        close(cp->wake[1]);
        goto fail;
    }
    return cp;
fail:
    if (cp->listen_fd >= 0)
        close(cp->listen_fd);
    pthread_mutex_destroy(&cp->lock);
    free(cp);
    return NULL;
}

void ac_cp_stop(ac_cp_t *cp)
{
    if (cp == NULL)
        return;
    (void)!write(cp->wake[1], "x", 1);
    pthread_join(cp->thread, NULL);
    for (int i = 0; i < CP_MAX_CONN; i++)
        if (cp->conn[i].fd >= 0)
            close(cp->conn[i].fd);
    close(cp->listen_fd);
    close(cp->wake[0]);
    close(cp->wake[1]);
    pthread_mutex_destroy(&cp->lock);
    free(cp);
}

int ac_cp_count(ac_cp_t *cp)
{
    pthread_mutex_lock(&cp->lock);
    int n = cp->nreq;
    pthread_mutex_unlock(&cp->lock);
    return n;
}

int ac_cp_get(ac_cp_t *cp, int i, ac_cp_request_t *out)
{
    pthread_mutex_lock(&cp->lock);
    int ok = i >= 0 && i < cp->nreq;
    if (ok)
        *out = cp->req[i];
    pthread_mutex_unlock(&cp->lock);
    return ok ? 0 : -1;
}

int ac_cp_find(ac_cp_t *cp, const char *method, int from, int to, ac_cp_request_t *out)
{
    ac_cp_request_t r;
    for (int i = from; i < to && ac_cp_get(cp, i, &r) == 0; i++)
        if (strcmp(r.method, method) == 0) {
            if (out != NULL)
                *out = r;
            return i;
        }
    return -1;
}
