//! Timed comparisons in passes. Each pass runs every scenario on every
//! server, each started afresh, one after the other
//! (`for pass { for scenario { for server } }`), so that drift and other
//! processes' bursts hit every server alike; the tables give each server's
//! median over the passes, and the ratios are of the medians.

use std::time::Duration;

use courteous_peers::loadgen::Mode;

use crate::driver::Measure;
use crate::procs::Peer;
use crate::{progress, Ctx, Result, STOP_TIMEOUT};

/// One timed load.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub label: String,
    pub conns: usize,
    pub mode: Mode,
    /// The request target.
    pub path: &'static str,
    /// Requests per write (1: one outstanding per connection).
    pub pipeline: usize,
}

impl Scenario {
    /// `GET /hello`, one request outstanding per connection.
    pub fn hello(label: String, conns: usize, mode: Mode) -> Scenario {
        Scenario {
            label,
            conns,
            mode,
            path: "/hello",
            pipeline: 1,
        }
    }
}

/// One server's measures of one scenario, a pass each.
pub struct Runs {
    pub peer: Peer,
    pub passes: Vec<Measure>,
}

impl Runs {
    /// The median of each figure over the passes; errors are summed and
    /// the others' CPU share is the largest.
    pub fn median(&self) -> Measure {
        let p = &self.passes;
        Measure {
            rps: median(p.iter().map(|m| m.rps).collect()),
            p50: median_dur(p.iter().map(|m| m.p50).collect()),
            p99: median_dur(p.iter().map(|m| m.p99).collect()),
            requests: median(p.iter().map(|m| m.requests as f64).collect()) as u64,
            errors: p.iter().map(|m| m.errors).sum(),
            others: p.iter().map(|m| m.others).fold(0.0, f64::max),
        }
    }

    /// Each pass's requests/s, compactly: `42.1k 40.8k 43.0k`.
    pub fn per_pass(&self) -> String {
        self.passes
            .iter()
            .map(|m| format!("{:.1}k", m.rps / 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn median_dur(v: Vec<Duration>) -> Duration {
    Duration::from_secs_f64(median(v.iter().map(Duration::as_secs_f64).collect()))
}

/// Runs every scenario on every peer, `cx.opts.passes` times, interleaved.
/// The result follows `scenarios`, and within each `peers`.
pub fn compare(cx: &Ctx, peers: &[Peer], scenarios: &[Scenario]) -> Result<Vec<Vec<Runs>>> {
    let mut out: Vec<Vec<Runs>> = scenarios
        .iter()
        .map(|_| {
            peers
                .iter()
                .map(|&peer| Runs {
                    peer,
                    passes: Vec::new(),
                })
                .collect()
        })
        .collect();
    let passes = cx.opts.passes;
    for pass in 1..=passes {
        for (sc, runs) in scenarios.iter().zip(&mut out) {
            for r in runs.iter_mut() {
                progress(&format!(
                    "pass {pass}/{passes}: {} × {}",
                    r.peer.name(),
                    sc.label
                ));
                r.passes.push(measure(cx, r.peer, sc)?);
            }
        }
    }
    Ok(out)
}

/// Starts `peer` afresh, warms it up, measures one timed run, stops it.
fn measure(cx: &Ctx, peer: Peer, sc: &Scenario) -> Result<Measure> {
    let server = cx.bins.start(peer, &[])?;
    let load = crate::driver::Load {
        path: sc.path,
        pipeline: sc.pipeline,
        ..cx.load(&server, sc.conns, sc.mode)
    };
    let m = cx.driver.warm_and_run(&load, cx.opts.warmup)?;
    server.stop(STOP_TIMEOUT)?;
    Ok(m)
}

/// The runs of `peer` among `runs`.
pub fn of(runs: &[Runs], peer: Peer) -> Option<&Runs> {
    runs.iter().find(|r| r.peer == peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![7.0]), 7.0);
        assert_eq!(
            median_dur(vec![Duration::from_millis(5), Duration::from_millis(1)]),
            Duration::from_millis(3)
        );
    }
}
