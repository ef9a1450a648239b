//! Streaming responses the handler writes as it goes: the body of
//! [`Response::stream`], written by a closure on the worker, that can tell
//! when the server began to drain and wait for it.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::state::ServerState;

pub(crate) type WriteBody = Box<dyn FnOnce(&mut BodyWriter<'_>) -> io::Result<()> + Send>;

/// The body of a [`Response::stream`]: the closure, and the server's drain
/// state (attached when the handler returns).
pub(crate) struct Writer {
    write: WriteBody,
    drain: Option<Arc<ServerState>>,
}

impl Writer {
    pub(crate) fn new(write: WriteBody) -> Writer {
        Writer { write, drain: None }
    }

    /// Gives it the server's drain state.
    pub(crate) fn attach_drain(&mut self, shared: &Arc<ServerState>) {
        self.drain = Some(shared.clone());
    }
}

/// Where a [`Response::stream`](crate::Response::stream) writes its body: every `write` goes out at
/// once as one chunk (a `write!` too: it is formatted first, then sent as
/// one). It also tells whether the server began to drain, and can wait for
/// that, so that a stream ends politely: its last event, then the body's
/// proper end.
///
/// # Examples
///
/// A stream of server-sent events that says goodbye at the drain:
///
/// ```
/// use std::io::Write;
/// use std::time::Duration;
/// use courteous::{BodyWriter, Request, Response};
/// use http::header::CONTENT_TYPE;
///
/// fn events(_req: &mut Request) -> Response {
///     Response::stream(|out: &mut BodyWriter| {
///         let mut n = 0;
///         // Wakes every 100 ms for the next event, at once for the drain.
///         while !out.wait_draining(Duration::from_millis(100)) {
///             n += 1;
///             write!(out, "data: tick {n}\n\n")?;
///         }
///         out.write_all(b"event: bye\ndata: the server is draining\n\n")
///     })
///     .with_header(CONTENT_TYPE, "text/event-stream")
/// }
/// # fn takes(_: impl courteous::Handler) {}
/// # takes(events);
/// ```
pub struct BodyWriter<'a> {
    sink: &'a mut dyn Write,
    drain: Option<&'a ServerState>,
    formatted: String,
}

impl BodyWriter<'_> {
    /// True once the server began to drain (a drain delay counts): write a
    /// last word and return.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use courteous::{BodyWriter, Response};
    /// # fn next_line() -> Option<String> { None }
    ///
    /// let resp = Response::stream(|out: &mut BodyWriter| {
    ///     while let Some(line) = next_line() {
    ///         if out.is_draining() {
    ///             break;
    ///         }
    ///         writeln!(out, "{line}")?;
    ///     }
    ///     Ok(())
    /// });
    /// # let _ = resp;
    /// ```
    pub fn is_draining(&self) -> bool {
        self.drain.is_some_and(|s| s.is_draining())
    }

    /// Blocks until the server begins to drain or `timeout` passes; true
    /// when it drains. A stream that sends something every so often waits
    /// here between sends, and so ends at once when the drain begins
    /// instead of at its next tick.
    ///
    /// # Examples
    ///
    /// See [`BodyWriter`].
    pub fn wait_draining(&self, timeout: Duration) -> bool {
        match self.drain {
            Some(s) => s.wait_draining(timeout),
            None => {
                std::thread::sleep(timeout);
                false
            }
        }
    }
}

impl Write for BodyWriter<'_> {
    /// Sends `buf` now, as one chunk.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            // An empty chunk would end the body.
            return Ok(0);
        }
        self.sink.write_all(buf)?;
        Ok(buf.len())
    }

    /// Formats first, then sends the whole as one chunk (the default would
    /// send every piece of the format as a chunk of its own).
    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        self.formatted.clear();
        fmt::write(&mut self.formatted, args).map_err(|_| io::Error::other("formatter error"))?;
        let text = std::mem::take(&mut self.formatted);
        let sent = self.write_all(text.as_bytes());
        self.formatted = text;
        sent
    }

    /// Nothing to do: every write was sent at once.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for BodyWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter")
            .field("draining", &self.is_draining())
            .finish()
    }
}

/// Runs a streaming body's closure over `sink` (the protocol's framing:
/// chunks, close-delimited bytes, FastCGI records).
pub(crate) fn run(w: Writer, sink: &mut dyn Write) -> io::Result<()> {
    let Writer { write, drain } = w;
    let mut out = BodyWriter {
        sink,
        drain: drain.as_deref(),
        formatted: String::new(),
    };
    write(&mut out)
}

/// HTTP/1.1 chunked framing: every write one chunk, sent at once.
pub(crate) struct Chunks<'a, W: Write + ?Sized> {
    pub(crate) out: &'a mut W,
    pub(crate) buf: &'a mut Vec<u8>,
}

impl<W: Write + ?Sized> Write for Chunks<'_, W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        self.buf.clear();
        self.buf
            .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
        self.out.write_all(self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("drain", &self.drain.is_some())
            .finish()
    }
}
