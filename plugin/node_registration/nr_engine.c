/*
 * nr_engine.c - the shared network thread (see nr_engine.h).
 *
 * One turn of the loop: call back the clients the host poked, then those
 * whose timers are due, then let libcurl act on its own timeout; sleep in
 * epoll_wait until the next deadline, a socket event or a poke (eventfd);
 * hand socket events to libcurl (curl_multi_socket_action) and call back
 * the clients whose transfers ended. libcurl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to call it next
 * (CURLMOPT_TIMERFUNCTION), so a turn costs O(events), not O(clients).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "nr_fdtable.h"
#include "nr_transport.h"

#define NR_ENGINE_STACK (512u * 1024u)
#define NR_ENGINE_EVENTS 64
#define NR_ENGINE_MAX_SLEEP_MS 60000u
/* Descriptors of the engine's table that are not a client's connection:
 * stdio, epoll, eventfd, libcurl's wake-up pair, a few resolver pairs. */
#define NR_ENGINE_FD_RESERVE 16u
#define NR_NEVER UINT64_MAX

typedef struct nr_engine {
    pthread_t thread;
    int wake_fd; /* eventfd, the one descriptor in the host's table */
    /* --- under lock --- */
    pthread_mutex_t lock;
    pthread_cond_t started_cv;
    int started; /* 0 starting, 1 running, -1 failed */
    int exit_requested;
    nr_engine_client_t *poked_head, *poked_tail;
    size_t poked_count;
    /* --- engine thread only --- */
    int epfd;
    int fds_private;
    CURLM *multi;
    uint64_t curl_due_ns;
    nr_timerheap_t timers;
} nr_engine_t;

/* The process's engine: made by the first join, ended by the last leave. */
static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static nr_engine_t *current;
static size_t clients;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static nr_engine_client_t *client_of(nr_heap_entry_t *e)
{
    return (nr_engine_client_t *)((char *)e - offsetof(nr_engine_client_t, timer));
}

/* ---------------------------------------------------------------------- */
/* libcurl's socket and timer callbacks                                    */
/* ---------------------------------------------------------------------- */

/* libcurl says which sockets to watch for what. A socket it has not told us
 * of before (socketp NULL: libcurl forgets the mark on REMOVE) is added, and
 * marked with curl_multi_assign so that later changes are one MOD, not a
 * failed MOD and an ADD: a syscall per request at 1,000 requests a second. */
static int watch_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    nr_engine_t *e = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    int op = socketp != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(e->epfd, op, s, &ev) != 0)
        epoll_ctl(e->epfd, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
    if (socketp == NULL)
        curl_multi_assign(e->multi, s, e); /* any non-NULL mark */
    return 0;
}

static int set_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    nr_engine_t *e = userp;
    e->curl_due_ns = timeout_ms < 0 ? NR_NEVER : mono_ns() + (uint64_t)timeout_ms * 1000000u;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Calling clients back                                                    */
/* ---------------------------------------------------------------------- */

static void unlink_poked(nr_engine_t *e, nr_engine_client_t *c)
{
    nr_engine_client_t **p = &e->poked_head, *prev = NULL;
    while (*p != NULL && *p != c) {
        prev = *p;
        p = &(*p)->next_poked;
    }
    if (*p == NULL)
        return;
    *p = c->next_poked;
    if (e->poked_tail == c)
        e->poked_tail = prev;
    c->next_poked = NULL;
    c->poked = 0;
    e->poked_count--;
}

/* After a callback: a client that said it is finished is forgotten, then
 * its owner is told. */
static void release_if_finished(nr_engine_t *e, nr_engine_client_t *c, int finished)
{
    if (!finished)
        return;
    nr_timerheap_remove(&e->timers, &c->timer);
    pthread_mutex_lock(&e->lock);
    unlink_poked(e, c);
    pthread_mutex_unlock(&e->lock);
    c->on_released(c);
}

/* One at a time under the lock: the host may poke again meanwhile. At most
 * as many as were queued at the start, so a client that pokes itself cannot
 * hold the loop. */
static nr_engine_client_t *take_poked(nr_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    nr_engine_client_t *c = e->poked_head;
    if (c != NULL) {
        e->poked_head = c->next_poked;
        if (e->poked_head == NULL)
            e->poked_tail = NULL;
        c->next_poked = NULL;
        c->poked = 0;
        e->poked_count--;
    }
    pthread_mutex_unlock(&e->lock);
    return c;
}

