/* bins.c - 100 ms bins. A control plane is sized for its fullest moment,
 * not its mean: the ratio of the two is what phase spreading is for. */
#include "bins.h"

#include <stdlib.h>

int pf_bins_init(pf_bins_t *b, uint64_t t0_ms, uint64_t span_ms)
{
    b->t0_ms = t0_ms;
    b->count = (uint32_t)(span_ms / PF_BIN_MS + 1);
    b->n = calloc(b->count, sizeof(*b->n));
    return b->n ? 0 : -1;
}

void pf_bins_free(pf_bins_t *b)
{
    free(b->n);
    b->n = NULL;
    b->count = 0;
}

void pf_bins_add(pf_bins_t *b, uint64_t t_ms)
{
    if (t_ms < b->t0_ms || (t_ms - b->t0_ms) / PF_BIN_MS >= b->count)
        return;
    b->n[(t_ms - b->t0_ms) / PF_BIN_MS]++;
}

pf_spread_t pf_bins_spread(const pf_bins_t *b, uint64_t from_ms, uint64_t to_ms)
{
    pf_spread_t s = {0};
    if (from_ms < b->t0_ms)
        from_ms = b->t0_ms;
    uint64_t first = (from_ms - b->t0_ms + PF_BIN_MS - 1) / PF_BIN_MS;
    uint64_t end = to_ms > b->t0_ms ? (to_ms - b->t0_ms) / PF_BIN_MS : 0;
    if (end > b->count)
        end = b->count;
    for (uint64_t i = first; i < end; i++) {
        s.total += b->n[i];
        s.fullest = b->n[i] > s.fullest ? b->n[i] : s.fullest;
        s.bins++;
    }
    if (s.bins == 0 || s.total == 0)
        return s;
    s.mean = (double)s.total / s.bins;
    s.ratio = s.fullest / s.mean;
    s.per_s = (double)s.total * 1000.0 / ((double)s.bins * PF_BIN_MS);
    return s;
}
