/*
 * call_rules.c - the table of which callback may come during which call
 * (see call_rules.h).
 */
#include "call_rules.h"

int shim_callback_allowed_in(shim_callback_t callback, shim_call_t call)
{
    if (call == SHIM_CALL_STATS)
        return 0;
    switch (callback) {
    case SHIM_CB_LOG:
    case SHIM_CB_GET_EXTENSION: return 1;
    case SHIM_CB_STATE_CHANGED: return call != SHIM_CALL_INIT;
    case SHIM_CB_LIST_POOLS:
    case SHIM_CB_GET_CAPABILITIES: return call != SHIM_CALL_INIT && call != SHIM_CALL_DESTROY;
    }
    return 0;
}

const char *shim_call_name(shim_call_t call)
{
    static const char *const names[] = {"an ABI call", "init",    "on_start", "on_tick",
                                        "on_stop",     "destroy", "stats get"};
    return (unsigned)call < sizeof(names) / sizeof(names[0]) ? names[call] : "an ABI call";
}
