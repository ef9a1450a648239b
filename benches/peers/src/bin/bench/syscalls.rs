//! System calls per keep-alive request, counted by the kernel's syscall
//! tracepoints (`perf stat -e 'syscalls:sys_enter_*'`), or by `strace -f
//! -c` where perf cannot read them.
//!
//! For each server, two counted runs (every thread, from the exec on), each from a fresh start with the same warm-up and the same
//! end (SIGTERM to the server): one serving `small` more requests, one
//! `large` more, on a few keep-alive connections with one request
//! outstanding on each. The difference of the two runs' counts, divided by
//! `large - small`, is what one request costs: start-up, thread creation,
//! warm-up, connection set-up and shutdown cancel out. Each call counts,
//! failed ones (`EAGAIN`) too.
//!
//! Tracepoints count without stopping the server, so the figures are the
//! ones of a server at full speed. strace stops the server at every call,
//! which slows it more than the load generator: the server finds more
//! work waiting at each wake-up than it would at full speed, so the counts
//! lean low for servers that batch (epoll, futex wake-ups), and a server
//! that adapts to how long its work takes (courteous rings a second worker
//! only for slow work) sees every request as slow. Every server is
//! measured the same way, and the table says which counter was used.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::cost::{installed, workload};
use crate::procs::{Peer, Server};
use crate::table::{count, ratio, Table};
use crate::{progress, Ctx, Result};

/// strace slows a server down: allow for it.
const STRACE_TIMEOUT: Duration = Duration::from_secs(60);

/// Calls shown for each server, besides the total: its most frequent.
const TOP: usize = 5;

/// How the calls are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// `perf stat` on the syscall tracepoints.
    Perf,
    /// `strace -f -c`.
    Strace,
}

impl Counter {
    /// perf, if it can read the tracepoints here (it needs tracefs and a
    /// permissive `perf_event_paranoid`, or root); else strace, if installed.
    fn choose() -> Option<Counter> {
        let perf_works = Command::new("perf")
            .args(["stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if perf_works {
            Some(Counter::Perf)
        } else if installed("strace") {
            Some(Counter::Strace)
        } else {
            None
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Counter::Perf => "perf stat on the syscalls:sys_enter_* tracepoints",
            Counter::Strace => "strace -f -c",
        }
    }
}

/// Calls by system call in one counted run of `peer` answering the warm-up
/// and `extra` more requests.
fn calls(cx: &Ctx, peer: Peer, extra: u64, counter: Counter) -> Result<BTreeMap<String, u64>> {
    let (tool, args, ext): (&str, &[&str], &str) = match counter {
        Counter::Perf => (
            "perf",
            &["stat", "-x,", "-e", "syscalls:sys_enter_*", "-o"],
            "perf",
        ),
        Counter::Strace => ("strace", &["-f", "-q", "-c", "-o"], "strace"),
    };
    let out = std::env::temp_dir().join(format!(
        "courteous-bench-{}-{}-{extra}.{ext}",
        std::process::id(),
        peer.name()
    ));
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .arg(&out)
        .arg("--")
        .arg(cx.bins.path(peer))
        .args(["--addr", "127.0.0.1:0"]);
    let mut server = Server::spawn(cmd, STRACE_TIMEOUT)?;
    workload(&server, &cx.opts.sizes.syscalls, extra)
        .map_err(|e| format!("{} under {tool}: {e}", peer.name()))?;
    // SIGTERM to the counter would detach strace; the server itself is
    // stopped, and either tool writes its counts once the server exited.
    server.terminate_child()?;
    server.wait(STRACE_TIMEOUT)?;
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    match counter {
        Counter::Perf => parse_perf(&text?),
        Counter::Strace => parse(&text?),
    }
}

/// `perf stat -x,` lines, by system call: `1234,,syscalls:sys_enter_read,...`.
fn parse_perf(text: &str) -> Result<BTreeMap<String, u64>> {
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split(',');
        let (Some(n), Some(_), Some(event)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let (Ok(n), Some(name)) = (n.parse::<u64>(), event.strip_prefix("syscalls:sys_enter_"))
        else {
            continue;
        };
        if n > 0 {
            *calls.entry(name.to_string()).or_insert(0) += n;
        }
    }
    if calls.is_empty() {
        return Err(format!("no counts in the perf output:\n{text}").into());
    }
    Ok(calls)
}

/// The `calls` column of a `strace -c` summary, by system call:
///
/// ```text
/// % time     seconds  usecs/call     calls    errors syscall
/// ------ ----------- ----------- --------- --------- ----------------
///  61.90    0.002351           2      1070       213 read
/// ```
fn parse(text: &str) -> Result<BTreeMap<String, u64>> {
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(n)) = (fields.last(), fields.get(3)) else {
            continue;
        };
        if fields.len() < 5 || *name == "total" || *name == "syscall" {
            continue;
        }
        if let Ok(n) = n.parse::<u64>() {
            *calls.entry(name.to_string()).or_insert(0) += n;
        }
    }
    if calls.is_empty() {
        return Err(format!("no counts in the strace summary:\n{text}").into());
    }
    Ok(calls)
}

