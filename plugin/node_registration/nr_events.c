/*
 * nr_events.c - the growing ring of events for the host (see nr_events.h).
 */
#include "nr_events.h"

#include <stdlib.h>
#include <string.h>

int nr_events_init(nr_event_queue_t *q)
{
    memset(q, 0, sizeof(*q));
    q->slots = calloc(NR_EVENT_QUEUE_START, sizeof(*q->slots));
    q->capacity = q->slots != NULL ? NR_EVENT_QUEUE_START : 0;
    return q->slots != NULL ? 0 : -1;
}

void nr_events_free(nr_event_queue_t *q)
{
    free(q->slots);
    memset(q, 0, sizeof(*q));
}

static void set_count(nr_event_queue_t *q, size_t count)
{
    __atomic_store_n(&q->count, count, __ATOMIC_RELEASE);
}

/* Doubles the ring, unrolled into the new one (oldest at slot 0). */
static void grow(nr_event_queue_t *q)
{
    size_t cap = q->capacity * 2;
    nr_event_t *bigger = cap <= NR_EVENT_QUEUE ? malloc(cap * sizeof(*bigger)) : NULL;
    if (bigger == NULL)
        return;
    for (size_t i = 0; i < q->count; i++)
        bigger[i] = q->slots[(q->head + i) % q->capacity];
    free(q->slots);
    q->slots = bigger;
    q->head = 0;
    q->capacity = cap;
}

nr_event_t *nr_events_push(nr_event_queue_t *q)
{
    if (q->count == q->capacity)
        grow(q);
    if (q->count == q->capacity) { /* the host is not ticking: keep the newest */
        q->dropped++;
        q->head = (q->head + 1) % q->capacity;
        set_count(q, q->count - 1);
    }
    nr_event_t *e = &q->slots[(q->head + q->count) % q->capacity];
    set_count(q, q->count + 1);
    return e;
}

size_t nr_events_take(nr_event_queue_t *q, nr_event_t *out, size_t max)
{
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = q->slots[(q->head + i) % q->capacity];
    if (n > 0)
        q->head = (q->head + n) % q->capacity;
    set_count(q, q->count - n);
    return n;
}

size_t nr_events_pending(const nr_event_queue_t *q)
{
    return __atomic_load_n(&q->count, __ATOMIC_ACQUIRE);
}
