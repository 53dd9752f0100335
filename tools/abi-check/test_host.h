/*
 * test_host.h - the checker's own recording host: one recorder per instance
 * counts every callback and notes the ones that break the threading rules
 * (off the host thread, outside an ABI call, or for another instance).
 *
 * The th_* call wrappers mark which instance has an ABI call in progress;
 * the callbacks compare against that.
 */
#ifndef PMD_ABI_CHECK_TEST_HOST_H
#define PMD_ABI_CHECK_TEST_HOST_H

#include <pthread.h>
#include <stdatomic.h>

#include "abi_check.h"

typedef struct ac_th_rec ac_th_rec_t;

struct ac_th_rec {
    int index;
    pthread_t host_thread;
    atomic_int in_call;
    atomic_uint n_log, n_pools, n_caps, n_state, n_ext;
    atomic_uint n_off_thread;   /* callback not on the host thread */
    atomic_uint n_outside_call; /* callback while no call on this instance ran */
    atomic_uint n_foreign;      /* callback while another instance's call ran */
    atomic_uint n_bad_sink;     /* sink struct unusable */
    atomic_int last_state;      /* last state_changed value, -1 = none */
    int guard_records;          /* push records ending at a guard page */
    ac_guard_t pool_guard, gpu_guard, res_guard;
    char last_log[256];
    char last_detail[64]; /* detail of the last state_changed (host thread) */

    /* --- rules of the calls themselves (check_calls.c, check_bounds.c) --- */
    int phase;                /* TH_PH_*: the ABI call in progress */
    int in_sink;              /* the host is inside a sink call of the plugin */
    atomic_uint n_bad_phase;  /* a callback the call in progress may not make */
    atomic_uint n_in_sink;    /* a callback from inside a sink call */
    atomic_uint n_bad_log;    /* log line NULL, with a newline, not UTF-8, bad level */
    atomic_uint n_bad_state;  /* state out of range, or NULL detail */
    atomic_uint n_bad_accept; /* an invalid record accepted by a sink */
    atomic_uint n_trap;       /* a callback the host did not offer was called */
    char bad_what[160];       /* the first violation above, for the report */
    int seal_records;         /* records and their strings unreadable after the call */
    uint32_t pool_size;       /* struct_size of pushed pools; 0 = sizeof */
    int push_invalid;         /* also push invalid records; each must be refused */
    int ext_short_table;      /* get_extension answers log_fields with an 8-byte table */
    ac_guard_t ext_guard;
    /* Called at the start of every callback on the host thread (re-entry). */
    void (*hook)(ac_th_rec_t *rec, const char *callback);
    void *hook_arg;
};

enum {
    TH_PH_NONE,
    TH_PH_INIT,
    TH_PH_START,
    TH_PH_TICK,
    TH_PH_STOP,
    TH_PH_DESTROY,
    TH_PH_HANDOVER,
    TH_PH_STATS
};

/* Sets up a recorder for the calling (host) thread. */
void ac_th_rec_init(ac_th_rec_t *rec, int index);
/* Also places every pushed record at the end of a page (0 or -1). */
int ac_th_rec_guard_records(ac_th_rec_t *rec);
void ac_th_rec_fini(ac_th_rec_t *rec);

/* A host struct of the current ABI, with every callback, for rec. */
void ac_th_host_fill(pmd_host_t *h, ac_th_rec_t *rec);

/* Callback totals and violations, for reports. */
unsigned ac_th_rec_callbacks(const ac_th_rec_t *rec);
unsigned ac_th_rec_violations(const ac_th_rec_t *rec);

/* ABI call wrappers: mark the call in progress, then call the plugin. */
int32_t ac_th_init(ac_th_rec_t *rec, const pmd_plugin_t *p, const pmd_host_t *h, const char *config,
                   pmd_instance_t **out, char *err, uint32_t err_size);
/* The usual first step of a check: rec made (ac_th_rec_init(rec, 0)), host
 * filled for it (the caller's: it must outlive the instance), init() of s's
 * plugin with s's config. NULL when init refuses, with r failed
 * "[LABEL: ]init returned RC: REASON". */
pmd_instance_t *ac_th_init_default(ac_th_rec_t *rec, pmd_host_t *host, const ac_session_t *s,
                                   const char *label, ac_result_t *r);
int32_t ac_th_start(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in);
int32_t ac_th_tick(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in, uint64_t now_ns);
int32_t ac_th_stop(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in);
void ac_th_destroy(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in);
/* ABI 1.2: the caller has checked that the plugin offers handover. */
int32_t ac_th_handover(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                       pmd_handover_t *out);
int32_t ac_th_start_handed_over(ac_th_rec_t *rec, const pmd_plugin_t *p, pmd_instance_t *in,
                                const pmd_handover_t *h);
/* pmd.ext.stats/1 get, as an ABI call on in; -1 when the plugin offers no
 * stats extension (or it is unusable), else its result code. */
int32_t ac_th_stats(ac_th_rec_t *rec, const ac_session_t *s, pmd_instance_t *in, pmd_stats_t *out);

/*
 * A whole lifecycle on one instance: init, start, nticks ticks tick_us apart
 * (0 = back to back), stop, destroy. Every non-OK result FAILs r.
 * host may be NULL for a host filled by ac_th_host_fill.
 */
int ac_th_lifecycle(ac_th_rec_t *rec, const ac_session_t *s, const pmd_host_t *host, int nticks,
                    unsigned tick_us, ac_result_t *r);

#endif /* PMD_ABI_CHECK_TEST_HOST_H */
