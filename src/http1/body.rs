//! Request bodies: the decoder for `Content-Length` and chunked framing,
//! and [`Body`], the `Read` a handler gets.
//!
//! ```text
//!  chunked:  Size ──"0"──► Trailers ──empty line──► Done
//!             │ ▲
//!         n>0 ▼ │ CRLF
//!            Data ──n bytes──► DataEnd
//! ```
//!
//! A decoding error leaves the decoder `Broken`: the handler's read fails
//! and the connection closes after the response.

use std::fmt;
use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::buf::ReadBuf;
use crate::io::{Fill, Io};

/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
}

/// Where a request body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    Length(u64),
    /// A chunked body: where in it, and the data bytes declared so far.
    Chunked(Chunk, u64),
    Done,
    Broken,
}

/// What reading a body needs from its connection.
pub(crate) struct Source<'a> {
    pub(crate) io: Io<'a>,
    pub(crate) buf: &'a mut ReadBuf,
    pub(crate) read_timeout: Duration,
    pub(crate) max_trailer_bytes: usize,
    /// Largest body accepted (chunked bodies are checked as they arrive).
    pub(crate) max_body: Option<u64>,
    /// True while an interim `100 Continue` is owed before the first read.
    pub(crate) continue_pending: &'a mut bool,
}

/// The error a handler's read gets when a chunked body outgrows
/// `max_body_bytes`.
fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "request body too large")
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Decoder {
    pub(crate) fn for_framing(f: super::head::Framing) -> Decoder {
        match f {
            super::head::Framing::None => Decoder::Done,
            super::head::Framing::Length(n) => Decoder::Length(n),
            super::head::Framing::Chunked => Decoder::Chunked(Chunk::Size, 0),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        *self == Decoder::Done
    }

    /// Bytes still expected, when the framing says.
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self {
            Decoder::Length(n) => Some(*n),
            Decoder::Done => Some(0),
            _ => None,
        }
    }

    /// Reads body bytes into `out`; `Ok(0)` at the end of the body.
    pub(crate) fn read(&mut self, src: &mut Source<'_>, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.is_done() {
            return Ok(0);
        }
        if *src.continue_pending {
            *src.continue_pending = false;
            src.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let r = self.read_inner(src, out);
        if r.is_err() {
            *self = Decoder::Broken;
        }
        r
    }

    fn read_inner(&mut self, src: &mut Source<'_>, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match *self {
                Decoder::Done => return Ok(0),
                Decoder::Broken => return Err(invalid("request body unreadable after an error")),
                Decoder::Length(0) => {
                    *self = Decoder::Done;
                    return Ok(0);
                }
                Decoder::Length(left) => {
                    let n = read_some(src, out, left)?;
                    *self = Decoder::Length(left - n as u64);
                    if left == n as u64 {
                        *self = Decoder::Done;
                    }
                    return Ok(n);
                }
                Decoder::Chunked(Chunk::Size, total) => {
                    let line = take_line(src, MAX_LINE)?;
                    let size = parse_chunk_size(&line)?;
                    let total = total.saturating_add(size);
                    if src.max_body.is_some_and(|max| total > max) {
                        return Err(too_large());
                    }
                    *self = if size == 0 {
                        Decoder::Chunked(Chunk::Trailers(0), total)
                    } else {
                        Decoder::Chunked(Chunk::Data(size), total)
                    };
                }
                Decoder::Chunked(Chunk::Data(left), total) => {
                    let n = read_some(src, out, left)?;
                    *self = if left == n as u64 {
                        Decoder::Chunked(Chunk::DataEnd, total)
                    } else {
                        Decoder::Chunked(Chunk::Data(left - n as u64), total)
                    };
                    return Ok(n);
                }
                Decoder::Chunked(Chunk::DataEnd, total) => {
                    let line = take_line(src, 2)?;
                    if !line.is_empty() {
                        return Err(invalid("chunk data longer than its size"));
                    }
                    *self = Decoder::Chunked(Chunk::Size, total);
                }
                Decoder::Chunked(Chunk::Trailers(seen), total) => {
                    let line = take_line(src, MAX_LINE)?;
                    if line.is_empty() {
                        *self = Decoder::Done;
                        return Ok(0);
                    }
                    let seen = seen + line.len() + 2;
                    if seen > src.max_trailer_bytes || !line.contains(&b':') {
                        return Err(invalid("bad or oversized trailer section"));
                    }
                    *self = Decoder::Chunked(Chunk::Trailers(seen), total);
                }
            }
        }
    }

    /// Reads and discards the rest of the body, up to `limit` bytes.
    /// True when the body ended within the limit (the connection can be
    /// reused).
    pub(crate) fn discard(&mut self, src: &mut Source<'_>, limit: u64) -> bool {
        if *src.continue_pending {
            // The client waits for a 100 that never came: it may or may not
            // send the body, so the connection cannot be reused.
            return false;
        }
        if let Some(n) = self.remaining() {
            if n > limit {
                return false;
            }
        }
        let mut scratch = [0u8; 4096];
        let mut total = 0u64;
        while total <= limit {
            match self.read(src, &mut scratch) {
                Ok(0) => return self.is_done(),
                Ok(n) => total += n as u64,
                Err(_) => return false,
            }
        }
        false
    }
}

