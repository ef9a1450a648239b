//! The server's configuration: plain data, read by every layer (see
//! [`Builder`](crate::Builder) to set it). [`Config`] holds the settings
//! of the pool and the protocol, and four groups: [`Socket`], [`Timeouts`],
//! [`Limits`] and [`Drain`].
//!
//! Every field is private and read through a method, so that a setting
//! can be added, or stored differently, without a breaking release; the
//! [`Builder`](crate::Builder) setters are the one way to set them.

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

/// Everything a [`Builder`](crate::Builder) sets. Read back with
/// [`Server::config`](crate::Server::config) (or
/// [`Builder::config`](crate::Builder::config)).
///
/// The settings of the pool and the protocol are read here; the rest come
/// in groups: [`socket`](Config::socket), [`timeouts`](Config::timeouts),
/// [`limits`](Config::limits) and [`drain`](Config::drain). Every
/// setting, its default and the reasoning behind it:
/// [`manual::timeouts`](crate::manual::timeouts).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let server = courteous::Server::builder()
///     .drain_delay(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(75))
///     .bind("127.0.0.1:0")?;
/// let config: &courteous::Config = server.config();
/// assert_eq!(config.drain().delay(), Duration::from_secs(5));
/// assert_eq!(config.timeouts().idle(), Duration::from_secs(75));
/// assert_eq!(config.drain().linger(), courteous::Config::default().drain().linger());
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) workers: usize,
    pub(crate) queue_depth: usize,
    pub(crate) fastcgi: bool,
    pub(crate) allow_connect: bool,
    pub(crate) socket: Socket,
    pub(crate) timeouts: Timeouts,
    pub(crate) limits: Limits,
    pub(crate) drain: Drain,
    pub(crate) tls: Option<TlsSetup>,
    pub(crate) on_state: Option<StateHook>,
    pub(crate) on_shutdown: Vec<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) on_listening: Option<ListeningHook>,
    pub(crate) before_shutdown: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl Config {
    /// Worker threads; each serves one connection at a time (default 128,
    /// at least 1). Set with [`Builder::workers`](crate::Builder::workers).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Accepted connections that may wait for a worker before the accept
    /// loop stops accepting (the kernel backlog holds the rest; default
    /// 1024, at least 1). Set with
    /// [`Builder::queue_depth`](crate::Builder::queue_depth).
    pub fn queue_depth(&self) -> usize {
        self.queue_depth
    }

    /// Serve FastCGI (the responder role) instead of HTTP, on whatever
    /// socket the server binds or inherits (default false). Set with
    /// [`Builder::fastcgi`](crate::Builder::fastcgi).
    pub fn fastcgi(&self) -> bool {
        self.fastcgi
    }

    /// Hand `CONNECT` requests to the handler (default false: the server
    /// answers them `501 Not Implemented` itself). Set with
    /// [`Builder::allow_connect`](crate::Builder::allow_connect).
    pub fn allow_connect(&self) -> bool {
        self.allow_connect
    }

    /// The listener's and the connections' socket options.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// How long the server waits for a client while serving.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// How large a request, and how many on a connection.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How the server drains, and how it closes a connection.
    pub fn drain(&self) -> &Drain {
        &self.drain
    }
}

/// The socket options of a [`Config`]: the listener the server binds and
/// the TCP connections it accepts.
///
/// # Examples
///
/// ```
/// let builder = courteous::Builder::new().backlog(512).tcp_keepalive(None);
/// let socket = builder.config().socket();
/// assert_eq!(socket.backlog(), 512);
/// assert_eq!(socket.tcp_keepalive(), None, "probes off");
/// assert_eq!(socket.unix_mode(), 0o660, "the default");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Socket {
    pub(crate) backlog: i32,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) tcp_keepalive_interval: Option<Duration>,
    pub(crate) tcp_keepalive_retries: Option<u32>,
    pub(crate) unix_mode: u32,
}

impl Socket {
    /// The `listen(2)` backlog for listeners the server binds itself
    /// (default 1024). Set with [`Builder::backlog`](crate::Builder::backlog).
    pub fn backlog(&self) -> i32 {
        self.backlog
    }

    /// Idle time before TCP keepalive probes start (default 60 s); `None`
    /// turns them off. Set with
    /// [`Builder::tcp_keepalive`](crate::Builder::tcp_keepalive).
    pub fn tcp_keepalive(&self) -> Option<Duration> {
        self.tcp_keepalive
    }

