//! layout.rs - the Rust mirror of the ABI (src/ffi.rs) against the C
//! compiler's view of include/pmd_plugin.h, as printed by pmd_abi_layout
//! (layout/layout.c, built by CMake; path in PMD_ABI_LAYOUT_BIN).
//!
//! Both directions are checked: every line the C program prints must match
//! a Rust value, and every Rust value must have been printed.

mod common;

use std::collections::BTreeMap;
use std::mem::size_of;
use std::process::Command;

use pmd_host::ffi::*;
use pmd_host::pmd_offset_of;

/// Adds `TYPE SIZE` and `TYPE.FIELD OFFSET` for one struct.
macro_rules! layout {
    ($map:ident, $cname:literal, $ty:ty, [$($field:ident),* $(,)?]) => {{
        $map.insert($cname.to_string(), size_of::<$ty>() as i64);
        $( $map.insert(format!("{}.{}", $cname, stringify!($field)), pmd_offset_of!($ty, $field) as i64); )*
    }};
}

macro_rules! consts {
    ($map:ident, [$($name:ident = $value:expr),* $(,)?]) => {{
        $( $map.insert(format!("const {}", stringify!($name)), ($value) as i64); )*
    }};
}

fn rust_layout() -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    layout!(
        m,
        "pmd_pool_status_t",
        PmdPoolStatus,
        [struct_size, ready, draining, reserved, slots_free, slots_total, vram_free_bytes, pool_id, engine,]
    );
    layout!(m, "pmd_gpu_info_t", PmdGpuInfo, [struct_size, device_id, vram_total_bytes, name, compute_capability]);
    layout!(m, "pmd_node_resources_t", PmdNodeResources, [struct_size, cpu_cores, ram_total_bytes]);
    layout!(m, "pmd_pool_sink_t", PmdPoolSink, [struct_size, reserved, sink_data, add_pool]);
    layout!(m, "pmd_capability_sink_t", PmdCapabilitySink, [struct_size, reserved, sink_data, set_resources, add_gpu]);
    layout!(
        m,
        "pmd_host_t",
        PmdHost,
        [
            struct_size,
            abi_major,
            abi_minor,
            reserved,
            host_data,
            host_name,
            host_version,
            log,
            list_pools,
            get_capabilities,
            state_changed,
            get_extension,
        ]
    );
    layout!(
        m,
        "pmd_plugin_t",
        PmdPlugin,
        [
            struct_size,
            abi_major,
            abi_minor,
            reserved,
            name,
            version,
            description,
            stop_timeout_ms,
            reserved2,
            init,
            on_start,
            on_tick,
            on_stop,
            destroy,
            result_string,
            get_extension,
            on_handover,
            on_start_handed_over,
        ]
    );
    layout!(
        m,
        "pmd_handover_t",
        PmdHandover,
        [struct_size, flags, next_heartbeat_due_ns, heartbeat_interval_ns, last_heartbeat_ok_ns, node_id]
    );
    layout!(m, "pmd_ext_conformance_t", PmdExtConformance, [struct_size, reserved, config_template]);
    layout!(
        m,
        "pmd_stats_t",
        PmdStats,
        [
            struct_size,
            state,
            state_since_unix_ms,
            registrations_ok,
            registrations_failed_transport,
            registrations_failed_status,
            registrations_failed_auth,
            reregistrations,
            heartbeats_ok,
            heartbeats_failed_transport,
            heartbeats_failed_status,
            heartbeats_failed_auth,
            heartbeats_not_registered,
            deregistrations_ok,
            deregistrations_failed,
            consecutive_failures,
            last_heartbeat_ok_unix_ms,
            last_heartbeat_latency_us,
            connections_opened,
            events_dropped,
            node_id,
            last_error,
            stop_timeout_ms,
            last_registration_latency_us,
        ]
    );
    layout!(m, "pmd_ext_stats_t", PmdExtStats, [struct_size, reserved, get]);
    consts!(
        m,
        [
            PMD_ABI_VERSION_MAJOR = PMD_ABI_VERSION_MAJOR,
            PMD_ABI_VERSION_MINOR = PMD_ABI_VERSION_MINOR,
            PMD_HOST_SIZE_1_0 = pmd_host_size_1_0(),
            PMD_PLUGIN_SIZE_1_0 = pmd_plugin_size_1_0(),
            PMD_PLUGIN_SIZE_1_1 = pmd_plugin_size_1_1(),
            PMD_PLUGIN_FROZEN_SIZE = pmd_plugin_frozen_size(),
            PMD_POOL_STATUS_MIN_SIZE = pmd_pool_status_min_size(),
            PMD_GPU_INFO_MIN_SIZE = pmd_gpu_info_min_size(),
            PMD_NODE_RESOURCES_MIN_SIZE = pmd_node_resources_min_size(),
            PMD_STATS_MIN_SIZE = pmd_stats_min_size(),
            PMD_HANDOVER_MIN_SIZE = pmd_handover_min_size(),
            PMD_HANDOVER_REGISTERED = PMD_HANDOVER_REGISTERED,
            PMD_OK = PMD_OK,
            PMD_ERR_INVALID_ARGUMENT = PMD_ERR_INVALID_ARGUMENT,
            PMD_ERR_STATE = PMD_ERR_STATE,
            PMD_ERR_ABI_MAJOR = PMD_ERR_ABI_MAJOR,
            PMD_ERR_CONFIG = PMD_ERR_CONFIG,
            PMD_ERR_NO_MEMORY = PMD_ERR_NO_MEMORY,
            PMD_ERR_RESOURCE = PMD_ERR_RESOURCE,
            PMD_ERR_LIMIT = PMD_ERR_LIMIT,
            PMD_ERR_HOST_DATA = PMD_ERR_HOST_DATA,
            PMD_ERR_UNSUPPORTED = PMD_ERR_UNSUPPORTED,
            PMD_ERR_INTERNAL = PMD_ERR_INTERNAL,
            PMD_LOG_ERROR = PMD_LOG_ERROR,
            PMD_LOG_WARN = PMD_LOG_WARN,
            PMD_LOG_INFO = PMD_LOG_INFO,
            PMD_LOG_DEBUG = PMD_LOG_DEBUG,
            PMD_NODE_IDLE = PMD_NODE_IDLE,
            PMD_NODE_REGISTERING = PMD_NODE_REGISTERING,
            PMD_NODE_REGISTERED = PMD_NODE_REGISTERED,
            PMD_NODE_DEGRADED = PMD_NODE_DEGRADED,
            PMD_NODE_UNAUTHORIZED = PMD_NODE_UNAUTHORIZED,
            PMD_NODE_DEREGISTERING = PMD_NODE_DEREGISTERING,
            PMD_NODE_STOPPED = PMD_NODE_STOPPED,
        ]
    );
    m
}

