//! host.rs - what a Rust host offers a plugin: the [`Host`] trait and the
//! plain Rust records it returns. No raw pointers here; instance.rs turns
//! these into the ABI's records for the duration of each sink call.

use crate::ffi;

/// Log level of a plugin's line (`enum pmd_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    /// A level of a newer minor; plugin.abi.md says: log it at info.
    Other(i32),
}

impl LogLevel {
    pub fn from_raw(level: i32) -> LogLevel {
        match level {
            ffi::PMD_LOG_ERROR => LogLevel::Error,
            ffi::PMD_LOG_WARN => LogLevel::Warn,
            ffi::PMD_LOG_INFO => LogLevel::Info,
            ffi::PMD_LOG_DEBUG => LogLevel::Debug,
            other => LogLevel::Other(other),
        }
    }

    /// A short lower-case name ("error", "warn", "info", "debug"; unknown
    /// levels read as "info").
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info | LogLevel::Other(_) => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// The node's standing with the control plane (`enum pmd_node_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Idle,
    Registering,
    Registered,
    Degraded,
    Unauthorized,
    Deregistering,
    Stopped,
    /// A state of a newer minor: log it, otherwise ignore it.
    Unknown(i32),
}

impl NodeState {
    pub fn from_raw(state: i32) -> NodeState {
        match state {
            ffi::PMD_NODE_IDLE => NodeState::Idle,
            ffi::PMD_NODE_REGISTERING => NodeState::Registering,
            ffi::PMD_NODE_REGISTERED => NodeState::Registered,
            ffi::PMD_NODE_DEGRADED => NodeState::Degraded,
            ffi::PMD_NODE_UNAUTHORIZED => NodeState::Unauthorized,
            ffi::PMD_NODE_DEREGISTERING => NodeState::Deregistering,
            ffi::PMD_NODE_STOPPED => NodeState::Stopped,
            other => NodeState::Unknown(other),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Idle => "idle",
            NodeState::Registering => "registering",
            NodeState::Registered => "registered",
            NodeState::Degraded => "degraded",
            NodeState::Unauthorized => "unauthorized",
            NodeState::Deregistering => "deregistering",
            NodeState::Stopped => "stopped",
            NodeState::Unknown(_) => "unknown",
        }
    }
}

/// One pool as the host reports it (`pmd_pool_status_t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Required; must not contain a NUL byte (such a record is skipped and
    /// logged, never sent).
    pub pool_id: String,
    pub ready: bool,
    pub draining: bool,
    pub slots_free: u32,
    pub slots_total: u32,
    pub vram_free_bytes: u64,
    /// e.g. "llamacpp"; `None` = not reported.
    pub engine: Option<String>,
}

/// One GPU of the node (`pmd_gpu_info_t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuInfo {
    pub device_id: u32,
    pub vram_total_bytes: u64,
    /// e.g. "NVIDIA H200".
    pub name: String,
    /// "major.minor", e.g. "9.0".
    pub compute_capability: String,
}

/// The node's GPUs and resources (`pmd_node_resources_t` + GPUs).
/// Zero means unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub cpu_cores: u32,
    pub ram_total_bytes: u64,
    pub gpus: Vec<GpuInfo>,
}

/// What the host offers the plugin: the callbacks of `pmd_host_t`.
///
/// Every method runs on the thread that is inside a call on the
/// [`Instance`](crate::Instance) (`start`, `tick`, `stop`, `stats`, drop),
/// only during that call, and must return promptly: no network I/O, no
/// waiting on a lock another thread may hold for long (read from a snapshot).
/// A panic is caught at the boundary and never reaches the plugin.
///
/// `Send` because the instance, and with it the host, may move between
/// threads between calls (plugin.abi.md section 7).
pub trait Host: Send {
    /// One line from the plugin: no newline, never a secret. Untrusted text
    /// (invalid UTF-8 already replaced).
    fn log(&mut self, level: LogLevel, message: &str);

    /// Every pool of the node. `None` = "pools unknown right now": the
    /// plugin keeps the last list it had.
    fn pools(&mut self) -> Option<Vec<PoolStatus>>;

    /// The node's GPUs and resources, asked at (re-)registration. `None` =
    /// unknown right now. Cache these at start-up; do not query a driver here.
    fn capabilities(&mut self) -> Option<Capabilities>;

    /// The node's state changed; `detail` is a short reason. Optional.
    fn state_changed(&mut self, state: NodeState, detail: &str) {
        let _ = (state, detail);
    }

    /// One log event as fields (`pmd.host.ext.log_fields/1`, which the
    /// binding offers every plugin): the event name (`registered`,
    /// `heartbeat_failed`) and its key/value pairs in the plugin's order,
    /// values raw (no quoting), never a secret; by convention the first
    /// field is `node`. Untrusted text (invalid UTF-8 already replaced). A
    /// plugin that does not use the extension sends the same event as a text
    /// line through [`log`](Host::log) instead.
    ///
    /// Optional: the default writes the event's text line
    /// ([`log_fields::text_line`](crate::log_fields::text_line):
    /// `node=<id> event=<name> key=value ...`) through `log`, so a host that
    /// implements only `log` sees the same lines either way. Override it to
    /// hand the fields to a structured logger such as `tracing`.
    fn log_fields(&mut self, level: LogLevel, event: &str, fields: &[(&str, &str)]) {
        self.log(level, &crate::log_fields::text_line(event, fields));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_levels_and_states_are_kept_not_undefined() {
        assert_eq!(LogLevel::from_raw(1), LogLevel::Error);
        assert_eq!(LogLevel::from_raw(4), LogLevel::Debug);
        assert_eq!(LogLevel::from_raw(9), LogLevel::Other(9));
        assert_eq!(LogLevel::Other(9).as_str(), "info");
        assert_eq!(NodeState::from_raw(2), NodeState::Registered);
        assert_eq!(NodeState::from_raw(6), NodeState::Stopped);
        assert_eq!(NodeState::from_raw(-3), NodeState::Unknown(-3));
    }
}
