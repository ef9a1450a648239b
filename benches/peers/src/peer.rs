//! What the three peer servers share: their command line, the body they
//! serve, and the line that tells the runner where they listen.

use std::io::Write;
use std::net::SocketAddr;

/// The body of `GET /hello`, the same bytes from every peer.
pub const HELLO: &str = "hello\n";

/// The `Content-Type` of `GET /hello`, the same from every peer.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// A peer's command line: `--addr HOST:PORT [--workers N] [--drain-report]`.
#[derive(Debug, Clone)]
pub struct Args {
    /// Where to listen (default `127.0.0.1:0`, a free port).
    pub addr: String,
    /// Worker threads (courteous only; its default when absent).
    pub workers: Option<usize>,
    /// After `serve` returns, print a `drain-report` line (courteous only).
    pub drain_report: bool,
}

impl Args {
    /// Parses the process's arguments; `supports` names the optional flags
    /// this peer accepts (`--workers`, `--drain-report`). Exits with a usage
    /// line on anything else.
    pub fn parse(name: &str, supports: &[&str]) -> Args {
        let mut args = Args {
            addr: "127.0.0.1:0".into(),
            workers: None,
            drain_report: false,
        };
        let usage = |why: &str| -> ! {
            eprintln!("{name}: {why}");
            let extra: String = supports.iter().map(|f| format!(" [{f}]")).collect();
            eprintln!("usage: {name} [--addr HOST:PORT]{extra}");
            std::process::exit(2)
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag != "--addr" && !supports.contains(&flag.as_str()) {
                usage(&format!("unknown flag {flag}"));
            }
            match flag.as_str() {
                "--addr" => args.addr = it.next().unwrap_or_else(|| usage("--addr needs a value")),
                "--workers" => {
                    let n = it.next().and_then(|v| v.parse().ok());
                    args.workers = Some(n.unwrap_or_else(|| usage("--workers needs a number")));
                }
                "--drain-report" => args.drain_report = true,
                _ => unreachable!("checked above"),
            }
        }
        args
    }
}

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the limit now in force (`None`: unlimited). The idle-scale run
/// holds 10,000 connections, one descriptor each in the server and in the
/// runner, past the usual soft limit of 1,024. Every peer and the runner
/// call it first thing; what they inherit from the shell (`ulimit -Hn`)
/// bounds it.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    limit.current
}

/// The `N` of a `/sleep?ms=N` query (0 when it is missing or bad): how
/// long the peers' blocking route sleeps.
pub fn sleep_ms(query: Option<&str>) -> u64 {
    query
        .and_then(|q| q.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Prints `listening ADDR` and flushes: the runner waits for this line.
pub fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening {addr}");
    let _ = out.flush();
}

/// Prints why the peer cannot run and exits with status 1.
pub fn fail(name: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("{name}: {e}");
    std::process::exit(1)
}
