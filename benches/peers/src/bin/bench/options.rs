//! The runner's command line and the sizes it implies.

use std::time::Duration;

pub const USAGE: &str = "\
usage: bench [--quick] [--passes N] [--duration SECS] [--only SECTION[,SECTION...]] [--driver wrk|rust]

  --quick          1 s runs, no warm-up, one pass, fewer connections: checks that everything works
  --passes N       passes of each timed comparison, interleaved across the servers;
                   the tables give their medians (default 3, --quick 1)
  --duration SECS  length of each measured load run (default 5)
  --only LIST      run only these sections: keepalive-16, keepalive-128, close,
                   pipelined, blocking, idle, memory, drain, syscalls, instructions
  --driver NAME    wrk (must be installed) or rust (the built-in load generator);
                   default: wrk when it is on PATH, else rust";

/// A part of the benchmark that `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    KeepAlive16,
    KeepAlive128,
    Close,
    Pipelined,
    Blocking,
    Idle,
    Memory,
    Drain,
    Syscalls,
    Instructions,
}

impl Section {
    pub const ALL: [Section; 10] = [
        Section::KeepAlive16,
        Section::KeepAlive128,
        Section::Close,
        Section::Pipelined,
        Section::Blocking,
        Section::Idle,
        Section::Memory,
        Section::Drain,
        Section::Syscalls,
        Section::Instructions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::KeepAlive16 => "keepalive-16",
            Section::KeepAlive128 => "keepalive-128",
            Section::Close => "close",
            Section::Pipelined => "pipelined",
            Section::Blocking => "blocking",
            Section::Idle => "idle",
            Section::Memory => "memory",
            Section::Drain => "drain",
            Section::Syscalls => "syscalls",
            Section::Instructions => "instructions",
        }
    }
}

/// Which load generator drives the throughput runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    Wrk,
    Rust,
}

/// How long each request of the blocking-handler run sleeps in its handler.
pub const BLOCKING_MS: u64 = 10;
/// The blocking-handler run's request target.
pub const BLOCKING_PATH: &str = "/sleep?ms=10";

/// Requests in each write of the pipelined run, as in TechEmpower's
/// plaintext test.
pub const PIPELINE_DEPTH: usize = 16;

/// A counted workload for the syscall and instruction counts: a fresh
/// server, `warmup` requests, then `small` or `large` more; the difference
/// of the two runs' totals over `large - small` is the cost of a request.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    /// Keep-alive connections, one request outstanding on each.
    pub conns: usize,
    pub warmup: u64,
    pub small: u64,
    pub large: u64,
}

/// How big each part is.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Connections of the small keep-alive run (and of the idle-scale busy clients).
    pub conns_small: usize,
    /// Connections of the large keep-alive run.
    pub conns_large: usize,
    /// Connections of the connection-per-request run.
    pub conns_close: usize,
    /// Connections of the pipelined run ([`PIPELINE_DEPTH`] requests per write).
    pub conns_pipelined: usize,
    /// Connections of the blocking-handler run (each request holds its
    /// worker for [`BLOCKING_MS`]).
    pub conns_blocking: usize,
    /// Idle keep-alive connections in the idle-scale run.
    pub idle: usize,
    /// Idle keep-alive connections in the drain runs.
    pub drain_idle: usize,
    /// Idle keep-alive connections in the memory run.
    pub memory_idle: usize,
    /// Repetitions of each drain measurement.
    pub drain_runs: usize,
    /// The workload under strace.
    pub syscalls: Counted,
    /// The workload under callgrind.
    pub instructions: Counted,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    /// Passes of each timed comparison (their median is reported).
    pub passes: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub sections: Vec<Section>,
    pub driver: Option<DriverChoice>,
    pub sizes: Sizes,
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut quick = false;
        let mut passes = None;
        let mut duration = None;
        let mut sections = Section::ALL.to_vec();
        let mut driver = None;
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--quick" => quick = true,
                "--passes" => {
                    let n: usize = value()?
                        .parse()
                        .map_err(|_| "--passes takes a number".to_string())?;
                    passes = Some(n.max(1));
                }
                "--duration" => {
                    let secs: u64 = value()?
                        .parse()
                        .map_err(|_| "--duration takes whole seconds".to_string())?;
                    duration = Some(Duration::from_secs(secs.max(1)));
                }
                "--only" => sections = parse_sections(&value()?)?,
                "--driver" => {
                    driver = Some(match value()?.as_str() {
                        "wrk" => DriverChoice::Wrk,
                        "rust" => DriverChoice::Rust,
                        other => return Err(format!("unknown driver {other}")),
                    })
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let sizes = if quick {
            Sizes {
                conns_small: 16,
                conns_large: 32,
                conns_close: 16,
                conns_pipelined: 16,
                conns_blocking: 32,
                idle: 1_000,
                drain_idle: 100,
                memory_idle: 50,
                drain_runs: 1,
                syscalls: Counted {
                    conns: 4,
                    warmup: 200,
                    small: 500,
                    large: 2_500,
                },
                instructions: Counted {
                    conns: 1,
                    warmup: 100,
                    small: 100,
                    large: 1_100,
                },
            }
        } else {
            Sizes {
                conns_small: 16,
                conns_large: 128,
                conns_close: 16,
                conns_pipelined: 16,
                conns_blocking: 100,
                idle: 10_000,
                drain_idle: 1_000,
                memory_idle: 500,
                drain_runs: 5,
                syscalls: Counted {
                    conns: 4,
                    warmup: 1_000,
                    small: 2_000,
                    large: 12_000,
                },
                instructions: Counted {
                    conns: 1,
                    warmup: 2_000,
                    small: 1_000,
                    large: 21_000,
                },
            }
        };
        let default_secs = if quick { 1 } else { 5 };
        Ok(Options {
            quick,
            passes: passes.unwrap_or(if quick { 1 } else { 3 }),
            duration: duration.unwrap_or(Duration::from_secs(default_secs)),
            warmup: Duration::from_secs(if quick { 0 } else { 1 }),
            sections,
            driver,
            sizes,
        })
    }

    pub fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

fn parse_sections(list: &str) -> Result<Vec<Section>, String> {
    list.split(',')
        .map(|name| {
            Section::ALL
                .into_iter()
                .find(|s| s.name() == name.trim())
                .ok_or(format!("unknown section {name}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_quick_and_only() {
        let full = parse(&[]).unwrap();
        assert_eq!(full.duration, Duration::from_secs(5));
        assert_eq!(full.sizes.conns_large, 128);
        assert_eq!(full.sections.len(), Section::ALL.len());
        assert_eq!(full.passes, 3);
        assert_eq!(full.sizes.idle, 10_000);
        let quick = parse(&["--quick", "--only", "close,drain"]).unwrap();
        assert_eq!(quick.duration, Duration::from_secs(1));
        assert_eq!(quick.passes, 1);
        assert_eq!(parse(&["--quick", "--passes", "2"]).unwrap().passes, 2);
        assert!(parse(&["--passes", "x"]).is_err());
        assert_eq!(quick.sections, vec![Section::Close, Section::Drain]);
        assert_eq!(parse(&["--duration", "3"]).unwrap().duration.as_secs(), 3);
        assert!(parse(&["--only", "nope"]).is_err());
        assert!(parse(&["--driver"]).is_err());
        assert_eq!(BLOCKING_PATH, format!("/sleep?ms={BLOCKING_MS}"));
    }
}
