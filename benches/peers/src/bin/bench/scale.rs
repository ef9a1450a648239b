//! Idle keep-alive connections: what they cost busy clients, memory and threads.

use courteous_peers::loadgen::Mode;

use crate::driver::Measure;
use crate::idle::IdleClients;
use crate::passes::{median, Runs};
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

/// One pass of one server: the busy clients without idle connections,
/// then with `n` open.
struct IdlePass {
    without: Measure,
    with: Measure,
    before: Footprint,
    after: Footprint,
    still_open: usize,
}

fn idle_pass(cx: &Ctx, peer: Peer, n: usize, pass: usize) -> Result<IdlePass> {
    let busy = cx.opts.sizes.conns_small;
    let passes = cx.opts.passes;
    let server = cx.bins.start(peer, &[])?;
    std::thread::sleep(SETTLE); // courteous starts its pool once serving
    let load = cx.load(&server, busy, Mode::KeepAlive);
    progress(&format!(
        "pass {pass}/{passes}: {} × {busy} busy clients, no idle connections",
        peer.name()
    ));
    let without = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    let before = footprint(&server)?;
    progress(&format!(
        "pass {pass}/{passes}: {} × {busy} busy clients, {n} idle connections",
        peer.name()
    ));
    let idle = IdleClients::open(server.addr, n)?;
    std::thread::sleep(SETTLE);
    let with = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    let after = footprint(&server)?;
    let still_open = idle.ends().open;
    drop(idle);
    server.stop(STOP_TIMEOUT)?;
    Ok(IdlePass {
        without,
        with,
        before,
        after,
        still_open,
    })
}

/// How many idle connections fit under the open-file limit (the runner
/// holds one descriptor per connection, the server another), with room
/// for the busy clients and the rest.
fn idle_that_fit(wanted: usize) -> usize {
    let limit = courteous_peers::peer::raise_fd_limit().unwrap_or(u64::MAX);
    wanted.min(limit.saturating_sub(FD_ROOM) as usize)
}

/// Descriptors kept free beside the idle connections.
const FD_ROOM: u64 = 256;

/// Busy clients' throughput and latency, each server started afresh,
/// without and then with many idle keep-alive connections open; the
/// server's memory and threads with them. courteous and hyper, in
/// interleaved passes.
pub fn idle(cx: &mut Ctx) -> Result<()> {
    let wanted = cx.opts.sizes.idle;
    let n = idle_that_fit(wanted);
    if n < wanted {
        println!(
            "\nnote: {n} idle connections instead of {wanted}: the open-file limit is too low \
             (raise `ulimit -Hn`)"
        );
    }
    let busy = cx.opts.sizes.conns_small;
    let workers = courteous::Builder::new().config().workers();
    let peers = [Peer::Courteous, Peer::Hyper];
    let mut runs: Vec<(Peer, Vec<IdlePass>)> = peers.iter().map(|&p| (p, Vec::new())).collect();
    for pass in 1..=cx.opts.passes {
        for (peer, passes) in &mut runs {
            passes.push(idle_pass(cx, *peer, n, pass)?);
        }
    }

    let title = format!(
        "idle scale: {busy} busy keep-alive clients, without and with {} idle keep-alive \
         conns (courteous: default pool, {workers} workers){}",
        count(n as f64),
        match cx.opts.passes {
            1 => String::new(),
            p => format!(", median of {p} passes"),
        }
    );
    let mut t = Table::new(
        &title,
        &[
            "server",
            "idle conns",
            "req/s",
            "p50",
            "p99",
            "errors",
            "others' CPU",
            "req/s vs 0 idle",
            "p99 vs 0 idle",
            "RSS",
            "threads",
        ],
    )
    .left_aligned(2);
    struct Summary {
        without: Measure,
        with: Measure,
        rss: u64,
        threads: usize,
    }
    let mut summaries = Vec::new();
    for (peer, passes) in &runs {
        let median_of = |pick: fn(&IdlePass) -> Measure| {
            Runs {
                peer: *peer,
                passes: passes.iter().map(pick).collect(),
            }
            .median()
        };
        let without = median_of(|p| p.without);
        let with = median_of(|p| p.with);
        let rss_before = median(passes.iter().map(|p| p.before.rss_kib as f64).collect()) as u64;
        let rss_after = median(passes.iter().map(|p| p.after.rss_kib as f64).collect()) as u64;
        let threads_before = passes.iter().map(|p| p.before.threads).max().unwrap_or(0);
        let threads_after = passes.iter().map(|p| p.after.threads).max().unwrap_or(0);
        let still_open = passes.iter().map(|p| p.still_open).min().unwrap_or(0);
        let rps_ratio = with.rps / without.rps.max(1e-9);
        let p99_ratio = with.p99.as_secs_f64() / without.p99.as_secs_f64().max(1e-9);
        for (idle_conns, m, rss, threads, vs) in [
            (0, &without, rss_before, threads_before, None),
            (
                n,
                &with,
                rss_after,
                threads_after,
                Some((rps_ratio, p99_ratio)),
            ),
        ] {
            t.row(vec![
                if idle_conns == 0 {
                    peer.name().into()
                } else {
                    String::new()
                },
                count(idle_conns as f64),
                count(m.rps),
                dur(m.p50),
                dur(m.p99),
                m.errors.to_string(),
                percent(m.others),
                vs.map_or(String::new(), |v| ratio(v.0)),
                vs.map_or(String::new(), |v| ratio(v.1)),
                mib(rss),
                threads.to_string(),
            ]);
        }
        if still_open < n {
            println!(
                "note: {}: only {still_open}/{n} idle connections still open after a busy run",
                peer.name()
            );
        }
        summaries.push((
            *peer,
            Summary {
                without,
                with,
                rss: rss_after,
                threads: threads_after,
            },
        ));
    }
    print!("{t}");
    println!("RSS: median of the passes; threads: the most seen; errors summed over the passes");

    let get = |peer: Peer| summaries.iter().find(|s| s.0 == peer).map(|s| &s.1);
    let (Some(ours), Some(hyper)) = (get(Peer::Courteous), get(Peer::Hyper)) else {
        return Ok(());
    };
    let rps_ratio = ours.with.rps / ours.without.rps.max(1e-9);
    let p99_ratio = ours.with.p99.as_secs_f64() / ours.without.p99.as_secs_f64().max(1e-9);
    let idle = count(n as f64);
    let t = &mut cx.targets;
    t.check(
        &format!("busy req/s with {idle} idle conns ≥ 0.9× without"),
        format!(
            "{} vs {} ({})",
            count(ours.with.rps),
            count(ours.without.rps),
            ratio(rps_ratio)
        ),
        rps_ratio >= 0.9,
    );
    t.check(
        &format!("busy p99 with {idle} idle conns ≤ 1.5× without"),
        format!(
            "{} vs {} ({})",
            dur(ours.with.p99),
            dur(ours.without.p99),
            ratio(p99_ratio)
        ),
        p99_ratio <= 1.5,
    );
    t.check(
        &format!("RSS with {idle} idle conns ≤ hyper's"),
        format!("{} vs {}", mib(ours.rss), mib(hyper.rss)),
        ours.rss <= hyper.rss,
    );
    t.check(
        &format!("threads with {idle} idle conns ≤ pool + {THREAD_SLACK}"),
        format!("{} (pool {workers})", ours.threads),
        ours.threads <= workers + THREAD_SLACK,
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
        // One at a time: connections arriving together can leave some of
        // them unserved in tiny_http (its TaskPool queues a connection
        // when it counts a waiting thread that another one has taken).
        let idle = IdleClients::open_in_batches(server.addr, n, 1)?;
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