/// Calls per request, by system call: the difference of two runs.
fn per_request(
    small: &BTreeMap<String, u64>,
    large: &BTreeMap<String, u64>,
    n: u64,
) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = large
        .iter()
        .map(|(name, &l)| {
            let s = small.get(name).copied().unwrap_or(0);
            (name.clone(), (l as f64 - s as f64) / n as f64)
        })
        .filter(|(_, per)| *per > 0.0)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

pub fn run(cx: &mut Ctx) -> Result<()> {
    let Some(counter) = Counter::choose() else {
        println!(
            "\n## syscalls per request: skipped (neither perf tracepoints nor strace: apt-get install strace)"
        );
        return Ok(());
    };
    let w = cx.opts.sizes.syscalls;
    let n = w.large - w.small;
    let mut per: Vec<(Peer, Vec<(String, f64)>)> = Vec::new();
    for peer in Peer::ALL {
        let mut runs = Vec::new();
        for extra in [w.small, w.large] {
            progress(&format!(
                "{}: {}, {} warm-up + {extra} requests",
                counter.describe(),
                peer.name(),
                w.warmup
            ));
            runs.push(calls(cx, peer, extra, counter)?);
        }
        per.push((peer, per_request(&runs[0], &runs[1], n)));
    }
    let total = |calls: &[(String, f64)]| calls.iter().map(|c| c.1).sum::<f64>();
    // Each server's most frequent calls, the most frequent anywhere first.
    let mut names: Vec<(String, f64)> = Vec::new();
    for (_, calls) in &per {
        for (name, v) in calls.iter().take(TOP).filter(|c| c.1 >= 0.01) {
            match names.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 = e.1.max(*v),
                None => names.push((name.clone(), *v)),
            }
        }
    }
    names.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut header = vec!["system call".to_string()];
    header.extend(per.iter().map(|(p, _)| p.name().to_string()));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = Table::new(
        &format!(
            "syscalls per keep-alive request ({}, all server threads; {} conns, \
             fresh server, {} warm-up requests, then {} or {} more: difference / {})",
            counter.describe(),
            w.conns,
            count(w.warmup as f64),
            count(w.small as f64),
            count(w.large as f64),
            count(n as f64)
        ),
        &header,
    );
    let mut row = vec!["total".to_string()];
    row.extend(per.iter().map(|(_, c)| format!("{:.2}", total(c))));
    t.row(row);
    for (name, _) in &names {
        let mut row = vec![name.clone()];
        row.extend(per.iter().map(|(_, calls)| {
            calls
                .iter()
                .find(|(n, _)| n == name)
                .map_or("0".into(), |c| format!("{:.2}", c.1))
        }));
        t.row(row);
    }
    print!("{t}");
    let of = |peer: Peer| {
        per.iter()
            .find(|p| p.0 == peer)
            .map_or(0.0, |p| total(&p.1))
    };
    let (ours, hyper) = (of(Peer::Courteous), of(Peer::Hyper));
    println!(
        "courteous/hyper: {}; courteous/tiny_http: {}",
        ratio(ours / hyper.max(1e-9)),
        ratio(ours / of(Peer::TinyHttp).max(1e-9))
    );
    cx.targets.check(
        "syscalls per keep-alive request ≤ hyper's",
        format!("{ours:.2} vs {hyper:.2}"),
        ours <= hyper,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 61.90    0.002351           2      1070       213 read
 20.00    0.000400           1       400           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    0.002751           1      1470       213 total
";

    #[test]
    fn reads_a_summary() {
        let c = parse(SUMMARY).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c["read"], 1070);
        assert_eq!(c["epoll_wait"], 400);
        let mut more = c.clone();
        *more.get_mut("read").unwrap() += 2000;
        let per = per_request(&c, &more, 1000);
        assert_eq!(per, vec![("read".to_string(), 2.0)]);
        assert!(parse("strace: exec failed").is_err());
    }
}
