//! The FastCGI responder loop on one connection.
//!
//! ```text
//!   await request ──► records ──BEGIN_REQUEST (responder)──► PARAMS … (empty)
//!     ▲    │  │        │ GET_VALUES: answered            │
//!     │    │  │        │ other management: UNKNOWN_TYPE   ▼
//!     │    │  │        │ BEGIN for a 2nd id: CANT_MPX     handler, STDIN as its body
//!     │    │  │        │ other role: UNKNOWN_ROLE         │
//!     │    │  │                                           ▼
//!     │    │  └ idle timeout / drain ─► close     STDOUT (CGI head, body), STDOUT (empty),
//!     │    └ others waiting: park                  END_REQUEST {REQUEST_COMPLETE}
//!     └──────── KEEP_CONN, not draining ◄─────────────────┘ else close
//! ```
//!
//! One request at a time per connection: a `BEGIN_REQUEST` for a second id
//! while one is active is refused with `CANT_MPX_CONN` (and `GET_VALUES`
//! says `FCGI_MPXS_CONNS=0`), so web servers open more connections instead;
//! nginx never multiplexes anyway. Requests are counted in the wait group
//! like HTTP ones (manners' FastCGI path bypassed its count; this does not).
//! `ABORT_REQUEST` before the handler runs ends the request at once; during
//! the handler it fails the handler's body reads, and the request ends
//! when the handler returns.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::time::Instant;

use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{Method, StatusCode};

use super::params::{Capabilities, CgiRequest, ParamsStream, DEFAULT_MAX_PARAMS_BYTES};
use super::record::{
    self, BeginRequest, EndRequest, ProtocolStatus, RecordReader, RecordType, Role,
};
use crate::conn::Conn;
use crate::conn::InFlight;
use crate::http1::body::Body;
use crate::http1::buf::{ReadBuf, INITIAL};
use crate::state::ServerState;

use crate::conn::Next;
use crate::conn_info::ConnState;
use crate::io::Io;
use crate::net::Got;
use crate::net::Waker;
use crate::request::Request;
use crate::response::{Payload, Response};
use crate::step::StepContext;

/// Reads records through the worker's buffer, waiting until a deadline;
/// a drain's wake surfaces as `WouldBlock` (the record reader resumes).
struct Input<'a, 'b> {
    io: Io<'b>,
    buf: &'a mut ReadBuf,
    deadline: Instant,
    waker: Option<&'a Waker>,
}

impl Read for Input<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            match self
                .buf
                .fill(&mut self.io, INITIAL, self.deadline, self.waker, false)?
            {
                Got::Data(_) => {}
                Got::Eof => return Ok(0),
                Got::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "FastCGI read timed out",
                    ))
                }
                // A fill never gets `WouldBlock`; were it to, the same as
                // a wake: no bytes yet.
                Got::Woken | Got::WouldBlock => {
                    return Err(io::Error::new(io::ErrorKind::WouldBlock, "woken"))
                }
            }
        }
        Ok(self.buf.copy_to(out))
    }
}

/// Answers a record that is not part of the active request's streams:
/// management queries, and a second request's BEGIN; ignores the rest.
fn answer_aside(
    io: &mut Io<'_>,
    header: record::Header,
    content: &[u8],
    caps: &Capabilities,
    active: Option<u16>,
) -> io::Result<()> {
    let (kind, id) = (header.kind, header.request_id);
    if header.is_management() {
        return if kind == RecordType::GET_VALUES {
            let answer = caps.answer(content).map_err(io::Error::from)?;
            record::write_get_values_result(io, &answer)
        } else {
            record::write_unknown_type(io, kind)
        };
    }
    if kind == RecordType::BEGIN_REQUEST && Some(id) != active {
        return record::write_end_request(
            io,
            id,
            EndRequest::refuse(ProtocolStatus::CANT_MPX_CONN),
        );
    }
    // Records of finished or unknown requests, unknown application types.
    Ok(())
}

fn capabilities(shared: &ServerState) -> Capabilities {
    Capabilities {
        max_conns: shared.config.workers,
        max_reqs: shared.config.workers,
    }
}

/// The head of a request: its id, KEEP_CONN, and the mapped CGI request.
struct Begun {
    id: u16,
    keep_conn: bool,
    request: Result<CgiRequest, StatusCode>,
}

