//! The benchmark runner: courteous against tiny_http and hyper, in one run.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- [--quick] [--passes N] [--duration SECS] [--only LIST] [--driver wrk|rust]
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
mod passes;
mod procs;
mod scale;
mod syscalls;
mod table;
mod throughput;
mod wrk;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use courteous_peers::loadgen::Mode;

use driver::{Driver, Load};
use options::{Options, Section};
use procs::Bins;
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
    /// A timed keep-alive or close load of `GET /hello` on `server`.
    pub fn load(&self, server: &procs::Server, conns: usize, mode: Mode) -> Load {
        Load {
            addr: server.addr,
            pid: server.pid(),
            conns,
            mode,
            duration: self.opts.duration,
            path: "/hello",
            pipeline: 1,
        }
    }
}

/// A line on stderr, so that a long run shows where it is.
pub fn progress(what: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "  … {what}");
}

type SectionFn = fn(&mut Ctx) -> Result<()>;

const SECTIONS: [(&[Section], &str, SectionFn); 8] = [
    (
        &[Section::KeepAlive16, Section::KeepAlive128, Section::Close],
        "throughput",
        throughput::run,
    ),
    (&[Section::Pipelined], "pipelined", throughput::pipelined),
    (&[Section::Blocking], "blocking handlers", blocking::run),
    (&[Section::Idle], "idle scale", scale::idle),
    (&[Section::Memory], "memory", scale::memory),
    (&[Section::Drain], "drain", drain::run),
    (&[Section::Syscalls], "syscalls", syscalls::run),
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
    let fd_limit = courteous_peers::peer::raise_fd_limit();
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
    print_header(&cx, fd_limit);
    let mark = machine::CpuMark::now(&[]);
    let began = Instant::now();
    let mut failed = false;
    for (sections, name, run) in SECTIONS {
        if !sections.iter().any(|s| cx.opts.runs(*s)) {
            continue;
        }
        progress(name);
        let section_began = Instant::now();
        if let Err(e) = run(&mut cx) {
            println!("\n## {name}: FAILED: {e}");
            failed = true;
        }
        progress(&format!(
            "{name}: {:.0} s",
            section_began.elapsed().as_secs_f64()
        ));
    }
    if let Some(t) = cx.targets.table() {
        print!("{t}");
    }
    println!("\n{}", machine::disturbance(mark));
    println!("this run took {:.0} s", began.elapsed().as_secs_f64());
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_header(cx: &Ctx, fd_limit: Option<u64>) {
    let o = &cx.opts;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "# courteous benchmarks{}",
        if o.quick { " (quick)" } else { "" }
    );
    println!();
    println!("load generator: {}", cx.driver.describe());
    println!(
        "runs: {} s each, after a {} s warm-up; {} pass{} of each comparison, interleaved, \
         medians reported; {cpus} CPUs shared by the load and the server",
        o.duration.as_secs(),
        o.warmup.as_secs(),
        o.passes,
        if o.passes == 1 { "" } else { "es" }
    );
    println!(
        "open files: limit {} in the runner and in each server (soft limit raised to the hard one)",
        fd_limit.map_or("unlimited".into(), |n| n.to_string())
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
