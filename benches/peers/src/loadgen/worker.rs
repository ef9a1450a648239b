//! One load thread: its connections on one mio poll.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use mio::{Events, Poll, Registry, Token};

use super::client::Client;
use super::{Errors, Mode};

/// What every thread of a run shares.
pub(super) struct Plan {
    pub(super) addr: SocketAddr,
    /// `depth` copies of the request, back to back.
    pub(super) request: Vec<u8>,
    /// The length of one request.
    pub(super) one_len: usize,
    /// Requests per write.
    pub(super) depth: usize,
    pub(super) mode: Mode,
    /// Requests left to start, when the run is counted in requests.
    pub(super) budget: Option<AtomicU64>,
}

impl Plan {
    /// Are the requests of a counted run all started?
    pub(super) fn exhausted(&self) -> bool {
        self.budget
            .as_ref()
            .is_some_and(|left| left.load(Ordering::Relaxed) == 0)
    }

    /// How many of the next batch's `depth` requests may start (0: none).
    pub(super) fn take_tickets(&self) -> usize {
        let want = self.depth as u64;
        match &self.budget {
            None => self.depth,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    (n > 0).then(|| n - n.min(want))
                })
                .map_or(0, |before| before.min(want) as usize),
        }
    }

    /// Returns tickets of requests the server will not answer (it closed
    /// the connection in the middle of a batch).
    pub(super) fn give_back(&self, n: usize) {
        if let Some(left) = &self.budget {
            left.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// What one thread counted.
pub(super) struct Tally {
    pub(super) requests: u64,
    pub(super) latency: Histogram<u64>,
    pub(super) errors: Errors,
}

/// What a connection needs from its thread while handling an event.
pub(super) struct Cx<'a> {
    pub(super) registry: &'a Registry,
    pub(super) plan: &'a Plan,
    pub(super) tally: &'a mut Tally,
}

/// A latency histogram: 1 ns to 60 s, 3 significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

pub(super) struct Worker {
    poll: Poll,
    clients: Vec<Client>,
    plan: Arc<Plan>,
    deadline: Option<Instant>,
    tally: Tally,
}

impl Worker {
    /// Opens (starts connecting) `conns` connections.
    pub(super) fn new(
        plan: Arc<Plan>,
        conns: usize,
        deadline: Option<Instant>,
    ) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut tally = Tally {
            requests: 0,
            latency: histogram(),
            errors: Errors::default(),
        };
        let mut clients: Vec<Client> = (0..conns).map(|i| Client::new(Token(i))).collect();
        let mut cx = Cx {
            registry: poll.registry(),
            plan: &plan,
            tally: &mut tally,
        };
        for c in &mut clients {
            c.connect(&mut cx)?;
        }
        Ok(Worker {
            poll,
            clients,
            plan,
            deadline,
            tally,
        })
    }

    /// Drives the connections until the deadline or until every one is done.
    pub(super) fn run(mut self) -> io::Result<Tally> {
        let mut events = Events::with_capacity(1024);
        let mut live = self.clients.iter().filter(|c| !c.done).count();
        while live > 0 {
            let timeout = match self.deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
                None => None,
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut cx = Cx {
                registry: self.poll.registry(),
                plan: &self.plan,
                tally: &mut self.tally,
            };
            for ev in events.iter() {
                let c = &mut self.clients[ev.token().0];
                if c.done {
                    continue;
                }
                c.on_event(&mut cx)?;
                if c.done {
                    live -= 1;
                }
            }
        }
        Ok(self.tally)
    }
}
