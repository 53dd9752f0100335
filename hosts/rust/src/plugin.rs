//! plugin.rs - open a plugin the way host-shim/loader.c does
//! (plugin.abi.md, "Loading a plugin"): dlopen(RTLD_NOW | RTLD_LOCAL), the
//! entry, ABI negotiation, descriptor vetting. The library stays open as long
//! as any `Plugin` clone or `Instance` holds the `Arc` to it.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::{self, addr_of};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ResultCode};
use crate::ffi::{self, end_of};
use crate::host::Host;
use crate::instance::Instance;

/// A loaded, vetted plugin. Cheap to clone (an `Arc`); `Send + Sync`:
/// everything it exposes is plugin-level (any thread, any time).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<Loaded>,
}

/// The plugin's functions, copied out of the vetted descriptor. They point
/// into the library, so they are used only while `handle` is open: `Loaded`
/// is dropped (and dlclose'd) only when the last `Plugin`/`Instance` goes.
pub(crate) struct Loaded {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) abi_minor: u32,
    pub(crate) session_minor: u32,
    pub(crate) stop_timeout_ms: u32,
    pub(crate) init: ffi::InitFn,
    pub(crate) on_start: ffi::InstanceFn,
    pub(crate) on_tick: ffi::TickFn,
    pub(crate) on_stop: ffi::InstanceFn,
    pub(crate) destroy: ffi::DestroyFn,
    pub(crate) result_string: ffi::ResultStringFn,
    pub(crate) stats_get: Option<ffi::StatsGetFn>,
    /// ABI 1.2 handover: both members, or `None` when not offered (session
    /// minor below 2, a descriptor too small, or either member NULL).
    pub(crate) handover: Option<(ffi::HandoverFn, ffi::StartHandedOverFn)>,
    pub(crate) conformance_template: Option<String>,
    _handle: DlHandle,
}

// SAFETY: the handle is only passed to dlclose (thread-safe) when the last
// reference goes. The function pointers are plain code addresses; the ones
// callable through a shared `Plugin` (result_string, get_extension) are
// "any thread, any time" (plugin.abi.md 5.7, 5.8), and the per-instance ones
// are called only through `&mut Instance`, which serialises them.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

/// Owns one dlopen reference; dlclose on drop (also on every load failure).
struct DlHandle(*mut c_void);

impl Drop for DlHandle {
    fn drop(&mut self) {
        // SAFETY: a handle from a successful dlopen, closed exactly once.
        unsafe {
            ffi::dlclose(self.0);
        }
    }
}

/// NULL-safe, lossy copy of a C string the plugin owns.
pub(crate) unsafe fn copy_c_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

unsafe fn nonempty(p: *const c_char) -> Option<String> {
    copy_c_string(p).filter(|s| !s.is_empty())
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a thread-local NUL-terminated string.
    unsafe { copy_c_string(ffi::dlerror()) }.unwrap_or_else(|| "unknown error".to_string())
}

