//! log_fields.rs - pmd.host.ext.log_fields/1 end to end: node_registration.so
//! driven from Rust against orchd-dev sends its events as fields to
//! `Host::log_fields`, and a host that keeps the default sees the plugin's
//! usual text lines through `Host::log`.
//! Paths: ORCHD_DEV_BIN, PMD_NODE_REGISTRATION_SO.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{artifact, OrchdDev};
use pmd_host::{Capabilities, Host, LogLevel, Plugin, PoolStatus};

#[derive(Default)]
struct Seen {
    /// (level, event, fields) from log_fields.
    events: Vec<(LogLevel, String, Vec<(String, String)>)>,
    /// Text lines from log.
    lines: Vec<String>,
}

struct FieldsHost {
    seen: Arc<Mutex<Seen>>,
    structured: bool, // false: keep the default log_fields (text through log)
}

impl Host for FieldsHost {
    fn log(&mut self, _level: LogLevel, message: &str) {
        self.seen.lock().unwrap().lines.push(message.to_string());
    }
    fn log_fields(&mut self, level: LogLevel, event: &str, fields: &[(&str, &str)]) {
        if !self.structured {
            self.log(level, &pmd_host::log_fields::text_line(event, fields));
            return;
        }
        let owned = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.seen.lock().unwrap().events.push((level, event.to_string(), owned));
    }
    fn pools(&mut self) -> Option<Vec<PoolStatus>> {
        Some(vec![PoolStatus { pool_id: "pool-fields-0".into(), ready: true, slots_total: 1, ..Default::default() }])
    }
    fn capabilities(&mut self) -> Option<Capabilities> {
        Some(Capabilities::default())
    }
}

/// Runs node_registration until it has registered, then stops it.
fn run(orchd: &OrchdDev, node_id: &str, structured: bool) -> Arc<Mutex<Seen>> {
    let plugin = Plugin::load(artifact("PMD_NODE_REGISTRATION_SO")).expect("node_registration.so loads");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let host = Box::new(FieldsHost { seen: seen.clone(), structured });
    let mut node = plugin.instance(&orchd.node_config(node_id, 200), host).unwrap_or_else(|e| panic!("init: {}", e));
    node.on_start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while node.stats().unwrap().registrations_ok == 0 {
        assert!(Instant::now() < deadline, "never registered: {:?}", seen.lock().unwrap().lines);
        node.on_tick_now().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    node.on_tick_now().unwrap(); // the registered event is delivered on a tick
    node.on_stop().unwrap();
    drop(node);
    seen
}

#[test]
fn node_registration_sends_events_as_fields() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-fields-{}", std::process::id());
    let seen = run(&orchd, &node_id, true);
    let seen = seen.lock().unwrap();
    let registered = seen
        .events
        .iter()
        .find(|(_, e, _)| e == "registered")
        .unwrap_or_else(|| panic!("no registered event: {:?} / {:?}", seen.events, seen.lines));
    let (level, _, fields) = registered;
    assert_eq!(*level, LogLevel::Info);
    assert_eq!(fields[0], ("node".to_string(), node_id.clone()), "node comes first");
    let status = fields.iter().find(|(k, _)| k == "status").map(|(_, v)| v.as_str());
    assert!(matches!(status, Some("200") | Some("201")), "status field: {:?}", fields);
    assert!(fields.iter().any(|(k, _)| k == "latency_ms") && fields.iter().any(|(k, _)| k == "cid"));
    let names: Vec<&str> = seen.events.iter().map(|(_, e, _)| e.as_str()).collect();
    assert!(names.contains(&"registering") && names.contains(&"deregistered"), "{:?}", names);
    // Every event came as fields: no text line carries one.
    assert!(!seen.lines.iter().any(|l| l.contains(" event=")), "text lines: {:?}", seen.lines);
}

#[test]
fn the_default_log_fields_gives_the_plugins_text_lines() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-fields-text-{}", std::process::id());
    let seen = run(&orchd, &node_id, false);
    let seen = seen.lock().unwrap();
    let prefix = format!("node={} event=registered status=", node_id);
    let line = seen.lines.iter().find(|l| l.starts_with(&prefix));
    let line = line.unwrap_or_else(|| panic!("no registered line: {:?}", seen.lines));
    assert!(line.contains(" latency_ms=") && line.contains(" cid="), "{}", line);
    assert!(seen.lines.iter().any(|l| l.starts_with(&format!("node={} event=registering url=http://", node_id))));
}
