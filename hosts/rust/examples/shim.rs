//! shim.rs - pmd-host-shim's main loop in Rust: load a plugin, feed it pools
//! from the command line, tick it, stop it after --run-for seconds or on
//! SIGINT/SIGTERM. Plugin log lines and state changes go to stderr.
//!
//!   cargo run --example shim -- --plugin node_registration.so --config node.json \
//!       --pool pool-0:1:0:3:4:18000000000:llamacpp [--pool ...] [--gpu 0:NVIDIA H200:9.0:150754820096] \
//!       [--tick-ms 100] [--run-for 3]
//!
//! Exit: 0 clean; 1 load, config, init or stop failure; 2 usage error.

use std::os::raw::c_int;
use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pmd_host::{Capabilities, GpuInfo, Host, LogLevel, NodeState, Plugin, PoolStatus};

const USAGE: &str = concat!(
    "usage: shim --plugin PATH --config FILE [--pool ID:READY:DRAINING:FREE:TOTAL:VRAM[:ENGINE]]...\n",
    "            [--gpu ID:NAME:CC:VRAM]... [--tick-ms N] [--run-for SECONDS]\n",
    "  READY, DRAINING: 0 or 1. --tick-ms 10..1000 (default 100).\n",
    "  Without --run-for: until SIGINT/SIGTERM."
);

struct Options {
    plugin: String,
    config: String,
    pools: Vec<PoolStatus>,
    gpus: Vec<GpuInfo>,
    tick: Duration,
    run_for: Option<Duration>,
}

fn usage(problem: &str) -> ! {
    eprintln!("shim: {}\n{}", problem, USAGE);
    exit(2)
}

fn number<T: std::str::FromStr>(what: &str, text: &str) -> T {
    text.parse().unwrap_or_else(|_| usage(&format!("{}: not a number: {:?}", what, text)))
}

fn flag(what: &str, text: &str) -> bool {
    match text {
        "1" | "true" => true,
        "0" | "false" => false,
        _ => usage(&format!("{}: expected 0 or 1, got {:?}", what, text)),
    }
}

/// ID:READY:DRAINING:FREE:TOTAL:VRAM[:ENGINE]
fn parse_pool(spec: &str) -> PoolStatus {
    let f: Vec<&str> = spec.splitn(7, ':').collect();
    if f.len() < 6 || f[0].is_empty() {
        usage(&format!("--pool {:?}: expected ID:READY:DRAINING:FREE:TOTAL:VRAM[:ENGINE]", spec));
    }
    PoolStatus {
        pool_id: f[0].to_string(),
        ready: flag("--pool READY", f[1]),
        draining: flag("--pool DRAINING", f[2]),
        slots_free: number("--pool FREE", f[3]),
        slots_total: number("--pool TOTAL", f[4]),
        vram_free_bytes: number("--pool VRAM", f[5]),
        engine: f.get(6).map(|e| e.to_string()),
    }
}

/// ID:NAME:CC:VRAM
fn parse_gpu(spec: &str) -> GpuInfo {
    let f: Vec<&str> = spec.split(':').collect();
    if f.len() != 4 {
        usage(&format!("--gpu {:?}: expected ID:NAME:CC:VRAM", spec));
    }
    GpuInfo {
        device_id: number("--gpu ID", f[0]),
        name: f[1].to_string(),
        compute_capability: f[2].to_string(),
        vram_total_bytes: number("--gpu VRAM", f[3]),
    }
}

