//! The benchmark runner: courteous against tiny_http and hyper, in one run.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- [--quick] [--duration SECS] [--only LIST] [--driver wrk|rust]
//! ```
//!
//! Each server runs as a child process (the `peer-*` binaries of this
//! crate). Throughput runs use `wrk` when it is installed, else the Rust
//! load generator. The tables go to stdout, progress to stderr. Speed
//! never makes the exit status fail; a broken run does.

mod blocking;
mod cost;
mod drain;
mod driver;
mod idle;
mod machine;
mod options;
mod procs;
mod scale;
mod table;
mod throughput;
mod wrk;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use courteous_peers::loadgen::Mode;

use driver::{Driver, Load, Measure};
use options::{Options, Section};
use procs::{Bins, Peer};
use table::Targets;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long a stopping server may take to exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Time for connections just opened to settle (past courteous's 100 ms
/// drain grace, so they count as idle for longer).
pub const SETTLE: Duration = Duration::from_millis(300);

/// What every section works with.
pub struct Ctx {
    pub opts: Options,
    pub bins: Bins,
    pub driver: Driver,
    pub targets: Targets,
}

impl Ctx {
    /// Starts `peer` afresh, warms it up, measures one timed run, stops it.
    pub fn measure(&self, peer: Peer, conns: usize, mode: Mode) -> Result<Measure> {
        progress(&format!("{} × {conns} conns, {mode:?}", peer.name()));
        let server = self.bins.start(peer, &[])?;
        let m = self
            .driver
            .warm_and_run(&self.load(&server, conns, mode), self.opts.warmup)?;
        server.stop(STOP_TIMEOUT)?;
        Ok(m)
    }

    pub fn load(&self, server: &procs::Server, conns: usize, mode: Mode) -> Load {
        Load {
            addr: server.addr,
            pid: server.pid(),
            conns,
            mode,
            duration: self.opts.duration,
            path: "/hello",
        }
    }
}

/// A line on stderr, so that a long run shows where it is.
pub fn progress(what: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "  … {what}");
}

type SectionFn = fn(&mut Ctx) -> Result<()>;

const SECTIONS: [(&[Section], &str, SectionFn); 6] = [
    (
        &[Section::KeepAlive16, Section::KeepAlive128, Section::Close],
        "throughput",
        throughput::run,
    ),
    (&[Section::Blocking], "blocking handlers", blocking::run),
    (&[Section::Idle], "idle scale", scale::idle),
    (&[Section::Memory], "memory", scale::memory),
    (&[Section::Drain], "drain", drain::run),
    (&[Section::Instructions], "instructions", cost::run),
];

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("bench: {why}");
            }
            eprintln!("{}", options::USAGE);
            return ExitCode::from(2);
        }
    };
    let setup = Bins::locate().and_then(|bins| Ok((bins, Driver::choose(opts.driver)?)));
    let (bins, driver) = match setup {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cx = Ctx {
        opts,
        bins,
        driver,
        targets: Targets::default(),
    };
    print_header(&cx);
    let mark = machine::CpuMark::now(&[]);
    let mut failed = false;
    for (sections, name, run) in SECTIONS {
        if !sections.iter().any(|s| cx.opts.runs(*s)) {
            continue;
        }
        progress(name);
        if let Err(e) = run(&mut cx) {
            println!("\n## {name}: FAILED: {e}");
            failed = true;
        }
    }
    if let Some(t) = cx.targets.table() {
        print!("{t}");
    }
    println!("\n{}", machine::disturbance(mark));
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_header(cx: &Ctx) {
    let o = &cx.opts;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "# courteous benchmarks{}",
        if o.quick { " (quick)" } else { "" }
    );
    println!();
    println!("load generator: {}", cx.driver.describe());
    println!(
        "runs: {} s each, after a {} s warm-up; {cpus} CPUs shared by the load and the server",
        o.duration.as_secs(),
        o.warmup.as_secs()
    );
    println!(
        "servers: courteous (default config, {} workers), tiny_http 0.12 (one handler thread), \
         hyper 1 (tokio, 2 worker threads); each answers GET /hello with `hello\\n`",
        courteous::Builder::new().config().workers()
    );
    if cfg!(debug_assertions) {
        println!("WARNING: a debug build; run with --release for real figures");
    }
}
