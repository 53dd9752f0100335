//! common/mod.rs - shared by the integration tests: where the built C
//! artifacts are, orchd-dev as a child process with its request journal,
//! and a recording `Host` for node_registration.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pmd_host::{Capabilities, GpuInfo, Host, LogLevel, NodeState, PoolStatus};

/// The repository root: where hosts/rust/README.md's commands run. Cargo
/// sets CARGO_MANIFEST_DIR when it runs a test too; that value is used
/// (the binary may have been built through another path to the same tree).
pub fn repo_root() -> PathBuf {
    let dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    dir.join("../..")
}

/// A built artifact named by the environment variable `var` (ctest sets
/// them; see hosts/rust/README.md). An absolute path is used as is. A
/// relative one is taken from the directory `cargo test` was typed in
/// (the shell's `PWD`: cargo itself runs the tests in hosts/rust), then from
/// the repository root, then from the working directory. Unset or not
/// found: the test fails, naming `var`.
pub fn artifact(var: &str) -> PathBuf {
    let value = std::env::var_os(var)
        .unwrap_or_else(|| panic!("{} is not set (ctest -R rust_host sets it; see hosts/rust/README.md)", var));
    resolve(var, Path::new(&value))
}

pub fn resolve(var: &str, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let mut bases = Vec::new();
    if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from).filter(|d| d.is_absolute()) {
        bases.push(pwd);
    }
    bases.push(repo_root());
    bases.push(std::env::current_dir().expect("a working directory"));
    for base in &bases {
        let c = base.join(p);
        if c.exists() {
            return c.canonicalize().unwrap_or(c);
        }
    }
    let tried: Vec<String> = bases.iter().map(|b| b.display().to_string()).collect();
    panic!("{}={}: not found relative to {}", var, p.display(), tried.join(", "))
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
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

/// One node-API request as orchd-dev's journal (GET /_dev/requests) has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub t_ms: u64,
    pub kind: String,
    pub method: String,
    pub raw_path: String,
    pub status: u64,
}

/// orchd-dev on a free port; killed (it is our own child) when dropped.
pub struct OrchdDev {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl OrchdDev {
    pub fn start() -> OrchdDev {
        let dir = TempDir::new("orchd");
        let port_file = dir.0.join("port");
        let child = Command::new(artifact("ORCHD_DEV_BIN"))
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

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A node_registration config for `node_id` against this orchd-dev.
    pub fn node_config(&self, node_id: &str, heartbeat_ms: u32) -> String {
        format!(
            "{{\"node_id\":\"{}\",\"address\":\"http://127.0.0.1:9200\",\"orchestratord_url\":\"{}\",\
             \"heartbeat_interval_ms\":{},\"request_timeout_ms\":1000,\"deregister_timeout_ms\":2000,\
             \"retry_base_ms\":50,\"retry_max_ms\":200}}",
            node_id,
            self.url(),
            heartbeat_ms
        )
    }

    /// GET `path` with a minimal HTTP/1.1 request; (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
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

    /// Whether GET /v2/nodes lists `node_id` as Online.
    pub fn online(&self, node_id: &str) -> bool {
        let (status, body) = self.get("/v2/nodes");
        assert_eq!(status, 200, "{}", body);
        let key = format!("\"node_id\":\"{}\"", node_id);
        match body.find(&key) {
            // The node's own object: up to the next node's id.
            Some(at) => {
                let rest = &body[at..];
                let end = rest[key.len()..].find("\"node_id\":").map_or(rest.len(), |e| e + key.len());
                rest[..end].contains("\"status\":\"Online\"")
            }
            None => false,
        }
    }

    /// The request journal (GET /_dev/requests), oldest first. Parsed by
    /// hand (std only): records are flat objects starting with `{"seq":`,
    /// and quotes inside string values are escaped, so the field patterns
    /// below cannot match inside a body.
    pub fn requests(&self) -> Vec<Request> {
        let (status, body) = self.get("/_dev/requests");
        assert_eq!(status, 200, "{}", body);
        body.split("{\"seq\":")
            .skip(1)
            .map(|rec| Request {
                t_ms: number(rec, "t_ms"),
                kind: string(rec, "kind"),
                method: string(rec, "method"),
                raw_path: string(rec, "raw_path"),
                status: number(rec, "status"),
            })
            .collect()
    }
}

fn string(rec: &str, field: &str) -> String {
    let key = format!("\"{}\":\"", field);
    let at = rec.find(&key).unwrap_or_else(|| panic!("no {} in {}", field, rec)) + key.len();
    rec[at..].split('"').next().unwrap().to_string()
}

fn number(rec: &str, field: &str) -> u64 {
    let key = format!("\"{}\":", field);
    let at = rec.find(&key).unwrap_or_else(|| panic!("no {} in {}", field, rec)) + key.len();
    let digits: String = rec[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("{} is not a number in {}", field, rec))
}

impl Drop for OrchdDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
pub struct Seen {
    pub lines: Vec<String>,
    pub states: Vec<(NodeState, String)>,
}

/// A node_registration host: one pool, one GPU; records lines and states.
/// With `panic_in_log`, `Host::log` panics every time (caught by the binding).
pub struct NodeHost {
    pub seen: Arc<Mutex<Seen>>,
    pub panic_in_log: bool,
}

impl NodeHost {
    pub fn boxed() -> (Box<dyn Host>, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (Box::new(NodeHost { seen: seen.clone(), panic_in_log: false }), seen)
    }
}

impl Host for NodeHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        if self.panic_in_log {
            panic!("Host::log panics on purpose");
        }
        self.seen.lock().unwrap().lines.push(format!("{} {}", level.as_str(), message));
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
        self.seen.lock().unwrap().states.push((state, detail.to_string()));
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
