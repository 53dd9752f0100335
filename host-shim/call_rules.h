/*
 * call_rules.h - which host callbacks a plugin may make during which ABI
 * call (plugin.abi.md section 5, "Lifecycle states" of each callback):
 * log during any call; state_changed not during init; list_pools and
 * get_capabilities only during start, tick and stop; none at all during
 * pmd.ext.stats/1 get (it "makes no host callbacks"). Shared by the shim and
 * the test host so that both flag the same violations.
 */
#ifndef SHIM_CALL_RULES_H
#define SHIM_CALL_RULES_H

typedef enum shim_call {
    SHIM_CALL_ANY = 0, /* unknown call (a hand-made bracket): only thread rules */
    SHIM_CALL_INIT,
    SHIM_CALL_START,
    SHIM_CALL_TICK,
    SHIM_CALL_STOP,
    SHIM_CALL_DESTROY,
    SHIM_CALL_STATS /* pmd_ext_stats_t.get */
} shim_call_t;

typedef enum shim_callback {
    SHIM_CB_LOG,
    SHIM_CB_STATE_CHANGED,
    SHIM_CB_LIST_POOLS,
    SHIM_CB_GET_CAPABILITIES,
    SHIM_CB_GET_EXTENSION
} shim_callback_t;

/* 1 when callback may be made while call runs. */
int shim_callback_allowed_in(shim_callback_t callback, shim_call_t call);

/* "init", "tick", ...; "an ABI call" for SHIM_CALL_ANY. */
const char *shim_call_name(shim_call_t call);

#endif /* SHIM_CALL_RULES_H */