/// What a body read gets when the wait for bytes ends without any.
fn no_bytes(got: Fill) -> io::Error {
    match got {
        Fill::Eof => io::Error::new(io::ErrorKind::UnexpectedEof, "client closed mid-body"),
        _ => io::Error::new(
            io::ErrorKind::TimedOut,
            "timed out reading the request body",
        ),
    }
}

/// Reads more into the buffer, waiting at most the read timeout.
fn fill_buf(src: &mut Source<'_>) -> io::Result<()> {
    let deadline = Instant::now() + src.read_timeout;
    match src
        .buf
        .fill(&mut src.io, super::buf::INITIAL, deadline, None)?
    {
        Fill::Data(_) => Ok(()),
        other => Err(no_bytes(other)),
    }
}

/// Up to `left` body bytes into `out`: buffered ones first, else one read.
fn read_some(src: &mut Source<'_>, out: &mut [u8], left: u64) -> io::Result<usize> {
    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
    let out = &mut out[..want];
    if src.buf.is_empty() && want >= super::buf::INITIAL {
        // Large reads skip the buffer.
        let deadline = Instant::now() + src.read_timeout;
        return match src.io.fill(out, deadline, None)? {
            Fill::Data(n) => Ok(n),
            other => Err(no_bytes(other)),
        };
    }
    if src.buf.is_empty() {
        fill_buf(src)?;
    }
    Ok(src.buf.copy_to(out))
}

/// The next CRLF-terminated line (without the CRLF), at most `max` bytes.
fn take_line(src: &mut Source<'_>, max: usize) -> io::Result<Vec<u8>> {
    loop {
        let filled = src.buf.filled();
        if let Some(i) = filled.windows(2).position(|w| w == b"\r\n") {
            if i > max {
                return Err(invalid("line too long in chunked body"));
            }
            let line = filled[..i].to_vec();
            if line.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(invalid("bare CR, LF or NUL in chunked body"));
            }
            src.buf.consume(i + 2);
            return Ok(line);
        }
        if filled.len() > max + 1 || filled.len() >= super::buf::INITIAL {
            return Err(invalid("line too long in chunked body"));
        }
        fill_buf(src)?;
    }
}

/// `1*HEXDIG [ BWS ; ext ]`: at most 15 hex digits (no overflow games).
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("bad chunk size"));
    }
    let rest = &line[end..];
    let rest_ok = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map_or(true, |i| rest[i] == b';');
    if !rest_ok {
        return Err(invalid("bad chunk size"));
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(invalid("bad chunk size")),
        };
        n = (n << 4) | u64::from(v);
    }
    Ok(n)
}

/// A request body: read it with [`std::io::Read`].
///
/// Reads block until bytes arrive, bounded by the server's read timeout.
/// For `Expect: 100-continue` requests the interim `100 Continue` goes out
/// on the first read, so a handler that answers without reading never
/// invites the upload. What the handler leaves unread is discarded (up to
/// a limit) before the connection serves its next request.
///
/// ```no_run
/// use std::io::Read;
/// let server = courteous::Server::builder().bind("127.0.0.1:0")?;
/// server.serve(|req: &mut courteous::Request| {
///     let mut text = String::new();
///     match req.body_mut().read_to_string(&mut text) {
///         Ok(_) => courteous::Response::text(text),
///         Err(_) => courteous::Response::new(http::StatusCode::BAD_REQUEST),
///     }
/// })?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub struct Body<'a> {
    inner: Option<(Source<'a>, &'a mut Decoder)>,
    len: Option<u64>,
}

