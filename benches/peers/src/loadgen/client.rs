//! One load connection: connect, write a request, read its response, again.

use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Token};

use super::worker::Cx;
use super::Mode;
use crate::response::{self, Parse};

/// Connects that may fail in a row before a connection gives up.
const MAX_CONNECT_FAILURES: u32 = 100;

pub(super) struct Client {
    token: Token,
    stream: Option<TcpStream>,
    connected: bool,
    /// Bytes of the current batch written so far.
    written: usize,
    /// Requests in the current batch.
    batch: usize,
    /// Of those, responses still to come.
    pending: usize,
    /// When the outstanding batch's write began; `None` when none is.
    sent_at: Option<Instant>,
    buf: Vec<u8>,
    connect_failures: u32,
    /// Finished: out of requests, or the server is unreachable.
    pub(super) done: bool,
}

impl Client {
    pub(super) fn new(token: Token) -> Client {
        Client {
            token,
            stream: None,
            connected: false,
            written: 0,
            batch: 0,
            pending: 0,
            sent_at: None,
            buf: Vec::with_capacity(4096),
            connect_failures: 0,
            done: false,
        }
    }

    /// Starts a non-blocking connect; its completion arrives as an event.
    pub(super) fn connect(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        self.stream = None;
        self.connected = false;
        self.sent_at = None;
        self.pending = 0;
        self.buf.clear();
        match TcpStream::connect(cx.plan.addr) {
            Ok(mut s) => {
                cx.registry.register(
                    &mut s,
                    self.token,
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                self.stream = Some(s);
                Ok(())
            }
            Err(_) => self.connect_failed(cx),
        }
    }

    fn connect_failed(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        cx.tally.errors.connect += 1;
        self.connect_failures += 1;
        if self.connect_failures >= MAX_CONNECT_FAILURES {
            self.finish();
            return Ok(());
        }
        self.connect(cx)
    }

    /// The socket is ready for something: make all the progress it allows.
    pub(super) fn on_event(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        if !self.connected {
            let ok = match (stream.take_error(), stream.peer_addr()) {
                (Ok(None), Ok(_)) => true,
                (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                _ => false,
            };
            if !ok {
                return self.connect_failed(cx);
            }
            let _ = stream.set_nodelay(true);
            cx.registry
                .reregister(stream, self.token, Interest::READABLE)?;
            self.connected = true;
            self.connect_failures = 0;
            return self.start_request(cx);
        }
        if self.sent_at.is_some() && self.written < self.batch * cx.plan.one_len {
            self.write(cx)?;
        }
        self.read(cx)
    }

    fn start_request(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let batch = cx.plan.take_tickets();
        if batch == 0 {
            self.finish();
            return Ok(());
        }
        self.written = 0;
        self.batch = batch;
        self.pending = batch;
        self.sent_at = Some(Instant::now());
        self.write(cx)
    }

    fn write(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let request = &cx.plan.request[..self.batch * cx.plan.one_len];
        while self.written < request.len() {
            match stream.write(&request[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Rare with requests this small: ask for a writable event.
                    return cx.registry.reregister(
                        stream,
                        self.token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                }
                Err(_) => return self.broken(cx),
            }
        }
        Ok(())
    }

    fn read(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let mut chunk = [0u8; 4096];
        let mut eof = false;
        loop {
            match stream.read(&mut chunk) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.broken(cx),
            }
        }
        if self.sent_at.is_none() {
            // Bytes or an end of stream with no request outstanding.
            return if eof || !self.buf.is_empty() {
                self.broken(cx)
            } else {
                Ok(())
            };
        }
        while self.pending > 0 {
            let c = match response::parse(&self.buf) {
                Parse::Partial if eof => return self.broken(cx),
                Parse::Partial => return Ok(()),
                Parse::Invalid(_) => return self.broken(cx),
                Parse::Done(c) => c,
            };
            let tally = &mut *cx.tally;
            tally.requests += 1;
            if !(200..300).contains(&c.status) {
                tally.errors.status += 1;
            }
            self.buf.drain(..c.len);
            self.pending -= 1;
            if self.pending == 0 {
                if let Some(sent_at) = self.sent_at.take() {
                    tally
                        .latency
                        .saturating_record(sent_at.elapsed().as_nanos() as u64);
                }
            }
            if c.close || cx.plan.mode == Mode::Close {
                // The server ends the connection here: the rest of the
                // batch will not be answered.
                cx.plan.give_back(self.pending);
                self.pending = 0;
                self.sent_at = None;
                return self.next_connection(cx);
            }
        }
        if eof {
            self.next_connection(cx)
        } else if cx.plan.exhausted() {
            self.finish();
            Ok(())
        } else {
            self.start_request(cx)
        }
    }

    /// A new connection for the next request, unless none is left.
    fn next_connection(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        if cx.plan.exhausted() {
            self.finish();
            Ok(())
        } else {
            self.connect(cx)
        }
    }

    /// Closes the connection for good.
    fn finish(&mut self) {
        self.stream = None;
        self.done = true;
    }

    /// The connection failed mid-request: count it, then start over.
    fn broken(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        cx.tally.errors.io += 1;
        self.connect(cx)
    }
}
