//! handover.rs - ABI 1.2 handover (plugin.abi.md section 5.17) as plain Rust
//! data, and [`swap`]: replace a running instance with a new one, handing
//! the node over when both plugins offer it, else stop + start.
//!
//! What passes from the old instance to the new one is a [`Handover`]: owned
//! values only (times on this process's CLOCK_MONOTONIC, flags, the node id),
//! never a pointer into the old plugin, which may be unloaded right after.

use std::os::raw::c_char;

use crate::error::Error;
use crate::ffi;
use crate::instance::Instance;

/// What an instance that ends without deregistering hands to the instance
/// that takes its node over (`pmd_handover_t`, copied out).
///
/// Times are CLOCK_MONOTONIC nanoseconds of this process
/// ([`monotonic_ns`](crate::monotonic_ns)); 0 means "none". A host may also
/// build one itself (e.g. from a previous process's state), as the ABI allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handover {
    /// `PMD_HANDOVER_*` bits as the plugin set them (unknown bits of a newer
    /// minor are kept and passed on). See [`registered`](Self::registered).
    pub flags: u32,
    /// When the old instance's next heartbeat was due (0: none scheduled).
    pub next_heartbeat_due_ns: u64,
    /// The old instance's heartbeat interval (0: unknown).
    pub heartbeat_interval_ns: u64,
    /// The old instance's last successful heartbeat (0: none).
    pub last_heartbeat_ok_ns: u64,
    /// The node handed over; at most 255 bytes, no NUL byte.
    pub node_id: String,
}

impl Handover {
    /// `PMD_HANDOVER_REGISTERED`: the node was registered when handed over.
    pub fn registered(&self) -> bool {
        self.flags & ffi::PMD_HANDOVER_REGISTERED != 0
    }

    /// Copies what the plugin filled: the fields that end within
    /// `raw.struct_size` (others read as 0 / empty). The node id is read up
    /// to its first NUL byte within the array (all of it when a broken
    /// plugin left none), invalid UTF-8 replaced.
    pub fn from_raw(raw: &ffi::PmdHandover) -> Handover {
        let size = raw.struct_size as usize;
        let fits = |end: usize| size >= end;
        let node_id = if fits(crate::ffi::end_of!(ffi::PmdHandover, node_id)) {
            let bytes: Vec<u8> = raw.node_id.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::new()
        };
        Handover {
            flags: if fits(crate::ffi::end_of!(ffi::PmdHandover, flags)) { raw.flags } else { 0 },
            next_heartbeat_due_ns: if fits(crate::ffi::end_of!(ffi::PmdHandover, next_heartbeat_due_ns)) {
                raw.next_heartbeat_due_ns
            } else {
                0
            },
            heartbeat_interval_ns: if fits(crate::ffi::end_of!(ffi::PmdHandover, heartbeat_interval_ns)) {
                raw.heartbeat_interval_ns
            } else {
                0
            },
            last_heartbeat_ok_ns: if fits(crate::ffi::end_of!(ffi::PmdHandover, last_heartbeat_ok_ns)) {
                raw.last_heartbeat_ok_ns
            } else {
                0
            },
            node_id,
        }
    }

    /// The ABI struct, full size (`struct_size = sizeof(pmd_handover_t)`),
    /// the node id NUL-terminated. `Error::Nul` for a NUL byte in the node
    /// id, `Error::Invalid` for one longer than 255 bytes.
    pub fn to_raw(&self) -> Result<ffi::PmdHandover, Error> {
        let mut raw = empty_raw();
        let id = self.node_id.as_bytes();
        if id.contains(&0) {
            return Err(Error::Nul { what: "handover node_id" });
        }
        if id.len() >= raw.node_id.len() {
            let reason = format!("{} bytes, at most {}", id.len(), raw.node_id.len() - 1);
            return Err(Error::Invalid { what: "handover node_id", reason });
        }
        for (dst, &b) in raw.node_id.iter_mut().zip(id) {
            *dst = b as c_char;
        }
        raw.flags = self.flags;
        raw.next_heartbeat_due_ns = self.next_heartbeat_due_ns;
        raw.heartbeat_interval_ns = self.heartbeat_interval_ns;
        raw.last_heartbeat_ok_ns = self.last_heartbeat_ok_ns;
        Ok(raw)
    }
}

impl std::convert::TryFrom<&Handover> for ffi::PmdHandover {
    type Error = Error;
    fn try_from(h: &Handover) -> Result<ffi::PmdHandover, Error> {
        h.to_raw()
    }
}

impl From<&ffi::PmdHandover> for Handover {
    fn from(raw: &ffi::PmdHandover) -> Handover {
        Handover::from_raw(raw)
    }
}

/// A zeroed `pmd_handover_t` with `struct_size` set to its full size: what
/// the host hands to `on_handover`.
pub(crate) fn empty_raw() -> ffi::PmdHandover {
    ffi::PmdHandover {
        struct_size: std::mem::size_of::<ffi::PmdHandover>() as u32,
        flags: 0,
        next_heartbeat_due_ns: 0,
        heartbeat_interval_ns: 0,
        last_heartbeat_ok_ns: 0,
        node_id: [0; 256],
    }
}

/// How [`swap`] replaced the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapMode {
    /// `on_handover` on the old instance, `on_start_handed_over` on the new:
    /// no deregistration, the heartbeat schedule continues. Carries what was
    /// handed over.
    HandedOver(Handover),
    /// One of the plugins does not offer handover: `on_stop` on the old
    /// instance (the node deregisters), `on_start` on the new one (it
    /// registers again).
    Restarted,
}

