//! pmd-host: load a pmd plugin (include/pmd_plugin.h, plugin.abi.md) from
//! Rust, the way pool-managerd does. Standard library only; builds with
//! Rust 1.63 (Debian 12).
//!
//! ```no_run
//! use pmd_host::{Capabilities, Host, LogLevel, NodeState, Plugin, PoolStatus};
//!
//! struct MyHost;
//! impl Host for MyHost {
//!     fn log(&mut self, level: LogLevel, message: &str) { eprintln!("{}: {}", level.as_str(), message) }
//!     fn pools(&mut self) -> Option<Vec<PoolStatus>> { Some(Vec::new()) }
//!     fn capabilities(&mut self) -> Option<Capabilities> { Some(Capabilities::default()) }
//!     fn state_changed(&mut self, state: NodeState, detail: &str) { eprintln!("{:?} {}", state, detail) }
//! }
//!
//! let plugin = Plugin::load("/usr/lib/x86_64-linux-gnu/pmd/node_registration.so")?;
//! let mut node = plugin.instance(r#"{"address":"http://10.0.0.5:9200"}"#, Box::new(MyHost))?;
//! node.on_start()?;
//! for _ in 0..50 {
//!     node.on_tick_now()?;
//!     std::thread::sleep(std::time::Duration::from_millis(100));
//! }
//! node.on_stop()?;
//! drop(node); // destroy; the library is closed when the last Plugin clone goes
//! # Ok::<(), pmd_host::Error>(())
//! ```
//!
//! Layout: [`ffi`] is the raw ABI; [`Plugin`] (plugin.rs) opens and vets a
//! library; [`Instance`] (instance.rs) drives one instance and carries the
//! host callbacks; [`Host`] (host.rs) is what the host implements;
//! [`Handover`] and [`swap`] (handover.rs) replace a running instance with
//! another build (ABI 1.2); [`Runner`] (runner.rs) owns an instance on its
//! own thread and takes commands from any thread.

pub mod ffi;

mod error;
mod handover;
mod host;
mod instance;
pub mod log_fields;
mod plugin;
mod runner;

pub use error::{Error, ResultCode};
pub use handover::{can_hand_over, swap, Handover, SwapError, SwapMode};
pub use host::{Capabilities, GpuInfo, Host, LogLevel, NodeState, PoolStatus};
pub use instance::{Instance, Stats};
pub use plugin::Plugin;
pub use runner::{Ended, Pending, Runner, RunnerStats};

/// CLOCK_MONOTONIC in nanoseconds: the `now_ns` that `on_tick` expects.
/// (`std::time::Instant` does not expose its clock's origin.)
pub fn monotonic_ns() -> u64 {
    let mut ts = ffi::Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out pointer; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { ffi::clock_gettime(ffi::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn monotonic_clock_does_not_go_back() {
        let a = super::monotonic_ns();
        let b = super::monotonic_ns();
        assert!(a > 0 && b >= a);
    }
}
