//! WebSockets that end politely at a drain (feature `websocket`, on
//! `tungstenite`).
//!
//! [`upgrade`] answers a WebSocket handshake from a route and runs the
//! session on the handler's worker. The connection stays tracked by the
//! drain (it is [hijacked](crate::Request::hijack)): when the server
//! drains, every session gets a Close frame with code 1001 (Going Away),
//! the closing handshake is awaited for a bounded time ([`CLOSE_TIMEOUT`]),
//! then the TCP connection ends with a FIN. Only past the server's
//! `shutdown_timeout` is a session cut off, and counted in
//! [`Stats::killed`](crate::Stats::killed). (Go's `Shutdown` ignores
//! hijacked connections, golang/go#17721; axum does not wait for
//! WebSocket tasks, axum#3003.)
//!
//! A blocking read notices the drain without polling: the session's reads
//! wait on the socket and on a drain bell together, and the server rings
//! every bell when a drain begins. No thread or timer per session.
//!
//! # Examples
//!
//! An echo server, and a client that sees it drain:
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::TestServer;
//! use courteous::websocket::{self, Message, WebSocket};
//! use courteous::{Request, Router, Server};
//!
//! let app = Router::new().route("GET /ws", |req: &mut Request| {
//!     websocket::upgrade(req, |ws: &mut WebSocket| {
//!         while let Some(msg) = ws.read()? {
//!             if msg.is_text() {
//!                 ws.send(msg)?;
//!             }
//!         }
//!         Ok(()) // the client left, or the server drains
//!     })
//! });
//! let server = TestServer::start(Server::builder(), app);
//!
//! let url = format!("ws://{}/ws", server.local_addr());
//! let (mut client, _) = tungstenite::connect(url.as_str()).unwrap();
//! client.send(Message::text("hello")).unwrap();
//! assert_eq!(client.read().unwrap(), Message::text("hello"));
//!
//! server.handle().close(); // the drain: the server says goodbye
//! let Message::Close(Some(frame)) = client.read().unwrap() else { panic!("a Close frame") };
//! assert_eq!(u16::from(frame.code), 1001);
//! // Reading on answers the close; the server then ends the connection.
//! assert!(matches!(client.read(), Err(tungstenite::Error::ConnectionClosed)));
//! server.stop()?;
//! # Ok::<(), courteous::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderName, CONNECTION, UPGRADE};
use http::{Method, StatusCode, Version};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};

use crate::hijack::{Hijacked, HijackedStream};
use crate::request::Request;
use crate::response::Response;
use crate::state::ServerState;

/// The WebSocket library, for what this module does not wrap (its
/// `Message` and `Error` are re-exported here).
pub use tungstenite;
pub use tungstenite::{Error, Message};

/// How long a session that is ending waits for the peer's Close frame
/// (the closing handshake) before it ends the connection anyway.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long, after our FIN, the peer's bytes are read and dropped so that
/// closing never answers them with a reset (as the server's own closes do).
const LINGER: Duration = Duration::from_millis(500);

