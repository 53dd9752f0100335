/* journal.h - orchd-dev's request journal, read from a separate process so
 * that its cost is not counted as the fleet's. The journal keeps only the
 * last 1000 requests: the reader polls it every 200 ms, writes every new
 * entry (by seq) to a file, and records the seq ranges it missed. */
#ifndef PF_JOURNAL_H
#define PF_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "bins.h"

/* Forks the reader (call before any thread exists). Returns its pid, or -1. */
pid_t pf_journal_start(const char *base_url, const char *path);

/* Stops the reader (SIGTERM, then waits; it reads once more first). */
void pf_journal_stop(pid_t pid);

typedef struct pf_journal_summary {
    uint64_t seen, missed; /* requests read, requests the reader missed */
    uint64_t registers, heartbeats, deregisters, no_response;
} pf_journal_summary_t;

/* Loads the file: every request's arrival (orchd-dev's CLOCK_MONOTONIC ms,
 * the same clock as ours on one machine) into bins. -1 if unreadable. */
int pf_journal_load(const char *path, pf_bins_t *bins, pf_journal_summary_t *sum);

#endif
