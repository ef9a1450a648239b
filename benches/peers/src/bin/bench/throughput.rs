//! Requests per second and latency, each server in turn, same scenario,
//! in interleaved passes (see `passes`).

use courteous_peers::loadgen::Mode;

use crate::driver::{Driver, Measure};
use crate::options::{Section, PIPELINE_DEPTH};
use crate::passes::{self, Runs, Scenario};
use crate::procs::Peer;
use crate::table::{count, dur, percent, ratio, Table};
use crate::{Ctx, Result};

/// `req/s (median)`, or just `req/s` when there is one pass.
fn median_header(cx: &Ctx, what: &str) -> String {
    if cx.opts.passes > 1 {
        format!("{what}, median")
    } else {
        what.into()
    }
}

/// The table's title, saying how many passes its medians are of.
fn title(cx: &Ctx, what: &str) -> String {
    match cx.opts.passes {
        1 => format!("{what} (one pass)"),
        n => format!("{what} (median of {n} passes)"),
    }
}

/// courteous's median figure over the peer's.
fn vs(runs: &[Runs], peer: Peer) -> f64 {
    let rps = |p: Peer| passes::of(runs, p).map_or(0.0, |r| r.median().rps);
    rps(Peer::Courteous) / rps(peer)
}

pub fn run(cx: &mut Ctx) -> Result<()> {
    let s = &cx.opts.sizes;
    let scenarios: Vec<Scenario> = [
        (Section::KeepAlive16, s.conns_small, Mode::KeepAlive),
        (Section::KeepAlive128, s.conns_large, Mode::KeepAlive),
        (Section::Close, s.conns_close, Mode::Close),
    ]
    .into_iter()
    .filter(|(section, ..)| cx.opts.runs(*section))
    .map(|(_, conns, mode)| {
        let label = match mode {
            Mode::KeepAlive => format!("keep-alive, {conns} conns"),
            Mode::Close => format!("conn per request, {conns} conns"),
        };
        Scenario::hello(label, conns, mode)
    })
    .collect();
    let results = passes::compare(cx, &Peer::ALL, &scenarios)?;
    let rps_header = median_header(cx, "req/s");
    let mut header = vec![
        "scenario",
        "server",
        &rps_header,
        "p50",
        "p99",
        "errors",
        "others' CPU",
        "courteous/tiny_http",
        "courteous/hyper",
    ];
    if cx.opts.passes > 1 {
        header.push("req/s by pass");
    }
    let mut table = Table::new(&title(cx, "throughput: GET /hello"), &header).left_aligned(2);
    let mut wrk_eof_errors = false;
    for (sc, runs) in scenarios.iter().zip(&results) {
        let vs_tiny = vs(runs, Peer::TinyHttp);
        let vs_hyper = vs(runs, Peer::Hyper);
        wrk_eof_errors |= sc.mode == Mode::Close
            && matches!(cx.driver, Driver::Wrk(_))
            && runs.iter().any(|r| r.median().errors > 0);
        for (i, r) in runs.iter().enumerate() {
            let m = r.median();
            let first = i == 0;
            let cell = |s: String| if first { s } else { String::new() };
            let mut row = vec![
                cell(sc.label.clone()),
                r.peer.name().into(),
                count(m.rps),
                dur(m.p50),
                dur(m.p99),
                m.errors.to_string(),
                percent(m.others),
                cell(ratio(vs_tiny)),
                cell(ratio(vs_hyper)),
            ];
            if cx.opts.passes > 1 {
                row.push(r.per_pass());
            }
            table.row(row);
        }
        check_targets(cx, sc, runs, vs_hyper);
    }
    print!("{table}");
    if cx.opts.passes > 1 {
        println!(
            "p50 and p99 are each the median of the passes' figures; errors are summed over \
             the passes, others' CPU is the worst pass's"
        );
    }
    if wrk_eof_errors {
        println!(
            "note: in connection-per-request runs wrk counts as a read error every connection \
             that ends after a response without `Connection: close` (tiny_http sends none); \
             those responses did arrive and are counted in req/s"
        );
    }
    Ok(())
}

