//! instance.rs - one plugin instance and the host callbacks it makes.
//!
//! Safety by construction:
//! - The boxed `Host` lives behind `host_data` from before `init` until after
//!   `destroy` returns, so no callback can reach freed memory.
//! - Every ABI call takes `&mut Instance`: calls never overlap, and a `Host`
//!   cannot call back into its own instance (re-entry).
//! - The instance holds a `Plugin` (an `Arc` of the library), so dlclose
//!   cannot happen while it lives.
//! - Every callback is an `extern "C"` trampoline that catches panics: a
//!   panic never unwinds into C (undefined behaviour before Rust 1.81, an
//!   abort since).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::io::Write;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, addr_of};

use crate::error::{Error, ResultCode};
use crate::ffi::{self, end_of};
use crate::host::{GpuInfo, Host, LogLevel, NodeState, PoolStatus};
use crate::plugin::{copy_c_string, Plugin};

/// Longest plugin line passed on to `Host::log` (longer ones are cut).
const MAX_LINE_BYTES: usize = 8192;
/// Size of the buffer init() writes its error line into.
const INIT_ERROR_BYTES: usize = 512;

/// A live plugin instance (`pmd_instance_t *`). Dropping it calls
/// `destroy`, which stops a started instance first and may then block for up
/// to [`Plugin::stop_timeout`].
///
/// `Send`, not `Sync`. The header allows the host to move an instance
/// between threads between calls, as long as calls never overlap
/// (plugin.abi.md section 7: "a Rust host may make its handle `Send`, not
/// `Sync`"); the plugin relies on serialisation, never on thread identity.
/// `&mut self` on every call gives that serialisation; no `Sync` means no
/// `&Instance` is ever shared between threads. The `Host` is `Send` for the
/// same reason: its callbacks run on whichever thread makes the call.
///
/// ```compile_fail
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<pmd_host::Instance>(); // Instance is not Sync
/// ```
pub struct Instance {
    raw: *mut ffi::PmdInstance,
    /// From `Box::into_raw`; freed in `Drop` after `destroy` returns. A raw
    /// pointer, not a `Box`, so no unique borrow of it is live while the
    /// plugin calls back through `host_data`.
    state: *mut HostState,
    /// `host_name` / `host_version` point here until `destroy` returns.
    _host_strings: (CString, CString),
    plugin: Plugin,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: see the type's documentation. The raw pointers are owned by this
// value alone; the plugin's instance accepts calls from any thread one at a
// time, and the host state is `Send` (Box<dyn Host>, Host: Send).
unsafe impl Send for Instance {}

/// What `host_data` points to. Callbacks form only a shared reference to it
/// and borrow the host through the `RefCell` (`try_borrow_mut`: a callback
/// made while another is running is refused, never a panic).
struct HostState {
    host: RefCell<Box<dyn Host>>,
}

/// Counters and state of an instance (`pmd.ext.stats/1`), copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    pub state: NodeState,
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
    pub node_id: String,
    pub last_error: String,
    /// This instance's bound on stop/destroy, when the plugin reports it
    /// (the plugin writes back how much of the struct it filled).
    pub stop_timeout_ms: Option<u64>,
}

