//! log_fields.rs - the host extension `pmd.host.ext.log_fields/1`
//! (include/pmd_plugin.h, plugin.abi.md section 11): a plugin's log event
//! as fields (level, event name, key/value pairs) instead of a text line, so
//! a Rust host hands them to `tracing` (or any structured logger) without
//! parsing `key=value` text.
//!
//! The binding always offers the extension (instance.rs answers
//! `get_extension` with [`on_get_extension`]); each event reaches
//! [`Host::log_fields`](crate::Host::log_fields), whose default formats the
//! event's text line ([`text_line`]) and calls `Host::log`, so a host that
//! only implements `log` sees the same lines as with a plugin that logs
//! text. With `tracing`:
//!
//! ```ignore
//! fn log_fields(&mut self, level: LogLevel, event: &str, fields: &[(&str, &str)]) {
//!     let node = fields.iter().find(|(k, _)| *k == "node").map_or("", |(_, v)| *v);
//!     let rest: Vec<String> = fields.iter().filter(|(k, _)| *k != "node")
//!         .map(|(k, v)| format!("{}={:?}", k, v)).collect();
//!     tracing::info!(target: "pmd_plugin", event, node, fields = %rest.join(" "));
//! }
//! ```

use std::os::raw::{c_char, c_void};

use crate::host::LogLevel;
use crate::instance::{guard, plugin_text, with_host};

/// `PMD_HOST_EXT_LOG_FIELDS`, NUL-terminated.
pub const PMD_HOST_EXT_LOG_FIELDS: &[u8] = b"pmd.host.ext.log_fields/1\0";
/// `PMD_LOG_FIELDS_MAX`: fields past it are not passed on.
pub const PMD_LOG_FIELDS_MAX: usize = 32;

/// `pmd_log_field_t`: a frozen pair, 16 bytes on LP64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PmdLogField {
    pub key: *const c_char,
    pub value: *const c_char,
}

pub type LogFieldsFn = unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const PmdLogField, u32);

/// `pmd_ext_log_fields_t`, 16 bytes on LP64.
#[repr(C)]
pub struct PmdExtLogFields {
    pub struct_size: u32,
    pub reserved: u32,
    pub log_fields: Option<LogFieldsFn>,
}

/// The table handed to plugins: static, so valid as long as any host_data.
static LOG_FIELDS_EXT: PmdExtLogFields = PmdExtLogFields {
    struct_size: std::mem::size_of::<PmdExtLogFields>() as u32,
    reserved: 0,
    log_fields: Some(on_log_fields),
};

/// `pmd_host_t.get_extension`: the binding's host extensions, by id (exact
/// bytes). NULL for any other id.
pub(crate) unsafe extern "C" fn on_get_extension(_host_data: *mut c_void, id: *const c_char) -> *const c_void {
    guard("get_extension", std::ptr::null(), || {
        if !id.is_null() && std::ffi::CStr::from_ptr(id).to_bytes_with_nul() == PMD_HOST_EXT_LOG_FIELDS {
            &LOG_FIELDS_EXT as *const PmdExtLogFields as *const c_void
        } else {
            std::ptr::null()
        }
    })
}

/// The event as owned strings: untrusted C text (NULL reads as "", invalid
/// UTF-8 replaced, lengths bounded), a NULL key skipped, at most
/// `PMD_LOG_FIELDS_MAX` fields.
unsafe fn read_fields(fields: *const PmdLogField, count: u32) -> Vec<(String, String)> {
    if fields.is_null() {
        return Vec::new();
    }
    let n = (count as usize).min(PMD_LOG_FIELDS_MAX);
    std::slice::from_raw_parts(fields, n)
        .iter()
        .filter(|f| !f.key.is_null())
        .map(|f| (plugin_text(f.key), plugin_text(f.value)))
        .collect()
}

unsafe extern "C" fn on_log_fields(
    host_data: *mut c_void,
    level: i32,
    event: *const c_char,
    fields: *const PmdLogField,
    count: u32,
) {
    guard("log_fields", (), || {
        let event = if event.is_null() { "(null)".to_string() } else { plugin_text(event) };
        let owned = read_fields(fields, count);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        with_host(host_data, "log_fields", (), |h| h.log_fields(LogLevel::from_raw(level), &event, &pairs))
    })
}