fn check_targets(cx: &mut Ctx, sc: &Scenario, runs: &[Runs], vs_hyper: f64) {
    let t = &mut cx.targets;
    t.check(
        &format!("{}: courteous ≥ 1.10× hyper (req/s)", sc.label),
        ratio(vs_hyper),
        vs_hyper >= 1.10,
    );
    if sc.mode == Mode::KeepAlive && sc.conns == cx.opts.sizes.conns_small {
        let p99 = |p: Peer| passes::of(runs, p).map(|r| r.median().p99);
        let (Some(ours), Some(tiny), Some(hyper)) =
            (p99(Peer::Courteous), p99(Peer::TinyHttp), p99(Peer::Hyper))
        else {
            return;
        };
        t.check(
            &format!("{}: courteous p99 ≤ hyper's", sc.label),
            format!("{} vs {}", dur(ours), dur(hyper)),
            ours <= hyper,
        );
        t.check(
            &format!("{}: courteous p99 ≤ 2× tiny_http's", sc.label),
            format!("{} vs {}", dur(ours), dur(tiny)),
            ours <= tiny * 2,
        );
    }
}

/// Pipelined keep-alive: each connection writes [`PIPELINE_DEPTH`]
/// requests at once and the next batch once all are answered, as in
/// TechEmpower's plaintext test.
pub fn pipelined(cx: &mut Ctx) -> Result<()> {
    let conns = cx.opts.sizes.conns_pipelined;
    let sc = Scenario {
        pipeline: PIPELINE_DEPTH,
        ..Scenario::hello(
            format!("keep-alive, {conns} conns, {PIPELINE_DEPTH} requests per write"),
            conns,
            Mode::KeepAlive,
        )
    };
    let results = passes::compare(cx, &Peer::ALL, std::slice::from_ref(&sc))?;
    let runs = &results[0];
    let rps_header = median_header(cx, "responses/s");
    let mut header = vec![
        "server",
        &rps_header,
        "p50 (batch)",
        "p99 (batch)",
        "errors",
        "others' CPU",
        "courteous/this",
    ];
    if cx.opts.passes > 1 {
        header.push("responses/s by pass");
    }
    let mut table = Table::new(
        &title(cx, &format!("pipelined: GET /hello, {}", sc.label)),
        &header,
    );
    let ours = passes::of(runs, Peer::Courteous).map_or(0.0, |r| r.median().rps);
    let wrk = matches!(cx.driver, Driver::Wrk(_));
    let latency = |d| if wrk { "—".to_string() } else { dur(d) };
    for r in runs {
        let m: Measure = r.median();
        let mut row = vec![
            r.peer.name().into(),
            count(m.rps),
            latency(m.p50),
            latency(m.p99),
            m.errors.to_string(),
            percent(m.others),
            ratio(ours / m.rps),
        ];
        if cx.opts.passes > 1 {
            row.push(r.per_pass());
        }
        table.row(row);
    }
    print!("{table}");
    if wrk {
        println!(
            "every response counts; no latencies: wrk's coordinated-omission correction \
             miscounts a pipeline (its p99 comes out as 0); `--driver rust --only pipelined` \
             gives them"
        );
    } else {
        println!(
            "every response counts; latency is per batch, from its write to its last response"
        );
    }
    let vs_hyper = vs(runs, Peer::Hyper);
    cx.targets.check(
        &format!("pipelined, {conns} conns × {PIPELINE_DEPTH}: courteous ≥ 1.2× hyper"),
        ratio(vs_hyper),
        vs_hyper >= 1.2,
    );
    cx.targets.info(
        &format!("pipelined, {conns} conns × {PIPELINE_DEPTH}: courteous / tiny_http"),
        ratio(vs(runs, Peer::TinyHttp)),
    );
    Ok(())
}