impl Instance {
    pub(crate) fn create(
        plugin: Plugin,
        config: &str,
        host: Box<dyn Host>,
        host_name: &str,
        host_version: &str,
    ) -> Result<Instance, Error> {
        let config = CString::new(config).map_err(|_| Error::Nul { what: "config" })?;
        let name = CString::new(host_name).map_err(|_| Error::Nul { what: "host name" })?;
        let version = CString::new(host_version).map_err(|_| Error::Nul { what: "host version" })?;
        let state = Box::into_raw(Box::new(HostState { host: RefCell::new(host) }));
        let host_struct = ffi::PmdHost {
            struct_size: std::mem::size_of::<ffi::PmdHost>() as u32,
            abi_major: ffi::PMD_ABI_VERSION_MAJOR,
            abi_minor: ffi::PMD_ABI_VERSION_MINOR, // the same minor the entry got
            reserved: 0,
            host_data: state as *mut c_void,
            host_name: name.as_ptr(),
            host_version: version.as_ptr(),
            log: Some(on_log),
            list_pools: Some(on_list_pools),
            get_capabilities: Some(on_get_capabilities),
            state_changed: Some(on_state_changed),
            get_extension: Some(crate::log_fields::on_get_extension), // pmd.host.ext.log_fields/1
        };
        let mut error = [0 as c_char; INIT_ERROR_BYTES];
        let mut raw: *mut ffi::PmdInstance = ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `state` and the host
        // strings outlive the instance (freed only in Drop after destroy, or
        // below after a failed init, after which the plugin makes no calls).
        let rc = unsafe {
            (plugin.inner.init)(&host_struct, config.as_ptr(), &mut raw, error.as_mut_ptr(), INIT_ERROR_BYTES as u32)
        };
        if rc == ffi::PMD_OK && !raw.is_null() {
            return Ok(Instance { raw, state, _host_strings: (name, version), plugin, _not_sync: PhantomData });
        }
        // A failed init created nothing: the host state can go. (A plugin that
        // fails yet hands out an instance is broken; that instance is leaked
        // rather than destroyed in an undefined state.)
        // SAFETY: from Box::into_raw above, no longer referenced by the plugin.
        drop(unsafe { Box::from_raw(state) });
        let code = ResultCode::from_raw(rc).unwrap_or(ResultCode::Internal);
        error[INIT_ERROR_BYTES - 1] = 0; // never trust the plugin to terminate it
        let message = if rc == ffi::PMD_OK {
            "init returned PMD_OK without an instance".to_string()
        } else {
            // SAFETY: NUL-terminated within the buffer (forced above).
            unsafe { CStr::from_ptr(error.as_ptr()) }.to_string_lossy().into_owned()
        };
        let name = plugin.inner.result_string(code.raw());
        Err(Error::Call { call: "init", code, name, message })
    }

    /// The plugin this instance belongs to.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// `on_start`: begin work (node_registration: the node joins the process's
    /// network thread, started for the first node, and
    /// registration is queued). Never does network I/O itself.
    pub fn on_start(&mut self) -> Result<(), Error> {
        // SAFETY: a live instance; &mut self serialises calls.
        let rc = unsafe { (self.plugin.inner.on_start)(self.raw) };
        self.check("on_start", rc)
    }

    /// `on_tick`: the periodic call (every 10 to 1000 ms). `now_ns` is
    /// CLOCK_MONOTONIC in nanoseconds ([`monotonic_ns`](crate::monotonic_ns)).
    /// Never blocks; this is where log lines, state changes and pool pulls
    /// happen.
    pub fn on_tick(&mut self, now_ns: u64) -> Result<(), Error> {
        // SAFETY: as start.
        let rc = unsafe { (self.plugin.inner.on_tick)(self.raw, now_ns) };
        self.check("on_tick", rc)
    }

    /// `on_tick` with the current CLOCK_MONOTONIC time.
    pub fn on_tick_now(&mut self) -> Result<(), Error> {
        self.on_tick(crate::monotonic_ns())
    }

    /// `on_stop`: end work (node_registration: deregister, join its thread).
    /// Blocks up to [`Plugin::stop_timeout`].
    pub fn on_stop(&mut self) -> Result<(), Error> {
        // SAFETY: as start.
        let rc = unsafe { (self.plugin.inner.on_stop)(self.raw) };
        self.check("on_stop", rc)
    }