static void run_poked(nr_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    size_t n = e->poked_count;
    pthread_mutex_unlock(&e->lock);
    nr_engine_client_t *c;
    while (n-- > 0 && (c = take_poked(e)) != NULL)
        release_if_finished(e, c, c->on_wake(c, mono_ns()));
}

/* Only what was due when the turn began (a client that asks to be woken
 * "now" again waits for the next turn). */
static void run_due_timers(nr_engine_t *e)
{
    uint64_t now = mono_ns();
    size_t n = e->timers.count;
    nr_heap_entry_t *top;
    while (n-- > 0 && (top = nr_timerheap_peek(&e->timers)) != NULL && top->due_ns <= now) {
        nr_engine_client_t *c = client_of(nr_timerheap_pop(&e->timers));
        release_if_finished(e, c, c->on_wake(c, now));
    }
}

static void run_finished_transfers(nr_engine_t *e)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        nr_engine_client_t *c = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c != NULL)
            release_if_finished(e, c, c->on_done(c, (int)rc, mono_ns()));
    }
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */
/* ---------------------------------------------------------------------- */

static int sleep_ms(nr_engine_t *e)
{
    uint64_t due = e->curl_due_ns, now = mono_ns();
    nr_heap_entry_t *top = nr_timerheap_peek(&e->timers);
    if (top != NULL && top->due_ns < due)
        due = top->due_ns;
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999999u) / 1000000u;
    return ms > NR_ENGINE_MAX_SLEEP_MS ? (int)NR_ENGINE_MAX_SLEEP_MS : (int)ms;
}

static void wait_for_events(nr_engine_t *e)
{
    struct epoll_event ev[NR_ENGINE_EVENTS];
    int running, n = epoll_wait(e->epfd, ev, NR_ENGINE_EVENTS, sleep_ms(e));
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == e->wake_fd) {
            eventfd_t drained;
            eventfd_read(e->wake_fd, &drained);
            continue;
        }
        int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(e->multi, ev[i].data.fd, mask, &running);
    }
}

static int exit_requested(nr_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    int stop = e->exit_requested;
    pthread_mutex_unlock(&e->lock);
    return stop;
}

static void run(nr_engine_t *e)
{
    while (!exit_requested(e)) {
        int running;
        run_poked(e);
        run_due_timers(e);
        if (e->curl_due_ns <= mono_ns()) {
            e->curl_due_ns = NR_NEVER;
            curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        run_finished_transfers(e);
        wait_for_events(e);
        run_finished_transfers(e);
    }
}

/* Makes what lives in the engine's own table; 0 on success. */
static int open_loop(nr_engine_t *e)
{
    e->fds_private = nr_fdtable_make_private(e->wake_fd) == 0;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->multi = curl_multi_init();
    if (e->epfd < 0 || e->multi == NULL)
        return -1;
    struct epoll_event ev = {0};
    ev.events = EPOLLIN;
    ev.data.fd = e->wake_fd;
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wake_fd, &ev) != 0)
        return -1;
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, set_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    /* The multi handle's own connection cache (the nodes have their own)
     * must not touch SIGPIPE when it is cleaned up either. */
    CURL *primer = curl_easy_init();
    if (primer == NULL)
        return -1;
    nr_transport_quiet_signals(e->multi, primer);
    curl_easy_cleanup(primer);
    return 0;
}

/* Closes what open_loop made; on the engine thread (its table). */
static void close_loop(nr_engine_t *e)
{
    if (e->multi != NULL)
        curl_multi_cleanup(e->multi);
    if (e->epfd >= 0)
        close(e->epfd);
    nr_timerheap_free(&e->timers);
}

static void announce(nr_engine_t *e, int started)
{
    pthread_mutex_lock(&e->lock);
    e->started = started;
    pthread_cond_broadcast(&e->started_cv);
    pthread_mutex_unlock(&e->lock);
}

