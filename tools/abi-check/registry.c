/*
 * registry.c - every check pmd-abi-check knows, in the order it runs them,
 * with the plugin.abi.md rule each one enforces.
 */
#include "abi_check.h"
#include "checks_spec.h"

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
    {"lifecycle", "ABI-LIFECYCLE",
     "calls in the wrong state get PMD_ERR_STATE, NULL gets "
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
     "tick p99 <= 1000 us against a refusing and a silent control plane", ac_check_tick_cost, 60},
    {"stop-bound", "ABI-STOP-BOUND",
     "stop() and destroy() within the instance's own bound, no slack: answering, refusing and "
     "silent control planes",
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
    {"struct-bounds", "ABI-STRUCT-BOUNDS",
     "struct_size on every host struct at every minor: 1.0 size at minor 2, minor 0 with 1.1 "
     "size, NULL optionals, minimal and invalid records, host tables, small stats",
     ac_check_struct_bounds, 120},
    {"init-buffers", "ABI-INIT-BUFFERS",
     "config not read after init, size-0 error buffer untouched; refused init: only log, "
     "nothing left; init: no thread, no traffic",
     ac_check_init_buffers, 60},
    {"callbacks", "ABI-CALLS",
     "re-entry from every callback refused; callbacks each call may make; sinks make none; "
     "log lines and states well formed",
     ac_check_callbacks, 60},
    {"plugin-threads", "ABI-PLUGIN-THREADS",
     "plugin threads block async signals, never call the host, none left when stop, handover "
     "or destroy returns",
     ac_check_plugin_threads, 60},
    {"process-state", "ABI-PROCESS-STATE",
     "while running and after: every signal, locales, umask, limits, close-on-exec, children, "
     "no output for bodies, slow bodies, redirects",
     ac_check_process_state, 60},
    {"tick-max", "ABI-TICK-MAX",
     "the longest tick under 1 ms in at least one of 5 rounds, refusing, hung and answering",
     ac_check_tick_max, 60},
    {"negotiation", "ABI-NEGOTIATION",
     "entry accepts every minor of its major, init every host minor; reserved fields zero",
     ac_check_negotiation, 30},
};

const size_t ac_check_count = sizeof(ac_checks) / sizeof(ac_checks[0]);
