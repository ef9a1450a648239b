//! manners-style free functions over one process-wide default server.
//!
//! ```no_run
//! use courteous::{Request, Response};
//! courteous::close_on_interrupt(courteous::DEFAULT_SIGNALS)?;
//! courteous::listen_and_serve("127.0.0.1:8080", |_: &mut Request| Response::text("hi\n"))?;
//! println!("stopped by signal {:?}", courteous::signal_received());
//! # Ok::<(), courteous::Error>(())
//! ```

use std::net::{TcpListener, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::drain::Shared;
use crate::error::Error;
use crate::handle::Handle;
use crate::handler::Handler;
use crate::net::{Listener, Protocol};
use crate::server::Endpoint;
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

fn default_server() -> &'static Arc<Shared> {
    static DEFAULT: OnceLock<Arc<Shared>> = OnceLock::new();
    DEFAULT.get_or_init(|| Shared::new(Config::default()))
}

/// A handle on the default server.
pub fn handle() -> Handle {
    Handle {
        shared: default_server().clone(),
    }
}

/// Binds `addr` and serves `handler` on the default server until
/// [`close`] (manners' `ListenAndServe`). As in manners, an address that
/// starts with `/` or `.` is a Unix socket path, served as FastCGI;
/// anything else (`"127.0.0.1:8080"`, a `SocketAddr`) is HTTP over TCP.
pub fn listen_and_serve(addr: impl ToString, handler: impl Handler) -> Result<(), Error> {
    let shared = default_server();
    let addr = addr.to_string();
    if addr.starts_with('/') || addr.starts_with('.') {
        let path = Path::new(&addr);
        return crate::server::serve_on(shared, Arc::new(handler), &FASTCGI, || {
            crate::net::bind_unix(path, shared.config.unix_mode, shared.config.backlog)
                .map(Listener::Unix)
                .map_err(|e| Error::Bind {
                    addr: addr.clone(),
                    source: e,
                })
        });
    }
    crate::server::serve_on(shared, Arc::new(handler), &HTTP, || {
        crate::net::bind_any(addr.as_str(), shared.config.backlog).map(Listener::Tcp)
    })
}

/// Binds `addr` and serves HTTPS with the certificate chain and key in
/// these PEM files, on the default server (manners' `ListenAndServeTLS`).
/// A bad path or key is an [`Error::Tls`].
pub fn listen_and_serve_tls(
    addr: impl ToSocketAddrs,
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
        crate::net::bind_any(addr, shared.config.backlog).map(Listener::Tcp)
    })
}

/// Serves `handler` on `listener` with the default server (manners' `Serve`).
pub fn serve(listener: TcpListener, handler: impl Handler) -> Result<(), Error> {
    listener.set_nonblocking(true).map_err(Error::Io)?;
    crate::server::serve_on(default_server(), Arc::new(handler), &HTTP, || {
        Ok(Listener::Tcp(listener))
    })
}

/// Drains the default server; true for the call that started the drain.
pub fn close() -> bool {
    default_server().close(None)
}

/// Drains the default server when one of `signals` arrives (manners'
/// `CloseOnInterrupt`, with the signals named).
pub fn close_on_interrupt(signals: &[i32]) -> Result<(), Error> {
    crate::signals::close_on(default_server(), signals)
}

/// The signal that drained the default server, if any; readable after
/// `serve` returned (unlike manners).
pub fn signal_received() -> Option<i32> {
    default_server().signal()
}
