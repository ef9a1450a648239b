//! Idle keep-alive clients: each connects, makes one request, then waits.
//!
//! Like a real client's connection pool (Go's transport, a browser), a
//! thread watches every idle socket and closes it as soon as the server
//! ends it, noting whether the end was clean (EOF) or a reset.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use courteous_peers::response::{self, get_request, Parse};

use crate::Result;

const WAKE: Token = Token(usize::MAX);

/// Connections opened at once: below hyper's `listen` backlog (128, std's),
/// so that no SYN is dropped and retried a second later.
const BATCH: usize = 64;

/// How long a batch may take to be connected and answered.
const BATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection being opened: connect, write the request, read the response.
struct Opening {
    stream: mio::net::TcpStream,
    written: usize,
    buf: Vec<u8>,
    answered: bool,
}

impl Opening {
    /// Makes what progress the socket allows; true once the response is in.
    fn step(&mut self, request: &[u8]) -> io::Result<bool> {
        if self.written == 0 {
            if let Some(e) = self.stream.take_error()? {
                return Err(e);
            }
            match self.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        while self.written < request.len() {
            match self.stream.write(&request[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match response::parse(&self.buf) {
            Parse::Partial => Ok(false),
            Parse::Done(c) if c.status == 200 && !c.close => Ok(true),
            Parse::Done(c) => Err(io::Error::other(format!("status {}", c.status))),
            Parse::Invalid(why) => Err(io::Error::new(io::ErrorKind::InvalidData, why)),
        }
    }
}

#[derive(Default)]
struct Ends {
    clean: AtomicUsize,
    reset: AtomicUsize,
}

/// How the server ended the idle connections so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndCounts {
    pub clean: usize,
    pub reset: usize,
    pub open: usize,
}

pub struct IdleClients {
    count: usize,
    ends: Arc<Ends>,
    waker: Arc<Waker>,
    watcher: Option<JoinHandle<io::Result<()>>>,
}

impl IdleClients {
    /// Opens `count` connections to `addr`, [`BATCH`] at a time; each
    /// gets a `200` to `GET /hello` and stays open. Fails if a batch is
    /// not all answered within [`BATCH_TIMEOUT`].
    pub fn open(addr: SocketAddr, count: usize) -> Result<IdleClients> {
        IdleClients::open_in_batches(addr, count, BATCH)
    }

    /// [`IdleClients::open`], `batch` connections at a time (1: each opened
    /// and answered before the next connects).
    pub fn open_in_batches(addr: SocketAddr, count: usize, batch: usize) -> Result<IdleClients> {
        let request = get_request("/hello", &addr.to_string(), false);
        let mut poll = Poll::new()?;
        let mut streams = Vec::with_capacity(count);
        let mut events = Events::with_capacity(1024);
        for first in (0..count).step_by(batch.max(1)) {
            let end = count.min(first + batch.max(1));
            let mut batch = Vec::with_capacity(end - first);
            for i in first..end {
                let mut s = mio::net::TcpStream::connect(addr)
                    .map_err(|e| format!("idle client {i}: connect: {e}"))?;
                poll.registry().register(
                    &mut s,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                batch.push(Opening {
                    stream: s,
                    written: 0,
                    buf: Vec::new(),
                    answered: false,
                });
            }
            let deadline = Instant::now() + BATCH_TIMEOUT;
            let mut left = batch.len();
            while left > 0 {
                let timeout = deadline.saturating_duration_since(Instant::now());
                if timeout.is_zero() {
                    return Err(format!(
                        "idle clients: {left} of connections {first}..{end} not answered \
                         after {BATCH_TIMEOUT:?} ({first} open)"
                    )
                    .into());
                }
                match poll.poll(&mut events, Some(timeout)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
                for ev in events.iter() {
                    // Events of connections opened in earlier batches are
                    // dropped: the watcher looks at every socket first.
                    let Some(o) = ev
                        .token()
                        .0
                        .checked_sub(first)
                        .and_then(|k| batch.get_mut(k))
                    else {
                        continue;
                    };
                    if o.answered {
                        continue;
                    }
                    if o.step(&request)
                        .map_err(|e| format!("idle client {}: {e}", ev.token().0))?
                    {
                        o.answered = true;
                        poll.registry().reregister(
                            &mut o.stream,
                            ev.token(),
                            Interest::READABLE,
                        )?;
                        left -= 1;
                    }
                }
            }
            streams.extend(batch.into_iter().map(|o| Some(o.stream)));
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        let ends = Arc::new(Ends::default());
        let watcher = {
            let ends = ends.clone();
            thread::Builder::new()
                .name("idle-clients".into())
                .spawn(move || watch(poll, streams, &ends))?
        };
        Ok(IdleClients {
            count,
            ends,
            waker,
            watcher: Some(watcher),
        })
    }

    pub fn ends(&self) -> EndCounts {
        let clean = self.ends.clean.load(Ordering::SeqCst);
        let reset = self.ends.reset.load(Ordering::SeqCst);
        EndCounts {
            clean,
            reset,
            open: self.count - clean - reset,
        }
    }

    /// Waits up to `timeout` for the server to have ended every connection.
    pub fn wait_all_ended(&self, timeout: Duration) -> EndCounts {
        let deadline = Instant::now() + timeout;
        loop {
            let ends = self.ends();
            if ends.open == 0 || Instant::now() >= deadline {
                return ends;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for IdleClients {
    /// Closes whatever is still open.
    fn drop(&mut self) {
        let _ = self.waker.wake();
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

fn watch(
    mut poll: Poll,
    mut streams: Vec<Option<mio::net::TcpStream>>,
    ends: &Ends,
) -> io::Result<()> {
    let mut events = Events::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    // Ends that came while later connections were opening were not seen
    // (the events are edge-triggered): look at every socket once.
    for slot in &mut streams {
        check(slot, &mut chunk, ends);
    }
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            if ev.token() == WAKE {
                return Ok(());
            }
            check(&mut streams[ev.token().0], &mut chunk, ends);
        }
    }
}

/// Reads what a socket has; if the server ended it, closes our end at once
/// (as a pooling client does) and counts how it ended.
fn check(slot: &mut Option<mio::net::TcpStream>, chunk: &mut [u8], ends: &Ends) {
    let Some(s) = slot.as_mut() else { return };
    let ended = loop {
        match s.read(chunk) {
            Ok(0) => break Some(&ends.clean),
            Ok(_) => {} // unasked-for bytes: not expected, ignored
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break Some(&ends.reset),
        }
    };
    if let Some(counter) = ended {
        *slot = None;
        counter.fetch_add(1, Ordering::SeqCst);
    }
}