/// Why [`swap`] failed, and what is running afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapError {
    /// The old instance refused `on_handover` / `on_stop` (the ABI says
    /// nothing changed: it is as it was, normally still running). The new
    /// instance was not called: drop it, keep the old one (rollback).
    OldRefused(Error),
    /// The old instance has ended (handed over or stopped), and the new one
    /// failed to start (`mode` says which start was tried). Neither runs:
    /// drop both; a handed-over node is still registered until the control
    /// plane times it out, unless a new instance takes it over
    /// ([`Instance::on_start_handed_over`] with the `Handover` in `mode`).
    NewFailed { mode: SwapMode, error: Error },
}

impl SwapError {
    /// The plugin error behind it.
    pub fn error(&self) -> &Error {
        match self {
            SwapError::OldRefused(e) | SwapError::NewFailed { error: e, .. } => e,
        }
    }
}

impl std::fmt::Display for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwapError::OldRefused(e) => write!(f, "swap refused by the old instance (it keeps running): {}", e),
            SwapError::NewFailed { mode: SwapMode::HandedOver(_), error } => {
                write!(f, "swap: the old instance handed over, the new one failed to start: {}", error)
            }
            SwapError::NewFailed { mode: SwapMode::Restarted, error } => {
                write!(f, "swap: the old instance stopped, the new one failed to start: {}", error)
            }
        }
    }
}

impl std::error::Error for SwapError {}

/// Whether [`swap`] between these two instances hands over (both plugins
/// offer handover at a session minor of 2 or more) or falls back.
pub fn can_hand_over(old: &Instance, new: &Instance) -> bool {
    old.plugin().offers_handover() && new.plugin().offers_handover()
}

/// Replaces `old` (started) with `new` (freshly created, not started), the
/// sequence of plugin.abi.md section 5.17: when both plugins offer handover,
/// `old.on_handover()` then `new.on_start_handed_over(&handover)`; otherwise
/// `old.on_stop()` then `new.on_start()`. Afterwards drop `old` (destroy of a
/// stopped instance does not block) and keep `new`.
///
/// Blocks like `on_stop`: up to `old.plugin().stop_timeout()` (a request in
/// flight may finish first). Run it where blocking is allowed (the instance's
/// own thread, [`Runner::swap`](crate::Runner::swap), or `spawn_blocking`).
#[allow(clippy::result_large_err)] // SwapError carries the Handover back: rare, not hot
pub fn swap(old: &mut Instance, new: &mut Instance) -> Result<SwapMode, SwapError> {
    if can_hand_over(old, new) {
        let handover = old.on_handover().map_err(SwapError::OldRefused)?;
        match new.on_start_handed_over(&handover) {
            Ok(()) => Ok(SwapMode::HandedOver(handover)),
            Err(error) => Err(SwapError::NewFailed { mode: SwapMode::HandedOver(handover), error }),
        }
    } else {
        old.on_stop().map_err(SwapError::OldRefused)?;
        match new.on_start() {
            Ok(()) => Ok(SwapMode::Restarted),
            Err(error) => Err(SwapError::NewFailed { mode: SwapMode::Restarted, error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handover {
        Handover {
            flags: ffi::PMD_HANDOVER_REGISTERED | 0x80,
            next_heartbeat_due_ns: 5_000_000_000,
            heartbeat_interval_ns: 200_000_000,
            last_heartbeat_ok_ns: 4_800_000_000,
            node_id: "node-ä-1".into(),
        }
    }

    #[test]
    fn round_trips_through_the_abi_struct() {
        let h = sample();
        let raw = h.to_raw().unwrap();
        assert_eq!(raw.struct_size as usize, std::mem::size_of::<ffi::PmdHandover>());
        assert_eq!(raw.node_id["node-ä-1".len()], 0, "NUL-terminated");
        let back = Handover::from_raw(&raw);
        assert_eq!(back, h);
        assert!(back.registered());
        assert_eq!(ffi::PmdHandover::try_from(&h).unwrap().flags, h.flags);
        assert_eq!(Handover::from(&raw), h);
    }

    #[test]
    fn node_ids_that_c_cannot_take_are_refused() {
        let mut h = sample();
        h.node_id = "a\0b".into();
        assert_eq!(h.to_raw().unwrap_err(), Error::Nul { what: "handover node_id" });
        h.node_id = "x".repeat(255);
        assert!(h.to_raw().is_ok());
        h.node_id = "x".repeat(256);
        let err = h.to_raw().unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{:?}", err);
        assert!(err.to_string().contains("256 bytes, at most 255"), "{}", err);
    }

    #[test]
    fn only_fields_within_struct_size_are_read() {
        let mut raw = sample().to_raw().unwrap();
        raw.struct_size = crate::ffi::end_of!(ffi::PmdHandover, heartbeat_interval_ns) as u32;
        let h = Handover::from_raw(&raw);
        assert_eq!((h.next_heartbeat_due_ns, h.heartbeat_interval_ns), (5_000_000_000, 200_000_000));
        assert_eq!((h.last_heartbeat_ok_ns, h.node_id.as_str()), (0, ""));
        raw.struct_size = 4;
        assert_eq!(Handover::from_raw(&raw), Handover::default());
    }

    #[test]
    fn a_node_id_without_nul_is_read_whole_and_invalid_utf8_replaced() {
        let mut raw = empty_raw();
        for c in raw.node_id.iter_mut() {
            *c = b'n' as c_char;
        }
        raw.node_id[0] = 0xff_u8 as c_char;
        let h = Handover::from_raw(&raw);
        assert_eq!(h.node_id.chars().count(), 256);
        assert!(h.node_id.starts_with('\u{fffd}'));
        assert!(!h.registered());
    }
}