    /// Time between TCP keepalive probes (default 15 s); `None` leaves the
    /// system's. Set with
    /// [`Builder::tcp_keepalive_interval`](crate::Builder::tcp_keepalive_interval).
    pub fn tcp_keepalive_interval(&self) -> Option<Duration> {
        self.tcp_keepalive_interval
    }

    /// Unanswered TCP keepalive probes before the kernel drops the peer
    /// (default 4); `None` leaves the system's. Set with
    /// [`Builder::tcp_keepalive_retries`](crate::Builder::tcp_keepalive_retries).
    pub fn tcp_keepalive_retries(&self) -> Option<u32> {
        self.tcp_keepalive_retries
    }

    /// File mode of a Unix socket the server binds (default `0o660`). Set
    /// with [`Builder::unix_mode`](crate::Builder::unix_mode).
    pub fn unix_mode(&self) -> u32 {
        self.unix_mode
    }
}

impl Default for Socket {
    fn default() -> Self {
        Socket {
            backlog: 1024,
            tcp_keepalive: Some(Duration::from_secs(60)),
            tcp_keepalive_interval: Some(Duration::from_secs(15)),
            tcp_keepalive_retries: Some(4),
            unix_mode: 0o660,
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("backlog", &self.backlog)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("tcp_keepalive_interval", &self.tcp_keepalive_interval)
            .field("tcp_keepalive_retries", &self.tcp_keepalive_retries)
            .field("unix_mode", &format_args!("{:#o}", self.unix_mode))
            .finish()
    }
}

/// The timeouts of a [`Config`] while serving: how long the server waits
/// for a client. (How long a drain waits is in [`Drain`].)
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let builder = courteous::Builder::new().idle_timeout(Duration::from_secs(75));
/// let timeouts = builder.config().timeouts();
/// assert_eq!(timeouts.idle(), Duration::from_secs(75));
/// assert_eq!(timeouts.header_read(), Duration::from_secs(10), "the default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
    pub(crate) read: Duration,
    pub(crate) write: Duration,
}

impl Timeouts {
    /// Time allowed from a request's first byte (or from the accept, for
    /// a connection's first request) to its last header byte; then 408
    /// (default 10 s). Set with
    /// [`Builder::header_read_timeout`](crate::Builder::header_read_timeout).
    pub fn header_read(&self) -> Duration {
        self.header_read
    }

    /// Time a kept-alive connection may sit idle between requests
    /// (default 60 s). Set with
    /// [`Builder::idle_timeout`](crate::Builder::idle_timeout).
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Time one read of a request body may wait for bytes (default 30 s).
    /// Set with [`Builder::read_timeout`](crate::Builder::read_timeout).
    pub fn read(&self) -> Duration {
        self.read
    }

    /// Time one write may block on a client that stops reading (default
    /// 30 s). Set with [`Builder::write_timeout`](crate::Builder::write_timeout).
    pub fn write(&self) -> Duration {
        self.write
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            read: Duration::from_secs(30),
            write: Duration::from_secs(30),
        }
    }
}

/// The limits of a [`Config`]: how large a request may be, and how many a
/// connection serves.
///
/// # Examples
///
/// ```
/// let builder = courteous::Builder::new().max_body_bytes(None).max_headers(50);
/// let limits = builder.config().limits();
/// assert_eq!(limits.max_body_bytes(), None, "no limit");
/// assert_eq!(limits.max_headers(), 50);
/// assert_eq!(limits.max_requests_per_conn(), Some(10_000), "the default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_uri_bytes: usize,
    pub(crate) max_discard_bytes: u64,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) max_requests_per_conn: Option<u64>,
}

impl Limits {
    /// Largest request head (request line plus headers), in bytes; 431
    /// beyond (default 64 KiB). Set with
    /// [`Builder::max_header_bytes`](crate::Builder::max_header_bytes).
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// Most header fields in one request; 431 beyond (default 100). Set
    /// with [`Builder::max_headers`](crate::Builder::max_headers).
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Longest request target (path and query), in bytes; 414 beyond
    /// (default 8 KiB). Set with
    /// [`Builder::max_uri_bytes`](crate::Builder::max_uri_bytes).
    pub fn max_uri_bytes(&self) -> usize {
        self.max_uri_bytes
    }