static void *engine_main(void *arg)
{
    nr_engine_t *e = arg;
    if (open_loop(e) != 0) {
        close_loop(e);
        announce(e, -1);
        return NULL;
    }
    announce(e, 1);
    run(e);
    close_loop(e);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life of the engine (under life_lock)                                    */
/* ---------------------------------------------------------------------- */

static void engine_free(nr_engine_t *e)
{
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    pthread_cond_destroy(&e->started_cv);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static int spawn(nr_engine_t *e)
{
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, NR_ENGINE_STACK);
    /* A full signal mask, inherited by libcurl's resolver threads too: the
     * host's signals are never delivered on our threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&e->thread, &attr, engine_main, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&e->lock);
    while (e->started == 0)
        pthread_cond_wait(&e->started_cv, &e->lock);
    int started = e->started;
    pthread_mutex_unlock(&e->lock);
    if (started < 0)
        pthread_join(e->thread, NULL);
    return started < 0 ? -1 : 0;
}

static nr_engine_t *engine_start(char *err, size_t err_size)
{
    nr_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->started_cv, NULL);
    e->epfd = -1;
    e->curl_due_ns = NR_NEVER;
    nr_timerheap_init(&e->timers);
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->wake_fd < 0) {
        snprintf(err, err_size, "cannot create the network thread's eventfd: %s", strerror(errno));
    } else if (spawn(e) != 0) {
        snprintf(err, err_size,
                 "cannot start the network thread (thread, epoll or libcurl multi handle)");
    } else {
        return e;
    }
    engine_free(e);
    return NULL;
}

static void engine_end(nr_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    e->exit_requested = 1;
    pthread_mutex_unlock(&e->lock);
    eventfd_write(e->wake_fd, 1);
    pthread_join(e->thread, NULL);
    engine_free(e);
}

/* Every client holds one connection in the engine's table: refuse the one
 * that would not fit under RLIMIT_NOFILE, rather than let its requests fail
 * one by one with EMFILE. */
static int room_for_another(char *err, size_t err_size)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        clients + 1 + NR_ENGINE_FD_RESERVE <= rl.rlim_cur)
        return 1;
    snprintf(err, err_size,
             "descriptor limit: node %zu of this process needs a connection, and "
             "RLIMIT_NOFILE %llu leaves room for %llu (raise ulimit -n)",
             clients + 1, (unsigned long long)rl.rlim_cur,
             rl.rlim_cur > NR_ENGINE_FD_RESERVE
                 ? (unsigned long long)(rl.rlim_cur - NR_ENGINE_FD_RESERVE)
                 : 0ull);
    return 0;
}

int nr_engine_join(nr_engine_client_t *c, char *err, size_t err_size)
{
    pthread_mutex_lock(&life_lock);
    if (!room_for_another(err, err_size) ||
        (current == NULL && (current = engine_start(err, err_size)) == NULL)) {
        pthread_mutex_unlock(&life_lock);
        return -1;
    }
    clients++;
    c->engine = current;
    c->next_poked = NULL;
    c->poked = 0;
    nr_heap_entry_init(&c->timer);
    pthread_mutex_unlock(&life_lock);
    nr_engine_poke(c);
    return 0;
}

void nr_engine_poke(nr_engine_client_t *c)
{
    nr_engine_t *e = c->engine;
    pthread_mutex_lock(&e->lock);
    int first = !c->poked;
    if (first) {
        c->poked = 1;
        c->next_poked = NULL;
        if (e->poked_tail != NULL)
            e->poked_tail->next_poked = c;
        else
            e->poked_head = c;
        e->poked_tail = c;
        e->poked_count++;
    }
    pthread_mutex_unlock(&e->lock);
    if (first)
        eventfd_write(e->wake_fd, 1);
}

void nr_engine_leave(void)
{
    pthread_mutex_lock(&life_lock);
    if (clients > 0 && --clients == 0 && current != NULL) {
        engine_end(current);
        current = NULL;
    }
    pthread_mutex_unlock(&life_lock);
}

void nr_engine_wake_at(nr_engine_client_t *c, uint64_t at_ns)
{
    if (at_ns == NR_NEVER) {
        nr_timerheap_remove(&c->engine->timers, &c->timer);
        return;
    }
    /* Out of memory for the heap: the client is woken by the next turn. */
    if (nr_timerheap_set(&c->engine->timers, &c->timer, at_ns) != 0)
        nr_engine_poke(c);
}

void *nr_engine_multi(nr_engine_client_t *c)
{
    return c->engine->multi;
}

int nr_engine_fds_private(nr_engine_client_t *c)
{
    return c->engine->fds_private;
}