    /// `on_handover` (ABI 1.2, plugin.abi.md section 5.17): end the instance
    /// *without* deregistering and return what a new instance needs to take
    /// the node over ([`on_start_handed_over`](Self::on_start_handed_over)).
    /// Valid when started; afterwards the instance is stopped (drop it).
    /// Blocks like [`on_stop`](Self::on_stop), up to [`Plugin::stop_timeout`].
    /// `Error::Unsupported` (nothing called) when the plugin does not
    /// [offer handover](Plugin::offers_handover); on a plugin error the
    /// instance is unchanged (still started).
    pub fn on_handover(&mut self) -> Result<crate::Handover, Error> {
        let (handover, _) = self.plugin.inner.handover.ok_or(Error::Unsupported { what: "handover" })?;
        let mut raw = crate::handover::empty_raw();
        // SAFETY: a live instance; a valid, host-owned struct of full size
        // that the plugin fills within struct_size during the call only.
        let rc = unsafe { handover(self.raw, &mut raw) };
        self.check("on_handover", rc)?;
        // A plugin may not claim more than the host's struct holds.
        raw.struct_size = raw.struct_size.min(std::mem::size_of::<ffi::PmdHandover>() as u32);
        Ok(crate::Handover::from_raw(&raw))
    }

    /// `on_start_handed_over` (ABI 1.2): as [`on_start`](Self::on_start),
    /// taking over the node another instance handed over (node_registration:
    /// registers at once, continues the old heartbeat schedule; a handover
    /// of another node id is a plain start). `Error::Unsupported` (nothing
    /// called) when the plugin does not offer handover: call `on_start`.
    pub fn on_start_handed_over(&mut self, handover: &crate::Handover) -> Result<(), Error> {
        let (_, start) = self.plugin.inner.handover.ok_or(Error::Unsupported { what: "handover" })?;
        let raw = handover.to_raw()?;
        // SAFETY: a live instance; `raw` is read during the call only.
        let rc = unsafe { start(self.raw, &raw) };
        self.check("on_start_handed_over", rc)
    }

    /// pmd.ext.stats/1: the instance's counters, or `None` when the plugin
    /// does not offer them (or refused the call). Never blocks, no callbacks.
    pub fn stats(&mut self) -> Option<Stats> {
        let get = self.plugin.inner.stats_get?;
        // SAFETY: PmdStats is integers and raw pointers only: all-zero is a
        // valid value (and the "host left it" value for unknown fields).
        let mut raw: ffi::PmdStats = unsafe { std::mem::zeroed() };
        raw.struct_size = std::mem::size_of::<ffi::PmdStats>() as u32;
        // SAFETY: a live instance, a valid out pointer; the strings it sets
        // are valid until the next call on the instance and copied at once.
        unsafe {
            if get(self.raw, &mut raw) != ffi::PMD_OK {
                return None;
            }
            Some(copy_stats(&raw))
        }
    }

    fn check(&self, call: &'static str, rc: i32) -> Result<(), Error> {
        match ResultCode::from_raw(rc) {
            None => Ok(()),
            Some(code) => {
                Err(Error::Call { call, code, name: self.plugin.inner.result_string(rc), message: String::new() })
            }
        }
    }
}

unsafe fn copy_stats(s: &ffi::PmdStats) -> Stats {
    Stats {
        state: NodeState::from_raw(s.state),
        state_since_unix_ms: s.state_since_unix_ms,
        registrations_ok: s.registrations_ok,
        registrations_failed_transport: s.registrations_failed_transport,
        registrations_failed_status: s.registrations_failed_status,
        registrations_failed_auth: s.registrations_failed_auth,
        reregistrations: s.reregistrations,
        heartbeats_ok: s.heartbeats_ok,
        heartbeats_failed_transport: s.heartbeats_failed_transport,
        heartbeats_failed_status: s.heartbeats_failed_status,
        heartbeats_failed_auth: s.heartbeats_failed_auth,
        heartbeats_not_registered: s.heartbeats_not_registered,
        deregistrations_ok: s.deregistrations_ok,
        deregistrations_failed: s.deregistrations_failed,
        consecutive_failures: s.consecutive_failures,
        last_heartbeat_ok_unix_ms: s.last_heartbeat_ok_unix_ms,
        last_heartbeat_latency_us: s.last_heartbeat_latency_us,
        connections_opened: s.connections_opened,
        events_dropped: s.events_dropped,
        node_id: copy_c_string(s.node_id).unwrap_or_default(),
        last_error: copy_c_string(s.last_error).unwrap_or_default(),
        stop_timeout_ms: if s.struct_size as usize >= ffi_stop_timeout_end() {
            Some(s.stop_timeout_ms)
        } else {
            None
        },
    }
}

