/* bins.h - requests counted in 100 ms bins, and how evenly they fall: the
 * fullest bin of a window against the window's mean. */
#ifndef PF_BINS_H
#define PF_BINS_H

#include <stdint.h>

#define PF_BIN_MS 100u

typedef struct pf_bins {
    uint64_t t0_ms; /* CLOCK_MONOTONIC ms of bin 0 */
    uint32_t count;
    uint32_t *n;
} pf_bins_t;

typedef struct pf_spread {
    uint64_t total;   /* events in the window */
    uint32_t bins;    /* whole bins in the window */
    uint32_t fullest; /* events in the fullest bin */
    double mean;      /* total / bins */
    double ratio;     /* fullest / mean; 0 when the window is empty */
    double per_s;     /* total per second */
} pf_spread_t;

/* Bins covering [t0_ms, t0_ms + span_ms). 0, or -1 when out of memory. */
int pf_bins_init(pf_bins_t *b, uint64_t t0_ms, uint64_t span_ms);
void pf_bins_free(pf_bins_t *b);
/* Counts one event at t_ms; outside the range it is ignored. */
void pf_bins_add(pf_bins_t *b, uint64_t t_ms);
/* The whole bins inside [from_ms, to_ms). */
pf_spread_t pf_bins_spread(const pf_bins_t *b, uint64_t from_ms, uint64_t to_ms);

#endif
