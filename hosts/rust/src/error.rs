//! error.rs - result codes of the ABI and the crate's one error type.
//!
//! A plugin's `int32_t` result becomes a [`ResultCode`] by matching on the
//! integer with a fallback arm (an unknown code from a newer minor is kept as
//! `Unknown(n)` and treated like `Internal`, as plugin.abi.md section 9 says).

use std::fmt;
use std::path::PathBuf;

use crate::ffi;

/// A non-OK result code (`enum pmd_result` minus `PMD_OK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    InvalidArgument,
    State,
    AbiMajor,
    Config,
    NoMemory,
    Resource,
    Limit,
    HostData,
    Unsupported,
    Internal,
    /// A code this crate does not know (a newer minor); handle as `Internal`.
    Unknown(i32),
}

impl ResultCode {
    /// `None` for `PMD_OK`, the code otherwise.
    pub fn from_raw(rc: i32) -> Option<ResultCode> {
        Some(match rc {
            ffi::PMD_OK => return None,
            ffi::PMD_ERR_INVALID_ARGUMENT => ResultCode::InvalidArgument,
            ffi::PMD_ERR_STATE => ResultCode::State,
            ffi::PMD_ERR_ABI_MAJOR => ResultCode::AbiMajor,
            ffi::PMD_ERR_CONFIG => ResultCode::Config,
            ffi::PMD_ERR_NO_MEMORY => ResultCode::NoMemory,
            ffi::PMD_ERR_RESOURCE => ResultCode::Resource,
            ffi::PMD_ERR_LIMIT => ResultCode::Limit,
            ffi::PMD_ERR_HOST_DATA => ResultCode::HostData,
            ffi::PMD_ERR_UNSUPPORTED => ResultCode::Unsupported,
            ffi::PMD_ERR_INTERNAL => ResultCode::Internal,
            other => ResultCode::Unknown(other),
        })
    }

    /// The integer on the wire.
    pub fn raw(self) -> i32 {
        match self {
            ResultCode::InvalidArgument => ffi::PMD_ERR_INVALID_ARGUMENT,
            ResultCode::State => ffi::PMD_ERR_STATE,
            ResultCode::AbiMajor => ffi::PMD_ERR_ABI_MAJOR,
            ResultCode::Config => ffi::PMD_ERR_CONFIG,
            ResultCode::NoMemory => ffi::PMD_ERR_NO_MEMORY,
            ResultCode::Resource => ffi::PMD_ERR_RESOURCE,
            ResultCode::Limit => ffi::PMD_ERR_LIMIT,
            ResultCode::HostData => ffi::PMD_ERR_HOST_DATA,
            ResultCode::Unsupported => ffi::PMD_ERR_UNSUPPORTED,
            ResultCode::Internal => ffi::PMD_ERR_INTERNAL,
            ResultCode::Unknown(n) => n,
        }
    }

    /// Whether the host should handle it as `PMD_ERR_INTERNAL` (destroy the
    /// instance, maybe create a new one): `Internal` and every unknown code.
    pub fn is_internal(self) -> bool {
        matches!(self, ResultCode::Internal | ResultCode::Unknown(_))
    }
}

