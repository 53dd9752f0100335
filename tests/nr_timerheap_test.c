/* Unit tests of nr_timerheap.c: order, moves, removal, against a brute-force
 * model over random operations. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "nr_timerheap.h"

#define N 500

Test(timerheap, pops_in_deadline_order)
{
    nr_timerheap_t h;
    nr_heap_entry_t e[N];
    nr_timerheap_init(&h);
    srand(3);
    for (int i = 0; i < N; i++) {
        nr_heap_entry_init(&e[i]);
        cr_assert_eq(nr_timerheap_set(&h, &e[i], (uint64_t)(rand() % 1000)), 0);
    }
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        nr_heap_entry_t *top = nr_timerheap_pop(&h);
        cr_assert_not_null(top);
        cr_assert_geq(top->due_ns, last);
        cr_assert_eq(top->slot, NR_HEAP_NONE);
        last = top->due_ns;
    }
    cr_assert_null(nr_timerheap_pop(&h));
    nr_timerheap_free(&h);
}

/* The earliest queued entry of the model, or NULL. */
static nr_heap_entry_t *model_min(nr_heap_entry_t *e, const int *queued)
{
    nr_heap_entry_t *best = NULL;
    for (int i = 0; i < N; i++)
        if (queued[i] && (best == NULL || e[i].due_ns < best->due_ns))
            best = &e[i];
    return best;
}

Test(timerheap, random_sets_moves_and_removals_agree_with_a_model)
{
    nr_timerheap_t h;
    nr_heap_entry_t e[N];
    int queued[N] = {0};
    nr_timerheap_init(&h);
    for (int i = 0; i < N; i++)
        nr_heap_entry_init(&e[i]);
    srand(11);
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N, op = rand() % 4;
        if (op <= 1) {
            cr_assert_eq(nr_timerheap_set(&h, &e[i], (uint64_t)(rand() % 100000)), 0);
            queued[i] = 1;
        } else if (op == 2) {
            nr_timerheap_remove(&h, &e[i]);
            nr_timerheap_remove(&h, &e[i]); /* twice: harmless */
            queued[i] = 0;
        } else if (model_min(e, queued) != NULL) {
            nr_heap_entry_t *want = model_min(e, queued);
            nr_heap_entry_t *got = nr_timerheap_pop(&h);
            cr_assert_eq(got->due_ns, want->due_ns, "step %d", step);
            queued[got - e] = 0;
        }
        size_t count = 0;
        for (int k = 0; k < N; k++)
            count += (size_t)queued[k];
        cr_assert_eq(h.count, count);
        for (int k = 0; k < N; k++)
            cr_assert_eq(e[k].slot != NR_HEAP_NONE, queued[k]);
    }
    nr_timerheap_free(&h);
    for (int k = 0; k < N; k++)
        cr_assert_eq(e[k].slot, NR_HEAP_NONE);
}