fn parse_args() -> Options {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        plugin: String::new(),
        config: String::new(),
        pools: Vec::new(),
        gpus: Vec::new(),
        tick: Duration::from_millis(100),
        run_for: None,
    };
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            println!("{}", USAGE);
            exit(0);
        }
        let value = args.next().unwrap_or_else(|| usage(&format!("{} needs a value", arg)));
        match arg.as_str() {
            "--plugin" => o.plugin = value,
            "--config" => o.config = value,
            "--pool" => o.pools.push(parse_pool(&value)),
            "--gpu" => o.gpus.push(parse_gpu(&value)),
            "--tick-ms" => {
                let ms: u64 = number("--tick-ms", &value);
                if !(10..=1000).contains(&ms) {
                    usage("--tick-ms must be 10..1000");
                }
                o.tick = Duration::from_millis(ms);
            }
            "--run-for" => {
                let s: f64 = number("--run-for", &value);
                if !(s.is_finite() && s >= 0.0) {
                    usage("--run-for must be a non-negative number of seconds");
                }
                o.run_for = Some(Duration::from_secs_f64(s));
            }
            _ => usage(&format!("unknown option {}", arg)),
        }
    }
    if o.plugin.is_empty() || o.config.is_empty() {
        usage("--plugin and --config are required");
    }
    o
}

/// The host: fixed pools and GPUs from the command line, output to stderr.
struct CliHost {
    started: Instant,
    pools: Vec<PoolStatus>,
    caps: Capabilities,
}

impl CliHost {
    fn line(&self, tag: &str, text: &str) {
        let t = self.started.elapsed();
        eprintln!("{:>4}.{:03} {:<5} {}", t.as_secs(), t.subsec_millis(), tag, text);
    }
}

impl Host for CliHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.line(&level.as_str().to_uppercase(), message);
    }
    fn pools(&mut self) -> Option<Vec<PoolStatus>> {
        Some(self.pools.clone())
    }
    fn capabilities(&mut self) -> Option<Capabilities> {
        Some(self.caps.clone())
    }
    fn state_changed(&mut self, state: NodeState, detail: &str) {
        self.line("STATE", &format!("{} ({})", state.as_str(), detail));
    }
}

// --- signals: std has no handler API, so two libc calls by hand -------------

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: c_int) {
    STOP.store(true, Ordering::SeqCst); // async-signal-safe: one atomic store
}

extern "C" {
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
}

fn main() {
    let o = parse_args();
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        signal(2, on_signal); // SIGINT
        signal(15, on_signal); // SIGTERM
    }
    let config = std::fs::read_to_string(&o.config).unwrap_or_else(|e| {
        eprintln!("shim: cannot read --config {}: {}", o.config, e);
        exit(1)
    });
    let plugin = Plugin::load(&o.plugin).unwrap_or_else(|e| {
        eprintln!("shim: {}", e);
        exit(1)
    });
    eprintln!(
        "shim: loaded {} {} (ABI {}.{}, session minor {})",
        plugin.name(),
        plugin.version(),
        plugin.abi_version().0,
        plugin.abi_version().1,
        plugin.session_minor()
    );
    let cpu_cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(0);
    let host = CliHost {
        started: Instant::now(),
        pools: o.pools,
        caps: Capabilities { cpu_cores, ram_total_bytes: 0, gpus: o.gpus },
    };
    let mut node = plugin
        .instance_named(&config, Box::new(host), "pmd-host-shim-rs", env!("CARGO_PKG_VERSION"))
        .unwrap_or_else(|e| {
            eprintln!("shim: {}", e);
            exit(1)
        });
    if let Err(e) = node.on_start() {
        eprintln!("shim: {}", e);
        exit(1);
    }
    // Drift-free schedule: tick n is due at start + n * tick.
    let start = Instant::now();
    let mut n: u32 = 0;
    while !STOP.load(Ordering::SeqCst) && o.run_for.map_or(true, |d| start.elapsed() < d) {
        if let Err(e) = node.on_tick_now() {
            eprintln!("shim: {}", e);
            break;
        }
        n += 1;
        let due = start + o.tick * n;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
    let rc = match node.on_stop() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shim: {}", e);
            1
        }
    };
    if let Some(s) = node.stats() {
        eprintln!(
            "shim: stats: node={} state={} registrations_ok={} heartbeats_ok={} deregistrations_ok={}",
            s.node_id,
            s.state.as_str(),
            s.registrations_ok,
            s.heartbeats_ok,
            s.deregistrations_ok
        );
    }
    drop(node); // destroy first; the library closes with the last Plugin
    drop(plugin);
    exit(rc)
}
