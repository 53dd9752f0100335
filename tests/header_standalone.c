/*
 * header_standalone.c - include/pmd_plugin.h on its own, as C99, C11 and
 * C++11 (tests/header_standalone.sh compiles this file in each mode with
 * -pedantic -Werror -Wall -Wextra -Wpadded, gcc/g++ and clang/clang++).
 *
 * The header is the first and only include: it must bring everything it
 * uses (stddef.h for offsetof, stdint.h). Every struct size, field offset
 * and field size below is what the header's comments and plugin.abi.md
 * section 4 promise on LP64; the size constants are those of section 3.
 * The script also compiles the numbers it reads from plugin.abi.md itself
 * (PMD_HDR_SPEC_LAYOUT), so a stale spec table fails here too.
 *
 * C11 has _Static_assert and C++11 static_assert; C99 has neither, so
 * there a false condition declares an array of size -1, a compile error.
 * PMD_HDR_BREAK adds one deliberately false assertion: the script checks
 * that it fails in every mode (the assertions can fire at all).
 */
#include "pmd_plugin.h"

/* PMD_HDR_ASSERT_K(k, cond, what): k tells apart assertions made on one
 * line (by one macro), for C99's typedef names. */
#if defined(__cplusplus)
#define PMD_HDR_ASSERT_K(k, cond, what) static_assert(cond, what)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PMD_HDR_ASSERT_K(k, cond, what) _Static_assert(cond, what)
#else
#define PMD_HDR_CAT2(a, b, c) a##b##_##c
#define PMD_HDR_CAT(a, b, c) PMD_HDR_CAT2(a, b, c)
/* Names must differ per file and line as well: C99 forbids repeating a
 * typedef. PMD_HDR_TAG is redefined before each included file. */
#define PMD_HDR_ASSERT_K(k, cond, what)                                                            \
    typedef char PMD_HDR_CAT(PMD_HDR_TAG, __LINE__, k)[(cond) ? 1 : -1]
#endif
#define PMD_HDR_ASSERT(cond, what) PMD_HDR_ASSERT_K(a, cond, what)
#define PMD_HDR_TAG pmd_hdr_assert_main_

