//! Choosing timeouts and pool size.
//!
//! The defaults suit a server that answers its requests in milliseconds
//! to seconds, directly or behind a proxy, with a supervisor that allows
//! it some seconds to stop. This chapter goes through every setting, says
//! why its default is what it is, and when to change it. Each is set by a
//! [`Builder`](crate::Builder) setter and read back from
//! [`Config`](crate::Config), alone or in one of its groups; the table
//! after the example maps one to the other.
//!
//! The defaults, checked by this example (it runs with the tests, so the
//! numbers below cannot drift from the code):
//!
//! ```
//! use std::time::Duration;
//!
//! let c = courteous::Builder::new().config().clone();
//! let secs = Duration::from_secs;
//! assert_eq!((c.workers(), c.queue_depth()), (128, 1024));
//! assert!(!c.fastcgi());
//! assert!(!c.allow_connect());
//!
//! let socket = c.socket();
//! assert_eq!(socket.backlog(), 1024);
//! assert_eq!(socket.tcp_keepalive(), Some(secs(60)));
//! assert_eq!(socket.tcp_keepalive_interval(), Some(secs(15)));
//! assert_eq!(socket.tcp_keepalive_retries(), Some(4));
//! assert_eq!(socket.unix_mode(), 0o660);
//!
//! let timeouts = c.timeouts();
//! assert_eq!((timeouts.header_read(), timeouts.idle()), (secs(10), secs(60)));
//! assert_eq!((timeouts.read(), timeouts.write()), (secs(30), secs(30)));
//!
//! let limits = c.limits();
//! assert_eq!(limits.max_header_bytes(), 64 << 10);
//! assert_eq!((limits.max_headers(), limits.max_uri_bytes()), (100, 8 << 10));
//! assert_eq!(limits.max_discard_bytes(), 256 << 10);
//! assert_eq!(limits.max_body_bytes(), Some(16 << 20));
//! assert_eq!(limits.max_requests_per_conn(), Some(10_000));
//!
//! let drain = c.drain();
//! assert_eq!(drain.timeout(), None); // `shutdown_timeout`
//! assert_eq!(drain.grace(), Duration::from_millis(100)); // `drain_grace`
//! assert_eq!(drain.head_timeout(), secs(1)); // `drain_head_timeout`
//! assert_eq!(drain.linger(), Duration::from_millis(500));
//! assert_eq!(drain.delay(), Duration::ZERO); // `drain_delay`
//! assert_eq!(drain.health_route(), None);
//! ```
//!
//! | setter on [`Builder`](crate::Builder) | read back from [`Config`](crate::Config) | default |
//! |---|---|---|
//! | [`workers`](crate::Builder::workers) | [`workers()`](crate::Config::workers) | 128 |
//! | [`queue_depth`](crate::Builder::queue_depth) | [`queue_depth()`](crate::Config::queue_depth) | 1024 |
//! | [`fastcgi`](crate::Builder::fastcgi) | [`fastcgi()`](crate::Config::fastcgi) | false |
//! | [`allow_connect`](crate::Builder::allow_connect) | [`allow_connect()`](crate::Config::allow_connect) | false |
//! | [`backlog`](crate::Builder::backlog) | [`socket().backlog()`](crate::config::Socket::backlog) | 1024 |
//! | [`tcp_keepalive`](crate::Builder::tcp_keepalive) | [`socket().tcp_keepalive()`](crate::config::Socket::tcp_keepalive) | 60 s |
//! | [`tcp_keepalive_interval`](crate::Builder::tcp_keepalive_interval) | [`socket().tcp_keepalive_interval()`](crate::config::Socket::tcp_keepalive_interval) | 15 s |
//! | [`tcp_keepalive_retries`](crate::Builder::tcp_keepalive_retries) | [`socket().tcp_keepalive_retries()`](crate::config::Socket::tcp_keepalive_retries) | 4 |
//! | [`unix_mode`](crate::Builder::unix_mode) | [`socket().unix_mode()`](crate::config::Socket::unix_mode) | `0o660` |
//! | [`header_read_timeout`](crate::Builder::header_read_timeout) | [`timeouts().header_read()`](crate::config::Timeouts::header_read) | 10 s |
//! | [`idle_timeout`](crate::Builder::idle_timeout) | [`timeouts().idle()`](crate::config::Timeouts::idle) | 60 s |
//! | [`read_timeout`](crate::Builder::read_timeout) | [`timeouts().read()`](crate::config::Timeouts::read) | 30 s |
//! | [`write_timeout`](crate::Builder::write_timeout) | [`timeouts().write()`](crate::config::Timeouts::write) | 30 s |
//! | [`max_header_bytes`](crate::Builder::max_header_bytes) | [`limits().max_header_bytes()`](crate::config::Limits::max_header_bytes) | 64 KiB |
//! | [`max_headers`](crate::Builder::max_headers) | [`limits().max_headers()`](crate::config::Limits::max_headers) | 100 |
//! | [`max_uri_bytes`](crate::Builder::max_uri_bytes) | [`limits().max_uri_bytes()`](crate::config::Limits::max_uri_bytes) | 8 KiB |
//! | [`max_discard_bytes`](crate::Builder::max_discard_bytes) | [`limits().max_discard_bytes()`](crate::config::Limits::max_discard_bytes) | 256 KiB |
//! | [`max_body_bytes`](crate::Builder::max_body_bytes) | [`limits().max_body_bytes()`](crate::config::Limits::max_body_bytes) | 16 MiB |
//! | [`max_requests_per_conn`](crate::Builder::max_requests_per_conn) | [`limits().max_requests_per_conn()`](crate::config::Limits::max_requests_per_conn) | 10,000 |
//! | [`shutdown_timeout`](crate::Builder::shutdown_timeout) | [`drain().timeout()`](crate::config::Drain::timeout) | none |
//! | [`drain_grace`](crate::Builder::drain_grace) | [`drain().grace()`](crate::config::Drain::grace) | 100 ms |
//! | [`drain_head_timeout`](crate::Builder::drain_head_timeout) | [`drain().head_timeout()`](crate::config::Drain::head_timeout) | 1 s |
//! | [`linger`](crate::Builder::linger) | [`drain().linger()`](crate::config::Drain::linger) | 500 ms |
//! | [`drain_delay`](crate::Builder::drain_delay) | [`drain().delay()`](crate::config::Drain::delay) | none |
//! | [`health_route`](crate::Builder::health_route) | [`drain().health_route()`](crate::config::Drain::health_route) | none |
//!
//! A setting that can be off (the TCP keepalive ones, `max_body_bytes`,
//! `max_requests_per_conn`, `shutdown_timeout`, `health_route`) takes a
//! plain value or an `Option`: `None` turns it off.
//!
//! # Workers, the idle set and the timer thread
//!
//! The server runs a fixed pool of [`workers`](crate::Builder::workers)
//! threads (default 128). A worker owns one connection at a time: it reads
//! a request, calls the handler, writes the response, and answers
//! pipelined requests already buffered without letting go.
//!
//! Thread-per-connection has one trap: with N workers, N idle keep-alive
//! clients would occupy every worker and new connections would starve.
//! Here, a connection waiting for its next request holds no worker: its
//! worker **parks** it in the idle set (one epoll instance watching every
//! such connection) and takes whatever is ready next. When a parked
//! connection's request arrives, a free worker takes it. Under load the
//! next thing is usually ready already, so a worker goes from connection to
//! connection without sleeping, as an event loop would; only about as many
//! workers as there are CPUs wait for events, and the others are called in
//! (within about a millisecond) when every one in circulation is held up
//! by a slow handler or a slow client. So a handler that blocks delays
//! nobody else, thousands of idle keep-alive clients cost a file descriptor
//! and a little memory each, not a thread, and `workers` bounds the number
//! of **requests being served at once**, not the number of clients.
//!
//! The **timer** thread keeps the time: a parked connection whose idle
//! timeout (or, in a drain, its grace) passes is closed by it, as is a
//! closing connection whose linger is over (see
//! [`howto_drain`](super::howto_drain)).
//!
//! ## When to raise `workers`
//!
//! A request holds its worker from its first byte to the end of its
//! response, including everything the handler waits for: a database, an
//! upstream service, a lock, a `sleep`, a long poll, a streamed response
//! ([`Response::reader`](crate::Response::reader)) to a slow client. By
//! Little's law the pool must cover *request rate × time a request holds a
//! worker*, with headroom for bursts: 128 workers serve 12,800 requests per
//! second of 10 ms each, but only 128 concurrent long polls. Raise it when:
//!
//! - handlers block on I/O for long, or a handler is a long poll or a
//!   stream (size the pool for the number of them open at once, plus the
//!   ordinary traffic);
//! - [`Stats::in_flight`](crate::Stats::in_flight) sits at `workers` while
//!   latency climbs: requests are queueing for a worker.
//!
//! Workers are ordinary threads (each reserves a stack, 2 MiB of address
//! space by default, of which only the touched pages use memory), so
//! hundreds are fine and thousands are possible. For CPU-bound handlers,
//! more workers than cores adds no throughput but costs little.
//!
//! ## `queue_depth` (1024) and `backlog` (1024)
//!
//! Accepted connections wait for a worker in a bounded queue of
//! [`queue_depth`](crate::Builder::queue_depth); when it is full the
//! accept loop stops accepting and the kernel's listen queue,
//! [`backlog`](crate::Builder::backlog) deep, holds further connects
//! (Linux caps it at `net.core.somaxconn`, 4096 on current kernels).
//! Together they absorb a burst of new connections. During a drain the
//! accept loop never waits for room: what it still accepts is handled by
//! the drain rules, so nothing queued is dropped.
//!
//! # Timeouts while serving
//!
//! ## `header_read_timeout` (10 s)
//!
//! The time from a request's first byte (for a connection's first request,
//! from the accept) to the end of its head; then `408 Request Timeout`, or
//! a plain close if not a byte came. Counting the first request from the
//! accept means a client that connects and dribbles a byte now and then
//! cannot keep a connection open (the "slowloris" attack). Go's
//! `ReadHeaderTimeout`; Go has none by default. 10 s is generous for any
//! real client, including slow mobile links; lower it for a server
//! exposed to the internet without a proxy in front.
//!
//! ## `idle_timeout` (60 s)
//!
//! How long a kept-alive connection may wait for its next request before
//! the server closes it (cleanly, with a FIN). Go's `IdleTimeout`. Idle
//! connections cost no worker, so a long idle timeout is cheap, and it
//! saves clients a new handshake (and a TLS handshake) per request.
//!
//! Behind a proxy or a load balancer, **make it longer than the proxy's
//! own idle timeout for upstream connections**, so that the proxy, not
//! the server, closes idle connections: when the server closes first, a
//! request the proxy sends at that moment finds a closed connection.
//! nginx's upstream `keepalive_timeout` defaults to 60 s and AWS load
//! balancers' idle timeout to 60 s: either lower theirs (50 s) or raise
//! this one (75 s).
//!
//! ## `read_timeout` (30 s) and `write_timeout` (30 s)
//!
//! Each bounds **one** read of a request body, or one write of a response,
//! not the whole transfer: a slow upload or download that keeps making
//! progress is never cut, one that stalls for 30 s is. A stalled read
//! fails the handler's [`Body`](crate::Body) read; a stalled write ends
//! the connection. They free the worker from a client that went away
//! without closing, or that stopped reading on purpose.
//!
//! ## `tcp_keepalive` (60 s), `tcp_keepalive_interval` (15 s), `tcp_keepalive_retries` (4)
//!
//! TCP keepalive probes find peers that vanished without a FIN (a machine
//! that lost power, a NAT that forgot the connection): after 60 s of
//! silence the kernel probes every 15 s, and drops the connection after 4
//! unanswered probes, two minutes in all. That matters for requests that
//! wait a long time for the client, and for connections behind NATs and
//! firewalls that drop silent flows. `None` turns probes off.
//! (manners used 3 minutes, Go uses 15 s.)
//!
//! # Limits
//!
//! | setting | default | beyond it |
//! |---|---|---|
//! | [`max_header_bytes`](crate::Builder::max_header_bytes) | 64 KiB (Go: 1 MiB) | `431` |
//! | [`max_headers`](crate::Builder::max_headers) | 100 fields | `431` |
//! | [`max_uri_bytes`](crate::Builder::max_uri_bytes) | 8 KiB (nginx's line limit) | `414` |
//! | [`max_body_bytes`](crate::Builder::max_body_bytes) | 16 MiB; `None` for none | `413` before the handler for a `Content-Length` body; a failing read for a chunked one (or `413` from the server, for one the handler left unread) |
//! | [`max_discard_bytes`](crate::Builder::max_discard_bytes) | 256 KiB | the connection closes instead of being kept alive |
//! | [`max_requests_per_conn`](crate::Builder::max_requests_per_conn) | 10,000; `None` for no cap | the last response says `Connection: close` |
//!
//! The header limits bound the memory one request can make the server
//! hold. `max_discard_bytes` is the most body the server reads and throws
//! away when a handler answers without reading its request's body, to keep
//! the connection usable; a larger leftover is cheaper to drop with the
//! connection. `max_requests_per_conn` makes long-lived keep-alive
//! connections come back through the load balancer now and then, so that
//! load spreads to new instances.
//!
//! The protocol rules (what a request line, `Host` or framing must look
//! like) have no settings but one: [`allow_connect`](crate::Builder::allow_connect)
//! (default false, `501` for a `CONNECT`) hands `CONNECT` requests to a
//! handler that tunnels. Every rule and its reason:
//! [`strictness`](super::strictness).
//!
//! # Drain settings
//!
//! ## `drain_grace` (100 ms)
//!
//! How long after its last response (or its accept) an idle connection
//! still gets its next request answered once a drain begins. It only needs
//! to cover a client's turnaround plus a round trip; 100 ms covers clients
//! on the same continent. See [`howto_drain`](super::howto_drain) for the
//! race it closes.
//!
//! ## `drain_head_timeout` (1 s)
//!
//! How long a half-received request head may take to complete once a
//! drain begins, instead of the full `header_read_timeout`. A real client
//! sends a head in one packet, so a second is plenty; what takes longer is
//! not worth holding the drain for.
//!
//! ## `linger` (500 ms)
//!
//! After the server sends its FIN, the longest it keeps reading (and
//! discarding) what the client still sends before closing, so that the
//! close never turns into a reset. It ends as soon as the risk is over:
//! at the client's FIN, or once the client's kernel acknowledged the
//! response and nothing came for a few round-trip times, at least a
//! fiftieth of `linger` (see [`howto_drain`](super::howto_drain)), so it
//! usually ends 10 ms after the FIN even when the client ignores it; a
//! client that sends after the FIN keeps it until its own FIN. 500 ms
//! bounds it on a path whose acknowledgements are lost; raising it also
//! widens the quiet margin. Zero closes right after the FIN, at the risk
//! of resets.
//!
//! ## `drain_delay` (none) and `health_route` (none)
//!
//! A readiness drain for load balancers: see
//! [`Builder::drain_delay`](crate::Builder::drain_delay),
//! [`Builder::health_route`](crate::Builder::health_route) and the
//! Kubernetes section of [`deploying`](super::deploying).
//!
//! ## `shutdown_timeout` (none), and the supervisor's stop timeout
//!
//! Without a [`shutdown_timeout`](crate::Builder::shutdown_timeout) a drain
//! waits for every request, however long. That is right for a CLI or a
//! test, and wrong under a supervisor: every supervisor has a stop timeout
//! of its own, after which it sends SIGKILL, and a SIGKILL resets every
//! connection with no response and no count.
//!
//! | supervisor | stop timeout (default) |
//! |---|---|
//! | systemd | `TimeoutStopSec` (90 s) |
//! | Docker | `docker stop --time` (10 s) |
//! | Kubernetes | `terminationGracePeriodSeconds` (30 s) |
//!
//! So set `shutdown_timeout` such that
//!
//! ```text
//! drain_delay + shutdown_timeout + linger + time to exit  <  the supervisor's stop timeout
//! ```
//!
//! with a margin of a few seconds: for Kubernetes' 30 s, say `drain_delay`
//! 5 s and `shutdown_timeout` 20 s. Then the server, not the supervisor,
//! decides what to cut short: it closes cleanly everything that finished,
//! force-closes only the requests that overran, and counts them in
//! [`Stats::killed`](crate::Stats::killed), where
//! you can log them.
//!
//! ## `unix_mode` (`0o660`)
//!
//! The file mode of a Unix socket the server binds: owner and group may
//! connect. Put the web server's user in the socket's group (or the
//! other way round) rather than opening it to everyone.
//!
//! # Hooks
//!
//! The rest of the configuration is code, not numbers:
//! [`on_state`](crate::Builder::on_state) (runs on the serving path: keep
//! it quick), [`on_listening`](crate::Builder::on_listening),
//! [`on_shutdown`](crate::Builder::on_shutdown),
//! [`before_shutdown`](crate::Builder::before_shutdown), and TLS
//! ([`tls_pem`](crate::Builder::tls_pem),
//! [`tls_config`](crate::Builder::tls_config)).
