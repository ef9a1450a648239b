//! Handlers that block: every request sleeps in its handler (a database
//! call, an upstream request), so throughput is bounded by how many run at
//! once. With N connections and handlers of D ms, the ideal is N × 1000 / D
//! requests per second: every connection's request in its handler at all
//! times. courteous, whose handlers run on its worker threads, against
//! hyper running the same sleep as a tokio program must, through
//! `spawn_blocking`. tiny_http's canonical loop answers on one thread: it
//! is left out.

use courteous_peers::loadgen::Mode;

use crate::options::{BLOCKING_MS, BLOCKING_PATH};
use crate::passes::{self, Scenario};
use crate::procs::Peer;
use crate::table::{count, dur, percent, ratio, Table};
use crate::{Ctx, Result};

pub fn run(cx: &mut Ctx) -> Result<()> {
    let conns = cx.opts.sizes.conns_blocking;
    let sc = Scenario {
        path: BLOCKING_PATH,
        ..Scenario::hello(
            format!("{conns} conns, GET {BLOCKING_PATH}"),
            conns,
            Mode::KeepAlive,
        )
    };
    let peers = [Peer::Courteous, Peer::Hyper];
    let results = passes::compare(cx, &peers, std::slice::from_ref(&sc))?;
    let runs = &results[0];
    let ideal = conns as f64 * 1000.0 / BLOCKING_MS as f64;
    let title = format!(
        "blocking handlers: every request sleeps {BLOCKING_MS} ms, {conns} keep-alive conns \
         (courteous: default pool; hyper: tokio::task::spawn_blocking){}",
        match cx.opts.passes {
            1 => String::new(),
            n => format!(", median of {n} passes"),
        }
    );
    let mut header = vec![
        "server",
        "req/s",
        "ideal req/s",
        "of ideal",
        "p50",
        "p99",
        "errors",
    ];
    if cx.opts.passes > 1 {
        header.push("req/s by pass");
    }
    let mut table = Table::new(&title, &header);
    for r in runs {
        let m = r.median();
        let mut row = vec![
            r.peer.name().into(),
            count(m.rps),
            count(ideal),
            percent(m.rps / ideal),
            dur(m.p50),
            dur(m.p99),
            m.errors.to_string(),
        ];
        if cx.opts.passes > 1 {
            row.push(r.per_pass());
        }
        table.row(row);
    }
    print!("{table}");
    let rps = |p: Peer| passes::of(runs, p).map_or(0.0, |r| r.median().rps);
    let vs_hyper = rps(Peer::Courteous) / rps(Peer::Hyper);
    println!("courteous/hyper: {}", ratio(vs_hyper));
    let share = rps(Peer::Courteous) / ideal;
    cx.targets.check(
        &format!(
            "blocking handlers, {conns} conns: courteous ≥ 90% of conns × 1000 / {BLOCKING_MS} ms"
        ),
        percent(share),
        share >= 0.9,
    );
    cx.targets.info(
        &format!("blocking handlers, {conns} conns: courteous / hyper (spawn_blocking)"),
        ratio(vs_hyper),
    );
    Ok(())
}
