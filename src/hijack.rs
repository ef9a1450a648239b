//! Hijacked connections: a handler takes the raw socket (a protocol
//! upgrade, a tunnel) and the drain still knows of it.
//!
//! While the handler holds the [`HijackedStream`], the connection is in
//! the registry as [`Hijacked`](crate::ConnState::Hijacked): a drain waits
//! for it as for a request in flight, the stream tells that a drain began
//! ([`is_draining`](HijackedStream::is_draining),
//! [`wait_draining`](HijackedStream::wait_draining)) so the handler can
//! end its session politely, and a shutdown deadline force-closes it and
//! counts it in [`Stats::killed`](crate::Stats::killed). Dropping the
//! stream ends the server's interest (Go's `Shutdown` ignores hijacked
//! connections, golang/go#17721; this crate does not).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::conn::Hijack;

/// A connection a handler took over with
/// [`Request::hijack`](crate::Request::hijack).
///
/// # Examples
///
/// A protocol upgrade: answer `101`, then echo what the client sends,
/// starting with the bytes the server had already read, until the client
/// hangs up or the server drains.
///
/// ```
/// use std::io::{self, Read, Write};
/// use std::time::Duration;
/// use courteous::{Hijacked, Request};
///
/// fn upgrade_to_echo(req: &mut Request) -> io::Result<()> {
///     let Hijacked { mut stream, buffered, .. } = req.hijack()?;
///     stream.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")?;
///     stream.write_all(&buffered)?;
///     // Wake up now and then to see whether the server drains.
///     stream.set_read_timeout(Some(Duration::from_millis(100)))?;
///     let mut buf = [0u8; 4096];
///     while !stream.is_draining() {
///         match stream.read(&mut buf) {
///             Ok(0) => return Ok(()), // the client hung up
///             Ok(n) => stream.write_all(&buf[..n])?,
///             Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
///             Err(e) => return Err(e),
///         }
///     }
///     stream.write_all(b"server going away\n") // then the drop closes it
/// }
/// # let _ = upgrade_to_echo;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Hijacked {
    /// The socket, in blocking mode, with the server's write timeout set.
    /// The drain waits for the connection while this is held.
    pub stream: HijackedStream,
    /// Bytes the server had read past the request head and not consumed
    /// (the start of the body, or of pipelined requests).
    pub buffered: Vec<u8>,
}

/// The socket of a hijacked connection: a [`TcpStream`] (it derefs to one,
/// for timeouts, `shutdown`, `try_clone`, addresses) that the server's
/// drain still tracks. See [`Hijacked`] for an example.
///
/// While it lives, a drain waits for the connection; a shutdown deadline
/// shuts the socket down (reads and writes then fail) and counts it as
/// killed. Dropping it closes the socket (unless a clone made with
/// `try_clone` keeps it open) and ends the tracking: a clone is not
/// tracked.
pub struct HijackedStream {
    stream: TcpStream,
    tracked: Hijack,
}

impl HijackedStream {
    pub(crate) fn new(stream: TcpStream, tracked: Hijack) -> HijackedStream {
        HijackedStream { stream, tracked }
    }

    /// True once the server began to drain: end the session (say goodbye
    /// in the protocol spoken on it, then drop the stream).
    ///
    /// # Examples
    ///
    /// See [`Hijacked`].
    pub fn is_draining(&self) -> bool {
        self.tracked.shared().is_draining()
    }

    /// Blocks until the server begins to drain or `timeout` passes; true
    /// when it drains. For a thread that watches the session while
    /// another reads it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::Hijacked;
    ///
    /// fn watch(hijacked: &Hijacked) {
    ///     if hijacked.stream.wait_draining(Duration::from_secs(30)) {
    ///         // tell the peer, e.g. a WebSocket Close frame (1001)
    ///     }
    /// }
    /// # let _ = watch;
    /// ```
    pub fn wait_draining(&self, timeout: Duration) -> bool {
        self.tracked.shared().wait_draining(timeout)
    }
}

impl fmt::Debug for HijackedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HijackedStream")
            .field("stream", &self.stream)
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl std::ops::Deref for HijackedStream {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl Read for HijackedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for HijackedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Read for &HijackedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.stream).read(buf)
    }
}

impl Write for &HijackedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.stream).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.stream).flush()
    }
}

impl AsFd for HijackedStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl AsRawFd for HijackedStream {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}
