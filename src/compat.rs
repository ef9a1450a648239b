//! Compatibility with Go's braintree/manners and tylerb/graceful: their
//! free functions, over one process-wide default server, under the names
//! Go users look for (`ListenAndServe`, `ListenAndServeTLS`, `Serve`,
//! `Close`, `BlockingClose`, `CloseOnInterrupt`, `SignalReceived`), and
//! manners' rule that an address that is a path (`"/path"` or `"./path"`)
//! means FastCGI on a Unix socket.
//!
//! Everything here has a typed equivalent on [`Server`](crate::Server),
//! [`Builder`](crate::Builder) and [`Handle`], which new
//! code should prefer: it can be configured, and more than one server can
//! run in a process. [`manual::from_go`](crate::manual::from_go) maps each
//! Go name to both.
//!
//! ```no_run
//! use courteous::compat;
//! use courteous::{Request, Response};
//! compat::close_on_interrupt(courteous::DEFAULT_SIGNALS)?;
//! compat::listen_and_serve("127.0.0.1:8080", |_: &mut Request| Response::text("hi\n"))?;
//! println!("stopped by signal {:?}", compat::signal_received());
//! # Ok::<(), courteous::Error>(())
//! ```

use std::fmt;
use std::net::{TcpListener, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::error::Error;
use crate::handle::Handle;
use crate::handler::Handler;
use crate::net::{Listener, Protocol};
use crate::server::Endpoint;
use crate::state::ServerState;
use crate::tls::Pem;

/// Plain HTTP/1.1.
const HTTP: Endpoint = Endpoint {
    proto: Protocol::Http1,
    tls: None,
};

/// A FastCGI responder.
const FASTCGI: Endpoint = Endpoint {
    proto: Protocol::FastCgi,
    tls: None,
};

fn default_server() -> &'static Arc<ServerState> {
    static DEFAULT: OnceLock<Arc<ServerState>> = OnceLock::new();
    DEFAULT.get_or_init(|| ServerState::new(Config::default()))
}

/// A handle on the default server: everything a [`Handle`] does (stats,
/// tracked routines, a forced close...) for the server the free
/// functions use.
///
/// # Examples
///
/// ```
/// let handle = courteous::compat::handle();
/// assert!(!handle.stats().serving, "nothing serves yet");
/// let routine = handle.track(); // manners' StartRoutine
/// drop(routine); // FinishRoutine
/// ```
pub fn handle() -> Handle {
    Handle {
        shared: default_server().clone(),
    }
}

/// Binds `addr` and serves `handler` on the default server until
/// [`close`] (manners' `ListenAndServe`). As in manners, an address that
/// starts with `/` or `.` is a Unix socket path, served as FastCGI;
/// anything else (`"127.0.0.1:8080"`, a `SocketAddr`) is HTTP over TCP.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::wait_until;
/// use courteous::Request;
///
/// let serving = std::thread::spawn(|| {
///     courteous::compat::listen_and_serve("127.0.0.1:0", |_: &mut Request| "hello\n")
/// });
/// wait_until(&courteous::compat::handle(), |s| s.listening, Duration::from_secs(5)).unwrap();
/// assert!(courteous::compat::close());
/// serving.join().unwrap()?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// A FastCGI responder on a Unix socket, as manners does it:
///
/// ```no_run
/// courteous::compat::listen_and_serve("/run/app/fcgi.sock", |_: &mut courteous::Request| "hello\n")?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn listen_and_serve(addr: impl ToString, handler: impl Handler) -> Result<(), Error> {
    let shared = default_server();
    let addr = addr.to_string();
    if addr.starts_with('/') || addr.starts_with('.') {
        let path = Path::new(&addr);
        return crate::server::serve_on(shared, Arc::new(handler), &FASTCGI, || {
            crate::net::bind_unix(
                path,
                shared.config.socket.unix_mode,
                shared.config.socket.backlog,
            )
            .map(Listener::Unix)
            .map_err(|e| Error::Bind {
                addr: addr.clone(),
                source: e,
            })
        });
    }
    crate::server::serve_on(shared, Arc::new(handler), &HTTP, || {
        crate::net::bind_any(addr.as_str(), shared.config.socket.backlog).map(Listener::owned_tcp)
    })
}

