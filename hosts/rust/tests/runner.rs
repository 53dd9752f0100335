//! runner.rs - `Runner`: the instance on its own thread, driven from other
//! threads. node_registration.so against orchd-dev (stop from another
//! thread deregisters; swap and handover send no DELETE), example.so for a
//! host that panics in its callbacks and for the fallback swap.
//! Paths: ORCHD_DEV_BIN, PMD_NODE_REGISTRATION_SO, PMD_EXAMPLE_SO.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{artifact, wait_for, NodeHost, OrchdDev, Seen, TempDir};
use pmd_host::{Ended, NodeState, Plugin, Runner, SwapMode};

const TICK: Duration = Duration::from_millis(50);

fn deletes(orchd: &OrchdDev) -> Vec<String> {
    orchd.requests().into_iter().filter(|r| r.method == "DELETE").map(|r| r.raw_path).collect()
}

fn heartbeats(runner: &Runner) -> u64 {
    runner.stats().plugin.map_or(0, |s| s.heartbeats_ok)
}

fn node_runner(orchd: &OrchdDev, plugin: &Plugin, node_id: &str) -> Runner {
    let (host, _) = NodeHost::boxed();
    let node = plugin.instance(&orchd.node_config(node_id, 200), host).unwrap();
    let runner = Runner::start(node, TICK).unwrap();
    assert!(
        wait_for(Duration::from_secs(15), || heartbeats(&runner) >= 1 && orchd.online(node_id)),
        "never registered: {:?}",
        runner.stats()
    );
    runner
}

#[test]
fn stop_from_another_thread_deregisters_the_node() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-runner-stop-{}", std::process::id());
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let runner = Arc::new(node_runner(&orchd, &plugin, &node_id));
    let stats = runner.stats();
    assert!(stats.running && stats.ticks >= 1, "{:?}", stats);
    assert_eq!(stats.plugin_name, "node_registration");

    // stop() is a message send: it returns at once, on any thread.
    let other = runner.clone();
    let took = std::thread::spawn(move || {
        let t = Instant::now();
        other.stop();
        t.elapsed()
    })
    .join()
    .unwrap();
    assert!(took < Duration::from_millis(50), "stop() blocked for {:?}", took);

    let runner = Arc::try_unwrap(runner).expect("the other thread's handle is gone");
    assert_eq!(runner.join(), Ok(Ended::Stopped));
    assert_eq!(deletes(&orchd), vec![format!("/v2/nodes/{}", node_id)]);
    assert!(!orchd.online(&node_id));
}

#[test]
fn stats_are_a_snapshot_and_stop_blocking_joins() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-runner-stats-{}", std::process::id());
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let runner = node_runner(&orchd, &plugin, &node_id);
    let first = runner.stats().ticks;
    assert!(wait_for(Duration::from_secs(5), || runner.stats().ticks >= first + 5), "the runner does not tick");
    let s = runner.stats().plugin.expect("node_registration offers stats");
    assert_eq!((s.state, s.node_id.as_str()), (NodeState::Registered, node_id.as_str()));
    assert_eq!(runner.stop_blocking(), Ok(Ended::Stopped));
    assert_eq!(deletes(&orchd).len(), 1);
}

#[test]
fn dropping_a_runner_stops_its_instance() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-runner-drop-{}", std::process::id());
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    drop(node_runner(&orchd, &plugin, &node_id));
    assert_eq!(deletes(&orchd), vec![format!("/v2/nodes/{}", node_id)]);
}

#[test]
fn swap_to_another_build_hands_over_without_a_delete() {
    let orchd = OrchdDev::start();
    let dir = TempDir::new("runner-swap");
    let node_id = format!("rust-runner-swap-{}", std::process::id());
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let runner = node_runner(&orchd, &plugin, &node_id);

    let copy = dir.0.join("node_registration-deploy.so");
    std::fs::copy(artifact("PMD_NODE_REGISTRATION_SO"), &copy).unwrap();
    let new_build = Plugin::load(&copy).unwrap();
    let (host, _) = NodeHost::boxed();
    let new = new_build.instance(&orchd.node_config(&node_id, 200), host).unwrap();
    let pending = runner.swap(new);
    let mode = pending.wait().unwrap().unwrap_or_else(|e| panic!("swap: {}", e));
    assert!(matches!(&mode, SwapMode::HandedOver(h) if h.node_id == node_id && h.registered()), "{:?}", mode);
    assert_eq!(runner.stats().swaps, 1);

    let before = heartbeats(&runner);
    assert!(wait_for(Duration::from_secs(5), || heartbeats(&runner) >= before + 2), "{:?}", runner.stats());
    assert!(orchd.online(&node_id));
    assert!(deletes(&orchd).is_empty(), "the swap deregistered");
    assert_eq!(runner.stop_blocking(), Ok(Ended::Stopped));
    assert_eq!(deletes(&orchd).len(), 1);
}

