//! Requests per second and latency, each server in turn, same scenario.

use courteous_peers::loadgen::Mode;

use crate::driver::{Driver, Measure};
use crate::options::Section;
use crate::procs::Peer;
use crate::table::{count, dur, percent, ratio, Table};
use crate::{Ctx, Result};

struct Scenario {
    label: String,
    conns: usize,
    mode: Mode,
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
    .map(|(_, conns, mode)| Scenario {
        label: match mode {
            Mode::KeepAlive => format!("keep-alive, {conns} conns"),
            Mode::Close => format!("conn per request, {conns} conns"),
        },
        conns,
        mode,
    })
    .collect();
    let mut table = Table::new(
        "throughput: GET /hello",
        &[
            "scenario",
            "server",
            "req/s",
            "p50",
            "p99",
            "errors",
            "others' CPU",
            "courteous/tiny_http",
            "courteous/hyper",
        ],
    )
    .left_aligned(2);
    let mut wrk_eof_errors = false;
    for sc in &scenarios {
        let results = Peer::ALL
            .into_iter()
            .map(|p| Ok((p, cx.measure(p, sc.conns, sc.mode)?)))
            .collect::<Result<Vec<(Peer, Measure)>>>()?;
        let rps = |peer: Peer| {
            results
                .iter()
                .find(|(p, _)| *p == peer)
                .map_or(0.0, |(_, m)| m.rps)
        };
        let vs_tiny = rps(Peer::Courteous) / rps(Peer::TinyHttp);
        let vs_hyper = rps(Peer::Courteous) / rps(Peer::Hyper);
        wrk_eof_errors |= sc.mode == Mode::Close
            && matches!(cx.driver, Driver::Wrk(_))
            && results.iter().any(|(_, m)| m.errors > 0);
        for (i, (peer, m)) in results.iter().enumerate() {
            let first = i == 0;
            let cell = |s: String| if first { s } else { String::new() };
            table.row(vec![
                cell(sc.label.clone()),
                peer.name().into(),
                count(m.rps),
                dur(m.p50),
                dur(m.p99),
                m.errors.to_string(),
                percent(m.others),
                cell(ratio(vs_tiny)),
                cell(ratio(vs_hyper)),
            ]);
        }
        check_targets(cx, sc, vs_tiny, vs_hyper);
    }
    print!("{table}");
    if wrk_eof_errors {
        println!(
            "note: in connection-per-request runs wrk counts as a read error every connection \
             that ends after a response without `Connection: close` (tiny_http sends none); \
             those responses did arrive and are counted in req/s"
        );
    }
    Ok(())
}

fn check_targets(cx: &mut Ctx, sc: &Scenario, vs_tiny: f64, vs_hyper: f64) {
    let t = &mut cx.targets;
    match sc.mode {
        Mode::KeepAlive => {
            t.check(
                &format!("{}: courteous ≥ 1.5× tiny_http", sc.label),
                ratio(vs_tiny),
                vs_tiny >= 1.5,
            );
        }
        Mode::Close => {
            t.check(
                &format!("{}: courteous ≥ tiny_http", sc.label),
                ratio(vs_tiny),
                vs_tiny >= 1.0,
            );
            t.check(
                &format!("{}: courteous ≥ hyper", sc.label),
                ratio(vs_hyper),
                vs_hyper >= 1.0,
            );
        }
    }
}
