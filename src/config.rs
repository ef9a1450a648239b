//! The server's configuration: plain data, read by every layer (see [`Builder`](crate::Builder) to set it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::Addr;
use crate::conn_info::{ConnInfo, ConnState};
use crate::error::Error;
use crate::tls::Pem;

/// Called with the address once `serve` accepts connections.
pub(crate) type ListeningHook = Arc<dyn Fn(&Addr) + Send + Sync>;

/// The state hook: called with the connection, its old state and its new one.
pub(crate) type StateHook = Arc<dyn Fn(&ConnInfo, ConnState, ConnState) + Send + Sync>;

/// Everything a [`Builder`](crate::Builder) sets. Read back with [`Server::config`](crate::Server::config).
///
/// Every field, its default and the reasoning behind it:
/// [`manual::timeouts`](crate::manual::timeouts).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let server = courteous::Server::builder()
///     .drain_delay(Duration::from_secs(5))
///     .bind("127.0.0.1:0")?;
/// let config: &courteous::Config = server.config();
/// assert_eq!(config.drain_delay, Duration::from_secs(5));
/// assert_eq!(config.linger, courteous::Config::default().linger);
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Worker threads; each serves one connection at a time.
    pub workers: usize,
    /// Accepted connections that may wait for a worker before the accept
    /// loop stops accepting (the kernel backlog holds the rest).
    pub queue_depth: usize,
    /// The `listen(2)` backlog for listeners the server binds itself.
    pub backlog: i32,
    /// Idle time before TCP keepalive probes start; `None` turns them off.
    pub tcp_keepalive: Option<Duration>,
    /// Time between TCP keepalive probes.
    pub tcp_keepalive_interval: Option<Duration>,
    /// Unanswered TCP keepalive probes before the kernel drops the peer.
    pub tcp_keepalive_retries: Option<u32>,
    /// Time allowed from a request's first byte (or from the accept, for
    /// a connection's first request) to its last header byte; then 408.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// Time one read of a request body may wait for bytes.
    pub read_timeout: Duration,
    /// Time one write may block on a client that stops reading.
    pub write_timeout: Duration,
    /// Largest request head (request line plus headers), in bytes; 431 beyond.
    pub max_header_bytes: usize,
    /// Most header fields in one request; 431 beyond.
    pub max_headers: usize,
    /// Longest request target (path and query), in bytes; 414 beyond.
    pub max_uri_bytes: usize,
    /// Unread request body the server reads and discards to keep a
    /// connection alive; a larger leftover closes the connection instead.
    pub max_discard_bytes: u64,
    /// Largest request body; a larger `Content-Length` gets 413 without the
    /// handler being called, a longer chunked body fails the handler's read
    /// (or, when the handler left it unread, gets 413 instead of the
    /// handler's response). `None`: no limit.
    pub max_body_bytes: Option<u64>,
    /// Requests served on one connection before the server closes it
    /// (`Connection: close` on the last); `None`: no cap.
    pub max_requests_per_conn: Option<u64>,
    /// Time a drain waits before force-closing what is left; `None` waits
    /// as long as the requests take.
    pub shutdown_timeout: Option<Duration>,
    /// How long after its last response an idle connection still gets its
    /// next request answered once a drain begins.
    pub drain_grace: Duration,
    /// How long a half-received request head may take to complete once a
    /// drain begins.
    pub drain_head_timeout: Duration,
    /// After the server sends its FIN, the longest it keeps reading (and
    /// discarding) what the peer still sends, so that closing never
    /// resets; it ends sooner once the peer acknowledged the response and
    /// nothing came for a few round-trip times (at least a fiftieth of
    /// this).
    pub linger: Duration,
    /// File mode of a Unix socket the server binds (default `0o660`).
    pub unix_mode: u32,
    /// Serve FastCGI (the responder role) instead of HTTP, on whatever
    /// socket the server binds or inherits (default false).
    pub fastcgi: bool,
    /// After a close, how long to keep serving (health checks failing,
    /// responses saying `Connection: close`) before the listener closes and
    /// the drain proper begins, so load balancers stop sending first.
    pub drain_delay: Duration,
    /// A path the server answers itself: `200 ok` while serving, `503
    /// draining` from the close on (for load-balancer health checks).
    pub health_route: Option<String>,
    /// Hand `CONNECT` requests to the handler (default false: the server
    /// answers them `501 Not Implemented` itself).
    pub allow_connect: bool,
    pub(crate) tls: Option<TlsSetup>,
    pub(crate) on_state: Option<StateHook>,
    pub(crate) on_shutdown: Vec<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_listening: Option<ListeningHook>,
    pub(crate) before_shutdown: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

/// Where a server's TLS configuration comes from.
#[derive(Clone)]
pub(crate) enum TlsSetup {
    Pem { cert: Pem, key: Pem },
    Config(Arc<rustls::ServerConfig>),
}

impl TlsSetup {
    pub(crate) fn resolve(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        match self {
            TlsSetup::Pem { cert, key } => crate::tls::config_from_pem(cert, key),
            TlsSetup::Config(c) => Ok(c.clone()),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 128,
            queue_depth: 1024,
            backlog: 1024,
            tcp_keepalive: Some(Duration::from_secs(60)),
            tcp_keepalive_interval: Some(Duration::from_secs(15)),
            tcp_keepalive_retries: Some(4),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            max_discard_bytes: 256 * 1024,
            max_body_bytes: Some(16 * 1024 * 1024),
            max_requests_per_conn: Some(10_000),
            shutdown_timeout: None,
            drain_grace: Duration::from_millis(100),
            drain_head_timeout: Duration::from_secs(1),
            linger: Duration::from_millis(500),
            unix_mode: 0o660,
            fastcgi: false,
            drain_delay: Duration::ZERO,
            health_route: None,
            allow_connect: false,
            tls: None,
            on_state: None,
            on_shutdown: Vec::new(),
            on_listening: None,
            before_shutdown: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("workers", &self.workers)
            .field("queue_depth", &self.queue_depth)
            .field("backlog", &self.backlog)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("tcp_keepalive_interval", &self.tcp_keepalive_interval)
            .field("tcp_keepalive_retries", &self.tcp_keepalive_retries)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_headers", &self.max_headers)
            .field("max_uri_bytes", &self.max_uri_bytes)
            .field("max_discard_bytes", &self.max_discard_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_requests_per_conn", &self.max_requests_per_conn)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("drain_grace", &self.drain_grace)
            .field("drain_head_timeout", &self.drain_head_timeout)
            .field("linger", &self.linger)
            .field("unix_mode", &format_args!("{:#o}", self.unix_mode))
            .field("fastcgi", &self.fastcgi)
            .field("drain_delay", &self.drain_delay)
            .field("health_route", &self.health_route)
            .field("allow_connect", &self.allow_connect)
            .field("tls", &self.tls.is_some())
            .field("on_shutdown", &self.on_shutdown.len())
            .field("before_shutdown", &self.before_shutdown.is_some())
            .field("on_state", &self.on_state.as_ref().map(|_| "Fn"))
            .finish()
    }
}
