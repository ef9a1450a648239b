//! What a handler gets.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};

use crate::drain::Shared;
use crate::http1::body::Body;
use crate::registry::ConnInfo;

/// A request: an [`http::Request`] (it derefs to one) whose body streams
/// from the connection, plus what the server knows around it.
///
/// ```no_run
/// use courteous::{Request, Response};
/// fn handler(req: &mut Request) -> Response {
///     match req.uri().path() {
///         "/" => Response::text(format!("hello, {:?}\n", req.conn().peer_addr())),
///         _ => Response::new(http::StatusCode::NOT_FOUND),
///     }
/// }
/// ```
pub struct Request<'a> {
    inner: http::Request<Body<'a>>,
    conn: &'a ConnInfo,
    shared: &'a Shared,
    hijacked: &'a Cell<bool>,
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
    https: bool,
}

/// A connection a handler took over with [`Request::hijack`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Hijacked {
    /// The socket, in blocking mode, with the server's write timeout set.
    pub stream: TcpStream,
    /// Bytes the server had read past the request head and not consumed
    /// (the start of the body, or of pipelined requests).
    pub buffered: Vec<u8>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        inner: http::Request<Body<'a>>,
        conn: &'a ConnInfo,
        shared: &'a Shared,
        hijacked: &'a Cell<bool>,
    ) -> Self {
        Request {
            inner,
            conn,
            shared,
            hijacked,
            remote: conn.peer_addr(),
            local: conn.local_addr(),
            https: conn.is_tls(),
        }
    }

    /// For a request relayed by another server (FastCGI): the client's
    /// address, the address it reached, and whether it came over HTTPS.
    pub(crate) fn with_origin(
        mut self,
        remote: Option<SocketAddr>,
        local: Option<SocketAddr>,
        https: bool,
    ) -> Self {
        self.remote = remote;
        self.local = local;
        self.https = https;
        self
    }

    /// The server address the client reached: the local end of a TCP
    /// connection, or for FastCGI the web server's `SERVER_ADDR`.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The client's address: the peer of a TCP connection, or for FastCGI
    /// the `REMOTE_ADDR` the web server passed on.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// True when the client came over HTTPS: this server's TLS, or for
    /// FastCGI the web server's (`HTTPS=on`).
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Takes the raw connection (for a protocol upgrade, say). The server
    /// writes no response for this request (the handler's return value is
    /// dropped), reports the connection `Hijacked`, and forgets it: a drain
    /// neither waits for it nor closes it, and a shutdown deadline does not
    /// kill it. Closing it is the handler's business.
    ///
    /// Fails for a connection that is not TCP, after the body was taken
    /// out of the request, or when called twice.
    pub fn hijack(&mut self) -> io::Result<Hijacked> {
        if self.hijacked.get() {
            return Err(io::Error::other("already hijacked"));
        }
        let (stream, buffered) = self.inner.body_mut().take_connection()?;
        self.hijacked.set(true);
        Ok(Hijacked { stream, buffered })
    }

    /// The connection this request came on.
    pub fn conn(&self) -> &ConnInfo {
        self.conn
    }

    /// True once the server has begun to drain: a long poll or a stream can
    /// end early with a proper response. The response to this request will
    /// carry `Connection: close`.
    pub fn draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// The underlying `http` request.
    pub fn as_http(&self) -> &http::Request<Body<'a>> {
        &self.inner
    }

    /// The underlying `http` request, to change.
    pub fn as_http_mut(&mut self) -> &mut http::Request<Body<'a>> {
        &mut self.inner
    }
}

impl<'a> Deref for Request<'a> {
    type Target = http::Request<Body<'a>>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Request<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", self.inner.method())
            .field("uri", self.inner.uri())
            .field("version", &self.inner.version())
            .field("headers", self.inner.headers())
            .field("conn", self.conn)
            .finish()
    }
}
