/*
 * layout.c - pmd_abi_layout: prints the size of every ABI struct and the
 * offset of every field, as this C compiler lays them out from the real
 * header, plus the header's numeric constants. hosts/rust/tests/layout.rs
 * compares the output with the Rust mirror (src/ffi.rs).
 *
 * Output, one item a line:
 *   TYPE SIZE            e.g. "pmd_host_t 80"
 *   TYPE.FIELD OFFSET    e.g. "pmd_host_t.get_extension 72"
 *   const NAME VALUE     e.g. "const PMD_HOST_SIZE_1_0 72"
 */
#include <stddef.h>
#include <stdio.h>

#include "pmd_plugin.h"

#define SIZE(T) printf("%s %zu\n", #T, sizeof(T))
#define FIELD(T, f) printf("%s.%s %zu\n", #T, #f, offsetof(T, f))
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c))

static void records(void)
{
    SIZE(pmd_pool_status_t);
    FIELD(pmd_pool_status_t, struct_size);
    FIELD(pmd_pool_status_t, ready);
    FIELD(pmd_pool_status_t, draining);
    FIELD(pmd_pool_status_t, reserved);
    FIELD(pmd_pool_status_t, slots_free);
    FIELD(pmd_pool_status_t, slots_total);
    FIELD(pmd_pool_status_t, vram_free_bytes);
    FIELD(pmd_pool_status_t, pool_id);
    FIELD(pmd_pool_status_t, engine);

    SIZE(pmd_gpu_info_t);
    FIELD(pmd_gpu_info_t, struct_size);
    FIELD(pmd_gpu_info_t, device_id);
    FIELD(pmd_gpu_info_t, vram_total_bytes);
    FIELD(pmd_gpu_info_t, name);
    FIELD(pmd_gpu_info_t, compute_capability);

    SIZE(pmd_node_resources_t);
    FIELD(pmd_node_resources_t, struct_size);
    FIELD(pmd_node_resources_t, cpu_cores);
    FIELD(pmd_node_resources_t, ram_total_bytes);
}

static void sinks(void)
{
    SIZE(pmd_pool_sink_t);
    FIELD(pmd_pool_sink_t, struct_size);
    FIELD(pmd_pool_sink_t, reserved);
    FIELD(pmd_pool_sink_t, sink_data);
    FIELD(pmd_pool_sink_t, add_pool);

    SIZE(pmd_capability_sink_t);
    FIELD(pmd_capability_sink_t, struct_size);
    FIELD(pmd_capability_sink_t, reserved);
    FIELD(pmd_capability_sink_t, sink_data);
    FIELD(pmd_capability_sink_t, set_resources);
    FIELD(pmd_capability_sink_t, add_gpu);
}

static void host_and_plugin(void)
{
    SIZE(pmd_host_t);
    FIELD(pmd_host_t, struct_size);
    FIELD(pmd_host_t, abi_major);
    FIELD(pmd_host_t, abi_minor);
    FIELD(pmd_host_t, reserved);
    FIELD(pmd_host_t, host_data);
    FIELD(pmd_host_t, host_name);
    FIELD(pmd_host_t, host_version);
    FIELD(pmd_host_t, log);
    FIELD(pmd_host_t, list_pools);
    FIELD(pmd_host_t, get_capabilities);
    FIELD(pmd_host_t, state_changed);
    FIELD(pmd_host_t, get_extension);

    SIZE(pmd_plugin_t);
    FIELD(pmd_plugin_t, struct_size);
    FIELD(pmd_plugin_t, abi_major);
    FIELD(pmd_plugin_t, abi_minor);
    FIELD(pmd_plugin_t, reserved);
    FIELD(pmd_plugin_t, name);
    FIELD(pmd_plugin_t, version);
    FIELD(pmd_plugin_t, description);
    FIELD(pmd_plugin_t, stop_timeout_ms);
    FIELD(pmd_plugin_t, reserved2);
    FIELD(pmd_plugin_t, init);
    FIELD(pmd_plugin_t, on_start);
    FIELD(pmd_plugin_t, on_tick);
    FIELD(pmd_plugin_t, on_stop);
    FIELD(pmd_plugin_t, destroy);
    FIELD(pmd_plugin_t, result_string);
    FIELD(pmd_plugin_t, get_extension);
    FIELD(pmd_plugin_t, on_handover);
    FIELD(pmd_plugin_t, on_start_handed_over);
    SIZE(pmd_handover_t);
    FIELD(pmd_handover_t, struct_size);
    FIELD(pmd_handover_t, flags);
    FIELD(pmd_handover_t, next_heartbeat_due_ns);
    FIELD(pmd_handover_t, heartbeat_interval_ns);
    FIELD(pmd_handover_t, last_heartbeat_ok_ns);
    FIELD(pmd_handover_t, node_id);
}

