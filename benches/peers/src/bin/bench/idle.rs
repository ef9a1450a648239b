//! Idle keep-alive clients: each connects, makes one request, then waits.
//!
//! Like a real client's connection pool (Go's transport, a browser), a
//! thread watches every idle socket and closes it as soon as the server
//! ends it, noting whether the end was clean (EOF) or a reset.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use courteous_peers::response::{self, get_request};

use crate::Result;

const WAKE: Token = Token(usize::MAX);

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
    /// Opens `count` connections to `addr`, one after the other; each gets
    /// a `200` to `GET /hello` and stays open.
    pub fn open(addr: SocketAddr, count: usize) -> Result<IdleClients> {
        let request = get_request("/hello", &addr.to_string(), false);
        let poll = Poll::new()?;
        let mut streams = Vec::with_capacity(count);
        let mut buf = Vec::new();
        for i in 0..count {
            let mut s = TcpStream::connect(addr)?;
            s.write_all(&request)?;
            let resp = response::read_blocking(&mut s, &mut buf)?;
            if resp.status != 200 || resp.close {
                return Err(format!("idle client {i}: status {}", resp.status).into());
            }
            s.set_nonblocking(true)?;
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)?;
            streams.push(Some(s));
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
            let slot = &mut streams[ev.token().0];
            let Some(s) = slot.as_mut() else { continue };
            let ended = loop {
                match s.read(&mut chunk) {
                    Ok(0) => break Some(&ends.clean),
                    Ok(_) => {} // unasked-for bytes: not expected, ignored
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break Some(&ends.reset),
                }
            };
            if let Some(counter) = ended {
                *slot = None; // closes our end at once, as a pooling client does
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
