/* report.h - text and JSON output of pmd-abi-check. */
#ifndef PMD_ABI_CHECK_REPORT_H
#define PMD_ABI_CHECK_REPORT_H

#include "abi_check.h"

/* "PASS  name  [rule ID]  reason", flushed at once (a run takes a while). */
void report_text_line(const ac_check_t *c, const ac_result_t *r);
void report_text_summary(int passed, int failed, int skipped);
/* One JSON document: plugin, checks[] {name, rule, result, reason, figures}, summary. */
void report_json(const char *plugin, const ac_check_t *const *checks, const ac_result_t *results,
                 size_t n, int passed, int failed, int skipped);

#endif /* PMD_ABI_CHECK_REPORT_H */