static void extensions(void)
{
    SIZE(pmd_ext_conformance_t);
    FIELD(pmd_ext_conformance_t, struct_size);
    FIELD(pmd_ext_conformance_t, reserved);
    FIELD(pmd_ext_conformance_t, config_template);

    SIZE(pmd_stats_t);
    FIELD(pmd_stats_t, struct_size);
    FIELD(pmd_stats_t, state);
    FIELD(pmd_stats_t, state_since_unix_ms);
    FIELD(pmd_stats_t, registrations_ok);
    FIELD(pmd_stats_t, registrations_failed_transport);
    FIELD(pmd_stats_t, registrations_failed_status);
    FIELD(pmd_stats_t, registrations_failed_auth);
    FIELD(pmd_stats_t, reregistrations);
    FIELD(pmd_stats_t, heartbeats_ok);
    FIELD(pmd_stats_t, heartbeats_failed_transport);
    FIELD(pmd_stats_t, heartbeats_failed_status);
    FIELD(pmd_stats_t, heartbeats_failed_auth);
    FIELD(pmd_stats_t, heartbeats_not_registered);
    FIELD(pmd_stats_t, deregistrations_ok);
    FIELD(pmd_stats_t, deregistrations_failed);
    FIELD(pmd_stats_t, consecutive_failures);
    FIELD(pmd_stats_t, last_heartbeat_ok_unix_ms);
    FIELD(pmd_stats_t, last_heartbeat_latency_us);
    FIELD(pmd_stats_t, connections_opened);
    FIELD(pmd_stats_t, events_dropped);
    FIELD(pmd_stats_t, node_id);
    FIELD(pmd_stats_t, last_error);
    FIELD(pmd_stats_t, stop_timeout_ms);
    FIELD(pmd_stats_t, last_registration_latency_us);

    SIZE(pmd_ext_stats_t);
    FIELD(pmd_ext_stats_t, struct_size);
    FIELD(pmd_ext_stats_t, reserved);
    FIELD(pmd_ext_stats_t, get);
}

static void constants(void)
{
    CONST(PMD_ABI_VERSION_MAJOR);
    CONST(PMD_ABI_VERSION_MINOR);
    CONST(PMD_HOST_SIZE_1_0);
    CONST(PMD_PLUGIN_SIZE_1_0);
    CONST(PMD_PLUGIN_SIZE_1_1);
    CONST(PMD_PLUGIN_FROZEN_SIZE);
    CONST(PMD_POOL_STATUS_MIN_SIZE);
    CONST(PMD_GPU_INFO_MIN_SIZE);
    CONST(PMD_NODE_RESOURCES_MIN_SIZE);
    CONST(PMD_STATS_MIN_SIZE);
    CONST(PMD_HANDOVER_MIN_SIZE);
    CONST(PMD_HANDOVER_REGISTERED);
    CONST(PMD_OK);
    CONST(PMD_ERR_INVALID_ARGUMENT);
    CONST(PMD_ERR_STATE);
    CONST(PMD_ERR_ABI_MAJOR);
    CONST(PMD_ERR_CONFIG);
    CONST(PMD_ERR_NO_MEMORY);
    CONST(PMD_ERR_RESOURCE);
    CONST(PMD_ERR_LIMIT);
    CONST(PMD_ERR_HOST_DATA);
    CONST(PMD_ERR_UNSUPPORTED);
    CONST(PMD_ERR_INTERNAL);
    CONST(PMD_LOG_ERROR);
    CONST(PMD_LOG_WARN);
    CONST(PMD_LOG_INFO);
    CONST(PMD_LOG_DEBUG);
    CONST(PMD_NODE_IDLE);
    CONST(PMD_NODE_REGISTERING);
    CONST(PMD_NODE_REGISTERED);
    CONST(PMD_NODE_DEGRADED);
    CONST(PMD_NODE_UNAUTHORIZED);
    CONST(PMD_NODE_DEREGISTERING);
    CONST(PMD_NODE_STOPPED);
}

int main(void)
{
    records();
    sinks();
    host_and_plugin();
    extensions();
    constants();
    return fflush(stdout) == 0 ? 0 : 1;
}
