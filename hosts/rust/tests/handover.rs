//! handover.rs - ABI 1.2 handover through the binding: node_registration.so
//! hands its node to another build (a copy under another file name) against
//! orchd-dev with no DELETE and no heartbeat gap; the stop + start fallback
//! with the example plugin, which does not offer handover.
//! Paths: ORCHD_DEV_BIN, PMD_NODE_REGISTRATION_SO, PMD_EXAMPLE_SO.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{artifact, wait_for, NodeHost, OrchdDev, Request, TempDir};
use pmd_host::{swap, Error, Handover, Instance, NodeState, Plugin, ResultCode, SwapMode};

const HEARTBEAT_MS: u64 = 200;

/// node_registration.so copied under a per-deployment file name: a second,
/// separately dlopen'ed build, as a live swap between builds sees it.
fn deployment_copy(dir: &TempDir) -> PathBuf {
    let copy = dir.0.join("node_registration-deploy.so");
    std::fs::copy(artifact("PMD_NODE_REGISTRATION_SO"), &copy).expect("copy node_registration.so");
    copy
}

/// Ticks `node` every 50 ms until `done` holds (or fails after 15 s).
fn tick_until(node: &mut Instance, what: &str, mut done: impl FnMut(&mut Instance) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(node) {
        assert!(Instant::now() < deadline, "timed out waiting for {}: {:?}", what, node.stats());
        node.on_tick_now().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn heartbeats_ok(node: &mut Instance) -> u64 {
    node.stats().map_or(0, |s| s.heartbeats_ok)
}

fn deletes(journal: &[Request]) -> Vec<&Request> {
    journal.iter().filter(|r| r.method == "DELETE").collect()
}

/// The longest time between two consecutive heartbeats of the journal.
fn max_heartbeat_gap_ms(journal: &[Request]) -> u64 {
    let t: Vec<u64> = journal.iter().filter(|r| r.kind == "heartbeat").map(|r| r.t_ms).collect();
    t.windows(2).map(|w| w[1].saturating_sub(w[0])).max().unwrap_or(0)
}

#[test]
fn handover_between_two_builds_sends_no_delete_and_keeps_the_node_online() {
    let orchd = OrchdDev::start();
    let dir = TempDir::new("handover");
    let node_id = format!("rust-handover-{}", std::process::id());
    let config = orchd.node_config(&node_id, HEARTBEAT_MS as u32);

    let old_build = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let new_build = Plugin::load(deployment_copy(&dir)).unwrap();
    assert!(old_build.offers_handover() && new_build.offers_handover());
    let (old_host, old_seen) = NodeHost::boxed();
    let mut old = old_build.instance_named(&config, old_host, "pmd-host-test", "1").unwrap();
    old.on_start().unwrap();
    tick_until(&mut old, "two heartbeats", |n| heartbeats_ok(n) >= 2);
    assert!(orchd.online(&node_id));

    // The new build is created (init) before anything happens to the old one.
    let (new_host, new_seen) = NodeHost::boxed();
    let mut new = new_build.instance_named(&config, new_host, "pmd-host-test", "2").unwrap();
    assert!(pmd_host::can_hand_over(&old, &new));
    let before = pmd_host::monotonic_ns();
    let mode = swap(&mut old, &mut new).unwrap_or_else(|e| panic!("swap: {}", e));
    let handover = match mode {
        SwapMode::HandedOver(h) => h,
        other => panic!("expected a handover, got {:?}", other),
    };
    assert!(handover.registered(), "{:?}", handover);
    assert_eq!(handover.node_id, node_id);
    assert_eq!(handover.heartbeat_interval_ns, HEARTBEAT_MS * 1_000_000);
    assert!(handover.next_heartbeat_due_ns > 0 && handover.last_heartbeat_ok_ns > 0, "{:?}", handover);
    assert!(handover.last_heartbeat_ok_ns <= before, "{:?}", handover);
    let old_stats = old.stats().unwrap();
    assert_eq!((old_stats.state, old_stats.deregistrations_ok), (NodeState::Stopped, 0));
    drop(old); // destroy of a handed-over instance: no DELETE either
    drop(old_build); // dlclose of the old build

    // The new instance carries the node: registered, heartbeating, never offline.
    let mut last_poll = Instant::now();
    tick_until(&mut new, "three heartbeats of the new instance", |n| {
        if last_poll.elapsed() >= Duration::from_millis(100) {
            last_poll = Instant::now();
            assert!(orchd.online(&node_id), "node went offline after the handover");
        }
        heartbeats_ok(n) >= 3
    });
    let stats = new.stats().unwrap();
    assert_eq!(stats.state, NodeState::Registered);
    assert_eq!(stats.node_id, node_id);
    let journal = orchd.requests();
    assert!(deletes(&journal).is_empty(), "a handover sent a DELETE: {:?}", journal);
    let gap = max_heartbeat_gap_ms(&journal);
    assert!(gap <= HEARTBEAT_MS + 500, "heartbeat gap of {} ms around the handover: {:?}", gap, journal);

    let old_seen = old_seen.lock().unwrap();
    assert_eq!(old_seen.states.last(), Some(&(NodeState::Stopped, "handed over".to_string())), "{:?}", old_seen.states);
    assert!(old_seen.lines.iter().any(|l| l.contains("event=handed_over")), "{:?}", old_seen.lines);
    assert!(!old_seen.lines.iter().any(|l| l.contains("event=deregistered")), "{:?}", old_seen.lines);
    let new_lines = new_seen.lock().unwrap().lines.clone();
    assert!(new_lines.iter().any(|l| l.contains("event=taking_over")), "{:?}", new_lines);

    // Only the final stop deregisters.
    new.on_stop().unwrap();
    drop(new);
    let journal = orchd.requests();
    let d = deletes(&journal);
    assert_eq!(d.len(), 1, "{:?}", journal);
    assert_eq!(d[0].raw_path, format!("/v2/nodes/{}", node_id));
    assert!(!orchd.online(&node_id));
}

#[test]
fn falls_back_to_stop_and_start_when_the_new_plugin_does_not_offer_handover() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-fallback-{}", std::process::id());
    let node_plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();
    let example = Plugin::load(artifact("PMD_EXAMPLE_SO")).unwrap();
    assert!(!example.offers_handover());

    let (host, old_seen) = NodeHost::boxed();
    let mut old = node_plugin.instance(&orchd.node_config(&node_id, HEARTBEAT_MS as u32), host).unwrap();
    old.on_start().unwrap();
    tick_until(&mut old, "a heartbeat", |n| heartbeats_ok(n) >= 1);

    let (host, new_seen) = NodeHost::boxed();
    let mut new = example.instance("{}", host).unwrap();
    assert!(!pmd_host::can_hand_over(&old, &new));
    assert_eq!(swap(&mut old, &mut new), Ok(SwapMode::Restarted));
    drop(old);
    new.on_tick_now().unwrap();

    // The old instance stopped the ordinary way: it deregistered.
    let journal = orchd.requests();
    let d = deletes(&journal);
    assert_eq!(d.len(), 1, "{:?}", journal);
    assert_eq!(d[0].raw_path, format!("/v2/nodes/{}", node_id));
    assert!(!orchd.online(&node_id));
    assert_eq!(old_seen.lock().unwrap().states.last().map(|s| s.1.as_str()), Some("stopped"));
    // The new one was started with on_start.
    assert_eq!(new_seen.lock().unwrap().states.first().map(|s| s.0), Some(NodeState::Registered));
    new.on_stop().unwrap();
}

#[test]
fn the_example_plugin_swaps_by_stop_and_start_and_refuses_handover_calls() {
    let example = Plugin::load(artifact("PMD_EXAMPLE_SO")).unwrap();
    let (host, old_seen) = NodeHost::boxed();
    let mut old = example.instance("{}", host).unwrap();
    old.on_start().unwrap();
    // Asked directly, the binding refuses without calling the plugin.
    assert_eq!(old.on_handover().unwrap_err(), Error::Unsupported { what: "handover" });
    old.on_tick_now().expect("still started after the refused handover");

    let (host, new_seen) = NodeHost::boxed();
    let mut new = example.instance("{}", host).unwrap();
    let h = Handover { node_id: "n".into(), ..Handover::default() };
    assert_eq!(new.on_start_handed_over(&h).unwrap_err().code(), ResultCode::Unsupported);
    assert_eq!(swap(&mut old, &mut new), Ok(SwapMode::Restarted));
    new.on_tick_now().unwrap();
    assert_eq!(old.on_tick_now().unwrap_err().code(), ResultCode::State, "the old instance is stopped");
    drop(old);
    drop(new);
    let states = |s: &std::sync::Arc<std::sync::Mutex<common::Seen>>| -> Vec<NodeState> {
        s.lock().unwrap().states.iter().map(|(st, _)| *st).collect()
    };
    assert_eq!(states(&old_seen), vec![NodeState::Registered, NodeState::Stopped]);
    assert_eq!(states(&new_seen), vec![NodeState::Registered, NodeState::Stopped]);
}

#[test]
fn handover_calls_in_the_wrong_state_or_for_another_node_behave_as_the_abi_says() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-handover-state-{}", std::process::id());
    let config = orchd.node_config(&node_id, HEARTBEAT_MS as u32);
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).unwrap();

    // Not started: PMD_ERR_STATE, nothing changed.
    let (host, _) = NodeHost::boxed();
    let mut idle = plugin.instance(&config, host).unwrap();
    let err = idle.on_handover().unwrap_err();
    assert!(matches!(err, Error::Call { call: "on_handover", code: ResultCode::State, .. }), "{:?}", err);

    // A handover of another node id is a plain start (the plugin says why).
    let (host, seen) = NodeHost::boxed();
    let mut node = plugin.instance(&config, host).unwrap();
    let other = Handover {
        flags: pmd_host::ffi::PMD_HANDOVER_REGISTERED,
        next_heartbeat_due_ns: pmd_host::monotonic_ns(),
        heartbeat_interval_ns: HEARTBEAT_MS * 1_000_000,
        last_heartbeat_ok_ns: 0,
        node_id: "some-other-node".into(),
    };
    node.on_start_handed_over(&other).unwrap();
    tick_until(&mut node, "registration", |n| n.stats().map_or(false, |s| s.state == NodeState::Registered));
    assert!(wait_for(Duration::from_secs(5), || orchd.online(&node_id)));
    assert!(seen.lock().unwrap().lines.iter().any(|l| l.contains("event=takeover_refused")));
    // Already started: on_start_handed_over is a state error.
    assert_eq!(node.on_start_handed_over(&other).unwrap_err().code(), ResultCode::State);
    // A node id C cannot take is refused before the plugin is called.
    let (host, _) = NodeHost::boxed();
    let mut fresh = plugin.instance(&config, host).unwrap();
    let bad = Handover { node_id: "x".repeat(300), ..other };
    assert!(matches!(fresh.on_start_handed_over(&bad), Err(Error::Invalid { .. })));
    node.on_stop().unwrap();
}
