//! orchd.rs - node_registration.so driven from Rust against orchd-dev, the
//! development control plane: register, heartbeat, stop, deregister.
//! Paths: ORCHD_DEV_BIN, PMD_NODE_REGISTRATION_SO.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{artifact, resolve, NodeHost, OrchdDev};
use pmd_host::{NodeState, Plugin};

#[test]
fn relative_artifact_paths_are_read_from_the_repository_root() {
    // Cargo runs tests in hosts/rust; the README's commands run at the root.
    let p = resolve("X", Path::new("hosts/rust/Cargo.toml"));
    assert!(p.is_absolute() && p.ends_with("hosts/rust/Cargo.toml"), "{}", p.display());
    let p = resolve("X", Path::new("Cargo.toml")); // the working directory (hosts/rust)
    assert!(p.ends_with("hosts/rust/Cargo.toml"), "{}", p.display());
    assert_eq!(resolve("X", Path::new("/abs/x.so")), PathBuf::from("/abs/x.so"));
}

#[test]
fn registers_heartbeats_and_deregisters_against_orchd_dev() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-host-test-{}", std::process::id());
    let config = orchd.node_config(&node_id, 200);
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).expect("node_registration.so loads");
    assert_eq!(plugin.name(), "node_registration");
    assert!(plugin.offers_stats());
    assert!(plugin.offers_handover(), "node_registration offers handover at session minor 2");
    let seen = Arc::new(Mutex::new(common::Seen::default()));
    let host = Box::new(NodeHost { seen: seen.clone(), panic_in_log: false });
    let mut node =
        plugin.instance_named(&config, host, "pmd-host-test", "0.0.1").unwrap_or_else(|e| panic!("init: {}", e));
    let before = node.stats().expect("stats before start");
    assert_eq!(before.state, NodeState::Idle);
    assert!(before.stop_timeout_ms.is_some(), "the plugin reports its stop bound");
    node.on_start().unwrap();

    // Tick until the control plane lists the node online with our pool and
    // the plugin has counted at least two heartbeats.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last_poll = Instant::now();
    loop {
        node.on_tick_now().unwrap();
        if last_poll.elapsed() >= Duration::from_millis(200) {
            last_poll = Instant::now();
            let (status, body) = orchd.get("/v2/nodes");
            assert_eq!(status, 200, "{}", body);
            let stats = node.stats().unwrap();
            if body.contains(&format!("\"node_id\":\"{}\"", node_id))
                && body.contains("\"status\":\"Online\"")
                && body.contains("\"pool_id\":\"pool-rust-0\"")
                && stats.heartbeats_ok >= 2
            {
                assert_eq!(stats.state, NodeState::Registered);
                assert_eq!(stats.node_id, node_id);
                assert!(stats.registrations_ok >= 1);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node never online: {} / {:?} / {:?}",
                body,
                stats,
                seen.lock().unwrap().lines
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let started = Instant::now();
    node.on_stop().unwrap();
    assert!(started.elapsed() <= plugin.stop_timeout());
    let stats = node.stats().unwrap();
    assert_eq!((stats.state, stats.deregistrations_ok), (NodeState::Stopped, 1));
    drop(node);

    let (status, body) = orchd.get("/v2/nodes");
    assert_eq!(status, 200);
    assert!(!body.contains(&node_id), "node still listed after stop: {}", body);

    let seen = seen.lock().unwrap();
    let states: Vec<NodeState> = seen.states.iter().map(|(s, _)| *s).collect();
    assert!(states.contains(&NodeState::Registering), "{:?}", seen.states);
    assert!(states.contains(&NodeState::Registered), "{:?}", seen.states);
    assert_eq!(states.last(), Some(&NodeState::Stopped), "{:?}", seen.states);
    assert!(seen.lines.iter().any(|l| l.contains("event=deregistered")), "{:?}", seen.lines);
}
