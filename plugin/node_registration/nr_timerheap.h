/*
 * nr_timerheap.h - a binary min-heap of deadlines, for the shared network
 * thread (nr_engine.c): with thousands of nodes in one process, finding the
 * next node due must not scan them all. Each entry lives inside its owner
 * (intrusive: no allocation per entry) and knows its slot, so that moving or
 * removing a deadline is O(log n). Pure: no clock, no locks; one thread.
 */
#ifndef NR_TIMERHEAP_H
#define NR_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#define NR_HEAP_NONE SIZE_MAX /* an entry's slot when it is not in a heap */

typedef struct nr_heap_entry {
    uint64_t due_ns;
    size_t slot; /* NR_HEAP_NONE when not queued */
} nr_heap_entry_t;

typedef struct nr_timerheap {
    nr_heap_entry_t **items;
    size_t count, capacity;
} nr_timerheap_t;

/* An entry not in any heap (call once before first use). */
void nr_heap_entry_init(nr_heap_entry_t *e);

void nr_timerheap_init(nr_timerheap_t *h);
void nr_timerheap_free(nr_timerheap_t *h); /* the entries stay their owners' */

/* Queues e at due_ns, or moves it there if queued. -1 when out of memory
 * (e is then not queued). */
int nr_timerheap_set(nr_timerheap_t *h, nr_heap_entry_t *e, uint64_t due_ns);

/* Takes e out; nothing when it is not queued. */
void nr_timerheap_remove(nr_timerheap_t *h, nr_heap_entry_t *e);

/* The earliest entry, or NULL when empty; pop takes it out. */
nr_heap_entry_t *nr_timerheap_peek(const nr_timerheap_t *h);
nr_heap_entry_t *nr_timerheap_pop(nr_timerheap_t *h);

#endif /* NR_TIMERHEAP_H */