/// A value as written on a text line: as it is when it is a bare word (not
/// empty; no space, `"`, `=`, `\` or control character), otherwise in double
/// quotes with `"` and `\` escaped.
pub fn quote_value(value: &str) -> String {
    let bare =
        !value.is_empty() && !value.chars().any(|c| c == ' ' || c == '"' || c == '=' || c == '\\' || c.is_control());
    if bare {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The event's text line, as the plugin logs it without the extension
/// (plugin.abi.md section 11): `[node=<v> ]event=<event>[ <key>=<value>]...`,
/// `node` first when it is the first field, values quoted by
/// [`quote_value`]. A key byte outside `[a-z0-9_]` is written `_` and a key
/// `event` as `_event`, so no key can forge a pair.
pub fn text_line(event: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = fields;
    if let Some(((k, v), tail)) = fields.split_first() {
        if *k == "node" {
            out.push_str("node=");
            out.push_str(&quote_value(v));
            out.push(' ');
            rest = tail;
        }
    }
    out.push_str("event=");
    out.push_str(&quote_value(event));
    for (k, v) in rest {
        out.push(' ');
        if *k == "event" {
            out.push('_');
        }
        let key: String =
            k.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' }).collect();
        out.push_str(if key.is_empty() { "_" } else { &key });
        out.push('=');
        out.push_str(&quote_value(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Capabilities, Host, PoolStatus};
    use std::ffi::CString;

    #[test]
    fn layout_matches_the_header_on_lp64() {
        assert_eq!(std::mem::size_of::<PmdLogField>(), 16);
        assert_eq!(std::mem::size_of::<PmdExtLogFields>(), 16);
        assert_eq!(LOG_FIELDS_EXT.struct_size, 16);
    }

    #[test]
    fn text_line_matches_the_plugins_own_line() {
        let f = [("node", "gpu-1"), ("status", "201"), ("latency_ms", "3.2"), ("cid", "ab-1")];
        assert_eq!(text_line("registered", &f), "node=gpu-1 event=registered status=201 latency_ms=3.2 cid=ab-1");
        let f = [("node", "n"), ("reason", "HTTP 503: \"busy\""), ("event", "x"), ("Bad Key", "")];
        assert_eq!(
            text_line("heartbeat_failed", &f),
            "node=n event=heartbeat_failed reason=\"HTTP 503: \\\"busy\\\"\" _event=x _ad__ey=\"\""
        );
        assert_eq!(text_line("e", &[("a", "1"), ("node", "n")]), "event=e a=1 node=n");
        assert_eq!(text_line("e", &[]), "event=e");
    }

    struct Rec {
        lines: Vec<String>,
    }
    impl Host for Rec {
        fn log(&mut self, level: LogLevel, message: &str) {
            self.lines.push(format!("{} {}", level.as_str(), message));
        }
        fn pools(&mut self) -> Option<Vec<PoolStatus>> {
            None
        }
        fn capabilities(&mut self) -> Option<Capabilities> {
            None
        }
    }

    #[test]
    fn the_default_log_fields_logs_the_text_line() {
        let mut h = Rec { lines: Vec::new() };
        h.log_fields(LogLevel::Warn, "register_failed", &[("node", "n1"), ("reason", "a b")]);
        h.log_fields(LogLevel::Info, "registering", &[]);
        assert_eq!(h.lines, vec!["warn node=n1 event=register_failed reason=\"a b\"", "info event=registering"]);
    }

    #[test]
    fn the_extension_is_offered_by_exact_id_only() {
        let id = CString::new("pmd.host.ext.log_fields/1").unwrap();
        let other = CString::new("pmd.host.ext.log_fields/2").unwrap();
        unsafe {
            assert!(on_get_extension(std::ptr::null_mut(), other.as_ptr()).is_null());
            assert!(on_get_extension(std::ptr::null_mut(), std::ptr::null()).is_null());
            let t = on_get_extension(std::ptr::null_mut(), id.as_ptr()) as *const PmdExtLogFields;
            assert!(!t.is_null());
            assert!((*t).struct_size >= 16 && (*t).log_fields.is_some());
        }
    }

    #[test]
    fn fields_are_read_as_untrusted_text() {
        let (k, v) = (CString::new("k").unwrap(), CString::new("v").unwrap());
        let many: Vec<PmdLogField> = (0..40).map(|_| PmdLogField { key: k.as_ptr(), value: v.as_ptr() }).collect();
        unsafe {
            assert_eq!(read_fields(many.as_ptr(), 40).len(), PMD_LOG_FIELDS_MAX);
            assert!(read_fields(std::ptr::null(), 3).is_empty());
            let odd = [
                PmdLogField { key: std::ptr::null(), value: v.as_ptr() },
                PmdLogField { key: k.as_ptr(), value: std::ptr::null() },
            ];
            assert_eq!(read_fields(odd.as_ptr(), 2), vec![("k".to_string(), String::new())]);
        }
    }
}
