//! What the server tells of a connection: its state in its life
//! ([`ConnState`]) and who it is ([`ConnInfo`]). Plain public values; the
//! state machine that moves a connection between the states lives in
//! [`conn`](crate::conn).

use std::fmt;
use std::net::SocketAddr;

use crate::addr::PeerCred;

/// Where a connection is in its life.
///
/// ```text
///            first byte             response written
///   New ───────────────► Active ───────────────────► Idle
///    │                   │  ▲                          │
///    │ hang-up, drain,   │  └────── next request ──────┘
///    │ timeout           │ handler takes the stream
///    ▼                   ▼
///  Closed             Hijacked (the handler's, still tracked by the drain)
/// ```
///
/// (Active and Idle connections end in `Closed` too.) Every change goes to
/// the [`on_state`](crate::Builder::on_state) hook as `(conn, old, new)`,
/// and a connection's first report, at its accept, is `(New, New)`. The
/// sequences a hook sees, as Go's `ConnState` users expect them: reuse then
/// close `New, Active, Idle, Active, Closed`; dial and hang up `New,
/// Closed`; a bogus request `New, Active, Closed`; a hijack `New, Active,
/// Hijacked`. [`Stats`](crate::Stats) counts open connections by state.
///
/// # Examples
///
/// ```
/// use courteous::ConnState;
///
/// fn describe(state: ConnState) -> &'static str {
///     match state {
///         ConnState::New => "connected, nothing sent yet",
///         ConnState::Active => "reading or serving a request",
///         ConnState::Idle => "kept alive, waiting for the next request",
///         ConnState::Hijacked => "taken over by a handler",
///         ConnState::Closed => "closed",
///         _ => "a state of a later version",
///     }
/// }
/// assert_eq!(describe(ConnState::Idle), "kept alive, waiting for the next request");
/// assert_eq!(ConnState::Idle.to_string(), "idle");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnState {
    /// Accepted; no byte of a request read yet.
    New,
    /// A request is being read or served.
    Active,
    /// Kept alive between requests.
    Idle,
    /// A handler took the raw stream. The server speaks no more on it,
    /// but a drain waits for it until the handler drops the stream, and a
    /// shutdown deadline force-closes it. The hook's last report for it.
    Hijacked,
    /// Closed; the last state of every connection not hijacked.
    Closed,
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnState::New => "new",
            ConnState::Active => "active",
            ConnState::Idle => "idle",
            ConnState::Hijacked => "hijacked",
            ConnState::Closed => "closed",
        })
    }
}

/// What the server knows of one connection: given to the
/// [`on_state`](crate::Builder::on_state) hook and, through
/// [`Request::conn`](crate::Request::conn), to handlers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Response, Server};
///
/// let server = TestServer::start(Server::builder(), |req: &mut Request| {
///     let conn = req.conn();
///     Response::text(format!(
///         "conn {} from {:?} to {:?}, tls: {}, cred: {:?}\n",
///         conn.id(),
///         conn.peer_addr(),
///         conn.local_addr(),
///         conn.is_tls(),
///         conn.peer_cred(), // Unix sockets only
///     ))
/// });
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// let text = client.get("/", Duration::from_secs(5)).unwrap().text();
/// let expect = format!("from {:?} to {:?}, tls: false, cred: None\n",
///     Some(client.local_addr()), Some(server.local_addr()));
/// assert!(text.ends_with(&expect), "{text}");
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub(crate) id: u64,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) cred: Option<PeerCred>,
    pub(crate) tls: bool,
}

#[cfg(test)]
impl ConnInfo {
    /// A connection known by its id only, for unit tests.
    pub(crate) fn bare(id: u64) -> ConnInfo {
        ConnInfo {
            id,
            peer: None,
            local: None,
            cred: None,
            tls: false,
        }
    }
}

impl ConnInfo {
    /// A number unique to this connection within the process (across
    /// servers and `serve` calls): a key for per-connection bookkeeping.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = courteous::Server::builder().on_state(|conn, old, new| {
    ///     eprintln!("conn {}: {old} -> {new}", conn.id());
    /// });
    /// # let _ = builder;
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The client's address (TCP connections). For FastCGI this is the web
    /// server; [`Request::remote_addr`](crate::Request::remote_addr) gives
    /// the client it relays.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::ConnState;
    ///
    /// let builder = courteous::Server::builder().on_state(|conn, _old, new| {
    ///     if new == ConnState::Closed {
    ///         eprintln!("{:?} hung up", conn.peer_addr());
    ///     }
    /// });
    /// # let _ = builder;
    /// ```
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The server's end of the connection (TCP connections): which local
    /// address the client reached, on a server bound to `0.0.0.0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Request;
    ///
    /// let handler = |req: &mut Request| match req.conn().local_addr() {
    ///     Some(addr) if addr.ip().is_loopback() => "hello, neighbour\n",
    ///     _ => "hello\n",
    /// };
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// The peer process's credentials (Unix sockets, on Linux). See
    /// [`PeerCred`](crate::PeerCred) for an example.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Response};
    /// use http::StatusCode;
    ///
    /// // An admin socket only root may use.
    /// let handler = |req: &mut Request| match req.conn().peer_cred() {
    ///     Some(cred) if cred.uid == 0 => Response::text("welcome\n"),
    ///     _ => Response::new(StatusCode::FORBIDDEN),
    /// };
    /// # fn takes(_: impl courteous::Handler) {}
    /// # takes(handler);
    /// ```
    pub fn peer_cred(&self) -> Option<PeerCred> {
        self.cred
    }

    /// True for a connection that speaks TLS (HTTPS) with this server.
    /// [`Request::is_https`](crate::Request::is_https) also covers HTTPS
    /// that a FastCGI web server terminated.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = courteous::Server::builder().on_state(|conn, old, new| {
    ///     let scheme = if conn.is_tls() { "https" } else { "http" };
    ///     eprintln!("{scheme} conn {}: {old} -> {new}", conn.id());
    /// });
    /// # let _ = builder;
    /// ```
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}
