//! The builder: set what differs from the defaults of [`Config`], then
//! bind a [`Server`]. It stands on top of the crate: it builds the
//! listener and hands it, with the plain-data configuration, to the
//! server.

use std::fmt;
use std::net::{TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::Addr;
use crate::config::{Config, TlsSetup};
use crate::conn_info::{ConnInfo, ConnState};
use crate::error::Error;
use crate::net::{Listener, Protocol};
use crate::server::Server;
use crate::tls::Pem;

/// Builds a [`Server`]: set what differs from the defaults, then bind.
///
/// ```
/// use std::time::Duration;
/// let server = courteous::Server::builder()
///     .workers(16)
///     .shutdown_timeout(Duration::from_secs(10))
///     .bind("127.0.0.1:0")?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// Every setting, its default and when to change it:
/// [`manual::timeouts`](crate::manual::timeouts).
///
/// # Examples
///
/// The setters that only store a number (those without an example of
/// their own) all work alike; here they all are. Those of a setting that
/// can be off take a plain value or an `Option`: `None` turns it off.
///
/// ```
/// use std::time::Duration;
///
/// let secs = Duration::from_secs;
/// let builder = courteous::Server::builder()
///     .backlog(512)
///     .tcp_keepalive(secs(30))
///     .tcp_keepalive_interval(secs(10))
///     .tcp_keepalive_retries(3)
///     .header_read_timeout(secs(5))
///     .idle_timeout(secs(75))
///     .read_timeout(secs(10))
///     .write_timeout(secs(10))
///     .max_header_bytes(16 * 1024)
///     .max_headers(50)
///     .max_uri_bytes(2048)
///     .max_discard_bytes(64 * 1024)
///     .max_body_bytes(1 << 20)
///     .max_requests_per_conn(None)
///     .drain_grace(Duration::from_millis(200))
///     .drain_head_timeout(Duration::from_millis(500))
///     .linger(Duration::from_millis(250));
/// assert_eq!(builder.config().timeouts().idle(), secs(75));
/// assert_eq!(builder.config().socket().tcp_keepalive(), Some(secs(30)));
/// let builder = builder.tcp_keepalive(None); // probes off
/// assert_eq!(builder.config().socket().tcp_keepalive(), None);
/// let server = builder.bind("127.0.0.1:0")?;
/// assert_eq!(server.config().limits().max_requests_per_conn(), None);
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until bound"]
pub struct Builder {
    config: Config,
}

/// A setter that stores its value in one field of the configuration:
/// `name => group.field: Type`, or `name => group.field: optional Type`
/// for a setting that `None` clears (the setter takes
/// `impl Into<Option<Type>>`, so a plain value needs no `Some`).
macro_rules! setter {
    ($(#[$doc:meta])* $name:ident => $($field:ident).+ : optional $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<Option<$ty>>) -> Self {
            self.config.$($field).+ = value.into();
            self
        }
    };
    ($(#[$doc:meta])* $name:ident => $($field:ident).+ : $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$($field).+ = value;
            self
        }
    };
}

impl Builder {
    /// A builder with the defaults of [`Config`] (the same as
    /// [`Server::builder`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = courteous::Builder::new();
    /// assert_eq!(builder.config().timeouts(), courteous::Config::default().timeouts());
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Worker threads (default 128, at least 1). A connection waiting for
    /// its next request does not hold a worker (it waits in the idle set),
    /// so this bounds concurrent requests, not clients. Only about as many
    /// workers as CPUs circulate while handlers are quick; the rest stand
    /// by for handlers that block, so a large pool costs no speed.
    ///
    /// See [`manual::timeouts`](crate::manual::timeouts) for when to raise it.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Builder;
    ///
    /// // Handlers that wait on a slow upstream: more requests at once.
    /// assert_eq!(Builder::new().workers(512).config().workers(), 512);
    /// assert_eq!(Builder::new().workers(0).config().workers(), 1, "at least one");
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n.max(1);
        self
    }

    /// Accepted connections that may wait for a worker (default 1024, at least 1).
    /// When the queue is full the accept loop stops accepting and the
    /// kernel's listen queue ([`backlog`](Builder::backlog)) holds the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::Builder;
    ///
    /// assert_eq!(Builder::new().queue_depth(64).config().queue_depth(), 64);
    /// assert_eq!(Builder::new().queue_depth(0).config().queue_depth(), 1, "at least one");
    /// ```
    pub fn queue_depth(mut self, n: usize) -> Self {
        self.config.queue_depth = n.max(1);
        self
    }

    setter!(
        /// `listen(2)` backlog for sockets the server binds (default 1024).
        backlog => socket.backlog: i32
    );
    setter!(
        /// TCP keepalive idle time (default 60 s); `None` disables keepalive.
        tcp_keepalive => socket.tcp_keepalive: optional Duration
    );
    setter!(
        /// TCP keepalive probe interval (default 15 s); `None` leaves the
        /// system's.
        tcp_keepalive_interval => socket.tcp_keepalive_interval: optional Duration
    );
    setter!(
        /// TCP keepalive probes before the peer is dropped (default 4);
        /// `None` leaves the system's.
        tcp_keepalive_retries => socket.tcp_keepalive_retries: optional u32
    );
    setter!(
        /// Time to receive a whole request head (default 10 s); then 408.
        header_read_timeout => timeouts.header_read: Duration
    );
    setter!(
        /// Time a kept-alive connection may idle between requests (default 60 s).
        idle_timeout => timeouts.idle: Duration
    );
    setter!(
        /// Time one read of a request body may wait (default 30 s).
        read_timeout => timeouts.read: Duration
    );
    setter!(
        /// Time one write may block on a slow reader (default 30 s).
        write_timeout => timeouts.write: Duration
    );
    setter!(
        /// Largest request head in bytes (default 64 KiB); 431 beyond.
        max_header_bytes => limits.max_header_bytes: usize
    );
    setter!(
        /// Most header fields in a request (default 100); 431 beyond.
        max_headers => limits.max_headers: usize
    );
    setter!(
        /// Longest request target in bytes (default 8 KiB); 414 beyond.
        max_uri_bytes => limits.max_uri_bytes: usize
    );
    setter!(
        /// Unread body discarded to keep a connection alive (default 256 KiB).
        max_discard_bytes => limits.max_discard_bytes: u64
    );
    setter!(
        /// Largest request body (default 16 MiB); `None` for no limit.
        max_body_bytes => limits.max_body_bytes: optional u64
    );
    setter!(
        /// Requests per connection before it is closed (default 10,000);
        /// `None` for no cap.
        max_requests_per_conn => limits.max_requests_per_conn: optional u64
    );
    setter!(
        /// Drain grace for connections that were active just before the
        /// drain (default 100 ms, counted from their last response).
        drain_grace => drain.grace: Duration
    );
    setter!(
        /// Bound on completing a half-received head during a drain (default 1 s).
        drain_head_timeout => drain.head_timeout: Duration
    );
    setter!(
        /// The longest a closing connection keeps reading the peer after
        /// our FIN (default 500 ms). A linger ends sooner, as soon as a
        /// reset can no longer harm the peer: at its FIN, or once it
        /// acknowledged the response and nothing came for a few round-trip
        /// times, at least a fiftieth of this bound (10 ms by default). A
        /// peer that sends after our FIN keeps it until its own FIN. Zero
        /// closes right after the FIN, at the risk of resets.
        linger => drain.linger: Duration
    );

    /// Force-close whatever is still open this long after a drain begins,
    /// counting it in [`Stats::killed`](crate::Stats::killed).
    /// Without it (the default) a drain waits for every request.
    ///
    /// The deadline counts from the start of the drain proper (after any
    /// [`drain_delay`](Builder::drain_delay)). A handler still running at
    /// the deadline is not interrupted: it finishes in the background, and
    /// its response goes nowhere. Keep the drain delay plus this timeout
    /// below your supervisor's stop timeout (see
    /// [`manual::timeouts`](crate::manual::timeouts)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{Gate, RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let gate = Gate::new();
    /// let g = gate.clone();
    /// let server = TestServer::start(
    ///     Server::builder().shutdown_timeout(Duration::from_millis(100)),
    ///     move |_: &mut Request| { g.wait(); "too late\n" }, // a handler that overruns
    /// );
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
    /// assert!(gate.wait_parked(1, Duration::from_secs(5)));
    ///
    /// let handle = server.handle();
    /// server.stop()?; // close; serve returns at the deadline
    /// assert_eq!(handle.stats().killed, 1);
    /// gate.open();
    ///
    /// // `None` takes it back: a drain waits for every request.
    /// let patient = Server::builder().shutdown_timeout(Duration::from_secs(5)).shutdown_timeout(None);
    /// assert_eq!(patient.config().drain().timeout(), None);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.drain.timeout = timeout.into();
        self
    }

    /// Calls `hook(conn, old, new)` on every connection state change, on the
    /// thread that made it. Keep it quick: it runs on the serving path.
    ///
    /// A connection's first report, at its accept, is `(New, New)`; see
    /// [`ConnState`] for the sequences that follow. For assertions in
    /// tests, [`StateLog`](testing/struct.StateLog.html) (feature
    /// `testing`) records them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use courteous::testing::{wait_until, RawClient, TestServer};
    /// use courteous::{ConnState, Request, Server};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let builder = Server::builder().on_state(move |conn, _old, new| {
    ///     log.lock().unwrap().push((conn.id(), new));
    /// });
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.get("/", Duration::from_secs(5)).unwrap();
    /// wait_until(&server.handle(), |s| s.idle == 1, Duration::from_secs(5)).unwrap();
    /// server.stop()?; // the drain closes the idle connection
    ///
    /// let states: Vec<ConnState> = seen.lock().unwrap().iter().map(|&(_, s)| s).collect();
    /// use ConnState::*;
    /// assert_eq!(states, [New, Active, Idle, Closed]);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn on_state<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ConnInfo, ConnState, ConnState) + Send + Sync + 'static,
    {
        self.config.on_state = Some(Arc::new(hook));
        self
    }

    /// The configuration as built so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = courteous::Builder::new().linger(Duration::ZERO);
    /// assert_eq!(builder.config().drain().linger(), Duration::ZERO);
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Serves HTTPS with this certificate chain and private key, PEM from
    /// files or bytes (see [`Pem`]). They are loaded when the server binds:
    /// a bad path or key is an [`Error::Tls`] then, never a panic.
    ///
    /// ```no_run
    /// let server = courteous::Server::builder()
    ///     .tls_pem("cert.pem", "key.pem")
    ///     .bind("0.0.0.0:8443")?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// PEM text from memory (a secret store, an environment variable):
    ///
    /// ```
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let (cert_pem, key_pem) = (made.cert.pem(), made.signing_key.serialize_pem());
    /// let cert: String = cert_pem; // "-----BEGIN CERTIFICATE-----\n..."
    /// let key: String = key_pem; // "-----BEGIN PRIVATE KEY-----\n..."
    /// let server = courteous::Server::builder()
    ///     .tls_pem(cert.into_bytes(), key.into_bytes())
    ///     .bind("127.0.0.1:0")?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    ///
    /// A file that cannot be read is an error at bind time:
    ///
    /// ```
    /// let result = courteous::Server::builder()
    ///     .tls_pem("/nonexistent/cert.pem", "/nonexistent/key.pem")
    ///     .bind("127.0.0.1:0");
    /// assert!(matches!(
    ///     result,
    ///     Err(courteous::Error::Tls(courteous::TlsError::Pem { what, .. })) if what == "/nonexistent/cert.pem"
    /// ));
    /// ```
    pub fn tls_pem(mut self, cert: impl Into<Pem>, key: impl Into<Pem>) -> Self {
        self.config.tls = Some(TlsSetup::Pem {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Serves HTTPS with a rustls configuration of your own (build it with
    /// an explicit provider, e.g. `ServerConfig::builder_with_provider`, and
    /// set `alpn_protocols` to `http/1.1` if you use ALPN).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    ///
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    /// # let cert_chain: Vec<CertificateDer<'static>> = vec![made.cert.der().clone()];
    /// # let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let mut tls = rustls::ServerConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .expect("the provider supports TLS 1.2 and 1.3")
    ///     .with_no_client_auth()
    ///     .with_single_cert(cert_chain, key)
    ///     .expect("a usable certificate and key");
    /// tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    /// let server = courteous::Server::builder()
    ///     .tls_config(Arc::new(tls))
    ///     .bind("127.0.0.1:0")?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn tls_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.config.tls = Some(TlsSetup::Config(config));
        self
    }

    /// After a close, keep serving this long before the drain proper (the
    /// readiness drain of Kubernetes and load balancers): `is_draining()` is
    /// true, the health route answers 503, responses say `Connection:
    /// close`, and the listener stays open. A second close (or signal)
    /// skips the rest of the delay. Default: none.
    ///
    /// Kubernetes settings to go with it:
    /// [`manual::deploying`](crate::manual::deploying).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let builder = Server::builder()
    ///     .drain_delay(Duration::from_secs(60))
    ///     .health_route("/healthz");
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// let addr = server.local_addr();
    /// let get = |path| RawClient::connect(addr).unwrap().get(path, T).unwrap();
    /// assert_eq!(get("/healthz").status, 200);
    ///
    /// assert!(server.handle().close()); // the delay starts: still serving...
    /// assert_eq!(get("/healthz").status, 503); // ...but failing health checks
    /// let resp = get("/");
    /// assert_eq!((resp.status, resp.connection_close()), (200, true));
    ///
    /// server.stop()?; // a second close skips the rest of the delay
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.config.drain.delay = delay;
        self
    }

    /// Answers `GET`/`HEAD` on `path` in the server itself: `200 ok` while
    /// serving, `503 draining` once closed (during a drain delay too).
    /// Other methods on the path, and other paths, go to the handler.
    /// `None` (the default) answers no path itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(
    ///     Server::builder().health_route("/healthz"),
    ///     |_: &mut Request| "from the handler\n",
    /// );
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/healthz", Duration::from_secs(5)).unwrap();
    /// assert_eq!((resp.status, resp.text().as_str()), (200, "ok\n"));
    /// server.stop()?;
    ///
    /// // `None` takes it back: every path goes to the handler.
    /// let plain = Server::builder().health_route("/healthz").health_route(None);
    /// assert_eq!(plain.config().drain().health_route(), None);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    ///
    /// [`drain_delay`](Builder::drain_delay) shows it failing during a drain.
    pub fn health_route<'a>(mut self, path: impl Into<Option<&'a str>>) -> Self {
        self.config.drain.health_route = path.into().map(str::to_owned);
        self
    }

    /// Hand `CONNECT` requests (`CONNECT host:port HTTP/1.1`, for a tunnel)
    /// to the handler. By default the server answers them `501 Not
    /// Implemented` and closes, so a handler written for ordinary requests
    /// never sees one. A handler that accepts a `CONNECT` tunnels by
    /// [hijacking](crate::Request::hijack) the connection; a `CONNECT`
    /// answered with a response instead closes its connection after it.
    ///
    /// The other request-line and header rules, and why:
    /// [`manual::strictness`](crate::manual::strictness).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use courteous::http::Method;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = TestServer::start(Server::builder().allow_connect(true), |req: &mut Request| {
    ///     if req.method() != Method::CONNECT {
    ///         return Response::text("not a tunnel\n");
    ///     }
    ///     let target = req.uri().to_string(); // "example.test:443"
    ///     let mut raw = req.hijack().expect("a plain TCP connection");
    ///     let _ = raw.stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
    ///     // A proxy would connect to `target` and copy bytes both ways
    ///     // (`raw.buffered` first: what came with the request; nothing here,
    ///     // as this client waits for the 200). This one echoes four bytes.
    ///     let mut ping = [0u8; 4];
    ///     if raw.stream.read_exact(&mut ping).is_ok() {
    ///         let echo = format!("{target} {}", String::from_utf8_lossy(&ping));
    ///         let _ = raw.stream.write_all(echo.as_bytes());
    ///     }
    ///     Response::default() // dropped: the connection is the handler's
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n").unwrap();
    /// let mut stream = client.stream();
    /// stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    /// let mut established = [0u8; 19];
    /// stream.read_exact(&mut established).unwrap();
    /// assert_eq!(&established, b"HTTP/1.1 200 OK\r\n\r\n");
    /// stream.write_all(b"ping").unwrap();
    /// let mut echo = String::new();
    /// stream.read_to_string(&mut echo).unwrap();
    /// assert_eq!(echo, "example.test:443 ping");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn allow_connect(mut self, on: bool) -> Self {
        self.config.allow_connect = on;
        self
    }

    /// Runs `f` when a drain starts (at the close, before any drain delay),
    /// on a thread of its own; `serve` does not return before it finishes
    /// (Go's `RegisterOnShutdown`). May be called several times.
    ///
    /// A shutdown deadline does not wait for the hooks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let flushed = Arc::new(AtomicBool::new(false));
    /// let f = flushed.clone();
    /// let builder = Server::builder().on_shutdown(move || {
    ///     // Tell long polls to answer, flush a buffer, leave a registry...
    ///     f.store(true, Ordering::SeqCst);
    /// });
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// server.stop()?;
    /// assert!(flushed.load(Ordering::SeqCst), "serve returned after the hook");
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn on_shutdown<F>(mut self, f: F) -> Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_shutdown.push(Arc::new(f));
        self
    }

    /// Calls `f` with the address once `serve` accepts connections (its
    /// pool running), every time it starts: the moment to print "listening"
    /// or tell a test harness. A close that comes before it makes `serve`
    /// return at once, so a program that says it listens only here never
    /// says so wrongly. It runs before readiness goes to a supervisor
    /// (`NOTIFY_SOCKET`), so on a [restart](crate::restart) the new
    /// process's word comes before the old one drains.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use courteous::testing::TestServer;
    /// use courteous::{Addr, Request, Server};
    ///
    /// let (tx, rx) = mpsc::channel();
    /// let builder = Server::builder().on_listening(move |addr: &Addr| {
    ///     println!("listening on {addr}");
    ///     let _ = tx.send(addr.clone());
    /// });
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// let said = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    /// assert_eq!(&said, server.addr());
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn on_listening<F>(mut self, f: F) -> Self
    where
        F: Fn(&Addr) + Send + Sync + 'static,
    {
        self.config.on_listening = Some(Arc::new(f));
        self
    }

    /// Consulted on every close (signals included): returning false vetoes
    /// it and the server keeps serving (tylerb/graceful's `BeforeShutdown`).
    /// It runs on the closing thread (the signal thread, for a signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let may_stop = Arc::new(AtomicBool::new(false)); // e.g. "no job running"
    /// let m = may_stop.clone();
    /// let builder = Server::builder().before_shutdown(move || m.load(Ordering::SeqCst));
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// assert!(!server.handle().close(), "vetoed");
    /// assert!(!server.handle().is_draining(), "still serving");
    ///
    /// may_stop.store(true, Ordering::SeqCst);
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn before_shutdown<F>(mut self, f: F) -> Self
    where
        F: Fn() -> bool + Send + Sync + 'static,
    {
        self.config.before_shutdown = Some(Arc::new(f));
        self
    }

    /// File mode for Unix sockets the server binds (default `0o660`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// let server = courteous::Server::builder().unix_mode(0o600).bind_unix(&path)?;
    /// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    /// # drop(server);
    /// # let _ = std::fs::remove_file(&path);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn unix_mode(mut self, mode: u32) -> Self {
        self.config.socket.unix_mode = mode;
        self
    }

    /// Binds a TCP listener (with `SO_REUSEADDR`) and returns the server.
    /// The first address that binds wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = courteous::Server::builder()
    ///     .shutdown_timeout(Duration::from_secs(10))
    ///     .bind("localhost:0")?; // 127.0.0.1 or ::1, whichever binds first
    /// assert!(server.local_addr().unwrap().ip().is_loopback());
    ///
    /// // A port in use is an `Error::Bind` that names the address.
    /// let taken = server.local_addr().unwrap();
    /// let again = courteous::Server::builder().bind(taken);
    /// assert!(matches!(again, Err(courteous::Error::Bind { .. })));
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn bind(self, addr: impl ToSocketAddrs + fmt::Debug) -> Result<Server, Error> {
        let listener = crate::net::bind_any(addr, self.config.socket.backlog)?;
        Server::new(self.config, Listener::owned_tcp(listener), Protocol::Http1)
    }

    /// Binds a Unix-domain socket at `path` and serves HTTP on it. Refuses
    /// a path where a server already answers, removes a stale socket file,
    /// sets the file mode (`unix_mode`, default `0o660`), and removes the
    /// file when a drain closes the listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// let server = Server::builder().unix_mode(0o600).bind_unix(&path)?;
    /// let server = TestServer::serve(server, |req: &mut Request| {
    ///     // No peer address on a Unix socket, but the peer's credentials.
    ///     Response::text(format!("uid {:?}\n", req.conn().peer_cred().map(|c| c.uid)))
    /// });
    /// let mut client = RawClient::connect_unix(&path).unwrap();
    /// assert_eq!(client.get("/", Duration::from_secs(5)).unwrap().status, 200);
    /// server.stop()?;
    /// assert!(!path.exists());
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn bind_unix(self, path: impl AsRef<Path>) -> Result<Server, Error> {
        let path = path.as_ref();
        let socket = crate::net::bind_unix(
            path,
            self.config.socket.unix_mode,
            self.config.socket.backlog,
        )
        .map_err(|e| Error::Bind {
            addr: path.display().to_string(),
            source: e,
        })?;
        Server::new(self.config, Listener::Unix(socket), Protocol::Http1)
    }

    /// Serve FastCGI (the responder role, behind nginx, Apache or
    /// `cgi-fcgi`) instead of HTTP, with the same handler type and the same
    /// drain, on whatever socket the server binds or inherits:
    /// `.fastcgi(true).bind_unix(path)` on a Unix socket (whose file follows
    /// the rules of [`bind_unix`](Builder::bind_unix)),
    /// `.fastcgi(true).from_systemd()` for a socket-activated responder,
    /// which [`restart`](crate::restart) and listener hand-off then work for
    /// too, `.fastcgi(true).bind(addr)` on TCP, for a web server on another
    /// host (like any FastCGI port, reachable by the web server only).
    ///
    /// ```text
    /// # nginx
    /// location / {
    ///     include fastcgi_params;
    ///     fastcgi_pass unix:/run/app/fcgi.sock;
    ///     fastcgi_keep_conn on;   # reuse connections (FCGI_KEEP_CONN)
    /// }
    /// ```
    ///
    /// The full nginx setup, with a keep-alive upstream block, is in
    /// [`manual::deploying`](crate::manual::deploying).
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Response, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// let server = Server::builder().fastcgi(true).bind_unix(&path)?;
    /// assert!(server.config().fastcgi());
    /// let server = TestServer::serve(server, |req: &mut Request| {
    ///     // What the web server passed on: REMOTE_ADDR, HTTPS, the request itself.
    ///     Response::text(format!("{} {} from {:?}\n", req.method(), req.uri(), req.remote_addr()))
    /// });
    /// // ... nginx: `fastcgi_pass unix:{path};` ...
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn fastcgi(mut self, on: bool) -> Self {
        self.config.fastcgi = on;
        self
    }

    /// Serves on the socket systemd passed (socket activation: descriptor 3
    /// and `LISTEN_FDS`, honouring `LISTEN_PID` when set), TCP or Unix, or
    /// the one a [`restart`](crate::restart) handed down. Clears
    /// `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` so that children do
    /// not inherit them: call it early, before other threads read the
    /// environment.
    ///
    /// Without a passed socket it fails with an [`Error::Io`] (kind
    /// `NotFound`); [`bind_or_activate`](Builder::bind_or_activate) falls
    /// back to binding instead. The systemd units to go with it are in
    /// [`manual::deploying`](crate::manual::deploying).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// // app.socket: `ListenStream=8080`; app.service: `Type=notify`.
    /// let server = courteous::Server::builder().from_systemd()?;
    /// server.handle().close_on_signals(&[courteous::SIGTERM])?;
    /// server.serve(|_: &mut courteous::Request| "activated\n")?; // sends READY=1
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn from_systemd(self) -> Result<Server, Error> {
        let listener = crate::systemd::take_listener()?;
        Server::new(self.config, listener, Protocol::Http1)
    }

    /// [`from_systemd`](Builder::from_systemd) when a socket was passed
    /// (socket activation, or a [`restart`](crate::restart)), else
    /// [`bind`](Builder::bind) `addr`.
    ///
    /// # Examples
    ///
    /// ```
    /// // Under systemd (or after a restart) the passed socket; here, a bind.
    /// let server = courteous::Server::builder().bind_or_activate("127.0.0.1:0")?;
    /// assert!(server.local_addr().is_some());
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn bind_or_activate(self, addr: impl ToSocketAddrs + fmt::Debug) -> Result<Server, Error> {
        if std::env::var_os("LISTEN_FDS").is_some() {
            self.from_systemd()
        } else {
            self.bind(addr)
        }
    }

    /// Serves on a TCP listener made elsewhere (inherited, or bound with
    /// options of your own).
    ///
    /// The socket becomes the server's: at a drain it stops the socket's
    /// new handshakes (see [`manual::howto_drain`](crate::manual::howto_drain)).
    /// To serve one socket from two servers, hand it over with
    /// [`Handle::try_clone_listener`](crate::Handle::try_clone_listener),
    /// which leaves it alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use std::time::Duration;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?; // or inherited, or tuned by hand
    /// let server = courteous::Server::builder()
    ///     .shutdown_timeout(Duration::from_secs(10))
    ///     .from_listener(listener)?;
    /// # let _ = server;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn from_listener(self, listener: TcpListener) -> Result<Server, Error> {
        listener.set_nonblocking(true).map_err(Error::Io)?;
        Server::new(self.config, Listener::owned_tcp(listener), Protocol::Http1)
    }

    /// Serves on a Unix listener made elsewhere. Its socket file is left in
    /// place when the server closes it (it is not ours).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixListener;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let server = Server::builder().from_unix_listener(listener)?;
    /// TestServer::serve(server, |_: &mut Request| "hi\n").stop()?;
    /// assert!(path.exists(), "left in place");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn from_unix_listener(self, listener: UnixListener) -> Result<Server, Error> {
        listener.set_nonblocking(true).map_err(Error::Io)?;
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf))
            .unwrap_or_default();
        let socket = crate::net::UnixSocket {
            listener,
            path,
            remove_on_close: false.into(),
        };
        Server::new(self.config, Listener::Unix(socket), Protocol::Http1)
    }
}

