/* Unit tests of nr_events.c: order, growth from 4 to 256 slots across a
 * wrapped ring, dropping the oldest when full, the unlocked count. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "nr_events.h"

static void push_code(nr_event_queue_t *q, int32_t code)
{
    nr_event_t *e = nr_events_push(q);
    e->is_state = 1;
    e->code = code;
    snprintf(e->u.text, sizeof(e->u.text), "event %d", code);
}

Test(events, starts_small_and_takes_in_order)
{
    nr_event_queue_t q;
    cr_assert_eq(nr_events_init(&q), 0);
    cr_assert_eq(q.capacity, NR_EVENT_QUEUE_START);
    for (int i = 0; i < 3; i++)
        push_code(&q, i);
    cr_assert_eq(nr_events_pending(&q), 3);
    nr_event_t out[8];
    cr_assert_eq(nr_events_take(&q, out, 2), 2);
    cr_assert_eq(out[0].code, 0);
    cr_assert_eq(out[1].code, 1);
    cr_assert_eq(nr_events_take(&q, out, 8), 1);
    cr_assert_str_eq(out[0].u.text, "event 2");
    cr_assert_eq(nr_events_pending(&q), 0);
    cr_assert_eq(q.capacity, NR_EVENT_QUEUE_START, "grew with never more than 3 queued");
    nr_events_free(&q);
}

Test(events, grows_across_a_wrapped_ring_keeping_the_order)
{
    nr_event_queue_t q;
    nr_event_t out[NR_EVENT_QUEUE];
    cr_assert_eq(nr_events_init(&q), 0);
    /* Wrap the 4-slot ring first, so growth must unroll it. */
    for (int i = 0; i < 3; i++)
        push_code(&q, -1);
    nr_events_take(&q, out, 2);
    int32_t next = 0;
    for (; next < 100; next++)
        push_code(&q, next);
    cr_assert_eq(q.capacity, 128);
    cr_assert_eq(nr_events_take(&q, out, NR_EVENT_QUEUE), 101);
    cr_assert_eq(out[0].code, -1);
    for (int i = 1; i < 101; i++)
        cr_assert_eq(out[i].code, i - 1, "slot %d", i);
    cr_assert_eq(q.dropped, 0);
    nr_events_free(&q);
}

Test(events, a_full_queue_drops_the_oldest_and_counts_it)
{
    nr_event_queue_t q;
    nr_event_t out[NR_EVENT_QUEUE];
    cr_assert_eq(nr_events_init(&q), 0);
    for (int32_t i = 0; i < NR_EVENT_QUEUE + 10; i++)
        push_code(&q, i);
    cr_assert_eq(q.capacity, NR_EVENT_QUEUE, "grew past its bound");
    cr_assert_eq(q.dropped, 10);
    cr_assert_eq(nr_events_pending(&q), NR_EVENT_QUEUE);
    cr_assert_eq(nr_events_take(&q, out, NR_EVENT_QUEUE), NR_EVENT_QUEUE);
    cr_assert_eq(out[0].code, 10, "the oldest kept is the 11th");
    cr_assert_eq(out[NR_EVENT_QUEUE - 1].code, NR_EVENT_QUEUE + 9, "the newest is kept");
    nr_events_free(&q);
}