/// Reads records up to the end of a responder request's PARAMS.
fn read_begin(
    w: &mut StepContext,
    conn: &mut Conn,
    reader: &mut RecordReader,
) -> Result<Begun, Next> {
    let shared = w.shared.clone();
    let cfg = &shared.config;
    let caps = capabilities(&shared);
    let start = if conn.state() == ConnState::New {
        conn.last_active()
    } else {
        Instant::now()
    };
    let mut active: Option<(u16, bool)> = None;
    let mut params = ParamsStream::new(DEFAULT_MAX_PARAMS_BYTES);
    loop {
        let mut deadline = start + cfg.timeouts.header_read;
        if shared.is_closing() {
            if let Some(began) = shared.drain_started() {
                deadline = deadline.min(began + cfg.drain.head_timeout);
            }
        }
        let mut input = Input {
            io: conn.io(),
            buf: &mut w.buf,
            deadline,
            waker: Some(&w.waker),
        };
        let rec = match reader.read(&mut input) {
            Ok(Some(rec)) => rec,
            Ok(None) => return Err(Next::Drop),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            // A head not finished in time (or by the drain's bound): there
            // is no request to answer yet, so close cleanly.
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(Next::Close),
            Err(_) => return Err(Next::Drop),
        };
        let (kind, id) = (rec.header.kind, rec.header.request_id);
        let content = rec.content;
        let mut io = input.io;
        match (kind, active) {
            (RecordType::BEGIN_REQUEST, None) if !rec.header.is_management() => {
                let begin = match BeginRequest::decode(content) {
                    Ok(b) => b,
                    Err(_) => return Err(Next::Drop),
                };
                if begin.role != Role::RESPONDER {
                    let refused = EndRequest::refuse(ProtocolStatus::UNKNOWN_ROLE);
                    if record::write_end_request(&mut io, id, refused).is_err() {
                        return Err(Next::Drop);
                    }
                    continue;
                }
                active = Some((id, begin.keep_conn()));
                conn.head_started();
            }
            (RecordType::PARAMS, Some((aid, keep_conn))) if id == aid => {
                if !content.is_empty() {
                    if params.push(content).is_err() {
                        return Ok(Begun {
                            id,
                            keep_conn,
                            request: Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
                        });
                    }
                    continue;
                }
                let request = params
                    .finish()
                    .and_then(|p| CgiRequest::from_params(&p))
                    .map_err(|_| StatusCode::BAD_REQUEST);
                return Ok(Begun {
                    id,
                    keep_conn,
                    request,
                });
            }
            (RecordType::ABORT_REQUEST, Some((aid, keep_conn))) if id == aid => {
                if record::write_end_request(&mut io, id, EndRequest::complete(0)).is_err() {
                    return Err(Next::Drop);
                }
                if !keep_conn {
                    return Err(Next::Close);
                }
                active = None;
                params = ParamsStream::new(DEFAULT_MAX_PARAMS_BYTES);
            }
            _ => {
                if answer_aside(&mut io, rec.header, content, &caps, active.map(|a| a.0)).is_err() {
                    return Err(Next::Drop);
                }
            }
        }
    }
}

/// The request body: the `STDIN` stream of the active request, read one
/// record at a time; other records met on the way are answered.
struct Stdin<'a, 'b> {
    input: Input<'a, 'b>,
    reader: &'a mut RecordReader,
    id: u16,
    caps: Capabilities,
    read_timeout: std::time::Duration,
    /// Bytes of the current record not handed out yet.
    pending: Vec<u8>,
    at: usize,
    done: bool,
    aborted: bool,
}

impl Read for Stdin<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.pending.len() {
                let n = out.len().min(self.pending.len() - self.at);
                out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.aborted {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the web server aborted the request",
                ));
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            self.input.deadline = Instant::now() + self.read_timeout;
            let rec = match self.reader.read(&mut self.input)? {
                Some(rec) => rec,
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the web server closed mid-body",
                    ))
                }
            };
            let header = rec.header;
            let (kind, id) = (header.kind, header.request_id);
            if id == self.id && kind == RecordType::STDIN {
                if rec.content.is_empty() {
                    self.done = true;
                } else {
                    self.pending.clear();
                    self.pending.extend_from_slice(rec.content);
                    self.at = 0;
                }
            } else if id == self.id && kind == RecordType::ABORT_REQUEST {
                self.aborted = true;
            } else {
                let content = rec.content.to_vec();
                answer_aside(
                    &mut self.input.io,
                    header,
                    &content,
                    &self.caps,
                    Some(self.id),
                )?;
            }
        }
    }
}

impl Stdin<'_, '_> {
    /// Reads and drops the rest of the body, up to `limit` bytes; true when
    /// the stream ended within it (the connection can be kept).
    fn discard(&mut self, limit: u64) -> bool {
        let mut scratch = [0u8; 4096];
        let mut seen = 0u64;
        while seen <= limit {
            match self.read(&mut scratch) {
                Ok(0) => return self.done,
                Ok(n) => seen += n as u64,
                Err(_) => return false,
            }
        }
        false
    }
}

