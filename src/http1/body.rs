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
use super::head::{is_control_field, is_tchar};
use crate::io::Io;
use crate::net::Got;

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

/// A body the server refuses: the payload of the error a read gets, so
/// that the server can tell these from the other errors (a client gone or
/// slow) and answer for a body the handler left unread itself.
#[derive(Debug)]
enum Refusal {
    /// The chunked framing breaks its grammar (RFC 9112 §7.1): 400.
    Malformed(&'static str),
    /// The body outgrew `max_body_bytes`: 413.
    TooLarge,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Malformed(msg) => msg,
            Refusal::TooLarge => "request body too large",
        })
    }
}

impl std::error::Error for Refusal {}

/// The error a handler's read gets when a chunked body outgrows
/// `max_body_bytes`.
fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Refusal::TooLarge)
}

fn malformed(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Refusal::Malformed(msg))
}

/// True for the error a read gets when the body outgrew `max_body_bytes`
/// (for handlers' helpers that answer `413` themselves).
#[cfg(feature = "json")]
pub(crate) fn is_too_large(e: &io::Error) -> bool {
    matches!(refusal(e), Some(Refusal::TooLarge))
}

fn refusal(e: &io::Error) -> Option<&Refusal> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// How discarding what the handler left of a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// Read to its end: the connection can carry the next request.
    Read,
    /// Not read to its end (too much left, a `100 Continue` never sent,
    /// the client gone or slow, an earlier error): close.
    Abandoned,
    /// Its framing broke the grammar: answer `400` instead of the
    /// handler's response, and close.
    Malformed,
    /// It outgrew `max_body_bytes`: answer `413` instead, and close.
    TooLarge,
}

impl<'a> Source<'a> {
    /// A body source with the server's limits.
    pub(crate) fn new(
        io: Io<'a>,
        buf: &'a mut ReadBuf,
        cfg: &crate::config::Config,
        continue_pending: &'a mut bool,
    ) -> Source<'a> {
        Source {
            io,
            buf,
            read_timeout: cfg.timeouts.read,
            max_trailer_bytes: cfg.limits.max_header_bytes,
            max_body: cfg.limits.max_body_bytes,
            continue_pending,
        }
    }
}

/// Limits for [`read_all`].
#[cfg(any(test, fuzzing))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestLimits {
    pub(crate) read_timeout: Duration,
    pub(crate) max_trailer_bytes: usize,
    pub(crate) max_body: Option<u64>,
}

#[cfg(any(test, fuzzing))]
impl TestLimits {
    /// A body source over `stream` with these limits, for a test or a fuzz
    /// target (no TLS).
    pub(crate) fn source<'a>(
        self,
        stream: &'a crate::net::Stream,
        buf: &'a mut ReadBuf,
        continue_pending: &'a mut bool,
    ) -> Source<'a> {
        Source {
            io: Io {
                stream,
                tls: None,
                drained: None,
            },
            buf,
            read_timeout: self.read_timeout,
            max_trailer_bytes: self.max_trailer_bytes,
            max_body: self.max_body,
            continue_pending,
        }
    }
}

/// Reads a whole body from `stream` with `dec`, `out_len` bytes at a time
/// (the test and fuzz harnesses' loop): the bytes, and how it ended. `buf`
/// keeps what was read past the body.
#[cfg(any(test, fuzzing))]
pub(crate) fn read_all(
    dec: &mut Decoder,
    stream: &crate::net::Stream,
    buf: &mut ReadBuf,
    out_len: usize,
    limits: TestLimits,
) -> (Vec<u8>, io::Result<()>) {
    let mut pending = false;
    let mut src = limits.source(stream, buf, &mut pending);
    let mut body = Vec::new();
    let mut out = vec![0u8; out_len.max(1)];
    let end = loop {
        match dec.read(&mut src, &mut out) {
            Ok(0) => break Ok(()),
            Ok(n) => body.extend_from_slice(&out[..n]),
            Err(e) => break Err(e),
        }
    };
    (body, end)
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
                    let line = take_line(src, MAX_LINE, "line too long in chunked body")?;
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
                    take_line(src, 0, "chunk data longer than its size")?;
                    *self = Decoder::Chunked(Chunk::Size, total);
                }
                Decoder::Chunked(Chunk::Trailers(seen), total) => {
                    let line = take_line(src, MAX_LINE, "line too long in chunked body")?;
                    if line.is_empty() {
                        *self = Decoder::Done;
                        return Ok(0);
                    }
                    let seen = seen + line.len() + 2;
                    if seen > src.max_trailer_bytes {
                        return Err(malformed("trailer section too large"));
                    }
                    check_trailer(&line)?;
                    *self = Decoder::Chunked(Chunk::Trailers(seen), total);
                }
            }
        }
    }

    /// Reads and discards the rest of the body, up to `limit` bytes, and
    /// says how that ended.
    pub(crate) fn discard(&mut self, src: &mut Source<'_>, limit: u64) -> Leftover {
        if *src.continue_pending {
            // The client waits for a 100 that never came: it may or may not
            // send the body, so the connection cannot be reused.
            return Leftover::Abandoned;
        }
        if let Some(n) = self.remaining() {
            if n > limit {
                return Leftover::Abandoned;
            }
        }
        let mut scratch = [0u8; 4096];
        let mut total = 0u64;
        while total <= limit {
            match self.read(src, &mut scratch) {
                Ok(0) if self.is_done() => return Leftover::Read,
                Ok(0) => return Leftover::Abandoned,
                Ok(n) => total += n as u64,
                Err(e) => {
                    return match refusal(&e) {
                        Some(Refusal::Malformed(_)) => Leftover::Malformed,
                        Some(Refusal::TooLarge) => Leftover::TooLarge,
                        None => Leftover::Abandoned,
                    }
                }
            }
        }
        Leftover::Abandoned
    }
}