/// Where PmdStats::stop_timeout_ms ends: the filled size must reach it.
fn ffi_stop_timeout_end() -> usize {
    std::mem::size_of::<ffi::PmdStats>()
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: destroy is valid in every state and called exactly once; it
        // may call log/state_changed, so the host state is freed only after
        // it returns (no callback follows its return). Fields drop after
        // this body: the host strings, then the Plugin (maybe dlclose).
        unsafe {
            (self.plugin.inner.destroy)(self.raw);
            drop(Box::from_raw(self.state));
        }
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.plugin.name()).finish()
    }
}

// --- trampolines ------------------------------------------------------------

/// Runs `f`; a panic is reported on stderr and `on_panic` returned instead.
pub(crate) fn guard<R>(what: &'static str, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            report_panic(what, payload);
            on_panic
        }
    }
}

fn report_panic(what: &'static str, payload: Box<dyn Any + Send>) {
    // Nothing here may unwind either: eprintln! panics when stderr fails, so
    // write! with the error ignored; the payload's own Drop could panic, so
    // it is dropped under catch_unwind and a second payload is leaked.
    let reported = catch_unwind(AssertUnwindSafe(|| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        let _ =
            writeln!(std::io::stderr(), "pmd-host: panic in Host::{} caught at the plugin boundary: {}", what, text);
    }));
    if let Err(again) = reported {
        std::mem::forget(again);
    }
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Borrows the host behind `host_data` for one callback.
pub(crate) unsafe fn with_host<R>(
    host_data: *mut c_void,
    what: &str,
    refused: R,
    f: impl FnOnce(&mut dyn Host) -> R,
) -> R {
    if host_data.is_null() {
        return refused;
    }
    let state = &*(host_data as *const HostState);
    let result = match state.host.try_borrow_mut() {
        Ok(mut host) => f(&mut **host),
        Err(_) => {
            let _ = writeln!(std::io::stderr(), "pmd-host: nested {} callback refused", what);
            refused
        }
    };
    result
}

/// A plugin line as text: NULL reads as "", invalid UTF-8 is replaced, the
/// length bounded.
pub(crate) unsafe fn plugin_text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LINE_BYTES)]).into_owned()
}

fn host_error(host_data: *mut c_void, message: &str) {
    // SAFETY: host_data is the HostState pointer the trampolines were given.
    unsafe { with_host(host_data, "log", (), |h| h.log(LogLevel::Error, message)) }
}

unsafe extern "C" fn on_log(host_data: *mut c_void, level: i32, message: *const c_char) {
    guard("log", (), || {
        let text = plugin_text(message);
        with_host(host_data, "log", (), |h| h.log(LogLevel::from_raw(level), &text))
    })
}

unsafe extern "C" fn on_state_changed(host_data: *mut c_void, state: i32, detail: *const c_char) {
    guard("state_changed", (), || {
        let text = plugin_text(detail);
        with_host(host_data, "state_changed", (), |h| h.state_changed(NodeState::from_raw(state), &text))
    })
}