/// Binds `addr` and serves HTTPS with the certificate chain and key in
/// these PEM files, on the default server (manners' `ListenAndServeTLS`).
/// A bad path or key is an [`Error::Tls`].
///
/// # Examples
///
/// ```no_run
/// courteous::compat::close_on_interrupt(courteous::DEFAULT_SIGNALS)?;
/// courteous::compat::listen_and_serve_tls(
///     "0.0.0.0:8443",
///     "/etc/app/cert.pem",
///     "/etc/app/key.pem",
///     |_: &mut courteous::Request| "hello over TLS\n",
/// )?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// ```
/// let result = courteous::compat::listen_and_serve_tls(
///     "127.0.0.1:0",
///     "/nonexistent/cert.pem",
///     "/nonexistent/key.pem",
///     |_: &mut courteous::Request| "never served\n",
/// );
/// assert!(matches!(result, Err(courteous::Error::Tls(_))));
/// ```
pub fn listen_and_serve_tls(
    addr: impl ToSocketAddrs + fmt::Debug,
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
    handler: impl Handler,
) -> Result<(), Error> {
    let tls = crate::tls::config_from_pem(
        &Pem::File(cert.as_ref().to_path_buf()),
        &Pem::File(key.as_ref().to_path_buf()),
    )?;
    let endpoint = Endpoint {
        proto: Protocol::Http1,
        tls: Some(tls),
    };
    let shared = default_server();
    crate::server::serve_on(shared, Arc::new(handler), &endpoint, || {
        crate::net::bind_any(addr, shared.config.socket.backlog).map(Listener::owned_tcp)
    })
}

/// Serves `handler` on `listener` with the default server (manners' `Serve`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use courteous::Request;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let serving = std::thread::spawn(move || courteous::compat::serve(listener, |_: &mut Request| "hello\n"));
///
/// let mut conn = TcpStream::connect(addr)?;
/// conn.write_all(b"GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")?;
/// let mut response = String::new();
/// conn.read_to_string(&mut response)?;
/// assert!(response.ends_with("\r\n\r\nhello\n"));
///
/// courteous::compat::close();
/// serving.join().unwrap()?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn serve(listener: TcpListener, handler: impl Handler) -> Result<(), Error> {
    listener.set_nonblocking(true).map_err(Error::Io)?;
    crate::server::serve_on(default_server(), Arc::new(handler), &HTTP, || {
        Ok(Listener::owned_tcp(listener))
    })
}

/// Drains the default server; true for the call that started the drain
/// (manners' `Close`). Before the server serves, it makes the next serve
/// return at once.
///
/// # Examples
///
/// ```
/// use std::net::TcpListener;
///
/// assert!(courteous::compat::close(), "the first close");
/// assert!(!courteous::compat::close(), "later ones do nothing");
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// courteous::compat::serve(listener, |_: &mut courteous::Request| "never\n")?; // returns at once
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn close() -> bool {
    default_server().close(None)
}

/// [`close`], then waits until the drain is over (manners'
/// `BlockingClose`): true if this call started the drain. On a server of
/// your own, [`Handle::close`] then [`Handle::wait`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::wait_until;
/// use courteous::Request;
///
/// let serving = std::thread::spawn(|| {
///     courteous::compat::listen_and_serve("127.0.0.1:0", |_: &mut Request| "hello\n")
/// });
/// wait_until(&courteous::compat::handle(), |s| s.listening, Duration::from_secs(5)).unwrap();
/// assert!(courteous::compat::blocking_close()); // returns once the drain is over
/// assert!(!courteous::compat::handle().stats().serving);
/// serving.join().unwrap()?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn blocking_close() -> bool {
    let started = close();
    default_server().wait_stopped();
    started
}

/// Drains the default server when one of `signals` arrives (manners'
/// `CloseOnInterrupt`, with the signals named).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::wait_until;
/// use courteous::{Request, SIGUSR1};
///
/// courteous::compat::close_on_interrupt(&[SIGUSR1])?; // usually DEFAULT_SIGNALS
/// let serving = std::thread::spawn(|| {
///     courteous::compat::listen_and_serve("127.0.0.1:0", |_: &mut Request| "hello\n")
/// });
/// wait_until(&courteous::compat::handle(), |s| s.listening, Duration::from_secs(5)).unwrap();
/// signal_hook::low_level::raise(SIGUSR1)?; // as `kill -USR1 <pid>` would
/// serving.join().unwrap()?;
/// assert_eq!(courteous::compat::signal_received(), Some(SIGUSR1));
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn close_on_interrupt(signals: &[i32]) -> Result<(), Error> {
    let shared = default_server();
    crate::signals::handle(
        &shared.signals,
        signals,
        crate::signals::Purpose::Close,
        || crate::handle::signal_dispatch(shared),
    )
}

/// The signal that drained the default server, if any; readable after
/// `serve` returned (unlike manners).
///
/// # Examples
///
/// ```no_run
/// courteous::compat::close_on_interrupt(courteous::DEFAULT_SIGNALS)?;
/// courteous::compat::listen_and_serve("127.0.0.1:8080", |_: &mut courteous::Request| "hello\n")?;
/// match courteous::compat::signal_received() {
///     Some(sig) => println!("stopped by signal {sig}"),
///     None => println!("stopped by a call to close()"),
/// }
/// # Ok::<(), courteous::Error>(())
/// ```
pub fn signal_received() -> Option<i32> {
    default_server().signal()
}