/// The ways to make a [`Server`] with the default configuration, or to
/// start a [`Builder`]: here, above the server, so that the server's own
/// code never points up at its builder.
impl Server {
    /// A builder, to configure before binding.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = courteous::Server::builder()
    ///     .workers(8)
    ///     .shutdown_timeout(Duration::from_secs(5))
    ///     .bind("127.0.0.1:0")?;
    /// assert_eq!(server.config().workers(), 8);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Binds a TCP address with the default configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// let addr = server.local_addr().expect("a TCP server");
    /// assert_ne!(addr.port(), 0, "the port the system chose");
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn bind(addr: impl ToSocketAddrs + fmt::Debug) -> Result<Server, Error> {
        Builder::new().bind(addr)
    }

    /// Binds a Unix socket with the default configuration (see
    /// [`Builder::bind_unix`] for the rules on the socket file).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// let server = Server::bind_unix(&path)?;
    /// let server = TestServer::serve(server, |_: &mut Request| "hello over a Unix socket\n");
    /// let mut client = RawClient::connect_unix(&path).unwrap();
    /// let resp = client.get("/", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.text(), "hello over a Unix socket\n");
    /// server.stop()?;
    /// assert!(!path.exists(), "the drain removed the socket file");
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn bind_unix(path: impl AsRef<Path>) -> Result<Server, Error> {
        Builder::new().bind_unix(path)
    }

    /// Serves on an existing TCP listener with the default configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let server = courteous::Server::from_listener(listener)?;
    /// assert_eq!(server.local_addr(), Some(addr));
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn from_listener(listener: TcpListener) -> Result<Server, Error> {
        Builder::new().from_listener(listener)
    }

    /// Serves on an existing Unix listener with the default configuration.
    /// The socket file is not the server's: it stays when the server is
    /// done.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::UnixListener;
    ///
    /// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let server = courteous::Server::from_unix_listener(listener)?;
    /// assert_eq!(server.addr(), &courteous::Addr::Unix(path.clone()));
    /// drop(server);
    /// assert!(path.exists(), "not the server's to remove");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn from_unix_listener(listener: UnixListener) -> Result<Server, Error> {
        Builder::new().from_unix_listener(listener)
    }
}
