//! # courteous: a polite HTTP/1.1 server for blocking Rust
//!
//! It never hangs up on a request. Told to stop, it stops accepting, lets
//! every in-flight request finish, closes idle keep-alive connections
//! cleanly (a FIN, never a reset), and [`Server::serve`] returns the moment
//! the last one is done; past an optional deadline it force-closes what is
//! left and counts it. No async runtime: a blocking accept loop feeds a
//! fixed pool of worker threads.
//!
//! ```no_run
//! use courteous::{Request, Response, Server};
//!
//! let server = Server::builder()
//!     .shutdown_timeout(std::time::Duration::from_secs(10))
//!     .bind("127.0.0.1:8080")?;
//! let handle = server.handle();
//! handle.close_on_signals(courteous::DEFAULT_SIGNALS)?;
//! server.serve(|_req: &mut Request| Response::text("hello\n"))?;
//! println!("drained; {} connections force-closed", handle.stats().killed);
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! ## What a drain does, connection by connection
//!
//! | state at close | what happens | what the client sees |
//! |---|---|---|
//! | not yet accepted | new handshakes stopped, connections the kernel had already completed taken, then the listener closed | connection refused, at once |
//! | New, no byte read | closed cleanly once its grace (from the accept) is over | EOF |
//! | New or Active, part of a head read | may finish within `drain_head_timeout` (1 s) | full response with `Connection: close`, or EOF after the bound |
//! | Active | the handler finishes; the response carries `Connection: close` | full response, then EOF |
//! | Idle, active moments ago | `drain_grace` (100 ms from its last response) for its next request | the request answered with `Connection: close` |
//! | Idle for longer | closed cleanly at once | EOF, never a reset |
//! | past `shutdown_timeout` | force-closed, counted in [`Stats::killed`] | EOF or reset |
//!
//! "Cleanly" means the server sends its FIN first, then reads and discards
//! what the client still sends before closing, so the kernel never answers
//! unread input with a reset: until the client's FIN, or until the client
//! acknowledged the response and nothing came for a few round-trip times
//! (10 ms at least), at most `linger` (500 ms). A client that keeps
//! its socket open, or a pool that never reads it, does not hold `serve`.
//!
//! ## Connection states
//!
//! `New → Active → Idle → Active … → Closed`, or `Hijacked`; every change
//! goes to the [`Builder::on_state`] hook. See [`ConnState`].
//!
//! ## Further reading
//!
//! - The [`manual`]: how draining works, choosing timeouts and pool size,
//!   deploying behind nginx, systemd and Kubernetes, what the server
//!   refuses in a request and why, and a map from Go's manners, graceful
//!   and `net/http` to this crate.

// One module, `tcp_info`, allows `unsafe` for a single reviewed
// `getsockopt` call (its docs say why); everything else denies it.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg(unix)]

mod addr;
mod builder;
pub mod compat;
pub mod config;
mod conn;
mod conn_info;
mod error;
mod fastcgi;
mod handle;
mod handler;
mod hijack;
mod http1;
mod idle;
mod io;
#[cfg(feature = "json")]
mod json;
pub mod manual;
mod metrics;
mod net;
mod phase;
mod pool;
mod registry;
mod request;
mod response;
pub mod restart;
mod router;
mod server;
mod signals;
mod slots;
mod state;
mod stats;
mod step;
mod stream;
mod systemd;
mod tcp_info;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;
// Documented in every build of the docs (the manual links to it); usable
// with the feature.
#[cfg(any(feature = "testing", doc))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod timer;
mod tls;

pub use addr::{Addr, PeerCred};
pub use builder::Builder;
pub use config::Config;
pub use conn_info::{ConnInfo, ConnState};
pub use error::{Error, RestartError, TlsError};
pub use handle::{Handle, Routine};
pub use handler::Handler;
pub use hijack::{Hijacked, HijackedStream};
pub use http1::body::Body;
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use json::JsonError;
pub use request::Request;
pub use response::Response;
pub use router::Router;
pub use server::Server;
pub use signals::{DEFAULT_SIGNALS, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
pub use stats::Stats;
pub use stream::BodyWriter;
pub use tls::Pem;

pub use http;
/// The TLS library, for [`Builder::tls_config`]: a config built with this
/// rustls (0.23) fits.
pub use rustls;

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Entry points for the fuzz targets (not part of the API).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
