//! The load generator behind the throughput runs: `wrk` when installed,
//! else this crate's own (`courteous_peers::loadgen`).

use std::net::SocketAddr;
use std::time::Duration;

use courteous_peers::loadgen::{self, Mode, Spec, Stop};

use crate::machine::CpuMark;
use crate::options::DriverChoice;
use crate::{wrk, Result};

/// One timed run against one server.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub addr: SocketAddr,
    /// The server's process, whose CPU time is not a disturbance.
    pub pid: u32,
    pub conns: usize,
    pub mode: Mode,
    pub duration: Duration,
    /// The request target: `/hello` but in the blocking-handler run.
    pub path: &'static str,
    /// Requests per write: 1, or more in the pipelined run.
    pub pipeline: usize,
}

/// What a run measured, whichever generator made it.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    pub errors: u64,
    /// Share of the machine other processes used during the run.
    pub others: f64,
}

pub enum Driver {
    /// `wrk -t1`, with its version.
    Wrk(String),
    /// The built-in generator, one thread like `wrk -t1`.
    Rust,
}

impl Driver {
    pub fn choose(choice: Option<DriverChoice>) -> Result<Driver> {
        match (choice, wrk::version()) {
            (Some(DriverChoice::Rust), _) | (None, None) => Ok(Driver::Rust),
            (_, Some(v)) => Ok(Driver::Wrk(v)),
            (Some(DriverChoice::Wrk), None) => Err("--driver wrk: wrk is not on PATH".into()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Driver::Wrk(v) => format!("{v} (-t1, epoll; pipelined with a Lua script)"),
            Driver::Rust => "the Rust load generator (1 thread, epoll; wrk not found)".into(),
        }
    }

    pub fn run(&self, load: &Load) -> Result<Measure> {
        match self {
            Driver::Wrk(_) => wrk::run(load),
            Driver::Rust => {
                let s = loadgen::run(&Spec {
                    addr: load.addr,
                    path: load.path.into(),
                    conns: load.conns,
                    threads: 1,
                    mode: load.mode,
                    pipeline: load.pipeline,
                    stop: Stop::After(load.duration),
                })?;
                Ok(Measure {
                    rps: s.rps(),
                    p50: s.quantile(0.50),
                    p99: s.quantile(0.99),
                    requests: s.requests,
                    errors: s.errors.total(),
                    others: 0.0,
                })
            }
        }
    }

    /// Runs `load` for `warmup` first (nothing recorded), then measures it,
    /// noting how much of the machine other processes took meanwhile.
    pub fn warm_and_run(&self, load: &Load, warmup: Duration) -> Result<Measure> {
        if !warmup.is_zero() {
            self.run(&Load {
                duration: warmup,
                ..*load
            })?;
        }
        let mark = CpuMark::now(&[load.pid])?;
        let mut m = self.run(load)?;
        m.others = mark.others_since()?.1;
        Ok(m)
    }
}
