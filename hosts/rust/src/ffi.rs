//! ffi.rs - the raw ABI of include/pmd_plugin.h, mirrored by hand, and the
//! few libc / libdl functions the loader needs.
//!
//! Every struct is `#[repr(C)]` with its fields in header order and the types
//! of plugin.abi.md section 4: `u32`/`u64`/`i32`/`u8`, raw pointers, and
//! `Option<unsafe extern "C" fn>` for every function pointer (a broken plugin
//! can leave even a "required" one NULL). Result codes, log levels and node
//! states are `i32` constants, never Rust enums: an unknown value from a newer
//! minor must not be undefined behaviour.
//!
//! tests/layout.rs compares every size and offset here with the C compiler's
//! (hosts/rust/layout/layout.c, built against the real header).
#![allow(missing_docs)]

use std::os::raw::{c_char, c_int, c_long, c_void};

pub const PMD_ABI_VERSION_MAJOR: u32 = 1;
pub const PMD_ABI_VERSION_MINOR: u32 = 2;
pub const PMD_PLUGIN_ENTRY_SYMBOL: &[u8] = b"pmd_plugin_entry\0";

// enum pmd_result
pub const PMD_OK: i32 = 0;
pub const PMD_ERR_INVALID_ARGUMENT: i32 = 1;
pub const PMD_ERR_STATE: i32 = 2;
pub const PMD_ERR_ABI_MAJOR: i32 = 3;
pub const PMD_ERR_CONFIG: i32 = 4;
pub const PMD_ERR_NO_MEMORY: i32 = 5;
pub const PMD_ERR_RESOURCE: i32 = 6;
pub const PMD_ERR_LIMIT: i32 = 7;
pub const PMD_ERR_HOST_DATA: i32 = 8;
pub const PMD_ERR_UNSUPPORTED: i32 = 9;
pub const PMD_ERR_INTERNAL: i32 = 10;

// enum pmd_log_level
pub const PMD_LOG_ERROR: i32 = 1;
pub const PMD_LOG_WARN: i32 = 2;
pub const PMD_LOG_INFO: i32 = 3;
pub const PMD_LOG_DEBUG: i32 = 4;

// enum pmd_node_state
pub const PMD_NODE_IDLE: i32 = 0;
pub const PMD_NODE_REGISTERING: i32 = 1;
pub const PMD_NODE_REGISTERED: i32 = 2;
pub const PMD_NODE_DEGRADED: i32 = 3;
pub const PMD_NODE_UNAUTHORIZED: i32 = 4;
pub const PMD_NODE_DEREGISTERING: i32 = 5;
pub const PMD_NODE_STOPPED: i32 = 6;

pub const PMD_EXT_CONFORMANCE: &[u8] = b"pmd.ext.conformance/1\0";
pub const PMD_EXT_STATS: &[u8] = b"pmd.ext.stats/1\0";

/// Opaque instance, owned by the plugin.
#[repr(C)]
pub struct PmdInstance {
    _private: [u8; 0],
}

#[repr(C)]
pub struct PmdPoolStatus {
    pub struct_size: u32,
    pub ready: u8,
    pub draining: u8,
    pub reserved: [u8; 2],
    pub slots_free: u32,
    pub slots_total: u32,
    pub vram_free_bytes: u64,
    pub pool_id: *const c_char,
    pub engine: *const c_char,
}

#[repr(C)]
pub struct PmdGpuInfo {
    pub struct_size: u32,
    pub device_id: u32,
    pub vram_total_bytes: u64,
    pub name: *const c_char,
    pub compute_capability: *const c_char,
}

#[repr(C)]
pub struct PmdNodeResources {
    pub struct_size: u32,
    pub cpu_cores: u32,
    pub ram_total_bytes: u64,
}

pub type AddPoolFn = unsafe extern "C" fn(*mut c_void, *const PmdPoolStatus) -> i32;
pub type SetResourcesFn = unsafe extern "C" fn(*mut c_void, *const PmdNodeResources) -> i32;
pub type AddGpuFn = unsafe extern "C" fn(*mut c_void, *const PmdGpuInfo) -> i32;

#[repr(C)]
pub struct PmdPoolSink {
    pub struct_size: u32,
    pub reserved: u32,
    pub sink_data: *mut c_void,
    pub add_pool: Option<AddPoolFn>,
}

#[repr(C)]
pub struct PmdCapabilitySink {
    pub struct_size: u32,
    pub reserved: u32,
    pub sink_data: *mut c_void,
    pub set_resources: Option<SetResourcesFn>,
    pub add_gpu: Option<AddGpuFn>,
}