impl Plugin {
    /// Opens `path`, calls its entry with this crate's ABI version and vets
    /// the descriptor. Nothing of the plugin is called when the majors
    /// differ; only the frozen prefix is read to name it in the error.
    pub fn load<P: AsRef<Path>>(path: P) -> Result<Plugin, Error> {
        let path = path.as_ref().to_path_buf();
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Nul { what: "plugin path" })?;
        // SAFETY: dlopen/dlsym with NUL-terminated strings; the entry is
        // called with a valid out pointer; every descriptor field is read
        // through a raw pointer only once struct_size says it is there.
        unsafe {
            ffi::dlerror(); // clear a stale message
            let raw = ffi::dlopen(c_path.as_ptr(), ffi::RTLD_NOW | ffi::RTLD_LOCAL);
            if raw.is_null() {
                let reason = format!("dlopen failed: {}", last_dl_error());
                return Err(Error::Load { path, reason });
            }
            let handle = DlHandle(raw);
            let sym = ffi::dlsym(handle.0, ffi::PMD_PLUGIN_ENTRY_SYMBOL.as_ptr() as *const c_char);
            if sym.is_null() {
                let reason = "no exported symbol pmd_plugin_entry".to_string();
                return Err(Error::Load { path, reason });
            }
            let entry: ffi::PmdPluginEntryFn = std::mem::transmute(sym);
            let mut desc: *const ffi::PmdPlugin = ptr::null();
            let rc = entry(ffi::PMD_ABI_VERSION_MAJOR, ffi::PMD_ABI_VERSION_MINOR, &mut desc);
            vet(path, handle, rc, desc).map(|loaded| Plugin { inner: Arc::new(loaded) })
        }
    }

    /// The descriptor's name, e.g. "node_registration".
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn version(&self) -> &str {
        &self.inner.version
    }
    pub fn description(&self) -> Option<&str> {
        self.inner.description.as_deref()
    }
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    /// The plugin's own ABI version (major, minor).
    pub fn abi_version(&self) -> (u32, u32) {
        (ffi::PMD_ABI_VERSION_MAJOR, self.inner.abi_minor)
    }
    /// min(this crate's minor, the plugin's minor).
    pub fn session_minor(&self) -> u32 {
        self.inner.session_minor
    }
    /// The longest `on_stop()` (and dropping a started instance) may block.
    pub fn stop_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.inner.stop_timeout_ms))
    }
    /// The plugin's English name for a result code, copied.
    pub fn result_string(&self, code: i32) -> String {
        self.inner.result_string(code)
    }
    /// pmd.ext.conformance/1's config template, if the plugin offers it.
    pub fn conformance_config_template(&self) -> Option<&str> {
        self.inner.conformance_template.as_deref()
    }
    /// Whether instances answer [`Instance::stats`](crate::Instance::stats).
    pub fn offers_stats(&self) -> bool {
        self.inner.stats_get.is_some()
    }
    /// Whether instances can hand their node over
    /// ([`Instance::on_handover`](crate::Instance::on_handover) /
    /// [`Instance::on_start_handed_over`](crate::Instance::on_start_handed_over),
    /// plugin.abi.md section 5.17): the session minor is 2 or more and the
    /// descriptor has both members, non-NULL, within its struct_size. A swap
    /// hands over only when both plugins offer it ([`swap`](crate::swap)).
    pub fn offers_handover(&self) -> bool {
        self.inner.handover.is_some()
    }

    /// Creates an instance (`init`) with `config` (JSON text) and the host's
    /// callbacks; it names itself "pmd-host" to the plugin.
    pub fn instance(&self, config: &str, host: Box<dyn Host>) -> Result<Instance, Error> {
        self.instance_named(config, host, "pmd-host", env!("CARGO_PKG_VERSION"))
    }

    /// As [`instance`](Self::instance), with the host name and version the
    /// plugin sees (e.g. "pool-managerd", "0.4.2").
    pub fn instance_named(
        &self,
        config: &str,
        host: Box<dyn Host>,
        host_name: &str,
        host_version: &str,
    ) -> Result<Instance, Error> {
        Instance::create(self.clone(), config, host, host_name, host_version)
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("path", &self.inner.path)
            .field("session_minor", &self.inner.session_minor)
            .finish()
    }
}

impl Loaded {
    pub(crate) fn result_string(&self, code: i32) -> String {
        // SAFETY: result_string is "any thread, any time", returns a static
        // string or (a broken plugin) NULL, which reads as absent.
        unsafe { copy_c_string((self.result_string)(code)) }.unwrap_or_else(|| format!("result {}", code))
    }
}

fn invalid(path: PathBuf, reason: &str) -> Error {
    Error::Descriptor { path, code: ResultCode::InvalidArgument, reason: reason.to_string() }
}

/// Steps 4 to 6 of "Loading a plugin": the entry's result, the frozen
/// prefix, the major. `handle` is dropped (dlclose) on every error path.
unsafe fn vet(path: PathBuf, handle: DlHandle, rc: i32, desc: *const ffi::PmdPlugin) -> Result<Loaded, Error> {
    if desc.is_null() {
        let code = ResultCode::from_raw(rc).unwrap_or(ResultCode::InvalidArgument);
        let reason = format!("pmd_plugin_entry returned no descriptor (result {})", rc);
        return Err(Error::Descriptor { path, code, reason });
    }
    let size = addr_of!((*desc).struct_size).read();
    if size < ffi::pmd_plugin_frozen_size() {
        return Err(invalid(path, "descriptor struct_size is smaller than the frozen prefix"));
    }
    let abi_major = addr_of!((*desc).abi_major).read();
    let abi_minor = addr_of!((*desc).abi_minor).read();
    if rc == ffi::PMD_ERR_ABI_MAJOR || abi_major != ffi::PMD_ABI_VERSION_MAJOR {
        return Err(Error::AbiMajor {
            path,
            plugin_name: nonempty(addr_of!((*desc).name).read()).unwrap_or_else(|| "(unnamed)".into()),
            plugin_version: nonempty(addr_of!((*desc).version).read()).unwrap_or_default(),
            plugin_major: abi_major,
            plugin_minor: abi_minor,
        });
    }
    if let Some(code) = ResultCode::from_raw(rc) {
        let reason = format!("pmd_plugin_entry failed with result {}", rc);
        return Err(Error::Descriptor { path, code, reason });
    }
    if size < ffi::pmd_plugin_size_1_0() {
        return Err(invalid(path, "descriptor struct_size is smaller than an ABI 1.0 descriptor"));
    }
    vet_1_0(path, handle, size, abi_minor, desc)
}