#[test]
fn handover_from_one_runner_to_the_next_sends_no_delete() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-runner-handover-{}", std::process::id());
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let first = node_runner(&orchd, &plugin, &node_id);
    let (host, _) = NodeHost::boxed();
    let next = plugin.instance(&orchd.node_config(&node_id, 200), host).unwrap(); // init before the handover
    let handover = first.handover_blocking().unwrap();
    assert_eq!(handover.node_id, node_id);
    let second = Runner::start_handed_over(next, &handover, TICK).unwrap();
    assert!(wait_for(Duration::from_secs(5), || heartbeats(&second) >= 2), "{:?}", second.stats());
    assert!(orchd.online(&node_id));
    assert!(deletes(&orchd).is_empty());
    assert_eq!(second.stop_blocking(), Ok(Ended::Stopped));
    assert_eq!(deletes(&orchd).len(), 1);
}

#[test]
fn a_host_that_panics_in_callbacks_does_not_take_the_runner_down() {
    let plugin = Plugin::load(artifact("PMD_EXAMPLE_SO")).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let panicking = NodeHost { seen: seen.clone(), panic_in_log: true };
    // log_every_ticks 1: Host::log is called (and panics) on every tick.
    let inst = plugin.instance("{\"log_every_ticks\": 1}", Box::new(panicking)).unwrap();
    let runner = Runner::start(inst, Duration::from_millis(10)).unwrap(); // "started" log: panics, caught
    assert!(wait_for(Duration::from_secs(5), || runner.stats().ticks >= 10), "{:?}", runner.stats());
    let stats = runner.stats();
    assert!(stats.running && stats.last_error.is_none(), "{:?}", stats);
    assert_eq!(runner.stop_blocking(), Ok(Ended::Stopped));
    let seen = seen.lock().unwrap();
    assert!(seen.lines.is_empty(), "every log call panicked before recording: {:?}", seen.lines);
    let states: Vec<NodeState> = seen.states.iter().map(|s| s.0).collect();
    assert_eq!(states, vec![NodeState::Registered, NodeState::Stopped]);
}

#[test]
fn swap_to_a_plugin_without_handover_restarts_and_reports_the_new_plugin() {
    let example = Plugin::load(artifact("PMD_EXAMPLE_SO")).unwrap();
    let (host, old_seen) = NodeHost::boxed();
    let runner = Runner::start(example.instance("{}", host).unwrap(), TICK).unwrap();
    let (host, _) = NodeHost::boxed();
    let pending = runner.swap(example.instance("{}", host).unwrap());
    let mode = pending.wait_timeout(Duration::from_secs(5)).unwrap().expect("an answer within 5 s");
    assert_eq!(mode, Ok(SwapMode::Restarted));
    assert_eq!(old_seen.lock().unwrap().states.last().map(|s| s.0), Some(NodeState::Stopped));
    let s = runner.stats();
    assert_eq!((s.plugin_name.as_str(), s.swaps, s.running), ("example", 1, true));
    // A handover request on a plugin without it ends the runner with that error.
    runner.handover();
    let err = runner.join().unwrap_err();
    assert_eq!(err, pmd_host::Error::Unsupported { what: "handover" });
}

#[test]
fn requests_to_an_ended_runner_fail_instead_of_blocking() {
    let example = Plugin::load(artifact("PMD_EXAMPLE_SO")).unwrap();
    let (host, _) = NodeHost::boxed();
    let runner = Runner::start(example.instance("{}", host).unwrap(), TICK).unwrap();
    runner.stop();
    assert!(wait_for(Duration::from_secs(5), || runner.is_finished()));
    assert!(!runner.stats().running);
    let (host, _) = NodeHost::boxed();
    let pending = runner.swap(example.instance("{}", host).unwrap());
    assert!(pending.try_take().is_err(), "the runner has ended: no answer will come");
    runner.stop(); // a no-op
    assert_eq!(runner.join(), Ok(Ended::Stopped));
}