pub type LogFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char);
pub type ListPoolsFn = unsafe extern "C" fn(*mut c_void, *const PmdPoolSink) -> i32;
pub type GetCapabilitiesFn = unsafe extern "C" fn(*mut c_void, *const PmdCapabilitySink) -> i32;
pub type StateChangedFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char);
pub type HostGetExtensionFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> *const c_void;

#[repr(C)]
pub struct PmdHost {
    pub struct_size: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub reserved: u32,
    pub host_data: *mut c_void,
    pub host_name: *const c_char,
    pub host_version: *const c_char,
    pub log: Option<LogFn>,
    pub list_pools: Option<ListPoolsFn>,
    pub get_capabilities: Option<GetCapabilitiesFn>,
    pub state_changed: Option<StateChangedFn>,
    // --- ABI 1.1 ---
    pub get_extension: Option<HostGetExtensionFn>,
}

pub type InitFn = unsafe extern "C" fn(*const PmdHost, *const c_char, *mut *mut PmdInstance, *mut c_char, u32) -> i32;
pub type InstanceFn = unsafe extern "C" fn(*mut PmdInstance) -> i32;
pub type TickFn = unsafe extern "C" fn(*mut PmdInstance, u64) -> i32;
pub type DestroyFn = unsafe extern "C" fn(*mut PmdInstance);
pub type ResultStringFn = unsafe extern "C" fn(i32) -> *const c_char;
pub type PluginGetExtensionFn = unsafe extern "C" fn(*const c_char) -> *const c_void;

#[repr(C)]
pub struct PmdPlugin {
    // --- frozen for every major ---
    pub struct_size: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub reserved: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    // --- ABI 1.0 ---
    pub description: *const c_char,
    pub stop_timeout_ms: u32,
    pub reserved2: u32,
    pub init: Option<InitFn>,
    pub on_start: Option<InstanceFn>,
    pub on_tick: Option<TickFn>,
    pub on_stop: Option<InstanceFn>,
    pub destroy: Option<DestroyFn>,
    pub result_string: Option<ResultStringFn>,
    // --- ABI 1.1 ---
    pub get_extension: Option<PluginGetExtensionFn>,
    // --- ABI 1.2 (NULL: handover not offered) ---
    pub on_handover: Option<HandoverFn>,
    pub on_start_handed_over: Option<StartHandedOverFn>,
}

/// pmd_handover_t (ABI 1.2): plain data from the instance that hands its
/// node over to the one that takes it over.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PmdHandover {
    pub struct_size: u32,
    pub flags: u32,
    pub next_heartbeat_due_ns: u64,
    pub heartbeat_interval_ns: u64,
    pub last_heartbeat_ok_ns: u64,
    pub node_id: [c_char; 256],
}

pub const PMD_HANDOVER_REGISTERED: u32 = 1;

pub type HandoverFn = unsafe extern "C" fn(*mut PmdInstance, *mut PmdHandover) -> i32;
pub type StartHandedOverFn = unsafe extern "C" fn(*mut PmdInstance, *const PmdHandover) -> i32;

pub type PmdPluginEntryFn = unsafe extern "C" fn(u32, u32, *mut *const PmdPlugin) -> i32;

#[repr(C)]
pub struct PmdExtConformance {
    pub struct_size: u32,
    pub reserved: u32,
    pub config_template: *const c_char,
}

#[repr(C)]
pub struct PmdStats {
    pub struct_size: u32,
    pub state: i32,
    pub state_since_unix_ms: u64,
    pub registrations_ok: u64,
    pub registrations_failed_transport: u64,
    pub registrations_failed_status: u64,
    pub registrations_failed_auth: u64,
    pub reregistrations: u64,
    pub heartbeats_ok: u64,
    pub heartbeats_failed_transport: u64,
    pub heartbeats_failed_status: u64,
    pub heartbeats_failed_auth: u64,
    pub heartbeats_not_registered: u64,
    pub deregistrations_ok: u64,
    pub deregistrations_failed: u64,
    pub consecutive_failures: u64,
    pub last_heartbeat_ok_unix_ms: u64,
    pub last_heartbeat_latency_us: u64,
    pub connections_opened: u64,
    pub events_dropped: u64,
    pub node_id: *const c_char,
    pub last_error: *const c_char,
    pub stop_timeout_ms: u64,
    pub last_registration_latency_us: u64,
}

pub type StatsGetFn = unsafe extern "C" fn(*mut PmdInstance, *mut PmdStats) -> i32;

#[repr(C)]
pub struct PmdExtStats {
    pub struct_size: u32,
    pub reserved: u32,
    pub get: Option<StatsGetFn>,
}

