//! A closed-loop HTTP/1.1 load generator, the runner's stand-in for `wrk`.
//!
//! Like `wrk -t1`, each thread multiplexes its connections on one epoll
//! instance (through mio) with non-blocking sockets: with the server on the
//! same two cores, a thread per connection would spend the CPU the server
//! needs on context switches and distort the numbers. Each connection keeps
//! exactly one request outstanding, or, pipelined, one batch of requests
//! sent in one write (as wrk's TechEmpower `pipeline.lua` does). Latency is
//! timed as `wrk` times it, from the request's write to the response's last
//! byte (pipelined: from the batch's write to its last response); in
//! connection-per-request mode the connect is not part of it. Every
//! response counts as a request, pipelined or not.

mod client;
mod worker;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{io, thread};

use hdrhistogram::Histogram;

use crate::response::get_request;

/// How connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Requests follow each other on a kept-alive connection.
    KeepAlive,
    /// A new connection for every request (`Connection: close`).
    Close,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long; requests still outstanding then are not counted.
    After(Duration),
    /// Once this many requests were answered.
    Requests(u64),
}

/// One run's shape.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The server.
    pub addr: SocketAddr,
    /// The request target, e.g. `/hello`.
    pub path: String,
    /// Concurrent connections.
    pub conns: usize,
    /// Threads that share the connections (at least 1, at most `conns`).
    pub threads: usize,
    /// Keep-alive or a connection per request.
    pub mode: Mode,
    /// Requests sent together in one write, the next batch once all are
    /// answered: 1 for one request outstanding per connection. More than 1
    /// needs [`Mode::KeepAlive`].
    pub pipeline: usize,
    /// When to stop.
    pub stop: Stop,
}

/// Failures, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// Connects that failed.
    pub connect: u64,
    /// Resets, early ends of stream and unreadable responses.
    pub io: u64,
    /// Responses whose status was not 2xx (counted as requests too).
    pub status: u64,
}

impl Errors {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.status
    }

    fn add(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.io += other.io;
        self.status += other.status;
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Responses received.
    pub requests: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Request latencies, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Failures.
    pub errors: Errors,
}

impl Summary {
    /// Responses per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0.5 for the median).
    pub fn quantile(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latency.value_at_quantile(q))
    }
}

/// Runs the load described by `spec` to its end.
pub fn run(spec: &Spec) -> io::Result<Summary> {
    let conns = spec.conns.max(1);
    let threads = spec.threads.clamp(1, conns);
    let depth = spec.pipeline.max(1);
    if depth > 1 && spec.mode == Mode::Close {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pipelining needs keep-alive connections",
        ));
    }
    let one = get_request(&spec.path, &spec.addr.to_string(), spec.mode == Mode::Close);
    let plan = Arc::new(worker::Plan {
        addr: spec.addr,
        one_len: one.len(),
        request: one.repeat(depth),
        depth,
        mode: spec.mode,
        budget: match spec.stop {
            Stop::Requests(n) => Some(AtomicU64::new(n)),
            Stop::After(_) => None,
        },
    });
    let start = Instant::now();
    let deadline = match spec.stop {
        Stop::After(d) => Some(start + d),
        Stop::Requests(_) => None,
    };
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let share = conns / threads + usize::from(i < conns % threads);
            let plan = plan.clone();
            thread::Builder::new()
                .name(format!("loadgen-{i}"))
                .spawn(move || worker::Worker::new(plan, share, deadline)?.run())
        })
        .collect::<io::Result<_>>()?;
    let mut total = Summary {
        requests: 0,
        elapsed: Duration::ZERO,
        latency: worker::histogram(),
        errors: Errors::default(),
    };
    for h in handles {
        let part = h
            .join()
            .map_err(|_| io::Error::other("a load thread panicked"))??;
        total.requests += part.requests;
        total.errors.add(&part.errors);
        total
            .latency
            .add(&part.latency)
            .map_err(|e| io::Error::other(format!("merging histograms: {e}")))?;
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