/* Struct size, and a field's offset and size. */
#define SIZE(T, n) PMD_HDR_ASSERT(sizeof(T) == (n), "sizeof(" #T ") == " #n)
#define FIELD(T, f, off, n)                                                                        \
    PMD_HDR_ASSERT_K(o, offsetof(T, f) == (off), "offsetof(" #T ", " #f ") == " #off);             \
    PMD_HDR_ASSERT_K(s, sizeof(((T *)0)->f) == (n), "sizeof(" #T "." #f ") == " #n)
/* A size constant: its value, and that it is a uint32_t. */
#define CONST32(c, v)                                                                              \
    PMD_HDR_ASSERT_K(val, (c) == (v), #c " == " #v);                                               \
    PMD_HDR_ASSERT_K(typ, sizeof(c) == sizeof(uint32_t), #c " is a uint32_t")

/* Any data model: the fixed-width prefix, and the version and values. */
FIELD(pmd_host_t, struct_size, 0, 4);
FIELD(pmd_plugin_t, struct_size, 0, 4);
FIELD(pmd_plugin_t, abi_major, 4, 4);
FIELD(pmd_plugin_t, abi_minor, 8, 4);
FIELD(pmd_plugin_t, reserved, 12, 4);
PMD_HDR_ASSERT(PMD_ABI_VERSION_MAJOR == 1, "ABI major 1");
PMD_HDR_ASSERT(PMD_ABI_VERSION_MINOR == 2, "ABI minor 2");
PMD_HDR_ASSERT(PMD_LOG_ERROR == 1 && PMD_LOG_WARN == 2 && PMD_LOG_INFO == 3 && PMD_LOG_DEBUG == 4,
               "log levels, section 4");
PMD_HDR_ASSERT(PMD_OK == 0 && PMD_ERR_INVALID_ARGUMENT == 1 && PMD_ERR_STATE == 2 &&
                   PMD_ERR_ABI_MAJOR == 3 && PMD_ERR_CONFIG == 4 && PMD_ERR_NO_MEMORY == 5 &&
                   PMD_ERR_RESOURCE == 6 && PMD_ERR_LIMIT == 7 && PMD_ERR_HOST_DATA == 8 &&
                   PMD_ERR_UNSUPPORTED == 9 && PMD_ERR_INTERNAL == 10,
               "result codes, section 9");
PMD_HDR_ASSERT(PMD_NODE_IDLE == 0 && PMD_NODE_REGISTERING == 1 && PMD_NODE_REGISTERED == 2 &&
                   PMD_NODE_DEGRADED == 3 && PMD_NODE_UNAUTHORIZED == 4 &&
                   PMD_NODE_DEREGISTERING == 5 && PMD_NODE_STOPPED == 6,
               "node states, section 10");
PMD_HDR_ASSERT(PMD_RESULT_COUNT == 11, "PMD_RESULT_MAP has the 11 codes of section 9");
PMD_HDR_ASSERT(PMD_NODE_STATE_COUNT == 7, "PMD_NODE_STATE_MAP has the 7 states of section 10");
PMD_HDR_ASSERT(sizeof(enum pmd_result) == sizeof(int) && sizeof(enum pmd_node_state) == sizeof(int),
               "the generated enums are plain int enums");
PMD_HDR_ASSERT(PMD_HANDOVER_REGISTERED == 1u, "PMD_HANDOVER_REGISTERED");
PMD_HDR_ASSERT(PMD_LOG_FIELDS_MAX == 32u, "PMD_LOG_FIELDS_MAX");

#if defined(UINTPTR_MAX) && UINTPTR_MAX == 0xffffffffffffffffu && defined(SIZE_MAX) &&             \
    SIZE_MAX == 0xffffffffffffffffu

/* LP64: the tables of plugin.abi.md section 4. */

SIZE(pmd_host_t, 80);
FIELD(pmd_host_t, struct_size, 0, 4);
FIELD(pmd_host_t, abi_major, 4, 4);
FIELD(pmd_host_t, abi_minor, 8, 4);
FIELD(pmd_host_t, reserved, 12, 4);
FIELD(pmd_host_t, host_data, 16, 8);
FIELD(pmd_host_t, host_name, 24, 8);
FIELD(pmd_host_t, host_version, 32, 8);
FIELD(pmd_host_t, log, 40, 8);
FIELD(pmd_host_t, list_pools, 48, 8);
FIELD(pmd_host_t, get_capabilities, 56, 8);
FIELD(pmd_host_t, state_changed, 64, 8);
FIELD(pmd_host_t, get_extension, 72, 8);

SIZE(pmd_plugin_t, 120);
FIELD(pmd_plugin_t, name, 16, 8);
FIELD(pmd_plugin_t, version, 24, 8);
FIELD(pmd_plugin_t, description, 32, 8);
FIELD(pmd_plugin_t, stop_timeout_ms, 40, 4);
FIELD(pmd_plugin_t, reserved2, 44, 4);
FIELD(pmd_plugin_t, init, 48, 8);
FIELD(pmd_plugin_t, on_start, 56, 8);
FIELD(pmd_plugin_t, on_tick, 64, 8);
FIELD(pmd_plugin_t, on_stop, 72, 8);
FIELD(pmd_plugin_t, destroy, 80, 8);
FIELD(pmd_plugin_t, result_string, 88, 8);
FIELD(pmd_plugin_t, get_extension, 96, 8);
FIELD(pmd_plugin_t, on_handover, 104, 8);
FIELD(pmd_plugin_t, on_start_handed_over, 112, 8);

SIZE(pmd_handover_t, 288);
FIELD(pmd_handover_t, struct_size, 0, 4);
FIELD(pmd_handover_t, flags, 4, 4);
FIELD(pmd_handover_t, next_heartbeat_due_ns, 8, 8);
FIELD(pmd_handover_t, heartbeat_interval_ns, 16, 8);
FIELD(pmd_handover_t, last_heartbeat_ok_ns, 24, 8);
FIELD(pmd_handover_t, node_id, 32, 256);

SIZE(pmd_pool_status_t, 40);
FIELD(pmd_pool_status_t, struct_size, 0, 4);
FIELD(pmd_pool_status_t, ready, 4, 1);
FIELD(pmd_pool_status_t, draining, 5, 1);
FIELD(pmd_pool_status_t, reserved, 6, 2);
FIELD(pmd_pool_status_t, slots_free, 8, 4);
FIELD(pmd_pool_status_t, slots_total, 12, 4);
FIELD(pmd_pool_status_t, vram_free_bytes, 16, 8);
FIELD(pmd_pool_status_t, pool_id, 24, 8);
FIELD(pmd_pool_status_t, engine, 32, 8);

SIZE(pmd_gpu_info_t, 32);
FIELD(pmd_gpu_info_t, struct_size, 0, 4);
FIELD(pmd_gpu_info_t, device_id, 4, 4);
FIELD(pmd_gpu_info_t, vram_total_bytes, 8, 8);
FIELD(pmd_gpu_info_t, name, 16, 8);
FIELD(pmd_gpu_info_t, compute_capability, 24, 8);

SIZE(pmd_node_resources_t, 16);
FIELD(pmd_node_resources_t, struct_size, 0, 4);
FIELD(pmd_node_resources_t, cpu_cores, 4, 4);
FIELD(pmd_node_resources_t, ram_total_bytes, 8, 8);

SIZE(pmd_pool_sink_t, 24);
FIELD(pmd_pool_sink_t, struct_size, 0, 4);
FIELD(pmd_pool_sink_t, reserved, 4, 4);
FIELD(pmd_pool_sink_t, sink_data, 8, 8);
FIELD(pmd_pool_sink_t, add_pool, 16, 8);

SIZE(pmd_capability_sink_t, 32);
FIELD(pmd_capability_sink_t, struct_size, 0, 4);
FIELD(pmd_capability_sink_t, reserved, 4, 4);
FIELD(pmd_capability_sink_t, sink_data, 8, 8);
FIELD(pmd_capability_sink_t, set_resources, 16, 8);
FIELD(pmd_capability_sink_t, add_gpu, 24, 8);

SIZE(pmd_ext_conformance_t, 16);
FIELD(pmd_ext_conformance_t, struct_size, 0, 4);
FIELD(pmd_ext_conformance_t, reserved, 4, 4);
FIELD(pmd_ext_conformance_t, config_template, 8, 8);

SIZE(pmd_ext_log_fields_t, 16);
FIELD(pmd_ext_log_fields_t, struct_size, 0, 4);
FIELD(pmd_ext_log_fields_t, reserved, 4, 4);
FIELD(pmd_ext_log_fields_t, log_fields, 8, 8);

SIZE(pmd_log_field_t, 16);
FIELD(pmd_log_field_t, key, 0, 8);
FIELD(pmd_log_field_t, value, 8, 8);

/* pmd.ext.stats/1 */
SIZE(pmd_ext_stats_t, 16);
FIELD(pmd_ext_stats_t, struct_size, 0, 4);
FIELD(pmd_ext_stats_t, reserved, 4, 4);
FIELD(pmd_ext_stats_t, get, 8, 8);

SIZE(pmd_stats_t, 184);
FIELD(pmd_stats_t, struct_size, 0, 4);
FIELD(pmd_stats_t, state, 4, 4);
FIELD(pmd_stats_t, state_since_unix_ms, 8, 8);
FIELD(pmd_stats_t, registrations_ok, 16, 8);
FIELD(pmd_stats_t, registrations_failed_transport, 24, 8);
FIELD(pmd_stats_t, registrations_failed_status, 32, 8);
FIELD(pmd_stats_t, registrations_failed_auth, 40, 8);
FIELD(pmd_stats_t, reregistrations, 48, 8);
FIELD(pmd_stats_t, heartbeats_ok, 56, 8);
FIELD(pmd_stats_t, heartbeats_failed_transport, 64, 8);
FIELD(pmd_stats_t, heartbeats_failed_status, 72, 8);
FIELD(pmd_stats_t, heartbeats_failed_auth, 80, 8);
FIELD(pmd_stats_t, heartbeats_not_registered, 88, 8);
FIELD(pmd_stats_t, deregistrations_ok, 96, 8);
FIELD(pmd_stats_t, deregistrations_failed, 104, 8);
FIELD(pmd_stats_t, consecutive_failures, 112, 8);
FIELD(pmd_stats_t, last_heartbeat_ok_unix_ms, 120, 8);
FIELD(pmd_stats_t, last_heartbeat_latency_us, 128, 8);
FIELD(pmd_stats_t, connections_opened, 136, 8);
FIELD(pmd_stats_t, events_dropped, 144, 8);
FIELD(pmd_stats_t, node_id, 152, 8);
FIELD(pmd_stats_t, last_error, 160, 8);
FIELD(pmd_stats_t, stop_timeout_ms, 168, 8);
FIELD(pmd_stats_t, last_registration_latency_us, 176, 8);

/* Size constants: section 3 and the header. */
CONST32(PMD_HOST_SIZE_1_0, 72);
CONST32(PMD_PLUGIN_SIZE_1_0, 96);
CONST32(PMD_PLUGIN_SIZE_1_1, 104);
CONST32(PMD_PLUGIN_FROZEN_SIZE, 32);
CONST32(PMD_POOL_STATUS_MIN_SIZE, 32);
CONST32(PMD_GPU_INFO_MIN_SIZE, 32);
CONST32(PMD_NODE_RESOURCES_MIN_SIZE, 16);
CONST32(PMD_HANDOVER_MIN_SIZE, 288);
CONST32(PMD_STATS_MIN_SIZE, 152);
CONST32(PMD_EXT_LOG_FIELDS_MIN_SIZE, 16);

/* The numbers tests/header_standalone.sh read from plugin.abi.md. */
#ifdef PMD_HDR_SPEC_LAYOUT
#undef PMD_HDR_TAG
#define PMD_HDR_TAG pmd_hdr_assert_spec_
#include PMD_HDR_SPEC_LAYOUT
#endif

#endif /* LP64 */

#ifdef PMD_HDR_BREAK
#undef PMD_HDR_TAG
#define PMD_HDR_TAG pmd_hdr_assert_break_
FIELD(pmd_host_t, struct_size, 4, 4); /* wrong on purpose: it is 0 */
#endif

/* ISO C forbids an empty translation unit; use the entry point's type. */
typedef pmd_plugin_entry_fn pmd_hdr_entry_fn;
