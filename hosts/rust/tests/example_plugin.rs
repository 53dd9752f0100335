//! example_plugin.rs - the binding against the real example.so
//! (plugin/example, path in PMD_EXAMPLE_SO): loading, init errors,
//! lifecycle codes, callbacks during drop, moving an instance between
//! threads, and panics in every callback that the plugin survives.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pmd_host::{Capabilities, Error, Host, LogLevel, NodeState, Plugin, PoolStatus, ResultCode};

fn example_so() -> std::path::PathBuf {
    common::artifact("PMD_EXAMPLE_SO")
}

#[derive(Default)]
struct Seen {
    lines: Vec<(LogLevel, String)>,
    states: Vec<NodeState>,
    log_calls: AtomicUsize,
    pool_calls: AtomicUsize,
}

/// Records what the plugin says; panics in the callbacks named in `panic_in`.
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    panic_in: &'static [&'static str],
}

impl Recorder {
    fn boxed(panic_in: &'static [&'static str]) -> (Box<dyn Host>, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (Box::new(Recorder { seen: seen.clone(), panic_in }), seen)
    }
}

impl Host for Recorder {
    fn log(&mut self, level: LogLevel, message: &str) {
        let seen = self.seen.lock().unwrap();
        seen.log_calls.fetch_add(1, Ordering::SeqCst);
        drop(seen);
        if self.panic_in.contains(&"log") {
            panic!("Host::log panics on purpose");
        }
        self.seen.lock().unwrap().lines.push((level, message.to_string()));
    }
    fn pools(&mut self) -> Option<Vec<PoolStatus>> {
        self.seen.lock().unwrap().pool_calls.fetch_add(1, Ordering::SeqCst);
        if self.panic_in.contains(&"pools") {
            panic!("Host::pools panics on purpose");
        }
        Some(vec![PoolStatus { pool_id: "pool-0".into(), ready: true, slots_total: 1, ..PoolStatus::default() }])
    }
    fn capabilities(&mut self) -> Option<Capabilities> {
        Some(Capabilities::default())
    }
    fn state_changed(&mut self, state: NodeState, _detail: &str) {
        if self.panic_in.contains(&"state_changed") {
            panic!("Host::state_changed panics on purpose");
        }
        self.seen.lock().unwrap().states.push(state);
    }
}

fn lines(seen: &Arc<Mutex<Seen>>) -> Vec<String> {
    seen.lock().unwrap().lines.iter().map(|(_, l)| l.clone()).collect()
}

#[test]
fn loads_and_describes_the_example() {
    let plugin = Plugin::load(example_so()).expect("example.so loads");
    assert_eq!(plugin.name(), "example");
    assert_eq!(plugin.abi_version().0, 1);
    assert_eq!(plugin.session_minor(), 2);
    assert_eq!(plugin.conformance_config_template(), Some("{\"log_every_ticks\": 1000}"));
    assert!(!plugin.offers_stats());
    assert!(!plugin.offers_handover(), "the example does not offer handover");
    assert_eq!(plugin.result_string(4), "invalid config");
    assert_eq!(plugin.result_string(12345), "unknown result");
}

#[test]
fn init_error_carries_the_plugins_line_and_result_string() {
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&[]);
    let err = plugin.instance("{\"nope\": 1}", host).expect_err("unknown key is refused");
    match &err {
        Error::Call { call, code, name, message } => {
            assert_eq!((*call, *code), ("init", ResultCode::Config));
            assert_eq!(name, "invalid config");
            assert!(message.contains("unknown key \"nope\""), "{}", message);
        }
        other => panic!("unexpected {:?}", other),
    }
    assert!(seen.lock().unwrap().states.is_empty());
    let (host, _) = Recorder::boxed(&[]);
    assert_eq!(plugin.instance("{}\0", host).err(), Some(Error::Nul { what: "config" }));
}

#[test]
fn wrong_state_calls_map_to_state_errors() {
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&[]);
    let mut inst = plugin.instance("{}", host).unwrap();
    let err = inst.on_tick_now().unwrap_err();
    assert_eq!(err.code(), ResultCode::State);
    assert_eq!(err.to_string(), "on_tick: call not valid in this state (2)");
    inst.on_start().unwrap();
    inst.on_tick_now().unwrap();
    inst.on_stop().unwrap();
    assert_eq!(inst.on_stop().unwrap_err().code(), ResultCode::State);
    assert_eq!(inst.on_start().unwrap_err().code(), ResultCode::State);
    drop(inst);
    assert_eq!(seen.lock().unwrap().states, vec![NodeState::Registered, NodeState::Stopped]);
}

#[test]
fn dropping_a_started_instance_stops_it_with_callbacks_still_delivered() {
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&[]);
    let mut inst = plugin.instance("{}", host).unwrap();
    inst.on_start().unwrap();
    drop(plugin); // the instance keeps the library open
    inst.on_tick_now().unwrap();
    drop(inst); // destroy -> stop -> log + state_changed, then the host goes
    assert_eq!(seen.lock().unwrap().states.last(), Some(&NodeState::Stopped));
    assert!(lines(&seen).iter().any(|l| l.contains("stopped after 1 tick")), "{:?}", lines(&seen));
}

#[test]
fn an_instance_may_move_between_threads_between_calls() {
    fn assert_send<T: Send>(_: &T) {}
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&[]);
    let mut inst = plugin.instance("{\"log_every_ticks\": 1}", host).unwrap();
    assert_send(&inst);
    inst.on_start().unwrap();
    let mut inst = std::thread::spawn(move || {
        for _ in 0..3 {
            inst.on_tick_now().unwrap();
        }
        inst
    })
    .join()
    .unwrap();
    inst.on_stop().unwrap();
    drop(inst);
    let l = lines(&seen);
    assert!(l.iter().any(|l| l.contains("tick 3, host reports 1 pool(s)")), "{:?}", l);
}

#[test]
fn a_panicking_log_never_unwinds_into_the_plugin() {
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&["log"]);
    let mut inst = plugin.instance("{\"log_every_ticks\": 1}", host).unwrap();
    inst.on_start().unwrap(); // logs "started": panics, caught
    for _ in 0..5 {
        inst.on_tick_now().expect("tick still works after a panic in log");
    }
    inst.on_stop().unwrap();
    drop(inst);
    let seen = seen.lock().unwrap();
    // start + 5 ticks + stop each logged once, each panicked, all survived.
    assert_eq!(seen.log_calls.load(Ordering::SeqCst), 7);
    assert_eq!(seen.pool_calls.load(Ordering::SeqCst), 5);
    assert!(seen.lines.is_empty());
    assert_eq!(seen.states, vec![NodeState::Registered, NodeState::Stopped]);
}

#[test]
fn a_panicking_pools_reads_as_unknown_pools_to_the_plugin() {
    let plugin = Plugin::load(example_so()).unwrap();
    let (host, seen) = Recorder::boxed(&["pools", "state_changed"]);
    let mut inst = plugin.instance("{\"log_every_ticks\": 1}", host).unwrap();
    inst.on_start().unwrap();
    inst.on_tick_now().unwrap();
    drop(inst);
    let l = lines(&seen);
    assert!(l.iter().any(|l| l.contains("host could not list pools (result 10)")), "{:?}", l);
    assert!(seen.lock().unwrap().states.is_empty());
}
