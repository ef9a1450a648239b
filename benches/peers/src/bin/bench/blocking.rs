//! Handlers that block: every request sleeps in its handler (a database
//! call, an upstream request), so throughput is bounded by how many run at
//! once. With N connections and handlers of D ms, the ideal is N × 1000 / D
//! requests per second: every connection's request in its handler at all
//! times. courteous only: tiny_http's canonical loop answers on one thread
//! and hyper's handlers would not block a thread.

use courteous_peers::loadgen::Mode;

use crate::options::{BLOCKING_MS, BLOCKING_PATH};
use crate::procs::Peer;
use crate::table::{count, dur, percent, Table};
use crate::{progress, Ctx, Result, STOP_TIMEOUT};

pub fn run(cx: &mut Ctx) -> Result<()> {
    let conns = cx.opts.sizes.conns_blocking;
    progress(&format!(
        "courteous × {conns} conns, GET /sleep?ms={BLOCKING_MS}"
    ));
    let server = cx.bins.start(Peer::Courteous, &[])?;
    let load = crate::driver::Load {
        path: BLOCKING_PATH,
        ..cx.load(&server, conns, Mode::KeepAlive)
    };
    let m = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    server.stop(STOP_TIMEOUT)?;
    let ideal = conns as f64 * 1000.0 / BLOCKING_MS as f64;
    let share = m.rps / ideal;
    let mut table = Table::new(
        &format!(
            "blocking handlers: courteous, default pool, every request sleeps {BLOCKING_MS} ms"
        ),
        &[
            "conns",
            "req/s",
            "ideal req/s",
            "of ideal",
            "p50",
            "p99",
            "errors",
        ],
    );
    table.row(vec![
        conns.to_string(),
        count(m.rps),
        count(ideal),
        percent(share),
        dur(m.p50),
        dur(m.p99),
        m.errors.to_string(),
    ]);
    print!("{table}");
    cx.targets.check(
        &format!("blocking handlers, {conns} conns: ≥ 90% of conns × 1000 / {BLOCKING_MS} ms"),
        percent(share),
        share >= 0.9,
    );
    Ok(())
}
