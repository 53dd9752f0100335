//! runner.rs - [`Runner`]: one started [`Instance`] owned by its own std
//! thread, ticked every period, driven from any thread through a channel.
//!
//! Everything a caller does is a message send or a mutex-protected copy, so
//! it never blocks an async runtime's worker; the only blocking operations
//! are the ones that wait for the thread to end (`join`, `stop_blocking`,
//! `handover_blocking`, [`Pending::wait`], `Drop`): run them where blocking
//! is allowed (tokio: `spawn_blocking`). Every ABI call, including the
//! blocking `on_stop` / `on_handover` / `destroy`, happens on the runner's
//! thread, so the instance is never touched from two places.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::handover::{swap, Handover, SwapError, SwapMode};
use crate::instance::{Instance, Stats};

/// Shortest and longest tick period the ABI allows (plugin.abi.md, `on_tick`).
const TICK_MIN: Duration = Duration::from_millis(10);
const TICK_MAX: Duration = Duration::from_millis(1000);

/// How a runner's instance ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `on_stop` (node_registration: deregistered), after [`Runner::stop`]
    /// or when the [`Runner`] was dropped.
    Stopped,
    /// `on_handover` after [`Runner::handover`]: no deregistration; start
    /// the next instance with [`Instance::on_start_handed_over`] or
    /// [`Runner::start_handed_over`].
    HandedOver(Handover),
}

/// A snapshot of a runner, refreshed by its thread after every tick (and
/// after a swap, stop or handover). Reading it never calls the plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerStats {
    /// The running instance's plugin (changes with a swap).
    pub plugin_name: String,
    pub plugin_version: String,
    /// `on_tick` calls made, over all instances this runner ran.
    pub ticks: u64,
    /// Successful swaps ([`Runner::swap`]).
    pub swaps: u64,
    /// False once the thread has ended its instance (or is ending it).
    pub running: bool,
    /// The error that ended the runner, or the last refused swap's.
    pub last_error: Option<Error>,
    /// The instance's pmd.ext.stats/1 counters, when the plugin offers them.
    pub plugin: Option<Stats>,
}

/// The answer to a request a runner's thread carries out
/// ([`Runner::swap`]): wait for it where blocking is allowed, or poll it.
#[derive(Debug)]
pub struct Pending<T> {
    rx: Receiver<T>,
}