impl<'a> Body<'a> {
    pub(crate) fn new(src: Source<'a>, dec: &'a mut Decoder) -> Body<'a> {
        let len = dec.remaining();
        Body {
            inner: Some((src, dec)),
            len,
        }
    }

    /// A body with nothing in it.
    pub fn empty() -> Body<'static> {
        Body {
            inner: None,
            len: Some(0),
        }
    }

    /// A dup of the socket and the buffered bytes, for a hijack.
    pub(crate) fn take_connection(&mut self) -> io::Result<(std::net::TcpStream, Vec<u8>)> {
        let (src, _) = self
            .inner
            .as_mut()
            .ok_or_else(|| io::Error::other("the request body was taken out"))?;
        if src.io.tls.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a TLS connection cannot be hijacked",
            ));
        }
        let stream = src.io.stream.try_clone_tcp()?;
        Ok((stream, src.buf.take()))
    }

    /// The declared length (`Content-Length`), or `None` for a chunked body.
    pub fn content_length(&self) -> Option<u64> {
        self.len
    }
}

impl Default for Body<'_> {
    fn default() -> Self {
        Body {
            inner: None,
            len: Some(0),
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Some((src, dec)) => dec.read(src, out),
            None => Ok(0),
        }
    }
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_length", &self.len)
            .field("state", &self.inner.as_ref().map(|(_, d)| **d))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Stream;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// Decodes `wire` as sent in pieces of `step` bytes.
    fn decode(
        wire: &[u8],
        framing: super::super::head::Framing,
        step: usize,
    ) -> io::Result<Vec<u8>> {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        let wire = wire.to_vec();
        let writer = std::thread::spawn(move || {
            for piece in wire.chunks(step.max(1)) {
                client.write_all(piece).unwrap();
                client.flush().unwrap();
            }
        });
        let stream = Stream::Tcp(server);
        let mut buf = ReadBuf::new();
        let mut pending = false;
        let mut dec = Decoder::for_framing(framing);
        let mut src = Source {
            io: Io {
                stream: &stream,
                tls: None,
            },
            buf: &mut buf,
            read_timeout: Duration::from_secs(5),
            max_trailer_bytes: 1024,
            max_body: Some(1000),
            continue_pending: &mut pending,
        };
        let mut out = Vec::new();
        let mut chunk = [0u8; 7];
        let result = loop {
            match dec.read(&mut src, &mut chunk) {
                Ok(0) => break Ok(out),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) => break Err(e),
            }
        };
        writer.join().unwrap();
        result
    }

    use super::super::head::Framing;

    #[test]
    fn chunked_with_extensions_and_trailers_any_split() {
        let wire = b"5;name=val\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\n";
        for step in [1, 2, 3, 7, 100] {
            assert_eq!(
                decode(wire, Framing::Chunked, step).unwrap(),
                b"hello, world"
            );
        }
    }

    #[test]
    fn length_body() {
        assert_eq!(
            decode(b"abcdefghij", Framing::Length(10), 3).unwrap(),
            b"abcdefghij"
        );
    }

    #[test]
    fn bad_chunks_fail() {
        for wire in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
        ] {
            assert!(decode(wire, Framing::Chunked, 100).is_err(), "{wire:?}");
        }
    }

    #[test]
    fn chunked_body_over_the_limit_fails() {
        let wire = b"3e8\r\n"
            .iter()
            .chain(&[b'a'; 1000])
            .chain(b"\r\n1\r\nb\r\n0\r\n\r\n");
        let wire: Vec<u8> = wire.copied().collect();
        let e = decode(&wire, Framing::Chunked, 4096).unwrap_err();
        assert_eq!(e.to_string(), "request body too large");
        let exact = b"3e8\r\n"
            .iter()
            .chain(&[b'a'; 1000])
            .chain(b"\r\n0\r\n\r\n");
        let exact: Vec<u8> = exact.copied().collect();
        assert_eq!(decode(&exact, Framing::Chunked, 4096).unwrap().len(), 1000);
    }

    #[test]
    fn early_eof_fails() {
        let e = decode(b"abc", Framing::Length(10), 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
