/* report.h - what pmd-fleet prints: a line per event, a live line every
 * few seconds, and the summary at the end. */
#ifndef PF_REPORT_H
#define PF_REPORT_H

#include "journal.h"
#include "run.h"

/* "what": ok, or failed (rc != 0). */
void pf_report_event(const pf_run_t *r, const char *what, int rc);

/* Since the previous live line: requests/s, CPU; now: states, threads, memory. */
void pf_report_live(pf_run_t *r, uint64_t now_ms);

/* The summary. journal: NULL when orchd-dev's journal was not read. */
typedef struct pf_journal_view {
    const pf_bins_t *bins;
    const pf_journal_summary_t *sum;
} pf_journal_view_t;

void pf_report_final(const pf_run_t *r, const pf_journal_view_t *journal);

/* The steady window's fullest-bin ratio used by --check-spread: the
 * journal's when read, else the client's heartbeats. 0 when no window. */
double pf_report_steady_ratio(const pf_run_t *r, const pf_journal_view_t *journal);

#endif