impl<T> Pending<T> {
    /// Blocks until the runner answers. `Error::Runner` when its thread
    /// ended without answering.
    pub fn wait(self) -> Result<T, Error> {
        self.rx.recv().map_err(|_| gone())
    }
    /// As [`wait`](Self::wait), at most `timeout`; `Ok(None)` on timeout.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<T>, Error> {
        match self.rx.recv_timeout(timeout) {
            Ok(v) => Ok(Some(v)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }
    /// Never blocks: `Ok(None)` while the runner has not answered yet.
    pub fn try_take(&self) -> Result<Option<T>, Error> {
        match self.rx.try_recv() {
            Ok(v) => Ok(Some(v)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(gone()),
        }
    }
}

fn gone() -> Error {
    Error::Runner { reason: "the runner thread has ended".into() }
}

enum Cmd {
    Stop,
    Handover,
    Swap(Box<Instance>, Sender<Result<SwapMode, SwapError>>),
}

/// Owns one started [`Instance`] on a thread of its own that ticks it every
/// period and takes commands from any thread.
///
/// ```no_run
/// # use pmd_host::{Plugin, Runner, Host};
/// # fn host() -> Box<dyn Host> { unimplemented!() }
/// # fn main() -> Result<(), pmd_host::Error> {
/// let plugin = Plugin::load("/usr/lib/x86_64-linux-gnu/pmd/node_registration.so")?;
/// let node = plugin.instance_named("{}", host(), "pool-managerd", "0.4.2")?;
/// let runner = Runner::start(node, std::time::Duration::from_millis(100))?; // on_start, then ticks
/// let snapshot = runner.stats();                                          // never blocks
/// runner.stop();                                                          // never blocks
/// let ended = runner.join()?; // blocks until on_stop + destroy are done
/// # let _ = (snapshot, ended); Ok(()) }
/// ```
///
/// A tick that fails ends the runner (the instance is dropped, which
/// destroys it; `join` returns the error): the ABI's `on_tick` fails only for
/// a host bug or a plugin bug. Panics in [`Host`](crate::Host) callbacks are
/// caught at the plugin boundary as everywhere in this crate and do not end
/// the runner.
///
/// Dropping a `Runner` stops it and waits for the thread: up to the
/// plugin's stop bound ([`Plugin::stop_timeout`](crate::Plugin::stop_timeout)).
/// Don't drop a running one on an async worker: `stop()` it and join or
/// drop it inside `spawn_blocking`.
pub struct Runner {
    tx: Mutex<Sender<Cmd>>,
    shared: Arc<Mutex<RunnerStats>>,
    thread: Option<JoinHandle<Result<Ended, Error>>>,
}

impl Runner {
    /// Calls `on_start` on `instance` (on the caller's thread: it never does
    /// network I/O) and hands it to a new thread that ticks it every `tick`
    /// (10 ms to 1 s), the first tick at once.
    pub fn start(mut instance: Instance, tick: Duration) -> Result<Runner, Error> {
        check_tick(tick)?;
        instance.on_start()?;
        Runner::spawn(instance, tick)
    }

    /// As [`start`](Self::start), with `on_start_handed_over`: the instance
    /// takes over the node another instance handed over.
    pub fn start_handed_over(mut instance: Instance, handover: &Handover, tick: Duration) -> Result<Runner, Error> {
        check_tick(tick)?;
        instance.on_start_handed_over(handover)?;
        Runner::spawn(instance, tick)
    }

    fn spawn(mut instance: Instance, tick: Duration) -> Result<Runner, Error> {
        let shared = Arc::new(Mutex::new(RunnerStats {
            plugin_name: instance.plugin().name().to_string(),
            plugin_version: instance.plugin().version().to_string(),
            ticks: 0,
            swaps: 0,
            running: true,
            last_error: None,
            plugin: instance.stats(),
        }));
        let (tx, rx) = channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pmd-runner".into())
            .spawn(move || run(instance, tick, rx, thread_shared))
            .map_err(|e| Error::Runner { reason: format!("cannot spawn the runner thread: {}", e) })?;
        Ok(Runner { tx: Mutex::new(tx), shared, thread: Some(thread) })
    }

    fn send(&self, cmd: Cmd) -> bool {
        lock(&self.tx).send(cmd).is_ok()
    }

    /// Asks the thread to `on_stop` the instance (node_registration:
    /// deregister) and end; returns at once. [`join`](Self::join) waits for
    /// it. A no-op when the runner has already ended.
    pub fn stop(&self) {
        self.send(Cmd::Stop);
    }

    /// Asks the thread to end the instance with `on_handover` (no
    /// deregistration); returns at once. [`join`](Self::join) returns
    /// [`Ended::HandedOver`] with the data for the next instance. When the
    /// plugin does not offer handover, or refuses it, the runner ends with
    /// that error and the instance is destroyed (which stops it).
    pub fn handover(&self) {
        self.send(Cmd::Handover);
    }

    /// Asks the thread to replace its instance with `new` (created, not
    /// started) by [`swap`](crate::swap): handover when both plugins offer
    /// it, else stop + start. Returns at once; the answer comes through the
    /// [`Pending`]. On success the old instance is destroyed and the runner
    /// ticks the new one. On [`SwapError::OldRefused`] the runner keeps the
    /// old instance (rollback) and drops `new`; on [`SwapError::NewFailed`]
    /// it drops both and ends with that error.
    pub fn swap(&self, new: Instance) -> Pending<Result<SwapMode, SwapError>> {
        let (tx, rx) = channel();
        self.send(Cmd::Swap(Box::new(new), tx)); // when ended: `new` is dropped, rx disconnected
        Pending { rx }
    }

    /// The latest snapshot; never blocks on the plugin.
    pub fn stats(&self) -> RunnerStats {
        lock(&self.shared).clone()
    }

    /// Whether the thread has ended (its instance is destroyed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().map_or(true, |t| t.is_finished())
    }

    /// Waits for the thread to end (after [`stop`](Self::stop),
    /// [`handover`](Self::handover), a failed tick or a failed swap) and
    /// returns how the instance ended. Blocks: use `spawn_blocking` from
    /// async code.
    pub fn join(mut self) -> Result<Ended, Error> {
        self.join_thread()
    }

    /// [`stop`](Self::stop) then [`join`](Self::join): blocks up to the
    /// plugin's stop bound. From async code:
    /// `tokio::task::spawn_blocking(move || runner.stop_blocking()).await`.
    pub fn stop_blocking(self) -> Result<Ended, Error> {
        self.stop();
        self.join()
    }

    /// [`handover`](Self::handover) then [`join`](Self::join): the data for
    /// the instance that takes the node over. Blocks like `stop_blocking`.
    pub fn handover_blocking(self) -> Result<Handover, Error> {
        self.handover();
        match self.join()? {
            Ended::HandedOver(h) => Ok(h),
            // The runner had been stopped before the handover was asked.
            Ended::Stopped => Err(Error::Runner { reason: "the instance was stopped, not handed over".into() }),
        }
    }

    fn join_thread(&mut self) -> Result<Ended, Error> {
        let thread = match self.thread.take() {
            Some(t) => t,
            None => return Err(gone()),
        };
        match thread.join() {
            Ok(result) => result,
            Err(payload) => {
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                let error = Error::Runner { reason: format!("the runner thread panicked: {}", text) };
                let mut s = lock(&self.shared);
                s.running = false;
                s.last_error = Some(error.clone());
                Err(error)
            }
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
            let _ = self.join_thread();
        }
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("stats", &self.stats()).finish()
    }
}

fn check_tick(tick: Duration) -> Result<(), Error> {
    if tick < TICK_MIN || tick > TICK_MAX {
        let reason = format!("{:?} is outside 10 ms ..= 1 s", tick);
        return Err(Error::Invalid { what: "tick period", reason });
    }
    Ok(())
}

/// A poisoned lock only means another thread panicked while holding it; the
/// data (a snapshot, a sender) is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runner thread. The instance is dropped (destroyed) on this thread,
/// after the snapshot says the runner is no longer running.
fn run(mut inst: Instance, tick: Duration, rx: Receiver<Cmd>, shared: Arc<Mutex<RunnerStats>>) -> Result<Ended, Error> {
    let mut next = Instant::now();
    let ended = loop {
        let cmd = match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(cmd) => cmd,
            // Every Runner handle is gone (it stops in Drop, so this is only
            // a safety net): stop.
            Err(RecvTimeoutError::Disconnected) => Cmd::Stop,
            Err(RecvTimeoutError::Timeout) => {
                let result = inst.on_tick_now();
                let stats = inst.stats();
                let mut s = lock(&shared);
                s.ticks += 1;
                s.plugin = stats;
                if let Err(e) = result {
                    break Err(e);
                }
                drop(s);
                next += tick;
                let now = Instant::now();
                if next + tick < now {
                    next = now; // late by more than a period (a stall): no burst of ticks
                }
                continue;
            }
        };
        match cmd {
            Cmd::Stop => break inst.on_stop().map(|()| Ended::Stopped),
            Cmd::Handover => break inst.on_handover().map(Ended::HandedOver),
            Cmd::Swap(mut new, reply) => match swap(&mut inst, &mut new) {
                Ok(mode) => {
                    let old = std::mem::replace(&mut inst, *new);
                    drop(old); // stopped or handed over: destroy does not block
                    let stats = inst.stats();
                    let mut s = lock(&shared);
                    s.plugin_name = inst.plugin().name().to_string();
                    s.plugin_version = inst.plugin().version().to_string();
                    s.swaps += 1;
                    s.plugin = stats;
                    drop(s);
                    let _ = reply.send(Ok(mode));
                    next = Instant::now(); // tick the new instance at once
                }
                Err(SwapError::OldRefused(e)) => {
                    drop(new); // never started: destroy does not block
                    lock(&shared).last_error = Some(e.clone());
                    let _ = reply.send(Err(SwapError::OldRefused(e)));
                }
                Err(SwapError::NewFailed { mode, error }) => {
                    drop(new);
                    let _ = reply.send(Err(SwapError::NewFailed { mode, error: error.clone() }));
                    break Err(error);
                }
            },
        }
    };
    let stats = inst.stats();
    {
        let mut s = lock(&shared);
        s.running = false;
        if stats.is_some() {
            s.plugin = stats;
        }
        if let Err(e) = &ended {
            s.last_error = Some(e.clone());
        }
    }
    drop(inst); // destroy; stops first when still started (an error above)
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_periods_outside_the_abi_range_are_refused() {
        assert!(check_tick(Duration::from_millis(10)).is_ok());
        assert!(check_tick(Duration::from_secs(1)).is_ok());
        for bad in [Duration::from_millis(9), Duration::from_millis(1001), Duration::ZERO] {
            let err = check_tick(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid { what: "tick period", .. }), "{:?}", err);
        }
    }

    #[test]
    fn runner_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Runner>();
        both::<RunnerStats>();
    }
}