/// One request, from its first record to END_REQUEST.
pub(crate) fn one_request(w: &mut StepContext, conn: &mut Conn) -> Next {
    let mut reader = std::mem::take(&mut w.records);
    let next = exchange(w, conn, &mut reader);
    w.records = reader;
    next
}

fn exchange(w: &mut StepContext, conn: &mut Conn, reader: &mut RecordReader) -> Next {
    let begun = match read_begin(w, conn, reader) {
        Ok(b) => b,
        Err(next) => return next,
    };
    let shared = w.shared.clone();
    let cfg = &shared.config;
    let flight = InFlight::start(&shared, conn);
    let id = begun.id;
    let cgi = match begun.request {
        Ok(cgi) => cgi,
        Err(status) => {
            let resp = Response::plain(status, "bad FastCGI request\n");
            let written = write_response(&mut conn.io(), &mut w.wbuf, id, resp, false);
            drop(flight);
            return match written {
                Ok(()) => Next::Close,
                Err(_) => Next::Drop,
            };
        }
    };
    let head_request = cgi.method == Method::HEAD;
    let hijacked = Cell::new(false);
    let (io, info) = conn.io_and_info();
    let mut stdin = Stdin {
        input: Input {
            io,
            buf: &mut w.buf,
            deadline: Instant::now(),
            waker: None,
        },
        reader,
        id,
        caps: capabilities(&shared),
        read_timeout: cfg.timeouts.read,
        pending: Vec::new(),
        at: 0,
        done: false,
        aborted: false,
    };
    let (resp, panicked) = {
        let mut inner = http::Request::new(Body::from_stream(&mut stdin, cgi.content_length));
        *inner.method_mut() = cgi.method;
        *inner.uri_mut() = cgi.uri;
        *inner.version_mut() = cgi.version;
        *inner.headers_mut() = cgi.headers;
        let mut req = Request::new(inner, info, &shared, &hijacked)
            .with_origin(cgi.peer, cgi.local, cgi.https);
        crate::handler::respond(&shared, &*w.handler, &mut req)
    };
    // The body the handler left: read to its end (bounded) before the
    // response, so a kept connection starts clean at the next request.
    let body_done = stdin.done || (!stdin.aborted && stdin.discard(cfg.limits.max_discard_bytes));
    let aborted = stdin.aborted;
    let mut io = stdin.input.io;
    let keep = begun.keep_conn && body_done && !panicked && !aborted && !shared.is_draining();
    if panicked {
        // The web server logs STDERR: say why the client got a 500.
        let _ = record::write_stderr(&mut io, id, b"courteous: the handler panicked\n");
    }
    let written = write_response(&mut io, &mut w.wbuf, id, resp, head_request);
    if written.is_err() {
        return Next::Drop;
    }
    flight.finish(conn, keep)
}

/// A streaming body's writes, each one sent at once in STDOUT records.
struct Stdout<'a, 'b> {
    io: &'a mut Io<'b>,
    id: u16,
}

impl Write for Stdout<'_, '_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !data.is_empty() {
            record::write_stdout(self.io, self.id, data)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// STDOUT: the CGI head and the body, the empty STDOUT, END_REQUEST.
fn write_response(
    io: &mut Io<'_>,
    out: &mut Vec<u8>,
    id: u16,
    mut resp: Response,
    head_request: bool,
) -> io::Result<()> {
    if let Some(n) = resp.body_len() {
        resp.headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    out.clear();
    super::params::response_head(resp.status, &resp.headers, out);
    let bodiless = head_request
        || resp.status.is_informational()
        || resp.status == StatusCode::NO_CONTENT
        || resp.status == StatusCode::NOT_MODIFIED;
    match resp.body {
        _ if bodiless => {}
        Payload::Bytes(b) => out.extend_from_slice(&b),
        Payload::Reader { mut reader, len } => {
            record::write_stdout(io, id, out)?;
            out.clear();
            let mut chunk = vec![0u8; 16 * 1024];
            let mut sent = 0u64;
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let n = match len {
                    Some(len) => n.min(usize::try_from(len - sent).unwrap_or(usize::MAX)),
                    None => n,
                };
                record::write_stdout(io, id, &chunk[..n])?;
                sent += n as u64;
                if len.is_some_and(|len| sent >= len) {
                    break;
                }
            }
            if len.is_some_and(|len| sent < len) {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "response body shorter than its length",
                ));
            }
        }
        Payload::Writer(w) => {
            record::write_stdout(io, id, out)?;
            out.clear();
            crate::stream::run(w, &mut Stdout { io: &mut *io, id })?;
        }
    }
    record::finish_request(io, id, out, 0)?;
    io.flush()
}
