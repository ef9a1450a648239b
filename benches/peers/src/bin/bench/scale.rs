//! Idle keep-alive connections: what they cost busy clients, memory and threads.

use courteous_peers::loadgen::Mode;

use crate::idle::IdleClients;
use crate::procs::{Peer, Server};
use crate::table::{count, dur, mib, percent, ratio, Table};
use crate::{progress, Ctx, Result, SETTLE, STOP_TIMEOUT};

/// Threads courteous may have beyond its pool: the `serve` thread (accept
/// loop), the timer thread, the signal thread, and a little room.
const THREAD_SLACK: usize = 8;

/// What /proc says of a server.
struct Footprint {
    rss_kib: u64,
    threads: usize,
}

fn footprint(server: &Server) -> Result<Footprint> {
    Ok(Footprint {
        rss_kib: server.rss_kib()?,
        threads: server.threads()?,
    })
}

/// Busy clients' latency on courteous's default pool, without and then
/// with many idle keep-alive connections open.
pub fn idle(cx: &mut Ctx) -> Result<()> {
    let n = cx.opts.sizes.idle;
    let busy = cx.opts.sizes.conns_small;
    let workers = courteous::Builder::new().config().workers();
    let server = cx.bins.start(Peer::Courteous, &[])?;
    let load = cx.load(&server, busy, Mode::KeepAlive);

    progress(&format!("{busy} busy clients, no idle connections"));
    let without = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    let before = footprint(&server)?;
    progress(&format!("{busy} busy clients, {n} idle connections"));
    let idle = IdleClients::open(server.addr, n)?;
    std::thread::sleep(SETTLE);
    let with = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    let after = footprint(&server)?;
    let still_open = idle.ends().open;
    drop(idle);
    server.stop(STOP_TIMEOUT)?;

    let mut t = Table::new(
        &format!("idle scale: courteous, default pool ({workers} workers), {busy} busy keep-alive clients"),
        &[
            "idle keep-alive conns",
            "req/s",
            "p50",
            "p99",
            "errors",
            "others' CPU",
            "server RSS",
            "threads",
        ],
    );
    for (idle_conns, m, f) in [(0, &without, &before), (n, &with, &after)] {
        t.row(vec![
            idle_conns.to_string(),
            count(m.rps),
            dur(m.p50),
            dur(m.p99),
            m.errors.to_string(),
            percent(m.others),
            mib(f.rss_kib),
            f.threads.to_string(),
        ]);
    }
    print!("{t}");
    println!("idle connections still open after the busy run: {still_open}/{n}");

    let p99_ratio = with.p99.as_secs_f64() / without.p99.as_secs_f64().max(1e-9);
    cx.targets.check(
        &format!("busy p99 with {n} idle conns ≤ 2× without"),
        format!(
            "{} vs {} ({})",
            dur(with.p99),
            dur(without.p99),
            ratio(p99_ratio)
        ),
        p99_ratio <= 2.0,
    );
    cx.targets.check(
        &format!("threads with {n} idle conns ≤ pool + {THREAD_SLACK}"),
        format!("{} (pool {workers})", after.threads),
        after.threads <= workers + THREAD_SLACK,
    );
    Ok(())
}

/// Each server's resident memory and threads with idle keep-alive connections.
pub fn memory(cx: &mut Ctx) -> Result<()> {
    let n = cx.opts.sizes.memory_idle;
    let mut rows = Vec::new();
    for peer in Peer::ALL {
        progress(&format!("{} with {n} idle connections", peer.name()));
        let server = cx.bins.start(peer, &[])?;
        std::thread::sleep(SETTLE); // courteous starts its pool once serving
        let start = footprint(&server)?;
        let idle = IdleClients::open(server.addr, n)?;
        std::thread::sleep(SETTLE);
        let with = footprint(&server)?;
        drop(idle);
        server.stop(STOP_TIMEOUT)?;
        rows.push((peer, start, with));
    }
    let rss = |peer: Peer| rows.iter().find(|r| r.0 == peer).map_or(0, |r| r.2.rss_kib);
    let mut t = Table::new(
        &format!("memory: {n} idle keep-alive connections (each made one request)"),
        &[
            "server",
            "RSS at start",
            "threads at start",
            &format!("RSS, {n} idle"),
            &format!("threads, {n} idle"),
            "courteous RSS / this",
        ],
    );
    for (peer, start, with) in &rows {
        t.row(vec![
            peer.name().into(),
            mib(start.rss_kib),
            start.threads.to_string(),
            mib(with.rss_kib),
            with.threads.to_string(),
            ratio(rss(Peer::Courteous) as f64 / with.rss_kib.max(1) as f64),
        ]);
    }
    print!("{t}");
    cx.targets.check(
        &format!("RSS with {n} idle conns ≤ hyper's"),
        format!("{} vs {}", mib(rss(Peer::Courteous)), mib(rss(Peer::Hyper))),
        rss(Peer::Courteous) <= rss(Peer::Hyper),
    );
    Ok(())
}
