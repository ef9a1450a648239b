//! A connection's byte stream as the protocol loops see it: the socket,
//! or TLS over it. Reads happen only after `poll` said the socket is
//! readable (or TLS already holds plaintext), so they never block.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use rustls::ServerConnection;

use crate::net::{wait_readable, Got, Ready, SendNow, Stream, Waker};

/// What the last read of a plain socket said of its receive queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Nothing known (no read yet, or the read filled the buffer).
    Unknown,
    /// The read returned less than it asked for (or nothing): the queue
    /// was empty then, and what came since is owed an event.
    Empty,
}

/// The stream of one connection, borrowed for one protocol step.
pub(crate) struct Io<'a> {
    pub(crate) stream: &'a Stream,
    pub(crate) tls: Option<&'a mut ServerConnection>,
    /// Where a plain read records what it saw of the socket's queue.
    pub(crate) drained: Option<&'a mut Drained>,
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
    /// wait said readable. Gets [`Got::Data`], [`Got::Eof`], or
    /// [`Got::WouldBlock`] when TLS has no plaintext yet.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> io::Result<Got> {
        let Some(tls) = self.tls.as_deref_mut() else {
            let mut s = self.stream;
            let got = loop {
                match s.read(out) {
                    Ok(0) => break Ok(Got::Eof),
                    Ok(n) => break Ok(Got::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            self.record(&got, out.len());
            return got;
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
        flush_tls(tls, &mut { self.stream })?;
        state.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match tls.reader().read(out) {
            Ok(0) => Ok(Got::Eof),
            Ok(n) => Ok(Got::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Got::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Got::Eof),
            Err(e) => Err(e),
        }
    }

    /// Waits until `deadline` (or a wake) for something to read, then reads.
    /// `readable`: the caller just saw the socket readable, so the first
    /// read goes ahead without another `poll` (one syscall less per
    /// keep-alive request). Gets [`Got::Data`], [`Got::Eof`],
    /// [`Got::TimedOut`] or [`Got::Woken`].
    pub(crate) fn fill(
        &mut self,
        out: &mut [u8],
        deadline: Instant,
        waker: Option<&Waker>,
        mut readable: bool,
    ) -> io::Result<Got> {
        loop {
            if !std::mem::take(&mut readable) && !self.buffered() {
                match wait_readable(self.stream, waker, Some(deadline))? {
                    Ready::Readable => {}
                    Ready::Woken => return Ok(Got::Woken),
                    Ready::TimedOut => return Ok(Got::TimedOut),
                }
            }
            match self.read(out)? {
                Got::WouldBlock => continue,
                got => return Ok(got),
            }
        }
    }

    /// Reads what a plain socket holds now, without waiting: [`Got::Data`],
    /// [`Got::Eof`] or [`Got::WouldBlock`].
    pub(crate) fn read_now(&mut self, out: &mut [u8]) -> io::Result<Got> {
        let got = crate::net::read_now(self.stream, out);
        self.record(&got, out.len());
        got
    }

    /// Notes what a plain read of `asked` bytes said of the socket's queue:
    /// a short read emptied it (bar an urgent mark, which
    /// [`Conn::input_drained`](crate::conn::Conn::input_drained) minds).
    fn record(&mut self, got: &io::Result<Got>, asked: usize) {
        if let Some(d) = self.drained.as_deref_mut() {
            *d = match got {
                Ok(Got::Data(n)) if *n < asked => Drained::Empty,
                Ok(Got::WouldBlock) => Drained::Empty,
                _ => Drained::Unknown,
            };
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
                flush_tls(tls, &mut { self.stream })
            }
        }
    }

    /// Ends our side: TLS `close_notify`, then the FIN. With `wait`, the
    /// `close_notify` waits for room in the socket (up to the write
    /// timeout), as a response would; without, it goes only if it fits
    /// now, so that a peer that stopped reading cannot hold the thread.
    pub(crate) fn shutdown_write(&mut self, wait: bool) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = if wait {
                flush_tls(tls, &mut { self.stream })
            } else {
                flush_tls(tls, &mut SendNow(self.stream))
            };
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

/// Sends what rustls has queued to `out` (the socket itself, blocking with
/// a write timeout; or [`SendNow`]).
fn flush_tls(tls: &mut ServerConnection, out: &mut dyn Write) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::Pem;
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(10);

    fn server_session() -> ServerConnection {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = Pem::Bytes(ck.cert.pem().into_bytes());
        let key = Pem::Bytes(ck.signing_key.serialize_pem().into_bytes());
        ServerConnection::new(crate::tls::config_from_pem(&cert, &key).unwrap()).unwrap()
    }

    /// A socket pair whose first end's socket is full: the peer reads
    /// nothing. Returns the pair and the bytes written.
    fn full_pair() -> (UnixStream, UnixStream, usize) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let chunk = [0u8; 4096];
        let mut sent = 0;
        loop {
            match (&ours).write(&chunk) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        ours.set_nonblocking(false).unwrap();
        (ours, theirs, sent)
    }

    /// Everything the peer receives until our FIN.
    fn read_to_fin(mut theirs: UnixStream) -> Vec<u8> {
        theirs.set_read_timeout(Some(T)).unwrap();
        let mut got = Vec::new();
        theirs
            .read_to_end(&mut got)
            .expect("the FIN, within the bound");
        got
    }

    /// Closes our side on another thread; says whether rustls still had the
    /// `close_notify` queued after, or `None` if the close did not return.
    fn close_on_a_thread(ours: UnixStream, wait: bool) -> Option<bool> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let stream = Stream::Unix(ours);
            let mut tls = server_session();
            Io {
                stream: &stream,
                tls: Some(&mut tls),
                drained: None,
            }
            .shutdown_write(wait);
            let _ = tx.send(tls.wants_write());
        });
        rx.recv_timeout(T).ok()
    }

    #[test]
    fn a_close_that_must_not_wait_leaves_out_a_close_notify_that_does_not_fit() {
        let (ours, theirs, filled) = full_pair();
        // A waiting close would block here for good (no write timeout).
        let queued = close_on_a_thread(ours, false).expect("the close returned");
        assert!(queued, "the close_notify did not fit, and was left out");
        let got = read_to_fin(theirs);
        assert_eq!(got.len(), filled, "the FIN came right after the filler");
    }

    #[test]
    fn a_close_with_room_sends_the_close_notify_then_the_fin() {
        for wait in [false, true] {
            let (ours, theirs) = UnixStream::pair().unwrap();
            let queued = close_on_a_thread(ours, wait).expect("the close returned");
            assert!(!queued, "wait: {wait}: the close_notify went out");
            let got = read_to_fin(theirs);
            // One TLS record: an alert (content type 21).
            assert_eq!(got.first(), Some(&21), "wait: {wait}: {got:?}");
        }
    }
}
