//! What a handler gets.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::conn_info::ConnInfo;
use crate::hijack::{Hijacked, HijackedStream};
use crate::http1::body::Body;
use crate::state::ServerState;

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
    conn: &'a Arc<ConnInfo>,
    shared: &'a Arc<ServerState>,
    hijacked: &'a Cell<bool>,
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
    https: bool,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        inner: http::Request<Body<'a>>,
        conn: &'a Arc<ConnInfo>,
        shared: &'a Arc<ServerState>,
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

    /// The server's shared state, for helpers that wait for the drain on
    /// another thread (the WebSocket watcher).
    #[cfg(feature = "websocket")]
    pub(crate) fn shared(&self) -> &Arc<ServerState> {
        self.shared
    }

    /// The server address the client reached: the local end of a TCP
    /// connection, or for FastCGI the web server's `SERVER_ADDR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     format!("{:?}\n", req.local_addr())
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.text(), format!("{:?}\n", Some(server.local_addr())));
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The client's address: the peer of a TCP connection, or for FastCGI
    /// the `REMOTE_ADDR` the web server passed on. `None` on a Unix socket.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     match req.remote_addr() {
    ///         Some(addr) => format!("hello, {}\n", addr.ip()),
    ///         None => "hello, local process\n".to_string(),
    ///     }
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.text(), "hello, 127.0.0.1\n");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// True when the client came over HTTPS: this server's TLS, or for
    /// FastCGI the web server's (`HTTPS=on`).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Response};
    /// use http::{header::LOCATION, HeaderValue, StatusCode};
    ///
    /// // Send plain-HTTP clients to the HTTPS site.
    /// fn handler(req: &mut Request) -> Response {
    ///     if !req.is_https() {
    ///         return Response::new(StatusCode::PERMANENT_REDIRECT)
    ///             .with_header(LOCATION, HeaderValue::from_static("https://example.com/"));
    ///     }
    ///     Response::text("secure\n")
    /// }
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Takes the raw connection (for a protocol upgrade, say). The server
    /// writes no response for this request (the handler's return value is
    /// dropped) and reports the connection `Hijacked`. It still tracks it
    /// while the handler holds the [`HijackedStream`](crate::HijackedStream):
    /// a drain waits for it, the stream says when a drain began (so the
    /// session can end politely), and a shutdown deadline force-closes it
    /// and counts it as killed. Dropping the stream closes the connection.
    ///
    /// Fails for a connection that is not TCP, after the body was taken
    /// out of the request, or when called twice; and for a TLS connection.
    ///
    /// See [`manual::howto_drain`](crate::manual::howto_drain) for what a
    /// hijacked connection means for a drain.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::net::Shutdown;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     let mut raw = req.hijack().expect("a plain TCP connection");
    ///     // The socket is the handler's now: speak any protocol on it.
    ///     let _ = raw.stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nraw\n");
    ///     let _ = raw.stream.shutdown(Shutdown::Write);
    ///     Response::default() // dropped: the server writes nothing more
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// assert_eq!(client.get("/", Duration::from_secs(5)).unwrap().text(), "raw\n");
    /// server.stop()?; // the handler dropped the stream: nothing holds the drain
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn hijack(&mut self) -> io::Result<Hijacked> {
        if self.hijacked.get() {
            return Err(io::Error::other("already hijacked"));
        }
        let (stream, buffered) = self.inner.body_mut().take_connection()?;
        self.hijacked.set(true);
        let tracked = crate::conn::Hijack::take(self.shared, self.conn);
        Ok(Hijacked {
            stream: HijackedStream::new(stream, tracked),
            buffered,
        })
    }

    /// The connection this request came on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     format!("connection {}\n", req.conn().id())
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let first = client.get("/", Duration::from_secs(5)).unwrap().text();
    /// let second = client.get("/", Duration::from_secs(5)).unwrap().text();
    /// assert_eq!(first, second, "kept alive: the same connection");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn conn(&self) -> &ConnInfo {
        self.conn
    }

    /// True once the server has begun to drain: a long poll or a stream can
    /// end early with a proper response. The response to this request will
    /// carry `Connection: close`.
    ///
    /// # Examples
    ///
    /// A long poll that answers early when the server drains, instead of
    /// holding the drain for its whole timeout:
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::{Request, Response};
    /// use http::StatusCode;
    /// # fn next_event(_wait: Duration) -> Option<String> { None }
    ///
    /// fn long_poll(req: &mut Request) -> Response {
    ///     for _ in 0..300 {
    ///         if req.is_draining() {
    ///             return Response::new(StatusCode::NO_CONTENT); // the client polls again, elsewhere
    ///         }
    ///         if let Some(event) = next_event(Duration::from_millis(100)) {
    ///             return Response::text(event);
    ///         }
    ///     }
    ///     Response::new(StatusCode::NO_CONTENT)
    /// }
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(long_poll);
    /// ```
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// The underlying `http` request (a `Request` also derefs to it), for
    /// code written against the `http` crate's types.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Response};
    ///
    /// // Written for any `http::Request`, not only this crate's.
    /// fn wants_json<B>(req: &http::Request<B>) -> bool {
    ///     req.headers()
    ///         .get(http::header::ACCEPT)
    ///         .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    /// }
    ///
    /// let handler = |req: &mut Request| {
    ///     if wants_json(req.as_http()) {
    ///         Response::text(r#"{"hello":"world"}"#)
    ///     } else {
    ///         Response::text("hello, world\n")
    ///     }
    /// };
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn as_http(&self) -> &http::Request<Body<'a>> {
        &self.inner
    }

    /// The underlying `http` request, to change (for middleware that
    /// rewrites the request before the handler proper sees it).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Response};
    ///
    /// fn app(req: &mut Request) -> Response {
    ///     Response::text(format!("{}\n", req.uri().path()))
    /// }
    ///
    /// // Serve `app` under `/api`: strip the prefix first.
    /// let handler = |req: &mut Request| {
    ///     let inner = req.as_http_mut();
    ///     if let Some(rest) = inner.uri().path().strip_prefix("/api") {
    ///         if let Ok(uri) = if rest.is_empty() { "/" } else { rest }.parse() {
    ///             *inner.uri_mut() = uri;
    ///         }
    ///     }
    ///     app(req)
    /// };
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
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
