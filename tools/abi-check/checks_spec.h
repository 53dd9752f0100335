/*
 * checks_spec.h - the checks that cover the rest of plugin.abi.md
 * (section 13, rules 20-26): struct_size discipline on every host struct,
 * buffers and refused inits, the call rules, plugin threads, process
 * state, the longest tick, and version negotiation.
 */
#ifndef PMD_ABI_CHECK_CHECKS_SPEC_H
#define PMD_ABI_CHECK_CHECKS_SPEC_H

#include "abi_check.h"

void ac_check_struct_bounds(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_negotiation(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_init_buffers(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_callbacks(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_plugin_threads(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_process_state(const ac_ctx_t *ctx, ac_result_t *r);
void ac_check_tick_max(const ac_ctx_t *ctx, ac_result_t *r);

/* The instance's own stop bound: pmd.ext.stats/1 stop_timeout_ms when the
 * plugin offers it, else the descriptor's. *source names which. */
struct ac_th_rec;
uint32_t ac_instance_stop_bound(const ac_session_t *s, struct ac_th_rec *rec, pmd_instance_t *in,
                                const char **source);

#endif /* PMD_ABI_CHECK_CHECKS_SPEC_H */
