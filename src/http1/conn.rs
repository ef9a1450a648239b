//! The keep-alive loop a worker runs on one connection.
//!
//! ```text
//!        ┌────────────────────────────────────────────────────────┐
//!        ▼                                                        │ keep-alive
//!   await request ──first byte──► read head ──► handler ──► write response
//!     │  │  (parked in the          │    │                        │
//!     │  │   idle set: no           │    └ bad head: 4xx/5xx ─┐   │ close
//!     │  │   worker held)           │      timeout: 408 ──────┤   ▼
//!     │  └ timeout / drain past     └ drain bound ────────────┴─► FIN, linger, close
//!     │    its grace ──────────────────────────────────────────────┘
//!     └ peer hung up ──► close
//! ```
//!
//! In a drain, every response carries `Connection: close` (but for
//! pipelined requests already buffered, answered in order), a connection
//! idle for less than the grace still gets its next request answered, and
//! a half-read head gets the drain head bound to complete.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use http::{Method, StatusCode};

use super::body::{Body, Decoder, Leftover, Source};
use super::head::{self, Head, Limits, Reject};
use super::write::{write_response, Reply};
use crate::conn::Conn;
use crate::conn::InFlight;
use crate::conn::Next;
use crate::conn_info::ConnState;
use crate::net::Got;
use crate::request::Request;
use crate::response::Response;
use crate::step::StepContext;

/// One request on an HTTP/1.1 connection: its head, then the exchange.
pub(crate) fn one_request(w: &mut StepContext, conn: &mut Conn) -> Next {
    match read_head(w, conn) {
        Ok(head) => exchange(w, conn, head),
        Err(next) => next,
    }
}

/// The request head, or what the connection does without one: close
/// cleanly (nothing came, or the drain's bound passed), drop (the peer is
/// gone), or close once a bad or late head is answered.
fn read_head(w: &mut StepContext, conn: &mut Conn) -> Result<Head, Next> {
    let shared = &*w.shared;
    let cfg = &shared.config;
    let limits = Limits {
        max_headers: cfg.limits.max_headers,
        max_header_bytes: cfg.limits.max_header_bytes,
        max_uri_bytes: cfg.limits.max_uri_bytes,
        max_body_bytes: cfg.limits.max_body_bytes,
        allow_connect: cfg.allow_connect,
    };
    // A new connection's first head is timed from the accept (a client that
    // connects and dribbles cannot reset the clock); later ones from their
    // first byte.
    let start = if conn.state() == ConnState::New {
        conn.last_active()
    } else {
        Instant::now()
    };
    // Entered with nothing buffered: the socket was just seen readable.
    let mut readable = w.buf.is_empty();
    loop {
        if !w.buf.is_empty() {
            // A head that arrived whole turns the connection Active when it
            // is counted (one lock); a partial one does here, at its first
            // bytes, as does a bad one.
            match head::parse_into(w.buf.filled(), limits, &mut w.scratch) {
                Ok(Some((h, n))) => {
                    w.buf.consume(n);
                    return Ok(h);
                }
                Ok(None) => conn.head_started(),
                Err(r) => {
                    conn.head_started();
                    return Err(reject(w, conn, r));
                }
            }
        }
        let mut deadline = start + cfg.timeouts.header_read;
        let mut drain_cut = false;
        if shared.is_closing() {
            if let Some(began) = shared.drain_started() {
                let bound = began + cfg.drain.head_timeout;
                if bound < deadline {
                    deadline = bound;
                    drain_cut = true;
                }
            }
        }
        match w.buf.fill(
            &mut conn.io(),
            cfg.limits.max_header_bytes,
            deadline,
            Some(&w.waker),
            std::mem::take(&mut readable),
        ) {
            // Look again (a wake: at the drain's bound). A fill never
            // gets `WouldBlock`; were it to, the same.
            Ok(Got::Data(_) | Got::Woken | Got::WouldBlock) => {}
            Ok(Got::Eof) | Err(_) => return Err(Next::Drop),
            Ok(Got::TimedOut) => {
                return Err(if w.buf.is_empty() || drain_cut {
                    Next::Close
                } else {
                    let late = Reject {
                        status: StatusCode::REQUEST_TIMEOUT,
                        reason: "request head not received in time",
                    };
                    reject(w, conn, late)
                })
            }
        }
    }
}

