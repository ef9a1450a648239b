//! Instructions per keep-alive request, counted by callgrind: a figure
//! without timing noise, so that a regression in the request path shows.
//!
//! For each server, two runs under `valgrind --tool=callgrind`, each from
//! a fresh start with the same warm-up and the same end: one serving
//! `small` more requests, one `large` more. The difference of their
//! instruction totals (every thread of the server, user space only),
//! divided by `large - small`, is the cost of one request: start-up,
//! warm-up, connection set-up and shutdown cancel out.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use courteous_peers::loadgen::{self, Mode, Spec, Stop};

use crate::options::Counted;
use crate::procs::{Peer, Server};
use crate::table::{count, ratio, Table};
use crate::{progress, Ctx, Result};

/// Valgrind is slow: allow for it.
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(120);

/// Is `tool` on PATH (does `tool --version` run)?
pub fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The counted workload on a server just started: `w.warmup` requests,
/// then `extra` more, each batch on `w.conns` fresh keep-alive connections
/// with one request outstanding on each.
pub fn workload(server: &Server, w: &Counted, extra: u64) -> Result<()> {
    for requests in [w.warmup, extra] {
        if requests == 0 {
            continue;
        }
        let s = loadgen::run(&Spec {
            addr: server.addr,
            path: "/hello".into(),
            conns: w.conns,
            threads: 1,
            mode: Mode::KeepAlive,
            pipeline: 1,
            stop: Stop::Requests(requests),
        })?;
        if s.requests != requests || s.errors.total() != 0 {
            return Err(format!(
                "{} of {requests} requests answered, {:?}",
                s.requests, s.errors
            )
            .into());
        }
    }
    Ok(())
}

/// The instructions callgrind counted in one run of `peer` that answered
/// the warm-up and `extra` more requests.
fn total_instructions(cx: &Ctx, peer: Peer, extra: u64) -> Result<u64> {
    let out = std::env::temp_dir().join(format!(
        "courteous-bench-{}-{}-{extra}.callgrind",
        std::process::id(),
        peer.name()
    ));
    let mut cmd = Command::new("valgrind");
    cmd.args(["-q", "--tool=callgrind"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(cx.bins.path(peer));
    cmd.args(["--addr", "127.0.0.1:0"]);
    let mut server = Server::spawn(cmd, VALGRIND_TIMEOUT)?;
    workload(&server, &cx.opts.sizes.instructions, extra)
        .map_err(|e| format!("{} under callgrind: {e}", peer.name()))?;
    server.terminate()?;
    server.wait(VALGRIND_TIMEOUT)?;
    let total = read_total(&out);
    let _ = std::fs::remove_file(&out);
    total
}

/// The `summary:` (or `totals:`) line of a callgrind output file.
fn read_total(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)?;
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .ok_or("no summary line in the callgrind output")?;
    let first = line.split_whitespace().next().ok_or("empty summary")?;
    Ok(first.parse()?)
}

/// Servers whose instructions are counted.
const PEERS: [Peer; 3] = Peer::ALL;

pub fn run(cx: &mut Ctx) -> Result<()> {
    if !installed("valgrind") {
        println!("\n## instructions per request: skipped (valgrind is not installed: apt-get install valgrind)");
        return Ok(());
    }
    let w = cx.opts.sizes.instructions;
    let n = w.large - w.small;
    let mut rows = Vec::new();
    for peer in PEERS {
        progress(&format!(
            "callgrind: {}, {} warm-up + {} requests",
            peer.name(),
            w.warmup,
            w.small
        ));
        let base = total_instructions(cx, peer, w.small)?;
        progress(&format!(
            "callgrind: {}, {} warm-up + {} requests",
            peer.name(),
            w.warmup,
            w.large
        ));
        let full = total_instructions(cx, peer, w.large)?;
        rows.push((
            peer,
            base,
            full,
            full.saturating_sub(base) as f64 / n as f64,
        ));
    }
    let mut t = Table::new(
        &format!(
            "cost: instructions per keep-alive request (callgrind, all server threads, user \
             space; {} conn{}, fresh server, {} warm-up requests each run)",
            w.conns,
            if w.conns == 1 { "" } else { "s" },
            count(w.warmup as f64)
        ),
        &[
            "server",
            &format!("total, +{}", count(w.small as f64)),
            &format!("total, +{}", count(w.large as f64)),
            &format!("per request (difference / {})", count(n as f64)),
            "courteous/this",
        ],
    );
    let per = |peer: Peer| rows.iter().find(|r| r.0 == peer).map_or(0.0, |r| r.3);
    for (peer, base, full, each) in &rows {
        t.row(vec![
            peer.name().into(),
            count(*base as f64),
            count(*full as f64),
            count(*each),
            ratio(per(Peer::Courteous) / each.max(1e-9)),
        ]);
    }
    print!("{t}");
    cx.targets.check(
        "instructions per keep-alive request ≤ hyper's",
        format!(
            "{} vs {}",
            count(per(Peer::Courteous)),
            count(per(Peer::Hyper))
        ),
        per(Peer::Courteous) <= per(Peer::Hyper),
    );
    Ok(())
}