/// What a body read gets when the wait for bytes ends without any.
fn no_bytes(got: Got) -> io::Error {
    match got {
        Got::Eof => io::Error::new(io::ErrorKind::UnexpectedEof, "client closed mid-body"),
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
        .fill(&mut src.io, super::buf::INITIAL, deadline, None, false)?
    {
        Got::Data(_) => Ok(()),
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
        return match src.io.fill(out, deadline, None, false)? {
            Got::Data(n) => Ok(n),
            other => Err(no_bytes(other)),
        };
    }
    if src.buf.is_empty() {
        fill_buf(src)?;
    }
    Ok(src.buf.copy_to(out))
}

/// The next CRLF-terminated line (without the CRLF), at most `max` bytes.
/// A CR or LF anywhere but in a CRLF is refused as soon as it is seen, so
/// that a body ended by a bare LF gets an answer rather than a wait for a
/// CRLF the client will never send.
fn take_line(src: &mut Source<'_>, max: usize, too_long: &'static str) -> io::Result<Vec<u8>> {
    loop {
        let filled = src.buf.filled();
        let end = filled.iter().position(|&b| b == b'\r' || b == b'\n');
        let seen = end.unwrap_or(filled.len());
        if seen > max {
            return Err(malformed(too_long));
        }
        if let Some(i) = end {
            if filled[i] == b'\n' {
                return Err(malformed("bare LF in chunked body"));
            }
            match filled.get(i + 1) {
                Some(b'\n') => {
                    let line = filled[..i].to_vec();
                    src.buf.consume(i + 2);
                    return Ok(line);
                }
                Some(_) => return Err(malformed("bare CR in chunked body")),
                None => {} // the LF may be on its way
            }
        }
        fill_buf(src)?;
    }
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1, §7.1.1): at most 15 hex
/// digits (no overflow games), then
/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`, the
/// name a token and the value a token or a quoted-string. Whitespace is
/// allowed only around `;` and `=`, so `5 ` and `5;` are refused.
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 15 || !valid_extensions(&line[end..]) {
        return Err(malformed("bad chunk size line"));
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        n = (n << 4) | u64::from(v);
    }
    Ok(n)
}

fn skip_bws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

fn skip_token(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_tchar(b[i]) {
        i += 1;
    }
    i
}

/// The end of the quoted-string at `b[i]` (a DQUOTE), or `None`.
fn skip_quoted(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                let c = *b.get(i + 1)?;
                if !(c == b'\t' || c == b' ' || (0x21..=0x7e).contains(&c) || c >= 0x80) {
                    return None;
                }
                i += 2;
            }
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            c if c == b'\t' || c == b' ' || (0x21..=0x7e).contains(&c) || c >= 0x80 => i += 1,
            _ => return None,
        }
    }
}

fn valid_extensions(ext: &[u8]) -> bool {
    let mut i = 0;
    while i < ext.len() {
        i = skip_bws(ext, i);
        if ext.get(i) != Some(&b';') {
            return false;
        }
        i = skip_bws(ext, i + 1);
        let name_end = skip_token(ext, i);
        if name_end == i {
            return false;
        }
        i = name_end;
        let after = skip_bws(ext, i);
        if ext.get(after) == Some(&b'=') {
            let v = skip_bws(ext, after + 1);
            let value_end = if ext.get(v) == Some(&b'"') {
                match skip_quoted(ext, v) {
                    Some(e) => e,
                    None => return false,
                }
            } else {
                skip_token(ext, v)
            };
            if value_end == v {
                return false;
            }
            i = value_end;
        }
    }
    true
}

/// A trailer field line (RFC 9112 §7.1.2, §5): `field-name ":" OWS
/// field-value OWS`, the name a token and the value visible bytes, spaces
/// and tabs. Trailer fields are read and dropped, never shown to the
/// handler (RFC 9112 §7.1.2 allows it); one that frames, routes or
/// manages the connection (`Content-Length`, `Host`, ...) must not be a
/// trailer at all (RFC 9110 §6.5.1), and is refused.
fn check_trailer(line: &[u8]) -> io::Result<()> {
    let colon = line.iter().position(|&b| b == b':');
    let Some(colon) = colon.filter(|&c| c > 0) else {
        return Err(malformed("bad trailer field"));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if !name.iter().all(|&b| is_tchar(b))
        || !value
            .iter()
            .all(|&b| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80)
    {
        return Err(malformed("bad trailer field"));
    }
    if is_control_field(name, true) {
        return Err(malformed(
            "a framing or routing field in the trailer section",
        ));
    }
    Ok(())
}

/// A request body: read it with [`std::io::Read`].
///
/// Reads block until bytes arrive, bounded by the server's read timeout.
/// For `Expect: 100-continue` requests the interim `100 Continue` goes out
/// on the first read, so a handler that answers without reading never
/// invites the upload. What the handler leaves unread is discarded (up to
/// a limit) before the connection serves its next request.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Response, Server};
///
/// let server = TestServer::start(Server::builder(), |req: &mut Request| {
///     let mut text = String::new();
///     match req.body_mut().read_to_string(&mut text) {
///         Ok(_) => Response::text(text.to_uppercase()),
///         Err(_) => Response::new(http::StatusCode::BAD_REQUEST),
///     }
/// });
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// client.send(b"POST / HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\nhello").unwrap();
/// assert_eq!(client.read_response(Duration::from_secs(5)).unwrap().text(), "HELLO");
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub struct Body<'a> {
    inner: Inner<'a>,
    len: Option<u64>,
}

/// Where a body's bytes come from.
enum Inner<'a> {
    Empty,
    /// An HTTP/1.1 connection and its framing.
    Http1(Source<'a>, &'a mut Decoder),
    /// Another protocol's body stream (FastCGI `STDIN`).
    Stream(&'a mut (dyn Read + Send + 'a)),
}