unsafe extern "C" fn on_list_pools(host_data: *mut c_void, sink: *const ffi::PmdPoolSink) -> i32 {
    guard("pools", ffi::PMD_ERR_INTERNAL, || {
        let size_ok =
            !sink.is_null() && addr_of!((*sink).struct_size).read() as usize >= end_of!(ffi::PmdPoolSink, add_pool);
        let add_pool = match if size_ok { (*sink).add_pool } else { None } {
            Some(f) => f,
            None => {
                host_error(host_data, "pmd-host: plugin passed an invalid pool sink");
                return ffi::PMD_ERR_INVALID_ARGUMENT;
            }
        };
        // The borrow of the host ends before any record is pushed.
        let pools = match with_host(host_data, "list_pools", None, |h| h.pools()) {
            Some(p) => p,
            None => return ffi::PMD_ERR_RESOURCE,
        };
        push_pools(host_data, &pools, |rec| add_pool((*sink).sink_data, rec));
        ffi::PMD_OK
    })
}

unsafe extern "C" fn on_get_capabilities(host_data: *mut c_void, sink: *const ffi::PmdCapabilitySink) -> i32 {
    guard("capabilities", ffi::PMD_ERR_INTERNAL, || {
        let size_ok = !sink.is_null()
            && addr_of!((*sink).struct_size).read() as usize >= end_of!(ffi::PmdCapabilitySink, add_gpu);
        let fns = if size_ok { ((*sink).set_resources, (*sink).add_gpu) } else { (None, None) };
        let (set_resources, add_gpu) = match fns {
            (Some(s), Some(a)) => (s, a),
            _ => {
                host_error(host_data, "pmd-host: plugin passed an invalid capability sink");
                return ffi::PMD_ERR_INVALID_ARGUMENT;
            }
        };
        let caps = match with_host(host_data, "get_capabilities", None, |h| h.capabilities()) {
            Some(c) => c,
            None => return ffi::PMD_ERR_RESOURCE,
        };
        let data = (*sink).sink_data;
        let res = ffi::PmdNodeResources {
            struct_size: std::mem::size_of::<ffi::PmdNodeResources>() as u32,
            cpu_cores: caps.cpu_cores,
            ram_total_bytes: caps.ram_total_bytes,
        };
        set_resources(data, &res);
        push_gpus(host_data, &caps.gpus, |rec| add_gpu(data, rec));
        ffi::PMD_OK
    })
}

/// A pool as the ABI record, with the C strings it points to.
pub(crate) struct PoolRecord {
    _pool_id: CString,
    _engine: Option<CString>,
    pool: ffi::PmdPoolStatus,
}

impl PoolRecord {
    /// `Err(field)` when a string has an interior NUL.
    pub(crate) fn new(p: &PoolStatus) -> Result<PoolRecord, &'static str> {
        let pool_id = CString::new(p.pool_id.as_str()).map_err(|_| "pool_id")?;
        let engine = match &p.engine {
            Some(e) => Some(CString::new(e.as_str()).map_err(|_| "engine")?),
            None => None,
        };
        let pool = ffi::PmdPoolStatus {
            struct_size: std::mem::size_of::<ffi::PmdPoolStatus>() as u32,
            ready: p.ready as u8,
            draining: p.draining as u8,
            reserved: [0; 2],
            slots_free: p.slots_free,
            slots_total: p.slots_total,
            vram_free_bytes: p.vram_free_bytes,
            pool_id: pool_id.as_ptr(),
            engine: engine.as_ref().map_or(ptr::null(), |e| e.as_ptr()),
        };
        // The pointers stay valid when the CStrings move into the struct:
        // they point to the CStrings' heap buffers, not to the CStrings.
        Ok(PoolRecord { _pool_id: pool_id, _engine: engine, pool })
    }

    pub(crate) fn raw(&self) -> &ffi::PmdPoolStatus {
        &self.pool
    }
}