    /// Unread request body the server reads and discards to keep a
    /// connection alive; a larger leftover closes the connection instead
    /// (default 256 KiB). Set with
    /// [`Builder::max_discard_bytes`](crate::Builder::max_discard_bytes).
    pub fn max_discard_bytes(&self) -> u64 {
        self.max_discard_bytes
    }

    /// Largest request body (default 16 MiB); `None`: no limit. A larger
    /// `Content-Length` gets 413 without the handler being called, a
    /// longer chunked body fails the handler's read (or, when the handler
    /// left it unread, gets 413 instead of the handler's response). Set
    /// with [`Builder::max_body_bytes`](crate::Builder::max_body_bytes).
    pub fn max_body_bytes(&self) -> Option<u64> {
        self.max_body_bytes
    }

    /// Requests served on one connection before the server closes it
    /// (`Connection: close` on the last; default 10,000); `None`: no cap.
    /// Set with
    /// [`Builder::max_requests_per_conn`](crate::Builder::max_requests_per_conn).
    pub fn max_requests_per_conn(&self) -> Option<u64> {
        self.max_requests_per_conn
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
            max_discard_bytes: 256 * 1024,
            max_body_bytes: Some(16 * 1024 * 1024),
            max_requests_per_conn: Some(10_000),
        }
    }
}

/// The drain settings of a [`Config`]: how long a drain waits and for
/// what, and how the server closes a connection.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let builder = courteous::Builder::new()
///     .shutdown_timeout(Duration::from_secs(20))
///     .health_route("/healthz");
/// let drain = builder.config().drain();
/// assert_eq!(drain.timeout(), Some(Duration::from_secs(20)));
/// assert_eq!(drain.health_route(), Some("/healthz"));
/// assert_eq!(drain.grace(), Duration::from_millis(100), "the default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    pub(crate) timeout: Option<Duration>,
    pub(crate) grace: Duration,
    pub(crate) head_timeout: Duration,
    pub(crate) linger: Duration,
    pub(crate) delay: Duration,
    pub(crate) health_route: Option<String>,
}

impl Drain {
    /// Time a drain waits before force-closing what is left (default
    /// none: it waits as long as the requests take). Set with
    /// [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// How long after its last response an idle connection still gets its
    /// next request answered once a drain begins (default 100 ms). Set
    /// with [`Builder::drain_grace`](crate::Builder::drain_grace).
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// How long a half-received request head may take to complete once a
    /// drain begins (default 1 s). Set with
    /// [`Builder::drain_head_timeout`](crate::Builder::drain_head_timeout).
    pub fn head_timeout(&self) -> Duration {
        self.head_timeout
    }

    /// After the server sends its FIN, the longest it keeps reading (and
    /// discarding) what the peer still sends, so that closing never
    /// resets (default 500 ms); it ends sooner once the peer acknowledged
    /// the response and nothing came for a few round-trip times (at least
    /// a fiftieth of this). Every close lingers, in a drain or not. Set
    /// with [`Builder::linger`](crate::Builder::linger).
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// After a close, how long to keep serving (health checks failing,
    /// responses saying `Connection: close`) before the listener closes and
    /// the drain proper begins, so load balancers stop sending first
    /// (default none). Set with
    /// [`Builder::drain_delay`](crate::Builder::drain_delay).
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// A path the server answers itself: `200 ok` while serving, `503
    /// draining` from the close on, for load-balancer health checks
    /// (default none). Set with
    /// [`Builder::health_route`](crate::Builder::health_route).
    pub fn health_route(&self) -> Option<&str> {
        self.health_route.as_deref()
    }
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            timeout: None,
            grace: Duration::from_millis(100),
            head_timeout: Duration::from_secs(1),
            linger: Duration::from_millis(500),
            delay: Duration::ZERO,
            health_route: None,
        }
    }
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
            fastcgi: false,
            allow_connect: false,
            socket: Socket::default(),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            drain: Drain::default(),
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
            .field("fastcgi", &self.fastcgi)
            .field("allow_connect", &self.allow_connect)
            .field("socket", &self.socket)
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .field("drain", &self.drain)
            .field("tls", &self.tls.is_some())
            .field("on_shutdown", &self.on_shutdown.len())
            .field("before_shutdown", &self.before_shutdown.is_some())
            .field("on_state", &self.on_state.as_ref().map(|_| "Fn"))
            .finish()
    }
}