/// Everything that can go wrong between this crate and a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// `dlopen` or `dlsym` failed (the C loader's `PMD_ERR_RESOURCE`).
    Load { path: PathBuf, reason: String },
    /// The plugin speaks another ABI major; only its frozen prefix was read.
    AbiMajor { path: PathBuf, plugin_name: String, plugin_version: String, plugin_major: u32, plugin_minor: u32 },
    /// The descriptor failed vetting (the C loader's `PMD_ERR_INVALID_ARGUMENT`,
    /// or the entry's own code).
    Descriptor { path: PathBuf, code: ResultCode, reason: String },
    /// A plugin function returned a non-OK code.
    Call {
        /// "init", "on_start", "on_tick", "on_stop", "on_handover",
        /// "on_start_handed_over".
        call: &'static str,
        code: ResultCode,
        /// The plugin's `result_string(code)`, copied.
        name: String,
        /// `init`'s error line; empty for the other calls.
        message: String,
    },
    /// A Rust string could not be handed to C (an interior NUL byte); the
    /// plugin was not called.
    Nul { what: &'static str },
    /// The plugin does not offer what was asked (e.g. handover: ABI 1.2,
    /// [`Plugin::offers_handover`](crate::Plugin::offers_handover)); the
    /// plugin was not called.
    Unsupported { what: &'static str },
    /// A value this crate cannot hand to C as asked (e.g. a handover
    /// node id longer than 255 bytes, a tick period outside 10..=1000 ms);
    /// the plugin was not called.
    Invalid { what: &'static str, reason: String },
    /// A [`Runner`](crate::Runner)'s thread ended abnormally (it panicked, or
    /// it was already gone when asked).
    Runner { reason: String },
}

impl Error {
    /// The ABI result code this error corresponds to, as loader.c would
    /// return it.
    pub fn code(&self) -> ResultCode {
        match self {
            Error::Load { .. } => ResultCode::Resource,
            Error::AbiMajor { .. } => ResultCode::AbiMajor,
            Error::Descriptor { code, .. } => *code,
            Error::Call { code, .. } => *code,
            Error::Nul { .. } => ResultCode::InvalidArgument,
            Error::Unsupported { .. } => ResultCode::Unsupported,
            Error::Invalid { .. } => ResultCode::InvalidArgument,
            Error::Runner { .. } => ResultCode::Internal,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load { path, reason } => {
                write!(f, "cannot load plugin {}: {}", path.display(), reason)
            }
            Error::AbiMajor { path, plugin_name, plugin_version, plugin_major, plugin_minor } => {
                write!(
                    f,
                    "cannot load plugin {}: ABI major mismatch: plugin {} {} speaks ABI {}.{}, \
                     this host speaks {}.{}",
                    path.display(),
                    plugin_name,
                    plugin_version,
                    plugin_major,
                    plugin_minor,
                    ffi::PMD_ABI_VERSION_MAJOR,
                    ffi::PMD_ABI_VERSION_MINOR
                )
            }
            Error::Descriptor { path, reason, .. } => {
                write!(f, "cannot load plugin {}: {}", path.display(), reason)
            }
            Error::Call { call, code, name, message } => {
                write!(f, "{}: {} ({})", call, name, code.raw())?;
                if !message.is_empty() {
                    write!(f, ": {}", message)?;
                }
                Ok(())
            }
            Error::Nul { what } => write!(f, "{} contains a NUL byte", what),
            Error::Unsupported { what } => write!(f, "{} is not offered by this plugin", what),
            Error::Invalid { what, reason } => write!(f, "{}: {}", what, reason),
            Error::Runner { reason } => write!(f, "plugin runner: {}", reason),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_is_not_an_error() {
        assert_eq!(ResultCode::from_raw(0), None);
    }

    #[test]
    fn every_known_code_round_trips() {
        for rc in 1..=10 {
            let code = ResultCode::from_raw(rc).expect("non-zero is an error");
            assert_eq!(code.raw(), rc);
            assert!(!matches!(code, ResultCode::Unknown(_)), "code {} is known", rc);
        }
        assert_eq!(ResultCode::from_raw(4), Some(ResultCode::Config));
        assert_eq!(ResultCode::from_raw(8), Some(ResultCode::HostData));
    }

    #[test]
    fn unknown_codes_are_kept_and_read_as_internal() {
        for rc in [11, 99, -1, i32::MIN, i32::MAX] {
            let code = ResultCode::from_raw(rc).unwrap();
            assert_eq!(code, ResultCode::Unknown(rc));
            assert_eq!(code.raw(), rc);
            assert!(code.is_internal());
        }
        assert!(ResultCode::Internal.is_internal());
        assert!(!ResultCode::State.is_internal());
    }

    #[test]
    fn call_error_shows_the_plugin_name_and_message() {
        let e = Error::Call {
            call: "init",
            code: ResultCode::Config,
            name: "config rejected".into(),
            message: "config: unknown key \"x\"".into(),
        };
        assert_eq!(e.to_string(), "init: config rejected (4): config: unknown key \"x\"");
        assert_eq!(e.code(), ResultCode::Config);
        let e = Error::Call { call: "tick", code: ResultCode::State, name: "bad state".into(), message: String::new() };
        assert_eq!(e.to_string(), "tick: bad state (2)");
    }

    #[test]
    fn loader_errors_map_to_the_loaders_codes() {
        let load = Error::Load { path: "x.so".into(), reason: "dlopen failed".into() };
        assert_eq!(load.code(), ResultCode::Resource);
        let major = Error::AbiMajor {
            path: "x.so".into(),
            plugin_name: "p".into(),
            plugin_version: "1".into(),
            plugin_major: 2,
            plugin_minor: 0,
        };
        assert_eq!(major.code(), ResultCode::AbiMajor);
        assert!(major.to_string().contains("plugin p 1 speaks ABI 2.0, this host speaks 1.2"));
        assert_eq!(Error::Nul { what: "config" }.code(), ResultCode::InvalidArgument);
        let e = Error::Unsupported { what: "handover" };
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (ResultCode::Unsupported, "handover is not offered by this plugin")
        );
        assert_eq!(Error::Invalid { what: "tick period", reason: "x".into() }.code(), ResultCode::InvalidArgument);
        assert!(Error::Runner { reason: "panicked".into() }.code().is_internal());
    }
}