/// Pushes every pool through `add`, each record's strings alive during its
/// call. A record that cannot be expressed is skipped with an error logged;
/// PMD_ERR_LIMIT ends the pushing (everything after it would be ignored).
fn push_pools(host_data: *mut c_void, pools: &[PoolStatus], mut add: impl FnMut(&ffi::PmdPoolStatus) -> i32) {
    for p in pools {
        let rec = match PoolRecord::new(p) {
            Ok(r) => r,
            Err(field) => {
                let line = format!("pmd-host: pool record skipped: {} contains a NUL byte ({:?})", field, p.pool_id);
                host_error(host_data, &line);
                continue;
            }
        };
        if add(rec.raw()) == ffi::PMD_ERR_LIMIT {
            break;
        }
    }
}

fn push_gpus(host_data: *mut c_void, gpus: &[GpuInfo], mut add: impl FnMut(&ffi::PmdGpuInfo) -> i32) {
    for g in gpus {
        let (name, cc) = match (CString::new(g.name.as_str()), CString::new(g.compute_capability.as_str())) {
            (Ok(n), Ok(c)) => (n, c),
            _ => {
                let line = format!("pmd-host: GPU record {} skipped: a string contains a NUL byte", g.device_id);
                host_error(host_data, &line);
                continue;
            }
        };
        let rec = ffi::PmdGpuInfo {
            struct_size: std::mem::size_of::<ffi::PmdGpuInfo>() as u32,
            device_id: g.device_id,
            vram_total_bytes: g.vram_total_bytes,
            name: name.as_ptr(),
            compute_capability: cc.as_ptr(),
        };
        if add(&rec) == ffi::PMD_ERR_LIMIT {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Capabilities;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Seen {
        lines: Vec<(LogLevel, String)>,
        states: Vec<(NodeState, String)>,
    }

    struct TestHost {
        seen: Arc<Mutex<Seen>>,
        pools: Vec<PoolStatus>,
        panic_in: &'static str,
    }

    impl Host for TestHost {
        fn log(&mut self, level: LogLevel, message: &str) {
            if self.panic_in == "log" {
                panic!("log panics on purpose");
            }
            self.seen.lock().unwrap().lines.push((level, message.to_string()));
        }
        fn pools(&mut self) -> Option<Vec<PoolStatus>> {
            if self.panic_in == "pools" {
                panic!("pools panics on purpose");
            }
            Some(self.pools.clone())
        }
        fn capabilities(&mut self) -> Option<Capabilities> {
            None
        }
        fn state_changed(&mut self, state: NodeState, detail: &str) {
            self.seen.lock().unwrap().states.push((state, detail.to_string()));
        }
    }

    fn state_for(pools: Vec<PoolStatus>, panic_in: &'static str) -> (Box<HostState>, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let host = TestHost { seen: seen.clone(), pools, panic_in };
        (Box::new(HostState { host: RefCell::new(Box::new(host)) }), seen)
    }

    fn pool(id: &str, engine: Option<&str>) -> PoolStatus {
        PoolStatus {
            pool_id: id.into(),
            ready: true,
            slots_free: 1,
            slots_total: 2,
            engine: engine.map(String::from),
            ..PoolStatus::default()
        }
    }

    /// The plugin side of a pool sink: collects (pool_id, engine).
    unsafe extern "C" fn collect(data: *mut c_void, rec: *const ffi::PmdPoolStatus) -> i32 {
        let out = &mut *(data as *mut Vec<(String, Option<String>)>);
        out.push((copy_c_string((*rec).pool_id).unwrap(), copy_c_string((*rec).engine)));
        if out.len() == 3 {
            ffi::PMD_ERR_LIMIT
        } else {
            ffi::PMD_OK
        }
    }

    fn list_through_sink(state: &HostState, sink_size: u32) -> (i32, Vec<(String, Option<String>)>) {
        let mut got: Vec<(String, Option<String>)> = Vec::new();
        let sink = ffi::PmdPoolSink {
            struct_size: sink_size,
            reserved: 0,
            sink_data: &mut got as *mut _ as *mut c_void,
            add_pool: Some(collect),
        };
        let rc = unsafe { on_list_pools(state as *const HostState as *mut c_void, &sink) };
        (rc, got)
    }

    #[test]
    fn pool_record_points_at_its_own_nul_terminated_strings() {
        let rec = PoolRecord::new(&pool("pool-0", Some("vllm"))).unwrap();
        let raw = rec.raw();
        assert_eq!(raw.struct_size, 40);
        assert_eq!((raw.ready, raw.draining, raw.slots_free, raw.slots_total), (1, 0, 1, 2));
        assert_eq!(unsafe { CStr::from_ptr(raw.pool_id) }.to_str().unwrap(), "pool-0");
        assert_eq!(unsafe { CStr::from_ptr(raw.engine) }.to_str().unwrap(), "vllm");
        assert!(PoolRecord::new(&pool("p", None)).unwrap().raw().engine.is_null());
    }

    #[test]
    fn interior_nul_skips_the_record_and_logs_an_error() {
        let pools = vec![pool("a", None), pool("b\0x", None), pool("c", Some("e\0")), pool("d", Some("llamacpp"))];
        let (state, seen) = state_for(pools, "");
        let (rc, got) = list_through_sink(&state, 24);
        assert_eq!(rc, ffi::PMD_OK);
        assert_eq!(got, vec![("a".to_string(), None), ("d".to_string(), Some("llamacpp".to_string()))]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.lines.len(), 2, "{:?}", seen.lines);
        assert!(seen.lines.iter().all(|(l, m)| *l == LogLevel::Error && m.contains("NUL")));
        assert!(seen.lines[0].1.contains("pool_id") && seen.lines[1].1.contains("engine"));
    }

    #[test]
    fn limit_from_the_sink_stops_the_pushing() {
        let pools = (0..10).map(|i| pool(&format!("p{}", i), None)).collect();
        let (state, _) = state_for(pools, "");
        let (rc, got) = list_through_sink(&state, 24);
        assert_eq!(rc, ffi::PMD_OK);
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_sink_too_small_for_add_pool_is_refused_not_called() {
        let (state, seen) = state_for(vec![pool("a", None)], "");
        let (rc, got) = list_through_sink(&state, 16);
        assert_eq!(rc, ffi::PMD_ERR_INVALID_ARGUMENT);
        assert!(got.is_empty());
        assert_eq!(seen.lock().unwrap().lines.len(), 1);
    }

    #[test]
    fn a_panic_in_pools_returns_internal_and_does_not_unwind() {
        let (state, _) = state_for(vec![pool("a", None)], "pools");
        let (rc, got) = list_through_sink(&state, 24);
        assert_eq!(rc, ffi::PMD_ERR_INTERNAL);
        assert!(got.is_empty());
        // The host is usable again afterwards (the RefCell borrow was released).
        assert!(state.host.try_borrow_mut().is_ok());
    }

    #[test]
    fn a_panic_in_log_is_swallowed() {
        let (state, _) = state_for(Vec::new(), "log");
        let msg = CString::new("hello").unwrap();
        unsafe { on_log(&*state as *const HostState as *mut c_void, ffi::PMD_LOG_INFO, msg.as_ptr()) };
        assert!(state.host.try_borrow_mut().is_ok());
    }

    #[test]
    fn null_and_invalid_utf8_text_is_accepted() {
        let (state, seen) = state_for(Vec::new(), "");
        let data = &*state as *const HostState as *mut c_void;
        let bad = [b'a', 0xff, b'b', 0];
        unsafe {
            on_log(data, 42, ptr::null());
            on_state_changed(data, ffi::PMD_NODE_REGISTERED, bad.as_ptr() as *const c_char);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.lines, vec![(LogLevel::Other(42), String::new())]);
        assert_eq!(seen.states, vec![(NodeState::Registered, "a\u{fffd}b".to_string())]);
    }
}