/// Answers a WebSocket handshake on this request and runs `session` on
/// the upgraded connection, on this handler's worker (so a session holds
/// a worker while it lasts, like a stream: size
/// [`workers`](crate::Builder::workers) for the sessions you expect).
/// Returns the response to give when there is no session: the server
/// sends nothing more on an upgraded connection.
///
/// When `session` returns (or fails), the server closes the WebSocket
/// for it: a Close frame (1000 Normal, 1001 Going Away when the server
/// drains, 1011 when the session failed) unless the peer closed first,
/// the closing handshake awaited for up to [`CLOSE_TIMEOUT`], then a FIN.
///
/// | the request | the answer |
/// |---|---|
/// | not `GET`, not HTTP/1.1, or no valid `Sec-WebSocket-Key` | `400 Bad Request` |
/// | no `Upgrade: websocket` with `Connection: upgrade` | `426 Upgrade Required`, `Upgrade: websocket` |
/// | a `Sec-WebSocket-Version` other than 13 | `426 Upgrade Required`, `Sec-WebSocket-Version: 13` |
/// | the server already drains | `503 Service Unavailable` |
/// | a connection that cannot be taken over (TLS, FastCGI) | `501 Not Implemented` |
/// | a valid handshake | `101 Switching Protocols`, then the session |
///
/// # Examples
///
/// See the [module](self) for an echo server; a session that pushes
/// instead, and ends at the drain:
///
/// ```
/// use std::time::Duration;
/// use courteous::websocket::{self, Message, WebSocket};
/// use courteous::{Request, Response};
///
/// fn ticks(req: &mut Request) -> Response {
///     websocket::upgrade(req, |ws: &mut WebSocket| {
///         let mut n = 0;
///         while !ws.wait_draining(Duration::from_secs(1)) {
///             n += 1;
///             ws.send(Message::text(format!("tick {n}")))?;
///         }
///         Ok(()) // the server sends the Close frame (1001)
///     })
/// }
/// # fn takes(_: impl courteous::Handler) {}
/// # takes(ticks);
/// ```
pub fn upgrade<F>(req: &mut Request<'_>, session: F) -> Response
where
    F: FnOnce(&mut WebSocket) -> Result<(), Error>,
{
    let key = match check_handshake(req.method(), req.version(), req.headers()) {
        Ok(key) => key,
        Err(resp) => return *resp,
    };
    if req.is_draining() {
        return Response::plain(StatusCode::SERVICE_UNAVAILABLE, "the server is draining\n");
    }
    let shared = req.shared().clone();
    let Hijacked {
        mut stream,
        buffered,
        ..
    } = match req.hijack() {
        Ok(h) => h,
        Err(e) => {
            log::debug!("courteous: websocket upgrade refused: {e}");
            return Response::plain(
                StatusCode::NOT_IMPLEMENTED,
                "WebSocket is not available on this connection\n",
            );
        }
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    if let Err(e) = stream.write_all(head.as_bytes()) {
        log::debug!("courteous: websocket handshake not sent: {e}");
        return Response::default();
    }
    let mut ws = match WebSocket::start(stream, buffered, shared) {
        Ok(ws) => ws,
        Err(e) => {
            log::error!("courteous: websocket session not started: {e}");
            return Response::default();
        }
    };
    let outcome = session(&mut ws);
    if let Err(e) = &outcome {
        log::debug!("courteous: websocket session ended with an error: {e}");
    }
    ws.finish(outcome.is_ok());
    Response::default() // not sent: the connection was taken over
}

/// The `Sec-WebSocket-Key` of a valid handshake, or the answer to give.
fn check_handshake(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<String, Box<Response>> {
    let has_token = |name: HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let bad = |why: &'static str| Box::new(Response::plain(StatusCode::BAD_REQUEST, why));
    if method != Method::GET {
        return Err(bad("a WebSocket handshake is a GET\n"));
    }
    if version != Version::HTTP_11 {
        return Err(bad("a WebSocket handshake needs HTTP/1.1\n"));
    }
    if !has_token(UPGRADE, "websocket") || !has_token(CONNECTION, "upgrade") {
        return Err(Box::new(
            Response::plain(
                StatusCode::UPGRADE_REQUIRED,
                "this resource speaks WebSocket only\n",
            )
            .with_header(UPGRADE, "websocket")
            .with_header(CONNECTION, "Upgrade"),
        ));
    }
    let version = headers
        .get("sec-websocket-version")
        .and_then(|v| v.to_str().ok());
    if version.map(str::trim) != Some("13") {
        return Err(Box::new(
            Response::plain(
                StatusCode::UPGRADE_REQUIRED,
                "unsupported Sec-WebSocket-Version: this server speaks 13\n",
            )
            .with_header("sec-websocket-version", "13"),
        ));
    }
    // A base64 nonce of 16 bytes: 22 characters and "==".
    match headers
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(key)
            if key.len() == 24
                && key.ends_with("==")
                && key[..22]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') =>
        {
            Ok(key.to_string())
        }
        _ => Err(bad("missing or malformed Sec-WebSocket-Key\n")),
    }
}

/// An upgraded connection, for the session of [`upgrade`]: read and send
/// messages; a read ends (`Ok(None)`) when the peer closed or the server
/// began to drain.
pub struct WebSocket {
    ws: tungstenite::WebSocket<Wire>,
    shared: Arc<ServerState>,
    /// The session is over: the closing handshake was done or given up.
    ended: bool,
}

impl WebSocket {
    fn start(
        stream: HijackedStream,
        buffered: Vec<u8>,
        shared: Arc<ServerState>,
    ) -> io::Result<Self> {
        let wake = shared.drain_bell()?;
        let wire = Wire {
            stream,
            wake,
            drain_seen: false,
            closing_until: None,
        };
        Ok(WebSocket {
            ws: tungstenite::WebSocket::from_partially_read(wire, buffered, Role::Server, None),
            shared,
            ended: false,
        })
    }

    /// The next message: `Ok(None)` once the session is over, because the
    /// peer closed (its Close answered) or the server began to drain (a
    /// Close with 1001 sent and the peer's awaited). Pings are answered
    /// for you; they, pongs and Close frames are not returned.
    ///
    /// # Examples
    ///
    /// See the [module](self).
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        while !self.ended {
            match self.ws.read() {
                Ok(Message::Close(_)) => {
                    // Our answer goes with the flush; the peer closed.
                    let _ = self.ws.flush();
                    self.ended = true;
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(msg) => return Ok(Some(msg)),
                Err(Error::Io(e))
                    if e.kind() == io::ErrorKind::WouldBlock && self.ws.get_ref().drain_seen =>
                {
                    self.close(CloseCode::Away, "the server is draining");
                }
                Err(Error::ConnectionClosed) => self.ended = true,
                Err(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    /// Sends a message (a text or binary one, or anything `Message`
    /// converts from: a `String`, a `&str`, a `Vec<u8>`), flushed at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::websocket::{Error, Message, WebSocket};
    ///
    /// fn greet(ws: &mut WebSocket) -> Result<(), Error> {
    ///     ws.send("hello")?;
    ///     ws.send(Message::binary(vec![1, 2, 3]))
    /// }
    /// # let _ = greet;
    /// ```
    pub fn send(&mut self, msg: impl Into<Message>) -> Result<(), Error> {
        self.ws.send(msg.into())
    }

    /// True once the server began to drain: end the session (return from
    /// it), and the server says goodbye with 1001.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::websocket::{Error, WebSocket};
    /// # fn next_log_line() -> Option<String> { None }
    ///
    /// fn tail(ws: &mut WebSocket) -> Result<(), Error> {
    ///     while let Some(line) = next_log_line() {
    ///         if ws.is_draining() {
    ///             break;
    ///         }
    ///         ws.send(line)?;
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = tail;
    /// ```
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// Blocks until the server begins to drain or `timeout` passes; true
    /// when it drains. For a session that pushes every so often; see
    /// [`upgrade`].
    pub fn wait_draining(&self, timeout: Duration) -> bool {
        self.shared.wait_draining(timeout)
    }

    /// Sends a Close frame, then reads (dropping data) until the peer's
    /// Close or the bound.
    fn close(&mut self, code: CloseCode, reason: &'static str) {
        self.ws.get_mut().closing_until = Some(Instant::now() + CLOSE_TIMEOUT);
        if self.ws.can_write() {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            if self.ws.close(Some(frame)).is_err() {
                self.ended = true;
                return;
            }
        }
        loop {
            match self.ws.read() {
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {} // the session is over: later data is dropped
            }
        }
        self.ended = true;
    }

    /// After the session: close if it is still open, then the FIN.
    fn finish(mut self, ok: bool) {
        if !self.ended {
            let (code, reason) = if !ok {
                (CloseCode::Error, "the session failed")
            } else if self.is_draining() {
                (CloseCode::Away, "the server is draining")
            } else {
                (CloseCode::Normal, "")
            };
            self.close(code, reason);
        }
        let stream = &self.ws.get_ref().stream;
        let _ = stream.shutdown(Shutdown::Write);
        // Read what the peer still sends until its FIN, bounded, so that
        // the close is never answered with a reset.
        let until = Instant::now() + LINGER;
        let mut sink = [0u8; 1024];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match (&*stream).read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("stream", &self.ws.get_ref().stream)
            .field("ended", &self.ended)
            .finish()
    }
}

/// The socket as tungstenite sees it: a read waits on the socket and the
/// drain pipe together, and says `WouldBlock` when the drain began.
struct Wire {
    stream: HijackedStream,
    /// Readable once the server began to drain (the server rings it).
    wake: Arc<crate::net::Waker>,
    drain_seen: bool,
    /// While closing: reads wait on the socket alone, until this bound.
    closing_until: Option<Instant>,
}

impl Wire {
    /// Fails once a closing handshake is past its bound.
    fn within_closing_bound(&self) -> io::Result<()> {
        match self.closing_until {
            Some(until) if Instant::now() >= until => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no Close frame from the peer in time",
            )),
            _ => Ok(()),
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // A peer that keeps sending after our Close cannot hold the
            // closing handshake past its bound.
            self.within_closing_bound()?;
            let timeout = self.closing_until.map(|until| {
                let left = until.saturating_duration_since(Instant::now());
                Timespec::try_from(left).unwrap_or(Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                })
            });
            let watch_drain = self.closing_until.is_none();
            let mut fds = [
                PollFd::new(&self.stream, PollFlags::IN),
                PollFd::new(&*self.wake, PollFlags::IN),
            ];
            let n = if watch_drain { 2 } else { 1 };
            match poll(&mut fds[..n], timeout.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if watch_drain && !fds[1].revents().is_empty() {
                self.drain_seen = true;
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the server began to drain",
                ));
            }
            if !fds[0].revents().is_empty() {
                return self.stream.read(buf);
            }
            self.within_closing_bound()?;
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(*n, http::HeaderValue::from_static(v));
        }
        map
    }

    const GOOD: [(&str, &str); 4] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_valid_handshake_gives_its_key() {
        let key = check_handshake(&Method::GET, Version::HTTP_11, &headers(&GOOD)).unwrap();
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        // RFC 6455 §1.3's example.
        assert_eq!(
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn bad_handshakes_get_their_status() {
        let status = |m: Method, v: Version, h: &[(&'static str, &'static str)]| {
            check_handshake(&m, v, &headers(h)).unwrap_err().status()
        };
        assert_eq!(status(Method::POST, Version::HTTP_11, &GOOD), 400);
        assert_eq!(status(Method::GET, Version::HTTP_10, &GOOD), 400);
        assert_eq!(status(Method::GET, Version::HTTP_11, &GOOD[1..]), 426);
        assert_eq!(status(Method::GET, Version::HTTP_11, &[]), 426);
        let mut v8 = GOOD;
        v8[2] = ("sec-websocket-version", "8");
        assert_eq!(status(Method::GET, Version::HTTP_11, &v8), 426);
        let mut short = GOOD;
        short[3] = ("sec-websocket-key", "c2hvcnQ=");
        assert_eq!(status(Method::GET, Version::HTTP_11, &short), 400);
        assert_eq!(status(Method::GET, Version::HTTP_11, &GOOD[..3]), 400);
    }
}
