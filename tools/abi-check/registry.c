/*
 * registry.c - every check pmd-abi-check knows, in the order it runs them,
 * with the plugin.abi.md rule each one enforces.
 */
#include "abi_check.h"

const ac_check_t ac_checks[] = {
    {"load", "ABI-LOAD", "dlopen(RTLD_NOW | RTLD_LOCAL) succeeds: no unresolved symbols",
     ac_check_load, 30},
    {"exports", "ABI-EXPORT", "the .so exports pmd_plugin_entry and nothing else of its own",
     ac_check_exports, 30},
    {"descriptor", "ABI-DESCRIPTOR",
     "descriptor: ABI major, sizes, static name/version, functions, result strings, stop timeout",
     ac_check_descriptor, 30},
    {"abi-major", "ABI-VERSION", "entry and init refuse another ABI major with PMD_ERR_ABI_MAJOR",
     ac_check_abi_major, 30},
    {"struct-size", "ABI-STRUCT-SIZE",
     "older and newer host structs work; nothing read past struct_size (guard pages)",
     ac_check_struct_size, 120},
    {"init-errors", "ABI-INIT",
     "bad configs and arguments refused, bounded NUL-terminated message, no leak",
     ac_check_init_errors, 60},
    {"lifecycle", "ABI-LIFECYCLE", "calls in the wrong state get PMD_ERR_STATE, NULL gets "
                                   "PMD_ERR_INVALID_ARGUMENT, destroy works in every state",
     ac_check_lifecycle, 30},
    {"instances", "ABI-INSTANCES", "2 and 64 instances live side by side, independently",
     ac_check_instances, 60},
    {"host-thread", "ABI-HOST-THREAD",
     "callbacks only on the host thread, only inside an ABI call on that instance",
     ac_check_host_thread, 30},
    {"teardown", "ABI-TEARDOWN", "after destroy the process has the threads and fds it had",
     ac_check_teardown, 30},
    {"unload-cycles", "ABI-UNLOAD",
     "200 dlopen/run/dlclose cycles: no growth of RSS, descriptors or threads",
     ac_check_unload_cycles, 120},
    {"no-global-effects", "ABI-GLOBAL",
     "signals, environment, cwd, umask, locale untouched; nothing on stdout/stderr",
     ac_check_no_global_effects, 30},
    {"tick-cost", "ABI-TICK-COST",
     "tick p99 <= 1000 us against a refusing and a silent control plane", ac_check_tick_cost,
     60},
    {"stop-bound", "ABI-STOP-BOUND",
     "stop() against a silent control plane returns within stop_timeout_ms (+250 ms)",
     ac_check_stop_bound, 150},
    {"handover-offered", "ABI-HANDOVER-OFFERED",
     "1.2 handover offered in full (both members) or not at all (SKIP: not offered)",
     ac_check_handover_offered, 30},
    {"handover-no-delete", "ABI-HANDOVER-NO-DELETE",
     "on_handover: no DELETE, no request after it returns, threads gone, handover filled; "
     "a second instance takes over",
     ac_check_handover_no_delete, 30},
    {"handover-stop-bound", "ABI-HANDOVER-STOP-BOUND",
     "on_handover against a silent control plane returns within the stop bound (+250 ms)",
     ac_check_handover_stop_bound, 60},
    {"handover-args", "ABI-HANDOVER-ARGS",
     "handover calls in the wrong state get PMD_ERR_STATE, NULL or short structs "
     "PMD_ERR_INVALID_ARGUMENT with nothing written",
     ac_check_handover_args, 30},
};

const size_t ac_check_count = sizeof(ac_checks) / sizeof(ac_checks[0]);
