//! orchd.rs - node_registration.so driven from Rust against orchd-dev, the
//! development control plane: register, heartbeat, stop, deregister.
//! Paths: ORCHD_DEV_BIN, PMD_NODE_REGISTRATION_SO.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pmd_host::{Capabilities, GpuInfo, Host, LogLevel, NodeState, Plugin, PoolStatus};

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .unwrap_or_else(|| panic!("{} is not set (ctest -R rust_host sets it; see hosts/rust/README.md)", name))
        .into()
}

/// orchd-dev on a free port; killed (it is our own child) when dropped.
struct OrchdDev {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl OrchdDev {
    fn start() -> OrchdDev {
        let dir = TempDir::new("orchd");
        let port_file = dir.0.join("port");
        let child = Command::new(env_path("ORCHD_DEV_BIN"))
            .arg("--port")
            .arg("0")
            .arg("--port-file")
            .arg(&port_file)
            .arg("--quiet")
            .env_remove("LLORCH_API_TOKEN") // auth off: the test sends no token
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("orchd-dev starts");
        let mut dev = OrchdDev { child, port: 0, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while dev.port == 0 {
            // The port file appears by atomic rename, so it is complete once there.
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                dev.port = text.trim().parse().expect("port file holds a port");
            } else if let Some(status) = dev.child.try_wait().unwrap() {
                panic!("orchd-dev exited early: {}", status);
            } else {
                assert!(Instant::now() < deadline, "orchd-dev wrote no port file");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        dev
    }

    /// GET `path` with a minimal HTTP/1.1 request; (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to orchd-dev");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", path, self.port).unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).expect("read the response");
        let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "unexpected chunked reply");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        (status, body.to_string())
    }
}

impl Drop for OrchdDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = pmd_host::monotonic_ns();
        let p = std::env::temp_dir().join(format!("pmd-host-{}-{}-{}", tag, std::process::id(), nanos));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Default)]
struct Seen {
    lines: Vec<String>,
    states: Vec<(NodeState, String)>,
}

struct NodeHost(Arc<Mutex<Seen>>);

impl Host for NodeHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.0.lock().unwrap().lines.push(format!("{} {}", level.as_str(), message));
    }
    fn pools(&mut self) -> Option<Vec<PoolStatus>> {
        Some(vec![PoolStatus {
            pool_id: "pool-rust-0".into(),
            ready: true,
            draining: false,
            slots_free: 3,
            slots_total: 4,
            vram_free_bytes: 18_000_000_000,
            engine: Some("llamacpp".into()),
        }])
    }
    fn capabilities(&mut self) -> Option<Capabilities> {
        Some(Capabilities {
            cpu_cores: 16,
            ram_total_bytes: 137_438_953_472,
            gpus: vec![GpuInfo {
                device_id: 0,
                vram_total_bytes: 150_754_820_096,
                name: "NVIDIA H200".into(),
                compute_capability: "9.0".into(),
            }],
        })
    }
    fn state_changed(&mut self, state: NodeState, detail: &str) {
        self.0.lock().unwrap().states.push((state, detail.to_string()));
    }
}

#[test]
fn registers_heartbeats_and_deregisters_against_orchd_dev() {
    let orchd = OrchdDev::start();
    let node_id = format!("rust-host-test-{}", std::process::id());
    let config = format!(
        "{{\"node_id\":\"{}\",\"address\":\"http://127.0.0.1:9200\",\"orchestratord_url\":\"http://127.0.0.1:{}\",\
         \"heartbeat_interval_ms\":200,\"request_timeout_ms\":1000,\"deregister_timeout_ms\":2000,\
         \"retry_base_ms\":50,\"retry_max_ms\":200}}",
        node_id, orchd.port
    );
    let plugin = Plugin::load(env_path("PMD_NODE_REGISTRATION_SO")).expect("node_registration.so loads");
    assert_eq!(plugin.name(), "node_registration");
    assert!(plugin.offers_stats());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut node = plugin
        .instance_named(&config, Box::new(NodeHost(seen.clone())), "pmd-host-test", "0.0.1")
        .unwrap_or_else(|e| panic!("init: {}", e));
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
