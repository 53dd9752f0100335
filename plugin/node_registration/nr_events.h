/*
 * nr_events.h - what a node's network side has to tell the host: log events
 * and state changes, queued until the host thread takes them on its next
 * tick (host callbacks may only run there).
 *
 * A ring that starts at NR_EVENT_QUEUE_START slots and doubles up to
 * NR_EVENT_QUEUE: a host that ticks keeps it at a few events, and a node's
 * memory is what a process running 10,000 nodes multiplies (256 slots of
 * half a KiB each, allocated for every node, would be 1.2 GiB there). When
 * it is full (the host stopped ticking) the oldest event is dropped and
 * counted: lines are lost, never memory.
 *
 * Pure data structure: the caller locks. Only nr_events_pending may be called
 * without the lock (an atomic read: the tick's fast path when nothing is
 * queued); every change of the count is an atomic store for it.
 */
#ifndef NR_EVENTS_H
#define NR_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "nr_log.h"

#define NR_EVENT_TEXT 320
#define NR_EVENT_QUEUE 256
#define NR_EVENT_QUEUE_START 4

/* A queued event: a log event kept as data (nr_log.h: the plugin sends it
 * as fields or as its text line at delivery, the node id added then), or a
 * state change with its detail. */
typedef struct nr_event {
    int is_state; /* 1 = state change (code = pmd_node_state), 0 = log (code = level) */
    int32_t code;
    union {
        nr_log_record_t log;      /* is_state == 0 */
        char text[NR_EVENT_TEXT]; /* is_state == 1: the detail */
    } u;
} nr_event_t;

typedef struct nr_event_queue {
    size_t count; /* first: read without the lock by nr_events_pending */
    size_t head, capacity;
    nr_event_t *slots;
    uint64_t dropped; /* events dropped because the queue was full */
} nr_event_queue_t;

/* 0, or -1 when out of memory. */
int nr_events_init(nr_event_queue_t *q);
void nr_events_free(nr_event_queue_t *q);

/* The slot for a new event, after the ones queued (growing the ring, or
 * dropping the oldest event when it cannot grow). Never NULL. */
nr_event_t *nr_events_push(nr_event_queue_t *q);

/* Copies out up to max events, oldest first, and removes them. */
size_t nr_events_take(nr_event_queue_t *q, nr_event_t *out, size_t max);

/* How many are queued; no lock needed (may be stale by the time it returns). */
size_t nr_events_pending(const nr_event_queue_t *q);

#endif /* NR_EVENTS_H */
