//! Running `wrk` and reading its report.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use courteous_peers::loadgen::Mode;

use crate::driver::{Load, Measure};
use crate::Result;

/// `wrk 4.1.0`, or `None` when wrk is not installed.
pub fn version() -> Option<String> {
    let out = Command::new("wrk").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"
    let v = text.split_whitespace().nth(1)?;
    let v = v.rsplit('/').next()?.split('-').next()?;
    Some(format!("wrk {v}"))
}

/// TechEmpower's `pipeline.lua`: every write carries `depth` copies of the
/// request (the script's first argument). wrk parses the string `request`
/// returns, expects that many responses, and counts each one: its
/// requests/s are responses/s; it times the latency once per batch, from
/// the write to the last response.
const PIPELINE_LUA: &str = "\
init = function(args)
  local r = {}
  local depth = tonumber(args[1]) or 1
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
";

/// `wrk -t1 -cN -dSs --latency [-H 'Connection: close'] http://ADDR/PATH`,
/// and when pipelined `-s pipeline.lua http://ADDR/PATH -- DEPTH`.
pub fn run(load: &Load) -> Result<Measure> {
    let mut cmd = Command::new("wrk");
    cmd.arg("-t1")
        .arg(format!("-c{}", load.conns))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--latency");
    if load.mode == Mode::Close {
        cmd.args(["-H", "Connection: close"]);
    }
    let script = (load.pipeline > 1)
        .then(|| -> Result<PathBuf> {
            let path = std::env::temp_dir().join(format!(
                "courteous-bench-{}-pipeline.lua",
                std::process::id()
            ));
            std::fs::write(&path, PIPELINE_LUA)?;
            Ok(path)
        })
        .transpose()?;
    if let Some(path) = &script {
        cmd.arg("-s").arg(path);
    }
    cmd.arg(format!("http://{}{}", load.addr, load.path));
    if script.is_some() {
        cmd.arg("--").arg(load.pipeline.to_string());
    }
    let out = cmd.output();
    if let Some(path) = &script {
        let _ = std::fs::remove_file(path);
    }
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let m = parse(&text).ok_or_else(|| format!("unreadable wrk output:\n{text}"))?;
    if load.pipeline > 1 {
        // wrk corrects its latencies for coordinated omission with an
        // interval of runtime / (responses per connection): with 16
        // responses per batch the interval is 16 times too short, and the
        // samples it adds fall below the histogram's minimum, where the
        // percentile walk never looks (its p99 comes out as 0). Not shown.
        return Ok(Measure {
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            ..m
        });
    }
    if m.p99 < m.p50 {
        eprintln!("  … odd wrk latencies (p99 below p50); its report:\n{text}");
    }
    Ok(m)
}

/// Reads requests/s, the 50% and 99% latencies, the request count and
/// every error wrk counts (socket errors and non-2xx/3xx responses).
fn parse(text: &str) -> Option<Measure> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else {
            continue;
        };
        match first {
            "Requests/sec:" => rps = words.next()?.parse().ok(),
            "50%" => p50 = duration(words.next()?),
            "99%" => p99 = duration(words.next()?),
            "Socket" => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                errors += line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum::<u64>();
            }
            "Non-2xx" => errors += line.rsplit(' ').next()?.parse::<u64>().ok()?,
            n if line.contains(" requests in ") => requests = n.parse().ok(),
            _ => {}
        }
    }
    Some(Measure {
        rps: rps?,
        p50: p50?,
        p99: p99?,
        requests: requests?,
        errors,
        others: 0.0,
    })
}

/// wrk's durations: `80.00us`, `1.43ms`, `2.00s`, `1.00m`.
fn duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let ns_per_unit = match unit {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    Some(Duration::from_nanos((n * ns_per_unit).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 3s test @ http://127.0.0.1:40111/hello
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   160.25us   50.37us   2.15ms   86.46%
    Req/Sec    95.01k     4.09k  101.22k    74.00%
  Latency Distribution
     50%   80.00us
     75%  170.00us
     90%  201.00us
     99%    1.43ms
  472670 requests in 5.00s, 57.25MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  94534.73
Transfer/sec:     11.45MB
";

    #[test]
    fn reads_a_report() {
        let m = parse(REPORT).unwrap();
        assert_eq!(m.rps, 94534.73);
        assert_eq!(m.p50, Duration::from_micros(80));
        assert_eq!(m.p99, Duration::from_micros(1430));
        assert_eq!(m.requests, 472670);
        assert_eq!(m.errors, 6);
        assert!(parse("wrk: connection refused").is_none());
    }
}