/// Offset of a field, computed at run time: Rust 1.63 has no `offset_of!`
/// (1.77) and no const `offset_from` (1.65). Never reads the memory.
#[macro_export]
macro_rules! pmd_offset_of {
    ($ty:ty, $field:ident) => {{
        let slot = ::std::mem::MaybeUninit::<$ty>::uninit();
        let base = slot.as_ptr();
        // SAFETY: addr_of! forms a place-to-pointer without a reference or a
        // read, which is allowed on uninitialised memory.
        #[allow(unused_unsafe)]
        let field = unsafe { ::std::ptr::addr_of!((*base).$field) };
        (field as *const u8 as usize) - (base as *const u8 as usize)
    }};
}

/// Offset just past a field: `offsetof(T, f) + sizeof(f)`, the least
/// struct_size that covers `f` (the growth rule of plugin.abi.md section 3).
macro_rules! end_of {
    ($ty:ty, $field:ident) => {{
        fn size_of_pointee<T>(_: *const T) -> usize {
            ::std::mem::size_of::<T>()
        }
        let slot = ::std::mem::MaybeUninit::<$ty>::uninit();
        let base = slot.as_ptr();
        // SAFETY: as pmd_offset_of!.
        #[allow(unused_unsafe)]
        let field = unsafe { ::std::ptr::addr_of!((*base).$field) };
        (field as *const u8 as usize) - (base as *const u8 as usize) + size_of_pointee(field)
    }};
}
pub(crate) use end_of;

// The header's size macros are offsetof() expressions: bindgen cannot
// evaluate them and Rust 1.63 cannot compute them in a const, so they are
// functions here (checked against the C values by tests/layout.rs).
pub fn pmd_host_size_1_0() -> u32 {
    pmd_offset_of!(PmdHost, get_extension) as u32
}
pub fn pmd_plugin_size_1_0() -> u32 {
    pmd_offset_of!(PmdPlugin, get_extension) as u32
}
/// Size of a 1.1 descriptor: everything before on_handover.
pub fn pmd_plugin_size_1_1() -> u32 {
    pmd_offset_of!(PmdPlugin, on_handover) as u32
}
pub fn pmd_plugin_frozen_size() -> u32 {
    pmd_offset_of!(PmdPlugin, description) as u32
}
pub fn pmd_pool_status_min_size() -> u32 {
    pmd_offset_of!(PmdPoolStatus, engine) as u32
}
pub fn pmd_gpu_info_min_size() -> u32 {
    std::mem::size_of::<PmdGpuInfo>() as u32
}
pub fn pmd_node_resources_min_size() -> u32 {
    std::mem::size_of::<PmdNodeResources>() as u32
}
pub fn pmd_stats_min_size() -> u32 {
    pmd_offset_of!(PmdStats, node_id) as u32
}
/// The least struct_size on_handover / on_start_handed_over accept.
pub fn pmd_handover_min_size() -> u32 {
    std::mem::size_of::<PmdHandover>() as u32
}

// Sizes from plugin.abi.md section 4 (LP64), checked at compile time.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::size_of;
    assert!(size_of::<PmdHost>() == 80);
    assert!(size_of::<PmdPlugin>() == 120);
    assert!(size_of::<PmdHandover>() == 288);
    assert!(size_of::<PmdPoolStatus>() == 40);
    assert!(size_of::<PmdGpuInfo>() == 32);
    assert!(size_of::<PmdNodeResources>() == 16);
    assert!(size_of::<PmdPoolSink>() == 24);
    assert!(size_of::<PmdCapabilitySink>() == 32);
    assert!(size_of::<PmdExtConformance>() == 16);
    assert!(size_of::<PmdExtStats>() == 16);
    assert!(size_of::<PmdStats>() == 184);
    assert!(size_of::<Option<LogFn>>() == size_of::<*const c_void>());
};

// --- libdl and libc, declared by hand (std only) ---------------------------

pub const RTLD_NOW: c_int = 2; // glibc and musl, every Linux architecture
pub const RTLD_LOCAL: c_int = 0;

#[link(name = "dl")]
extern "C" {
    pub fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    pub fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    pub fn dlclose(handle: *mut c_void) -> c_int;
    pub fn dlerror() -> *mut c_char;
}

/// `struct timespec` on Linux with a `long` time_t (every LP64 target).
#[repr(C)]
pub struct Timespec {
    pub tv_sec: c_long,
    pub tv_nsec: c_long,
}

pub const CLOCK_MONOTONIC: c_int = 1; // Linux

extern "C" {
    pub fn clock_gettime(clock_id: c_int, tp: *mut Timespec) -> c_int;
}
