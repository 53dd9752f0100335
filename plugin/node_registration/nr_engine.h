/*
 * nr_engine.h - the one network thread of a process, shared by every
 * started node_registration instance in it.
 *
 * A host may run thousands of instances (pmd-fleet runs 10,000): a thread
 * each cost a task, a stack, a private descriptor table and a wake-up per
 * request. The engine is one thread with one epoll set and one libcurl multi
 * handle (socket interface), created when the first instance starts and
 * joined when the last one stops, so no thread of ours outlives the last
 * stop. Each instance ("client") keeps its own easy handle, connection,
 * token, state machine and deadlines; the engine only multiplexes: it calls
 * a client back when the client's timer is due, when the host poked it, or
 * when its transfer ended. Nothing a client does on the engine thread may
 * block (no host callback ever runs here), so one client never delays
 * another: each client's stop stays bounded by its own budget.
 *
 * The thread runs in a descriptor table of its own (nr_fdtable.h): every
 * socket of every instance lives there, never in the table the host forks.
 * The one descriptor in the host's table is the engine's wake-up eventfd.
 */
#ifndef NR_ENGINE_H
#define NR_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "nr_timerheap.h"

typedef struct nr_engine_client nr_engine_client_t;

/* Engine thread. Return 1 when the client is finished: the engine then lets
 * go of it (no timer, no transfer may be left) and calls on_released. */
typedef int (*nr_engine_wake_fn)(nr_engine_client_t *c, uint64_t now_ns);
typedef int (*nr_engine_done_fn)(nr_engine_client_t *c, int curl_result, uint64_t now_ns);
/* Engine thread: the engine's last touch of c; the host may free c after. */
typedef void (*nr_engine_released_fn)(nr_engine_client_t *c);

struct nr_engine_client {
    nr_engine_wake_fn on_wake;         /* timer due, or poked */
    nr_engine_done_fn on_done;         /* the transfer it began ended */
    nr_engine_released_fn on_released; /* after on_wake/on_done returned 1 */
    /* --- the engine's --- */
    struct nr_engine *engine;
    nr_heap_entry_t timer;
    nr_engine_client_t *next_poked;
    int poked;
};

/* Host thread: adds c (its three callbacks set) to the process's engine,
 * starting the engine's thread if this is the first client; c->on_wake is
 * then called on the engine thread at once. -1 with a reason in err when
 * the thread cannot be made or the engine's descriptor table has no room
 * for another connection (RLIMIT_NOFILE). */
int nr_engine_join(nr_engine_client_t *c, char *err, size_t err_size);

/* Any thread, between join and release: c->on_wake soon, on the engine
 * thread (coalesced: several pokes before it runs make one call). */
void nr_engine_poke(nr_engine_client_t *c);

/* Host thread, after c was released: drops the client's reference; the last
 * one ends and joins the engine's thread. */
void nr_engine_leave(void);

/* Engine thread only. */
void nr_engine_wake_at(nr_engine_client_t *c, uint64_t at_ns); /* replaces its timer */
void *nr_engine_multi(nr_engine_client_t *c);                  /* the CURLM handle */
int nr_engine_fds_private(nr_engine_client_t *c); /* 0: unshare refused, host's table */

#endif /* NR_ENGINE_H */
