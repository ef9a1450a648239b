//! Instructions per keep-alive request, counted by callgrind: a figure
//! without timing noise, so that a regression in the request path shows.
//!
//! Two runs of peer-courteous under `valgrind --tool=callgrind`, each with
//! the same start-up, warm-up and shutdown: one serving `N` more requests
//! on one keep-alive connection, one serving none. The difference of their
//! instruction totals, divided by `N`, is the cost of one request to the
//! server (every thread of it, kernel time excluded).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use courteous_peers::loadgen::{self, Mode, Spec, Stop};

use crate::procs::{Peer, Server};
use crate::table::{count, Table};
use crate::{progress, Ctx, Result};

/// Valgrind is slow: allow for it.
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(120);

fn valgrind_installed() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The instructions callgrind counted in one run of the server that
/// answered `requests` keep-alive requests.
fn total_instructions(cx: &Ctx, requests: u64) -> Result<u64> {
    let out = std::env::temp_dir().join(format!(
        "courteous-bench-{}-{requests}.callgrind",
        std::process::id()
    ));
    let mut cmd = Command::new("valgrind");
    cmd.args(["-q", "--tool=callgrind"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(cx.bins.path(Peer::Courteous));
    cmd.args(["--addr", "127.0.0.1:0"]);
    let mut server = Server::spawn(cmd, VALGRIND_TIMEOUT)?;
    let s = loadgen::run(&Spec {
        addr: server.addr,
        path: "/hello".into(),
        conns: 1,
        threads: 1,
        mode: Mode::KeepAlive,
        stop: Stop::Requests(requests),
    })?;
    if s.requests != requests || s.errors.total() != 0 {
        return Err(format!(
            "under callgrind: {} of {requests} requests answered, {:?}",
            s.requests, s.errors
        )
        .into());
    }
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

pub fn run(cx: &mut Ctx) -> Result<()> {
    if !valgrind_installed() {
        println!("\n## instructions per request: skipped (valgrind is not installed: apt-get install valgrind)");
        return Ok(());
    }
    let warm = cx.opts.sizes.warmup_requests;
    let n = cx.opts.sizes.counted_requests;
    progress(&format!("callgrind: {warm} warm-up requests"));
    let base = total_instructions(cx, warm)?;
    progress(&format!("callgrind: {warm} warm-up + {n} requests"));
    let full = total_instructions(cx, warm + n)?;
    let per = full.saturating_sub(base) as f64 / n as f64;
    let mut t = Table::new(
        "cost: courteous, instructions per keep-alive request (callgrind, all server threads)",
        &["run", "requests", "instructions"],
    );
    t.row(vec![
        "start-up, warm-up, drain".into(),
        count(warm as f64),
        count(base as f64),
    ]);
    t.row(vec![
        "the same, and more requests".into(),
        count((warm + n) as f64),
        count(full as f64),
    ]);
    t.row(vec![
        "per request (difference / requests)".into(),
        count(n as f64),
        count(per),
    ]);
    print!("{t}");
    Ok(())
}