/// Answers a bad or late head, then closes.
fn reject(w: &mut StepContext, conn: &mut Conn, r: Reject) -> Next {
    log::debug!(
        "courteous: conn {} rejected: {} {}",
        conn.info().id(),
        r.status,
        r.reason
    );
    let resp = reject_response(r);
    let reply = Reply {
        head_request: false,
        version: http::Version::HTTP_11,
        keep_alive: false,
    };
    match write_response(&mut conn.io(), &mut w.wbuf, resp, reply) {
        Ok(_) => Next::Close,
        Err(_) => Next::Drop,
    }
}

/// The server's own answer to a request it refuses: the reason, as text.
fn reject_response(r: Reject) -> Response {
    let mut text = String::with_capacity(r.reason.len() + 1);
    text.push_str(r.reason);
    text.push('\n');
    Response::text(text).with_status(r.status)
}

/// One request: handler, response, leftovers.
fn exchange(w: &mut StepContext, conn: &mut Conn, head: Head) -> Next {
    let shared = w.shared.clone();
    let cfg = &shared.config;
    let flight = InFlight::start(&shared, conn);
    let Head {
        method,
        uri,
        version,
        headers,
        framing,
        keep_alive,
        expect_continue,
    } = head;
    let head_request = method == Method::HEAD;
    let mut decoder = Decoder::for_framing(framing);
    let mut continue_pending = expect_continue && !decoder.is_done();
    let hijacked = Cell::new(false);

    let outcome = {
        let (io, info) = conn.io_and_info();
        let src = Source::new(io, &mut w.buf, cfg, &mut continue_pending);
        let mut inner = http::Request::new(Body::new(src, &mut decoder));
        *inner.method_mut() = method;
        *inner.uri_mut() = uri;
        *inner.version_mut() = version;
        *inner.headers_mut() = headers;
        let mut req = Request::new(inner, info, &shared, &hijacked);
        let outcome = crate::handler::respond(&shared, &*w.handler, &mut req);
        // The header map goes back for the next request, capacity kept.
        w.scratch.headers = std::mem::take(req.headers_mut());
        outcome
    };
    if hijacked.get() {
        // The handler owns the socket now (through its own dup) and its
        // registration: dropping ours neither shuts it down, nor sends
        // anything, nor forgets the connection.
        conn.hand_over();
        return Next::Drop;
    }
    let (mut resp, panicked) = outcome;

    // Can the connection carry another request after this one? A body the
    // handler left unread is discarded now, before the response is written,
    // so that the response's `Connection` header tells the truth: when the
    // rest is too large (or never comes) the response says `close`. A rest
    // the server refuses (its framing malformed, or over the body limit)
    // is answered by the server instead of the handler, which never saw
    // the error: a handler that read the body saw it and answered itself.
    let mut keep = keep_alive
        && !panicked
        && cfg
            .limits
            .max_requests_per_conn
            .map_or(true, |max| conn.requests() < max);
    if keep && !decoder.is_done() {
        let mut src = Source::new(conn.io(), &mut w.buf, cfg, &mut continue_pending);
        let refused;
        (keep, refused) = match decoder.discard(&mut src, cfg.limits.max_discard_bytes) {
            Leftover::Read => (true, None),
            Leftover::Abandoned => (false, None),
            Leftover::Malformed => (
                false,
                Some((StatusCode::BAD_REQUEST, "malformed chunked body")),
            ),
            Leftover::TooLarge => (
                false,
                Some((StatusCode::PAYLOAD_TOO_LARGE, "request body too large")),
            ),
        };
        if let Some((status, reason)) = refused {
            let r = Reject { status, reason };
            log::debug!(
                "courteous: conn {} body refused: {} {}",
                conn.info().id(),
                r.status,
                r.reason
            );
            resp = reject_response(r);
        }
    }
    if keep && shared.is_draining() && !head::complete_head_buffered(w.buf.filled()) {
        keep = false;
    }
    let reply = Reply {
        head_request,
        version,
        keep_alive: keep,
    };
    let wbuf = &mut w.wbuf;
    let mut io = conn.io();
    let keep = match catch_unwind(AssertUnwindSafe(|| {
        write_response(&mut io, wbuf, resp, reply)
    })) {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => {
            log::debug!("courteous: conn {}: write failed: {e}", conn.info().id());
            return Next::Drop;
        }
        Err(_) => {
            log::error!("courteous: response body reader panicked");
            return Next::Drop;
        }
    };
    flight.finish(conn, keep)
}
