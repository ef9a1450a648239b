//! How much CPU other processes took during the run: the figures assume
//! the load generator and the server have the machine to themselves.

use std::time::Instant;

use crate::Result;

/// A reading of the machine's user-mode CPU time and of ours, in clock
/// ticks. Ours is this process's and its reaped children's (servers, wrk,
/// valgrind), and that of the live processes in `watch` (a server under
/// load). User mode only: the kernel's loopback work runs largely in
/// softirq context, charged to no process, so system time cannot be split
/// between us and the others; what disturbs a benchmark (builds, tests,
/// fuzzers) shows in user time.
pub struct CpuMark {
    busy: u64,
    ours: u64,
    watch: Vec<u32>,
    at: Instant,
}

/// Clock ticks per second of /proc (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

impl CpuMark {
    pub fn now(watch: &[u32]) -> Result<CpuMark> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("cpu "))
            .ok_or("no cpu line in /proc/stat")?
            .split_whitespace()
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()?;
        // user nice system idle iowait irq softirq steal ...
        let busy = cpu.iter().take(2).sum::<u64>();
        let mut ours = user_ticks("self", true)?;
        for pid in watch {
            ours += user_ticks(&pid.to_string(), false)?;
        }
        Ok(CpuMark {
            busy,
            ours,
            watch: watch.to_vec(),
            at: Instant::now(),
        })
    }

    /// CPU seconds other processes used since this mark, and their share
    /// of the machine's capacity over that time.
    pub fn others_since(&self) -> Result<(f64, f64)> {
        let now = CpuMark::now(&self.watch)?;
        let others =
            now.busy.saturating_sub(self.busy) as f64 - now.ours.saturating_sub(self.ours) as f64;
        let secs = others.max(0.0) / TICKS;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let capacity = now.at.duration_since(self.at).as_secs_f64() * cpus;
        Ok((secs, secs / capacity.max(1e-9)))
    }
}

/// A process's user-mode CPU ticks from /proc/PID/stat (`utime`, and with
/// `children` its reaped children's `cutime`).
fn user_ticks(pid: &str, children: bool) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // utime is the 14th field, cutime the 16th: the 12th and 14th after
    // the command's closing parenthesis.
    let after = stat.rsplit_once(')').ok_or("bad /proc/PID/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field =
        |i: usize| -> Result<u64> { Ok(fields.get(i).ok_or("short /proc/PID/stat")?.parse()?) };
    Ok(field(11)? + if children { field(13)? } else { 0 })
}

/// A line saying how much other processes took since `mark`.
pub fn disturbance(mark: Result<CpuMark>) -> String {
    match mark.and_then(|m| m.others_since()) {
        Ok((secs, share)) => format!(
            "other processes used {secs:.1} s of CPU during this run ({:.0}% of the machine){}",
            share * 100.0,
            if share > 0.05 {
                ": the figures are disturbed, rerun on a quiet machine"
            } else {
                ""
            }
        ),
        Err(e) => format!("CPU use of other processes unknown: {e}"),
    }
}