fn c_layout() -> BTreeMap<String, i64> {
    // Built by the pmd_abi_layout CMake target (ctest -R rust_host sets the path).
    let bin = common::artifact("PMD_ABI_LAYOUT_BIN");
    let out = Command::new(&bin).output().unwrap_or_else(|e| panic!("cannot run {:?}: {}", bin, e));
    assert!(out.status.success(), "{:?} failed: {:?}", bin, out.status);
    let text = String::from_utf8(out.stdout).expect("pmd_abi_layout prints ASCII");
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {:?}", line));
        let value: i64 = value.parse().unwrap_or_else(|_| panic!("bad number in {:?}", line));
        assert!(m.insert(key.to_string(), value).is_none(), "{} printed twice", key);
    }
    assert!(m.len() > 100, "pmd_abi_layout printed only {} lines", m.len());
    m
}

#[test]
fn rust_structs_and_constants_match_the_c_header() {
    let c = c_layout();
    let rust = rust_layout();
    let mut problems = Vec::new();
    for (key, cv) in &c {
        match rust.get(key) {
            Some(rv) if rv == cv => {}
            Some(rv) => problems.push(format!("{}: C says {}, Rust says {}", key, cv, rv)),
            None => problems.push(format!("{}: printed by C ({}), not mirrored in Rust", key, cv)),
        }
    }
    for key in rust.keys() {
        if !c.contains_key(key) {
            problems.push(format!("{}: in Rust, not printed by pmd_abi_layout", key));
        }
    }
    assert!(problems.is_empty(), "ABI layout mismatch:\n  {}", problems.join("\n  "));
}

#[test]
fn every_struct_is_8_byte_aligned_and_fn_pointers_are_nullable() {
    use std::mem::align_of;
    assert_eq!(align_of::<PmdHost>(), 8);
    assert_eq!(align_of::<PmdPlugin>(), 8);
    assert_eq!(align_of::<PmdPoolStatus>(), 8);
    assert_eq!(align_of::<PmdStats>(), 8);
    assert_eq!(align_of::<PmdHandover>(), 8);
    // Fn pointers are nullable through Option at no cost (NULL = None).
    assert_eq!(size_of::<Option<LogFn>>(), size_of::<usize>());
}