/// Steps 7 and 8: the 1.0 descriptor (all inside struct_size, checked by
/// the caller), the session minor, the 1.1 field and the extensions. No
/// `&PmdPlugin` is ever formed: a 1.0 plugin's descriptor is only 96 bytes.
unsafe fn vet_1_0(
    path: PathBuf,
    handle: DlHandle,
    size: u32,
    abi_minor: u32,
    desc: *const ffi::PmdPlugin,
) -> Result<Loaded, Error> {
    let name = match nonempty(addr_of!((*desc).name).read()) {
        Some(n) => n,
        None => return Err(invalid(path, "descriptor has no name")),
    };
    let version = match nonempty(addr_of!((*desc).version).read()) {
        Some(v) => v,
        None => return Err(invalid(path, "descriptor has no version")),
    };
    let fns = (
        addr_of!((*desc).init).read(),
        addr_of!((*desc).on_start).read(),
        addr_of!((*desc).on_tick).read(),
        addr_of!((*desc).on_stop).read(),
        addr_of!((*desc).destroy).read(),
        addr_of!((*desc).result_string).read(),
    );
    let (init, on_start, on_tick, on_stop, destroy, result_string) = match fns {
        (Some(a), Some(b), Some(c), Some(d), Some(e), Some(f)) => (a, b, c, d, e, f),
        _ => {
            let reason =
                "descriptor lacks a mandatory function (init, on_start, on_tick, on_stop, destroy, result_string)";
            return Err(invalid(path, reason));
        }
    };
    let session_minor = abi_minor.min(ffi::PMD_ABI_VERSION_MINOR);
    // A 1.1 field: needs the session minor *and* the size (growth rule).
    let get_extension = if session_minor >= 1 && size as usize >= end_of!(ffi::PmdPlugin, get_extension) {
        addr_of!((*desc).get_extension).read()
    } else {
        None
    };
    // 1.2 fields: the session minor, the size, and both or neither.
    let handover = if session_minor >= 2 && size as usize >= end_of!(ffi::PmdPlugin, on_start_handed_over) {
        match (addr_of!((*desc).on_handover).read(), addr_of!((*desc).on_start_handed_over).read()) {
            (Some(h), Some(s)) => Some((h, s)),
            _ => None,
        }
    } else {
        None
    };
    Ok(Loaded {
        path,
        name,
        version,
        description: copy_c_string(addr_of!((*desc).description).read()),
        abi_minor,
        session_minor,
        stop_timeout_ms: addr_of!((*desc).stop_timeout_ms).read(),
        init,
        on_start,
        on_tick,
        on_stop,
        destroy,
        result_string,
        stats_get: get_extension.and_then(|g| stats_extension(g)),
        handover,
        conformance_template: get_extension.and_then(|g| conformance_extension(g)),
        _handle: handle,
    })
}

/// pmd.ext.stats/1's `get`, when offered and its table is large enough.
unsafe fn stats_extension(get_extension: ffi::PluginGetExtensionFn) -> Option<ffi::StatsGetFn> {
    let table = get_extension(ffi::PMD_EXT_STATS.as_ptr() as *const c_char) as *const ffi::PmdExtStats;
    if table.is_null() || (addr_of!((*table).struct_size).read() as usize) < end_of!(ffi::PmdExtStats, get) {
        return None;
    }
    addr_of!((*table).get).read()
}

unsafe fn conformance_extension(get_extension: ffi::PluginGetExtensionFn) -> Option<String> {
    let id = ffi::PMD_EXT_CONFORMANCE.as_ptr() as *const c_char;
    let table = get_extension(id) as *const ffi::PmdExtConformance;
    if table.is_null()
        || (addr_of!((*table).struct_size).read() as usize) < end_of!(ffi::PmdExtConformance, config_template)
    {
        return None;
    }
    copy_c_string(addr_of!((*table).config_template).read())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_a_load_error_with_dlerror_text() {
        let err = Plugin::load("/nonexistent/pmd-host-test.so").expect_err("must fail");
        assert_eq!(err.code(), ResultCode::Resource);
        let text = err.to_string();
        assert!(text.contains("dlopen failed"), "{}", text);
        assert!(text.contains("/nonexistent/pmd-host-test.so"), "{}", text);
    }

    #[test]
    fn a_path_with_a_nul_byte_is_refused_before_dlopen() {
        let err = Plugin::load("bad\0path.so").expect_err("must fail");
        assert_eq!(err, Error::Nul { what: "plugin path" });
    }

    #[test]
    fn a_library_without_the_entry_is_refused() {
        // libc.so.6 is always loadable and exports no pmd_plugin_entry.
        let err = Plugin::load("libc.so.6").expect_err("must fail");
        assert!(err.to_string().contains("no exported symbol pmd_plugin_entry"), "{}", err);
    }
}