impl<'a> Body<'a> {
    pub(crate) fn new(src: Source<'a>, dec: &'a mut Decoder) -> Body<'a> {
        let len = dec.remaining();
        Body {
            inner: Inner::Http1(src, dec),
            len,
        }
    }

    /// A body read from another protocol's stream.
    pub(crate) fn from_stream(r: &'a mut (dyn Read + Send + 'a), len: Option<u64>) -> Body<'a> {
        Body {
            inner: Inner::Stream(r),
            len,
        }
    }

    /// A body with nothing in it (also what `Body::default()` gives, so
    /// `std::mem::take(req.body_mut())` takes a request's body out).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let mut body = courteous::Body::empty();
    /// assert_eq!(body.content_length(), Some(0));
    /// let mut bytes = Vec::new();
    /// assert_eq!(body.read_to_end(&mut bytes)?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn empty() -> Body<'static> {
        Body {
            inner: Inner::Empty,
            len: Some(0),
        }
    }

    /// A dup of the socket and the buffered bytes, for a hijack.
    pub(crate) fn take_connection(&mut self) -> io::Result<(std::net::TcpStream, Vec<u8>)> {
        let Inner::Http1(src, _) = &mut self.inner else {
            return Err(io::Error::other(
                "only an HTTP/1.1 connection whose body is still in its request can be hijacked",
            ));
        };
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     format!("{:?}", req.body().content_length())
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"POST / HTTP/1.1\r\nHost: example\r\nContent-Length: 3\r\n\r\nabc").unwrap();
    /// assert_eq!(client.read_response(Duration::from_secs(5)).unwrap().text(), "Some(3)");
    /// client.send(b"POST / HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").unwrap();
    /// assert_eq!(client.read_response(Duration::from_secs(5)).unwrap().text(), "None");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn content_length(&self) -> Option<u64> {
        self.len
    }
}

