/*
 * nr_timerheap.c - intrusive binary min-heap (see nr_timerheap.h).
 */
#include "nr_timerheap.h"

#include <stdlib.h>

void nr_heap_entry_init(nr_heap_entry_t *e)
{
    e->due_ns = 0;
    e->slot = NR_HEAP_NONE;
}

void nr_timerheap_init(nr_timerheap_t *h)
{
    h->items = NULL;
    h->count = h->capacity = 0;
}

void nr_timerheap_free(nr_timerheap_t *h)
{
    for (size_t i = 0; i < h->count; i++)
        h->items[i]->slot = NR_HEAP_NONE;
    free(h->items);
    nr_timerheap_init(h);
}

static void place(nr_timerheap_t *h, size_t slot, nr_heap_entry_t *e)
{
    h->items[slot] = e;
    e->slot = slot;
}

static void sift_up(nr_timerheap_t *h, size_t slot)
{
    nr_heap_entry_t *e = h->items[slot];
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;
        if (h->items[parent]->due_ns <= e->due_ns)
            break;
        place(h, slot, h->items[parent]);
        slot = parent;
    }
    place(h, slot, e);
}

static void sift_down(nr_timerheap_t *h, size_t slot)
{
    nr_heap_entry_t *e = h->items[slot];
    for (;;) {
        size_t child = 2 * slot + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->due_ns < h->items[child]->due_ns)
            child++;
        if (e->due_ns <= h->items[child]->due_ns)
            break;
        place(h, slot, h->items[child]);
        slot = child;
    }
    place(h, slot, e);
}

static int grow(nr_timerheap_t *h)
{
    size_t cap = h->capacity ? h->capacity * 2 : 16;
    nr_heap_entry_t **items = realloc(h->items, cap * sizeof(*items));
    if (items == NULL)
        return -1;
    h->items = items;
    h->capacity = cap;
    return 0;
}

int nr_timerheap_set(nr_timerheap_t *h, nr_heap_entry_t *e, uint64_t due_ns)
{
    if (e->slot != NR_HEAP_NONE) {
        uint64_t was = e->due_ns;
        e->due_ns = due_ns;
        if (due_ns < was)
            sift_up(h, e->slot);
        else
            sift_down(h, e->slot);
        return 0;
    }
    if (h->count == h->capacity && grow(h) != 0)
        return -1;
    e->due_ns = due_ns;
    place(h, h->count++, e);
    sift_up(h, e->slot);
    return 0;
}

void nr_timerheap_remove(nr_timerheap_t *h, nr_heap_entry_t *e)
{
    size_t slot = e->slot;
    if (slot == NR_HEAP_NONE || slot >= h->count || h->items[slot] != e)
        return;
    e->slot = NR_HEAP_NONE;
    nr_heap_entry_t *last = h->items[--h->count];
    if (slot == h->count)
        return;
    place(h, slot, last);
    sift_up(h, slot);
    sift_down(h, last->slot);
}

nr_heap_entry_t *nr_timerheap_peek(const nr_timerheap_t *h)
{
    return h->count ? h->items[0] : NULL;
}

nr_heap_entry_t *nr_timerheap_pop(nr_timerheap_t *h)
{
    nr_heap_entry_t *top = nr_timerheap_peek(h);
    if (top != NULL)
        nr_timerheap_remove(h, top);
    return top;
}
