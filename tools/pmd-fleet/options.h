/* options.h - pmd-fleet's command line: what to load, how many, how long,
 * how they boot, what to do to the control plane, what to check. */
#ifndef PF_OPTIONS_H
#define PF_OPTIONS_H

#include <stdint.h>

typedef enum pf_boot { PF_BOOT_TOGETHER = 0, PF_BOOT_STAGGERED } pf_boot_t;
typedef enum pf_journal { PF_JOURNAL_AUTO = 0, PF_JOURNAL_ON, PF_JOURNAL_OFF } pf_journal_t;

typedef struct pf_options {
    const char *plugin;    /* --plugin SO */
    const char *config;    /* --config TEMPLATE (path) */
    const char *url;       /* --url: overrides orchestratord_url; NULL = template's */
    const char *prefix;    /* --prefix: node ids are prefix + zero-padded index */
    uint32_t nodes;        /* --nodes N */
    double run_for_s;      /* --run-for S */
    pf_boot_t boot;        /* --boot together|staggered */
    uint32_t tick_ms;      /* --tick-ms */
    uint32_t sample_ms;    /* --sample-ms: client-side stats sampling */
    double report_every_s; /* --report-every S (0 = final report only) */
    double restart_at_s;   /* --restart-at S: orchd-dev forgets every node (< 0 = never) */
    double outage_at_s;    /* --outage-at S (< 0 = never) */
    double outage_for_s;   /* --outage-for S: requests dropped, then registry forgotten */
    pf_journal_t journal;  /* --journal auto|on|off */
    double check_spread;   /* --check-spread X: exit 1 if fullest/mean > X (0 = no check) */
    int check_registered;  /* --check-registered: exit 1 unless all registered at the end */
    int verbose;           /* --verbose: every WARN/ERROR log line to stderr */
} pf_options_t;

/* Parses argv into *o. Returns 0 to run, 1 when --help was printed (exit
 * 0), 2 on a usage error (a line on stderr). */
int pf_options_parse(int argc, char **argv, pf_options_t *o);

#endif