impl Default for Body<'_> {
    fn default() -> Self {
        Body {
            inner: Inner::Empty,
            len: Some(0),
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Http1(src, dec) => dec.read(src, out),
            Inner::Stream(r) => r.read(out),
            Inner::Empty => Ok(0),
        }
    }
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_length", &self.len)
            .field(
                "state",
                &match &self.inner {
                    Inner::Http1(_, d) => Some(**d),
                    _ => None,
                },
            )
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
        let limits = TestLimits {
            read_timeout: Duration::from_secs(5),
            max_trailer_bytes: 1024,
            max_body: Some(1000),
        };
        let mut dec = Decoder::for_framing(framing);
        let (body, end) = read_all(&mut dec, &stream, &mut ReadBuf::new(), 7, limits);
        writer.join().unwrap();
        end.map(|()| body)
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

    /// `wire`, sent by a peer that stays connected (no FIN): the peer's end
    /// (drop it to hang up) and ours.
    fn held(wire: &[u8]) -> (std::os::unix::net::UnixStream, Stream) {
        let (mut client, server) = std::os::unix::net::UnixStream::pair().unwrap();
        client.write_all(wire).unwrap();
        (client, Stream::Unix(server))
    }

    /// The limits for a held peer: a read timeout longer than any test's
    /// patience, so an error must come from the bytes themselves, not from
    /// the end of the stream or a timeout.
    fn held_limits(max_body: Option<u64>) -> TestLimits {
        TestLimits {
            read_timeout: Duration::from_secs(10),
            max_trailer_bytes: 1024,
            max_body,
        }
    }

    /// Decodes chunked `wire` from a peer that stays connected.
    fn decode_held(wire: &[u8], max_body: Option<u64>) -> (Vec<u8>, io::Result<()>) {
        let (client, stream) = held(wire);
        let mut dec = Decoder::for_framing(Framing::Chunked);
        let got = read_all(
            &mut dec,
            &stream,
            &mut ReadBuf::new(),
            7,
            held_limits(max_body),
        );
        drop(client);
        got
    }

    /// What discarding `wire` (the handler read none of it) ends with, the
    /// peer still connected.
    fn discard_held(wire: &[u8], framing: Framing, max_body: Option<u64>) -> Leftover {
        let (client, stream) = held(wire);
        let (mut buf, mut pending) = (ReadBuf::new(), false);
        let mut src = held_limits(max_body).source(&stream, &mut buf, &mut pending);
        let got = Decoder::for_framing(framing).discard(&mut src, 1 << 20);
        drop(client);
        got
    }

    /// The refusal an error carries: the message of a malformed body, or
    /// `"too large"`.
    fn refused(e: &io::Error) -> Option<&'static str> {
        match refusal(e)? {
            Refusal::Malformed(m) => Some(m),
            Refusal::TooLarge => Some("too large"),
        }
    }

    /// RFC 9112 §7.1, §7.1.1: `chunk-size [ chunk-ext ] CRLF`, with
    /// `chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token /
    /// quoted-string ) ] )`. Whitespace only around `;` and `=`.
    #[test]
    fn chunk_size_lines_follow_the_grammar() {
        for line in [
            &b"5;"[..],
            b"5;bad[=x",
            b"5 ",
            b"5\t",
            b"5 \t",
            b"5; ",
            b"5;a=",
            b"5;a= ",
            b"5;a=\"x",
            b"5;a=\"x\\",
            b"5;=x",
            b"5;a b",
            b"5;a=b ",
            b"5;a=b;",
            b"5;a=b c",
            b"5 x",
            b"5;a=\"\x01\"",
            b"5;a=x\"y\"",
            b"5;;a",
            b"5,a",
            b" 5",
            b";a",
            b"",
            b"0x5",
            b"+5",
        ] {
            let mut wire = line.to_vec();
            wire.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
            let (body, end) = decode_held(&wire, None);
            let e = end.expect_err(&String::from_utf8_lossy(line));
            assert_eq!(refused(&e), Some("bad chunk size line"), "{line:?}: {e}");
            assert!(body.is_empty(), "{line:?}");
            // The last chunk follows the same grammar.
            let mut last = line.to_vec();
            if last.first() == Some(&b'5') {
                last[0] = b'0';
                last.extend_from_slice(b"\r\n\r\n");
                let (_, end) = decode_held(&last, None);
                assert!(end.is_err(), "last chunk {line:?}");
            }
        }
        for line in [
            &b"5;a"[..],
            b"5 ;a",
            b"5\t; a",
            b"5 ; a = b",
            b"5;a=b;c",
            b"5;a=\"\"",
            b"5;a=\"q \\\" ;x=\"",
            b"5;a=\"\x80\xff\"",
            b"5;!#$%&'*+-.^_`|~=x",
            b"0005",
            b"5",
        ] {
            let mut wire = line.to_vec();
            wire.extend_from_slice(b"\r\nhello\r\n0;x=y\r\n\r\n");
            let (body, end) = decode_held(&wire, None);
            assert!(end.is_ok(), "{line:?}: {end:?}");
            assert_eq!(body, b"hello", "{line:?}");
        }
    }

    /// A line ended by a bare LF, or a CR without its LF, is refused as
    /// soon as it is seen: in particular a trailer section ended by a bare
    /// LF (`0\r\n\n`) is answered, not waited on.
    #[test]
    fn bare_lf_and_bare_cr_fail_at_once() {
        for (wire, why) in [
            (&b"0\r\n\n"[..], "bare LF in chunked body"),
            (b"0\r\nX-A: a\n", "bare LF in chunked body"),
            (b"0\r\nX-A: a\n\r\n", "bare LF in chunked body"),
            (b"5\nhello\r\n0\r\n\r\n", "bare LF in chunked body"),
            (b"5\r\nhello\n0\r\n\r\n", "bare LF in chunked body"),
            (b"0\n\r\n", "bare LF in chunked body"),
            (b"5\rhello", "bare CR in chunked body"),
            (b"5\r\nhello\rX", "bare CR in chunked body"),
            (b"0\r\n\rX", "bare CR in chunked body"),
            (b"5\r\nhelloXX", "chunk data longer than its size"),
        ] {
            let (_, end) = decode_held(wire, None);
            let e = end.expect_err(&String::from_utf8_lossy(wire));
            assert_eq!(refused(&e), Some(why), "{wire:?}: {e}");
        }
    }

    /// Trailer fields (RFC 9112 §7.1.2) are field lines, and none of them
    /// frames, routes or manages the connection (RFC 9110 §6.5.1); the
    /// others are read and dropped.
    #[test]
    fn trailer_fields() {
        for line in [
            &b"Content-Length: 5"[..],
            b"content-length: 5",
            b"Transfer-Encoding: chunked",
            b"Host: a",
            b"Connection: close",
            b"Trailer: x",
            b"TE: trailers",
            b"Expect: 100-continue",
            b"Content_Length: 5",
            b"X-A",
            b": a",
            b" X-A: a",
            b"\tX-A: a",
            b"X-A : a",
            b"X A: a",
            b"X-A: a\x00",
            b"X-A: a\x7f",
            b"X[A]: a",
        ] {
            let mut wire = b"5\r\nhello\r\n0\r\n".to_vec();
            wire.extend_from_slice(line);
            wire.extend_from_slice(b"\r\n\r\n");
            let (body, end) = decode_held(&wire, None);
            let e = end.expect_err(&String::from_utf8_lossy(line));
            assert!(refused(&e).is_some(), "{line:?}: {e}");
            assert_eq!(body, b"hello");
        }
        for line in [
            &b"X-Checksum: abc"[..],
            b"Server-Timing: a;dur=1",
            b"X-A:",
            b"X-A:\ta b\t",
            b"X-A: \x80\xff",
            b"Content-Length-X: 5",
        ] {
            let mut wire = b"5\r\nhello\r\n0\r\n".to_vec();
            wire.extend_from_slice(line);
            wire.extend_from_slice(b"\r\n\r\n");
            let (body, end) = decode_held(&wire, None);
            assert!(end.is_ok(), "{line:?}: {end:?}");
            assert_eq!(body, b"hello");
        }
    }

    /// Discarding a body the handler left unread says why it stopped: the
    /// server answers for a malformed or oversized one itself.
    #[test]
    fn discard_says_how_it_ended() {
        let chunked = Framing::Chunked;
        assert_eq!(
            discard_held(b"5\r\nhello\r\n0\r\n\r\n", chunked, None),
            Leftover::Read
        );
        for wire in [
            &b"5;\r\nhello\r\n0\r\n\r\n"[..],
            b"5;bad[=x\r\nhello\r\n0\r\n\r\n",
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"5\r\nhello\r\n0\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(
                discard_held(wire, chunked, None),
                Leftover::Malformed,
                "{wire:?}"
            );
        }
        assert_eq!(
            discard_held(b"5\r\nhello\r\n0\r\n\r\n", chunked, Some(4)),
            Leftover::TooLarge
        );
        // A client gone mid-body: nothing to answer for, just close.
        let (client, stream) = held(b"5\r\nhel");
        drop(client);
        let (mut buf, mut pending) = (ReadBuf::new(), false);
        let mut src = held_limits(None).source(&stream, &mut buf, &mut pending);
        let mut dec = Decoder::for_framing(chunked);
        assert_eq!(dec.discard(&mut src, 1 << 20), Leftover::Abandoned);
        // A read after an error is no refusal of its own.
        assert_eq!(dec.discard(&mut src, 1 << 20), Leftover::Abandoned);
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

    // ----- properties --------------------------------------------------------

    mod props {
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::sample::{select, Index};
        use std::net::Shutdown;
        use std::os::unix::net::UnixStream;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::thread;

        /// The bound on every wait.
        const T: Duration = Duration::from_secs(10);

        /// Few cases (the suite runs on 2 cores), no regression files in src/.
        fn cases(n: u32) -> ProptestConfig {
            ProptestConfig {
                cases: n,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// What one decode gave: the body bytes, how it ended, and (when it
        /// ended well) the bytes it left for the next request.
        #[derive(Debug, PartialEq, Eq)]
        struct Decoded {
            body: Vec<u8>,
            end: Result<(), io::ErrorKind>,
            left: Vec<u8>,
        }

        /// Decodes `wire` delivered in pieces ending at `cuts`. A piece is
        /// written only once the decoder has taken everything before it off
        /// the socket, so each read the decoder makes sees at most one
        /// piece: the split is the one asked for, not whatever the kernel
        /// coalesced. The handler reads `out_len` bytes at a time; the peer
        /// shuts its side after the last piece.
        fn decode_paced(
            wire: &[u8],
            cuts: &[Index],
            framing: Framing,
            out_len: usize,
            max_body: Option<u64>,
        ) -> Decoded {
            let (mut client, server) = UnixStream::pair().unwrap();
            let probe = server.try_clone().unwrap();
            let done = Arc::new(AtomicBool::new(false));
            let mut ends: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            ends.push(wire.len());
            ends.sort_unstable();
            ends.dedup();
            let wire = wire.to_vec();
            let writer = {
                let done = done.clone();
                thread::spawn(move || {
                    let deadline = Instant::now() + T;
                    let mut start = 0;
                    for end in ends {
                        client.write_all(&wire[start..end]).unwrap();
                        start = end;
                        // Wait (polling, bounded) until the decoder took it or stopped.
                        while !done.load(Ordering::SeqCst)
                            && rustix::io::ioctl_fionread(&probe).unwrap() > 0
                        {
                            assert!(Instant::now() < deadline, "the decoder stalled");
                            thread::yield_now();
                        }
                    }
                    client.shutdown(Shutdown::Write).unwrap();
                })
            };
            let stream = Stream::Unix(server);
            let mut buf = ReadBuf::new();
            let mut dec = Decoder::for_framing(framing);
            let limits = TestLimits {
                read_timeout: T,
                max_trailer_bytes: 4096,
                max_body,
            };
            let (body, end) = read_all(&mut dec, &stream, &mut buf, out_len, limits);
            let end = end.map_err(|e| e.kind());
            done.store(true, Ordering::SeqCst);
            writer.join().expect("the writer");
            let mut left = Vec::new();
            if end.is_ok() {
                assert!(dec.is_done());
                left.extend_from_slice(buf.filled());
                (&stream).read_to_end(&mut left).unwrap();
            }
            Decoded { body, end, left }
        }

        /// A valid chunked encoding and where its parts are.
        #[derive(Debug, Clone)]
        struct Chunked {
            wire: Vec<u8>,
            body: Vec<u8>,
            /// Per data chunk: where its size digits are, and its data.
            digits: Vec<(usize, usize)>,
            data: Vec<(usize, usize)>,
            /// Where the trailer section starts (after the last chunk's line).
            trailers_at: usize,
            /// Where each chunk-size line (the last chunk's too) ends: the CR
            /// of its CRLF.
            size_ends: Vec<usize>,
            /// The CR of every CRLF of the framing (after size lines, data,
            /// trailer lines, and the final empty line).
            crlfs: Vec<usize>,
        }

        /// A trailer field name: any token but the framing and routing
        /// fields, which a trailer section must not hold.
        fn trailer_name() -> impl Strategy<Value = Vec<u8>> {
            token(1, 12).prop_filter("not a control field", |n| !is_control_field(n, true))
        }

        fn token(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
            let tchar = "[A-Za-z0-9!#$%&'*+.^_`|~-]";
            proptest::string::string_regex(&format!("{tchar}{{{min},{max}}}"))
                .unwrap()
                .prop_map(String::into_bytes)
        }

        fn bws() -> impl Strategy<Value = &'static [u8]> {
            select(vec![&b""[..], b"", b" ", b"\t", b"  "])
        }

        /// `quoted-string`: qdtext and quoted-pairs (RFC 9110 §5.6.4).
        fn quoted() -> impl Strategy<Value = Vec<u8>> {
            let qdtext = prop_oneof![
                Just(vec![b'\t']),
                Just(vec![b' ']),
                Just(vec![0x21]),
                (0x23u8..=0x5b).prop_map(|b| vec![b]),
                (0x5du8..=0x7e).prop_map(|b| vec![b]),
                (0x80u8..=0xff).prop_map(|b| vec![b]),
                prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff].prop_map(|b| vec![b'\\', b]),
            ];
            vec(qdtext, 0..12).prop_map(|parts| {
                let mut v = vec![b'"'];
                v.extend(parts.concat());
                v.push(b'"');
                v
            })
        }

        /// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`
        fn extensions() -> impl Strategy<Value = Vec<u8>> {
            let value = prop_oneof![token(1, 8), quoted()];
            let one = (
                bws(),
                bws(),
                token(1, 8),
                prop::option::of((bws(), bws(), value)),
            );
            vec(one, 0..3).prop_map(|exts| {
                let mut v = Vec::new();
                for (b1, b2, name, val) in exts {
                    v.extend_from_slice(b1);
                    v.push(b';');
                    v.extend_from_slice(b2);
                    v.extend(name);
                    if let Some((b3, b4, val)) = val {
                        v.extend_from_slice(b3);
                        v.push(b'=');
                        v.extend_from_slice(b4);
                        v.extend(val);
                    }
                }
                v
            })
        }

        /// Body bytes, with the bytes of the framing itself often among them.
        fn data(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
            vec(
                prop_oneof![3 => any::<u8>(), 1 => select(b"\r\n0;:".to_vec())],
                min..max,
            )
        }

        /// Hex digits for `n`: either case, with up to 3 leading zeros.
        fn hex(n: u64, zeros: usize, upper: bool) -> Vec<u8> {
            let digits = if upper {
                format!("{n:X}")
            } else {
                format!("{n:x}")
            };
            let mut v = vec![b'0'; zeros];
            v.extend_from_slice(digits.as_bytes());
            v
        }

        prop_compose! {
            fn chunked()(
                chunks in vec((data(1, 200), 0usize..3, any::<bool>(), extensions()), 0..8),
                last in (0usize..3, extensions()),
                trailers in vec((trailer_name(), bws(), vec(prop_oneof![0x21u8..=0x7e, 0x80u8..=0xff], 0..20)), 0..4),
            ) -> Chunked {
                let mut c = Chunked {
                    wire: Vec::new(),
                    body: Vec::new(),
                    digits: Vec::new(),
                    data: Vec::new(),
                    trailers_at: 0,
                    size_ends: Vec::new(),
                    crlfs: Vec::new(),
                };
                for (data, zeros, upper, ext) in chunks {
                    let at = c.wire.len();
                    c.wire.extend(hex(data.len() as u64, zeros, upper));
                    c.digits.push((at, c.wire.len()));
                    c.wire.extend(ext);
                    c.size_ends.push(c.wire.len());
                    c.crlfs.push(c.wire.len());
                    c.wire.extend_from_slice(b"\r\n");
                    c.data.push((c.wire.len(), c.wire.len() + data.len()));
                    c.wire.extend_from_slice(&data);
                    c.crlfs.push(c.wire.len());
                    c.wire.extend_from_slice(b"\r\n");
                    c.body.extend(data);
                }
                c.wire.extend(hex(0, last.0, false));
                c.wire.extend(last.1);
                c.size_ends.push(c.wire.len());
                c.crlfs.push(c.wire.len());
                c.wire.extend_from_slice(b"\r\n");
                c.trailers_at = c.wire.len();
                for (name, ows, value) in trailers {
                    c.wire.extend(name);
                    c.wire.push(b':');
                    c.wire.extend_from_slice(ows);
                    c.wire.extend(value);
                    c.crlfs.push(c.wire.len());
                    c.wire.extend_from_slice(b"\r\n");
                }
                c.crlfs.push(c.wire.len());
                c.wire.extend_from_slice(b"\r\n");
                c
            }
        }

        /// What follows a body on a kept-alive connection.
        fn next_request() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(Vec::new()),
                Just(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
                data(1, 64),
            ]
        }

        fn cuts() -> impl Strategy<Value = Vec<Index>> {
            vec(any::<Index>(), 0..24)
        }

        proptest! {
            #![proptest_config(cases(128))]

            /// A valid chunked body (random sizes, extensions, trailers)
            /// decodes to its data however it is split across reads and
            /// however the handler sizes its reads, and the decoder stops
            /// exactly at its end, leaving the next request's bytes.
            #[test]
            fn chunked_decodes_the_same_however_split(
                c in chunked(),
                next in next_request(),
                cuts in cuts(),
                out_len in 1usize..64,
                limit in prop::option::of(0u64..64),
            ) {
                let mut wire = c.wire.clone();
                wire.extend_from_slice(&next);
                let max = limit.map(|extra| c.body.len() as u64 + extra);
                let got = decode_paced(&wire, &cuts, Framing::Chunked, out_len, max);
                prop_assert_eq!(got, Decoded { body: c.body, end: Ok(()), left: next });
            }

            /// A `Content-Length` body decodes to its bytes however split, and
            /// the decoder takes no byte past it.
            #[test]
            fn length_decodes_the_same_however_split(
                body in data(0, 3000),
                next in next_request(),
                cuts in cuts(),
                out_len in 1usize..64,
            ) {
                let mut wire = body.clone();
                wire.extend_from_slice(&next);
                let framing = Framing::Length(body.len() as u64);
                let got = decode_paced(&wire, &cuts, framing, out_len, Some(0));
                prop_assert_eq!(got, Decoded { body, end: Ok(()), left: next });
            }

            /// A `Content-Length` body cut short fails with `UnexpectedEof`
            /// after giving the bytes that came.
            #[test]
            fn a_short_length_body_fails(
                body in data(1, 3000),
                cut in any::<Index>(),
                cuts in cuts(),
                out_len in 1usize..64,
            ) {
                let sent = &body[..cut.index(body.len())];
                let got = decode_paced(sent, &cuts, Framing::Length(body.len() as u64), out_len, None);
                prop_assert_eq!(
                    got,
                    Decoded { body: sent.to_vec(), end: Err(io::ErrorKind::UnexpectedEof), left: vec![] }
                );
            }
        }

        /// Damage that makes a chunked body invalid, whatever else it holds.
        #[derive(Debug, Clone)]
        enum Damage {
            /// The wire ends early.
            Truncate(Index),
            /// A size digit becomes a byte that is not hex, `;`, SP or HTAB.
            BadDigit(Index, Index, u8),
            /// A byte more in a chunk's data.
            Insert(Index, Index, u8),
            /// A byte less in a chunk's data.
            Delete(Index, Index),
            /// The CRLF after a chunk's data is missing.
            NoCrlf(Index),
            /// A chunk size with 16 or more digits.
            LongSize(Index, usize),
            /// A trailer line without a colon.
            BadTrailer(Vec<u8>),
            /// The body is one byte over `max_body_bytes`.
            OverLimit,
            /// Bytes the grammar refuses at the end of a chunk-size line:
            /// whitespace without an extension, an extension without a name
            /// or value, a byte that is not a tchar.
            BadSizeEnd(Index, &'static [u8]),
            /// A CRLF of the framing cut to a bare LF.
            BareLf(Index),
            /// A trailer field that frames or routes.
            ControlTrailer(&'static [u8]),
        }

        fn damage() -> impl Strategy<Value = Damage> {
            let not_size = any::<u8>().prop_filter("not a size byte", |b| {
                !b.is_ascii_hexdigit() && !matches!(b, b';' | b' ' | b'\t')
            });
            prop_oneof![
                any::<Index>().prop_map(Damage::Truncate),
                (any::<Index>(), any::<Index>(), not_size)
                    .prop_map(|(c, i, b)| Damage::BadDigit(c, i, b)),
                (any::<Index>(), any::<Index>(), any::<u8>())
                    .prop_map(|(c, i, b)| Damage::Insert(c, i, b)),
                (any::<Index>(), any::<Index>()).prop_map(|(c, i)| Damage::Delete(c, i)),
                any::<Index>().prop_map(Damage::NoCrlf),
                (any::<Index>(), 16usize..24).prop_map(|(c, n)| Damage::LongSize(c, n)),
                token(1, 20).prop_map(Damage::BadTrailer),
                Just(Damage::OverLimit),
                (
                    any::<Index>(),
                    select(vec![
                        &b" "[..],
                        b"\t",
                        b" \t",
                        b";",
                        b"; ",
                        b";bad[=x",
                        b";a=",
                        b";a= ",
                        b";=x",
                        b";a=\"x",
                        b";a b",
                        b";a=b ",
                        b";a=b;",
                        b";;a",
                        b",a",
                    ]),
                )
                    .prop_map(|(i, b)| Damage::BadSizeEnd(i, b)),
                any::<Index>().prop_map(Damage::BareLf),
                select(vec![
                    &b"Content-Length: 5"[..],
                    b"transfer-encoding: chunked",
                    b"Host: a",
                    b"Content_Length: 5",
                ])
                .prop_map(Damage::ControlTrailer),
            ]
        }

        /// Applies `d` to `c`: the wire, the limit to decode with, and the
        /// error kind it must end with. `None` when `c` has nothing to damage
        /// that way (no data chunk).
        fn damaged(c: &Chunked, d: &Damage) -> Option<(Vec<u8>, Option<u64>, io::ErrorKind)> {
            let mut w = c.wire.clone();
            let invalid = io::ErrorKind::InvalidData;
            let pick = |i: &Index| i.index(c.data.len());
            match d {
                Damage::Truncate(i) => {
                    w.truncate(i.index(w.len()));
                    return Some((w, None, io::ErrorKind::UnexpectedEof));
                }
                Damage::BadTrailer(name) => {
                    let mut line = name.clone();
                    line.extend_from_slice(b"\r\n");
                    w.splice(c.trailers_at..c.trailers_at, line);
                }
                Damage::OverLimit => {
                    let max = (c.body.len() as u64).checked_sub(1)?;
                    return Some((w, Some(max), invalid));
                }
                Damage::BadSizeEnd(i, bytes) => {
                    let at = c.size_ends[i.index(c.size_ends.len())];
                    w.splice(at..at, bytes.iter().copied());
                }
                Damage::BareLf(i) => {
                    w.remove(c.crlfs[i.index(c.crlfs.len())]);
                }
                Damage::ControlTrailer(line) => {
                    let mut line = line.to_vec();
                    line.extend_from_slice(b"\r\n");
                    w.splice(c.trailers_at..c.trailers_at, line);
                }
                _ if c.data.is_empty() => return None,
                Damage::BadDigit(k, i, b) => {
                    let (s, e) = c.digits[pick(k)];
                    w[s + i.index(e - s)] = *b;
                }
                Damage::Insert(k, i, b) => {
                    let (s, e) = c.data[pick(k)];
                    w.insert(s + i.index(e - s + 1), *b);
                }
                Damage::Delete(k, i) => {
                    let (s, e) = c.data[pick(k)];
                    w.remove(s + i.index(e - s));
                }
                Damage::NoCrlf(k) => {
                    let (_, e) = c.data[pick(k)];
                    w.drain(e..e + 2);
                }
                Damage::LongSize(k, n) => {
                    let (s, e) = c.digits[pick(k)];
                    let size = c.data[pick(k)].1 - c.data[pick(k)].0;
                    w.splice(
                        s..e,
                        hex(
                            size as u64,
                            n.saturating_sub(hex(size as u64, 0, false).len()),
                            false,
                        ),
                    );
                }
            }
            // A valid ending after the damage: a decoder that skipped over
            // it could end well, so an error cannot be blamed on the EOF.
            w.extend_from_slice(b"\r\n0\r\n\r\n0\r\n\r\n");
            Some((w, None, invalid))
        }

        /// Random changes anywhere in a chunked body.
        #[derive(Debug, Clone)]
        enum Edit {
            Set(Index, u8),
            Insert(Index, u8),
            Delete(Index),
        }

        fn edit() -> impl Strategy<Value = Edit> {
            let byte = prop_oneof![2 => any::<u8>(), 1 => select(b"\r\n\0;: \t0fF".to_vec())];
            prop_oneof![
                (any::<Index>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
                (any::<Index>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
                any::<Index>().prop_map(Edit::Delete),
            ]
        }

        proptest! {
            #![proptest_config(cases(128))]

            /// A chunked body damaged in a way that breaks its framing fails
            /// (never panics, never hangs) with the error the damage calls
            /// for: `UnexpectedEof` when cut short, `InvalidData` otherwise,
            /// even when valid framing follows the damage.
            #[test]
            fn damaged_chunked_fails(
                c in chunked(),
                d in damage(),
                cuts in cuts(),
                out_len in 1usize..64,
            ) {
                if let Some((wire, max, kind)) = damaged(&c, &d) {
                    let got = decode_paced(&wire, &cuts, Framing::Chunked, out_len, max);
                    prop_assert_eq!(got.end, Err(kind), "{:?}", String::from_utf8_lossy(&wire));
                    if let Damage::Truncate(_) = d {
                        prop_assert!(c.body.starts_with(&got.body));
                    }
                }
            }

            /// Random edits anywhere in a chunked body never panic or hang the
            /// decoder, and what it makes of them does not depend on how the
            /// bytes are split or read.
            #[test]
            fn edited_chunked_decodes_the_same_however_split(
                c in chunked(),
                edits in vec(edit(), 1..5),
                cuts_a in cuts(),
                cuts_b in cuts(),
                out_a in 1usize..64,
                out_b in 1usize..64,
            ) {
                let mut w = c.wire.clone();
                for e in &edits {
                    match e {
                        Edit::Set(i, b) if !w.is_empty() => {
                            let i = i.index(w.len());
                            w[i] = *b;
                        }
                        Edit::Insert(i, b) => {
                            let i = i.index(w.len() + 1);
                            w.insert(i, *b);
                        }
                        Edit::Delete(i) if !w.is_empty() => {
                            let i = i.index(w.len());
                            w.remove(i);
                        }
                        _ => {}
                    }
                }
                let a = decode_paced(&w, &cuts_a, Framing::Chunked, out_a, None);
                let b = decode_paced(&w, &cuts_b, Framing::Chunked, out_b, None);
                prop_assert!(a.end != Err(io::ErrorKind::TimedOut));
                prop_assert!(a.body.len() <= w.len());
                prop_assert_eq!(a, b);
            }
        }
    }
}
