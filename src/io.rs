//! A connection's byte stream as the protocol loops see it: the socket,
//! or TLS over it. Reads happen only after `poll` said the socket is
//! readable (or TLS already holds plaintext), so they never block.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use rustls::ServerConnection;

use crate::net::{wait_readable, Ready, Stream, Waker};

/// What one read got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Got {
    /// Plaintext bytes.
    Data(usize),
    /// The peer closed (a FIN, or TLS `close_notify`).
    Eof,
    /// Bytes arrived but no plaintext yet (a TLS handshake or a partial
    /// record): wait for the socket again.
    Again,
}

/// What a timed wait-and-read got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    Data(usize),
    Eof,
    TimedOut,
    Woken,
}

/// The stream of one connection, borrowed for one protocol step.
pub(crate) struct Io<'a> {
    pub(crate) stream: &'a Stream,
    pub(crate) tls: Option<&'a mut ServerConnection>,
}

impl Io<'_> {
    /// True when plaintext is ready without touching the socket.
    pub(crate) fn buffered(&mut self) -> bool {
        match &mut self.tls {
            Some(tls) => tls
                .process_new_packets()
                .map(|s| s.plaintext_bytes_to_read() > 0 || s.peer_has_closed())
                .unwrap_or(true),
            None => false,
        }
    }

    /// Something to read now: buffered plaintext, or a readable socket.
    pub(crate) fn readable_now(&mut self) -> bool {
        self.buffered() || crate::net::readable_now(self.stream)
    }

    /// Reads once; call when [`readable_now`](Io::readable_now) or after a
    /// wait said readable.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> io::Result<Got> {
        let Some(tls) = self.tls.as_deref_mut() else {
            let mut s = self.stream;
            return loop {
                match s.read(out) {
                    Ok(0) => break Ok(Got::Eof),
                    Ok(n) => break Ok(Got::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
        };
        // Plaintext first: rustls may hold more than one record.
        match tls.reader().read(out) {
            Ok(0) => return Ok(Got::Eof),
            Ok(n) => return Ok(Got::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Got::Eof),
            Err(e) => return Err(e),
        }
        let mut s = self.stream;
        if tls.read_tls(&mut s)? == 0 {
            return Ok(Got::Eof);
        }
        let state = tls.process_new_packets();
        // Handshake messages, or the alert for a bad record, go out now.
        flush_tls(tls, self.stream)?;
        state.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match tls.reader().read(out) {
            Ok(0) => Ok(Got::Eof),
            Ok(n) => Ok(Got::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Got::Again),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Got::Eof),
            Err(e) => Err(e),
        }
    }

    /// Waits until `deadline` (or a wake) for something to read, then reads.
    /// `readable`: the caller just saw the socket readable, so the first
    /// read goes ahead without another `poll` (one syscall less per
    /// keep-alive request).
    pub(crate) fn fill(
        &mut self,
        out: &mut [u8],
        deadline: Instant,
        waker: Option<&Waker>,
        mut readable: bool,
    ) -> io::Result<Fill> {
        loop {
            if !std::mem::take(&mut readable) && !self.buffered() {
                match wait_readable(self.stream, waker, Some(deadline))? {
                    Ready::Readable => {}
                    Ready::Woken => return Ok(Fill::Woken),
                    Ready::TimedOut => return Ok(Fill::TimedOut),
                }
            }
            match self.read(out)? {
                Got::Data(n) => return Ok(Fill::Data(n)),
                Got::Eof => return Ok(Fill::Eof),
                Got::Again => continue,
            }
        }
    }

    /// Writes all of `data` (encrypted, with TLS).
    pub(crate) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => {
                let mut s = self.stream;
                s.write_all(data)
            }
            Some(tls) => {
                tls.writer().write_all(data)?;
                flush_tls(tls, self.stream)
            }
        }
    }

    /// Ends our side: TLS `close_notify`, then the FIN.
    pub(crate) fn shutdown_write(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = flush_tls(tls, self.stream);
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends what rustls has queued (the socket is blocking, with a write
/// timeout).
fn flush_tls(tls: &mut ServerConnection, stream: &Stream) -> io::Result<()> {
    let mut s = stream;
    while tls.wants_write() {
        tls.write_tls(&mut s)?;
    }
    Ok(())
}
