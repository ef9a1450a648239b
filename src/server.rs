//! The server: the accept loop on the thread that calls `serve`, the pool
//! it feeds, and the drain that ends it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use rustls::ServerConfig;

use crate::addr::Addr;
use crate::config::Config;
use crate::conn::Conn;
use crate::conn_info::ConnInfo;
use crate::error::Error;
use crate::handle::Handle;
use crate::handler::Handler;
use crate::idle::IdleSet;
use crate::net::{self, wait_readable, Accepted, Listener, Protocol, Ready, Stream, Waker};
use crate::pool::Pool;
use crate::state::ServerState;
use crate::timer;

/// A bound server. [`serve`](Server::serve) blocks the calling thread
/// until a [`Handle::close`] (or a signal) drains it.
///
/// ```no_run
/// use courteous::{Request, Response, Server};
///
/// let server = Server::bind("127.0.0.1:8080")?;
/// server.handle().close_on_signals(courteous::DEFAULT_SIGNALS)?;
/// server.serve(|_req: &mut Request| Response::text("hello\n"))?;
/// // Every request finished, every connection closed.
/// # Ok::<(), courteous::Error>(())
/// ```
pub struct Server {
    shared: Arc<ServerState>,
    addr: Addr,
    endpoint: Endpoint,
}

/// A server dropped before it served closes the socket it was bound with
/// (its handles do not keep it open).
impl Drop for Server {
    fn drop(&mut self) {
        drop(self.shared.take_bound());
    }
}

/// What a listener's connections get: their protocol and, for HTTPS, the
/// TLS configuration.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) proto: Protocol,
    pub(crate) tls: Option<Arc<ServerConfig>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("protocol", &self.endpoint.proto)
            .field("tls", &self.endpoint.tls.is_some())
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Server {
    pub(crate) fn new(
        config: Config,
        listener: Listener,
        proto: Protocol,
    ) -> Result<Server, Error> {
        let addr = match &listener {
            Listener::Tcp(l) => Addr::Tcp(l.local_addr().map_err(Error::Io)?),
            Listener::Unix(u) => Addr::Unix(u.path.clone()),
        };
        let proto = if config.fastcgi {
            Protocol::FastCgi
        } else {
            proto
        };
        let tls = match proto {
            Protocol::Http1 => config.tls.as_ref().map(|t| t.resolve()).transpose()?,
            Protocol::FastCgi => None,
        };
        let shared = ServerState::new(config);
        shared.keep_bound(listener);
        Ok(Server {
            shared,
            addr,
            endpoint: Endpoint { proto, tls },
        })
    }

    /// Where the server listens.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// println!("listening on http://{}", server.addr());
    /// assert!(matches!(server.addr(), courteous::Addr::Tcp(a) if a.ip().is_loopback()));
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn addr(&self) -> &Addr {
        &self.addr
    }

    /// The TCP address the server listens on (the real port when bound to
    /// port 0); `None` for a Unix socket.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// let url = format!("http://{}/", server.local_addr().unwrap());
    /// assert!(url.starts_with("http://127.0.0.1:"));
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.addr {
            Addr::Tcp(a) => Some(*a),
            Addr::Unix(_) => None,
        }
    }

    /// A handle to close, wait for, and watch this server from any thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")?;
    /// let handle = server.handle(); // take it before serve moves the server away
    /// let serving = std::thread::spawn(move || server.serve(|_: &mut Request| "hi\n"));
    /// handle.close();
    /// serving.join().unwrap()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// The configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = courteous::Server::builder()
    ///     .idle_timeout(Duration::from_secs(75))
    ///     .bind("127.0.0.1:0")?;
    /// assert_eq!(server.config().timeouts().idle(), Duration::from_secs(75));
    /// assert_eq!(server.config().drain().timeout(), None, "the default");
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Serves until closed, then drains: stops accepting, lets in-flight
    /// requests finish, closes idle connections cleanly, and returns once
    /// the last one is done (or, past the shutdown timeout, once what is
    /// left is force-closed).
    ///
    /// Fails with [`Error::AlreadyServing`] while the server is already
    /// serving, and [`Error::StillDraining`] while it drains. After it returns the same server can serve again: it binds
    /// its address anew. A [`Handle::close`] that came before `serve` makes
    /// it return at once.
    ///
    /// The drain, step by step, is described in
    /// [`manual::howto_drain`](crate::manual::howto_drain).
    ///
    /// # Examples
    ///
    /// Serve on another thread, make a request, close, and wait for the
    /// drain to finish:
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::TcpStream;
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")?;
    /// let addr = server.local_addr().unwrap();
    /// let handle = server.handle();
    /// let serving = std::thread::spawn(move || {
    ///     server.serve(|req: &mut Request| Response::text(format!("you asked for {}\n", req.uri())))
    /// });
    ///
    /// let mut conn = TcpStream::connect(addr)?;
    /// conn.write_all(b"GET /hello HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")?;
    /// let mut response = String::new();
    /// conn.read_to_string(&mut response)?;
    /// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
    /// assert!(response.ends_with("\r\n\r\nyou asked for /hello\n"));
    ///
    /// handle.close(); // start the drain...
    /// serving.join().unwrap()?; // ...and serve returns once it is over
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn serve<H: Handler>(&self, handler: H) -> Result<(), Error> {
        serve_on(&self.shared, Arc::new(handler), &self.endpoint, || {
            if let Some(l) = self.shared.take_bound() {
                return Ok(l);
            }
            let cfg = &self.shared.config;
            let bound = match &self.addr {
                Addr::Tcp(a) => net::bind_tcp(*a, cfg.socket.backlog).map(Listener::owned_tcp),
                Addr::Unix(p) => {
                    net::bind_unix(p, cfg.socket.unix_mode, cfg.socket.backlog).map(Listener::Unix)
                }
            };
            bound.map_err(|e| Error::Bind {
                addr: self.addr.to_string(),
                source: e,
            })
        })
    }
}

/// Serves `handler` on the listener `listen` gives, on `shared`'s state.
pub(crate) fn serve_on(
    shared: &Arc<ServerState>,
    handler: Arc<dyn Handler>,
    endpoint: &Endpoint,
    listen: impl FnOnce() -> Result<Listener, Error>,
) -> Result<(), Error> {
    let accept_waker = Arc::new(Waker::new()?);
    let timer_waker = Arc::new(Waker::new()?);
    let worker_wakers = (0..shared.config.workers)
        .map(|_| Waker::new().map(Arc::new))
        .collect::<io::Result<Vec<_>>>()?;
    let mut wakers = worker_wakers.clone();
    wakers.push(accept_waker.clone());
    wakers.push(timer_waker.clone());
    let closed = match shared.begin_serving(wakers)? {
        Some(closed) => closed,
        None => return Ok(()),
    };
    let listener = match listen() {
        Ok(l) => l,
        Err(e) => {
            shared.finish();
            return Err(e);
        }
    };
    // The per-connection options go on the listener before anyone is told
    // it listens: connections the kernel completes from now on inherit
    // them (Linux). Those it completed before (queued since the bind, or
    // before the socket was handed to us) did not: the accept loop tunes
    // each connection itself until the queue was first seen empty.
    let inherits_options = listener.tune(&shared.config);
    let listener = Arc::new(listener);
    shared.set_listener(Some(listener.clone()));
    let (queue, queue_rx) = crossbeam_channel::bounded(shared.config.queue_depth);
    let idle = match IdleSet::new(timer_waker.clone(), shared.config.workers) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            shared.finish();
            return Err(Error::Io(e));
        }
    };
    let (timer, timer_loop) = timer::new(shared, timer_waker, queue.clone(), idle.clone());
    let pool = match Pool::start(
        shared,
        handler,
        worker_wakers,
        (queue, queue_rx),
        idle.clone(),
    ) {
        Ok(p) => p,
        Err(e) => {
            drop(timer_loop);
            shared.finish();
            return Err(Error::Io(e));
        }
    };
    let timer_thread = match timer_loop.start() {
        Ok(t) => t,
        Err(e) => {
            pool.stop();
            shared.finish();
            return Err(Error::Io(e));
        }
    };
    log::info!(
        "courteous: serving {:?}{} with {} workers",
        endpoint.proto,
        if endpoint.tls.is_some() {
            " over TLS"
        } else {
            ""
        },
        shared.config.workers
    );

    let ctx = AcceptCtx {
        shared,
        endpoint,
        pool: &pool,
        closed: &closed,
        inherits_options,
        queued_before_tune: std::cell::Cell::new(true),
        fixed_local: listener.fixed_local(),
    };
    // Ready: tell the program, then the supervisor. In that order: on a
    // restart the old process drains once it hears the new one is ready,
    // and what the new one says on listening must come before what the old
    // one says when it has drained.
    if let Some(hook) = &shared.config.on_listening {
        hook(&listener.addr());
    }
    crate::systemd::notify_ready();
    accept_loop(&ctx, &listener, &accept_waker);
    // Close the socket first (every reference to it), then say so: close()
    // returns on that word, and a connect after it must be refused.
    let kept = shared.take_listener();
    drop(kept);
    // The drain's filter stays on through the close when our descriptor
    // is the socket's only one. When a copy exists it comes off only now,
    // with nothing left to do between that and the close but one more
    // pass: a handshake that completes after the filter is off and before
    // the close is reset by the close, so that gap must be as short as the
    // pass.
    if listener.end_refusal() {
        accept_after_refusal(&ctx, &listener);
    }
    drop(listener);
    shared.set_listener(None);

    let killed = shared.wait_drained();
    timer.stop();
    let _ = timer_thread.join();
    // Left parked only by a forced close (already counted and shut down).
    drop(idle.clear());
    // After a forced close a worker may still be inside a handler: it
    // finishes on its own; the next serve starts a new pool.
    pool.stop();
    let st = shared.stats();
    log::info!(
        "courteous: drained: {} requests served, {} connections force-closed",
        st.served,
        killed
    );
    shared.finish();
    Ok(())
}

/// What the accept loop hands every connection.
struct AcceptCtx<'a> {
    shared: &'a Arc<ServerState>,
    endpoint: &'a Endpoint,
    pool: &'a Pool,
    closed: &'a Receiver<()>,
    /// Accepted sockets inherit the listener's options (Linux).
    inherits_options: bool,
    /// Connections still come from the queue the kernel filled before the
    /// listener was tuned: until the accept loop first finds it empty.
    queued_before_tune: std::cell::Cell<bool>,
    /// Every accepted connection's local address, when the listener's
    /// address says it.
    fixed_local: Option<SocketAddr>,
}

fn accept_loop(ctx: &AcceptCtx<'_>, listener: &Listener, waker: &Waker) {
    let mut backoff = Duration::ZERO;
    loop {
        if let Some(until) = ctx.shared.delay_until() {
            if Instant::now() >= until {
                ctx.shared.start_drain();
            }
        }
        if ctx.shared.is_closing() {
            break;
        }
        match listener.accept() {
            Ok(a) => {
                backoff = Duration::ZERO;
                dispatch(ctx, a);
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => {
                    // Every connection completed before the tune is taken.
                    ctx.queued_before_tune.set(false);
                    // During a drain delay, wake at its end.
                    let _ = wait_readable(listener, Some(waker), ctx.shared.delay_until());
                }
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
                    log::debug!("courteous: accept: {e}");
                }
                _ => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or the
                    // system is out of something. Back off (5 ms doubling
                    // to 1 s, as Go does), never spin, never exit; a close
                    // still ends the wait at once.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    log::warn!("courteous: accept failed: {e}; retrying in {backoff:?}");
                    if let Ok(Ready::Readable) =
                        wait_readable(waker, None, Some(Instant::now() + backoff))
                    {
                        waker.drain();
                    }
                }
            },
        }
    }
    // The drain began. Connections whose handshake the kernel completed are
    // taken and handled by the drain rules (a request already sent is
    // answered), rather than reset when the listener closes. New ones are
    // refused first, so that none completes after the last pass.
    let quiet = listener.refuse_new();
    // Out of descriptors (EMFILE), the queue stays readable and accept
    // keeps failing: the pass waits a moment between tries, never spins,
    // and ends at this bound whatever happens.
    let bound = Instant::now() + LAST_PASS_BOUND;
    'pass: loop {
        loop {
            match listener.accept() {
                Ok(a) => dispatch(ctx, a),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if accept_again(&e) => {}
                Err(e) => {
                    log::warn!("courteous: accept failed in the last pass: {e}");
                    let retry = Instant::now() + Duration::from_millis(5);
                    if retry >= bound {
                        break 'pass;
                    }
                    if let Ok(Ready::Readable) = wait_readable(waker, None, Some(retry)) {
                        waker.drain();
                    }
                }
            }
        }
        let Some(quiet) = quiet.filter(|q| !q.is_zero()) else {
            break;
        };
        // A handshake under way when the filter went on completes within
        // a round trip: the pass ends once nothing new came for `quiet`.
        let until = (Instant::now() + quiet).min(bound);
        match wait_readable(listener, None, Some(until)) {
            Ok(Ready::Readable) if Instant::now() < bound => {}
            _ => break,
        }
    }
}

/// An accept error that concerns one connection (gone before it was
/// taken) or a signal: the next accept goes ahead at once.
fn accept_again(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The most connections [`accept_after_refusal`] takes: a stream of new
/// handshakes must not keep the socket open.
const AFTER_REFUSAL_MAX: usize = 1024;

/// Takes the handshakes that completed while the drain's filter came off,
/// just before the socket closes (the drain rules serve their requests).
fn accept_after_refusal(ctx: &AcceptCtx<'_>, listener: &Listener) {
    for _ in 0..AFTER_REFUSAL_MAX {
        match listener.accept() {
            Ok(a) => dispatch(ctx, a),
            Err(e) if accept_again(&e) => {}
            Err(_) => return,
        }
    }
}

/// The longest the last accept pass of a drain may take.
const LAST_PASS_BOUND: Duration = Duration::from_millis(500);

fn dispatch(ctx: &AcceptCtx<'_>, mut a: Accepted) {
    let shared = ctx.shared;
    let cfg = &shared.config;
    let tune = !ctx.inherits_options || ctx.queued_before_tune.get();
    if let Stream::Tcp(s) = &a.stream {
        if tune {
            if let Err(e) = net::tune_tcp(s, cfg) {
                log::debug!("courteous: socket options: {e}");
            }
        }
        a.local = ctx.fixed_local.or_else(|| s.local_addr().ok());
    }
    if tune {
        if let Err(e) = a.stream.set_write_timeout(Some(cfg.timeouts.write)) {
            log::debug!("courteous: write timeout: {e}");
        }
    }
    let tls = match &ctx.endpoint.tls {
        Some(config) => match crate::tls::accept(config) {
            Ok(t) => Some(t),
            Err(e) => {
                log::warn!("courteous: cannot start a TLS session: {e}");
                return;
            }
        },
        None => None,
    };
    let info = ConnInfo {
        id: shared.next_conn_id(),
        peer: a.peer,
        local: a.local,
        cred: a.cred,
        tls: tls.is_some(),
    };
    let conn = Conn::accept(shared, a.stream, info, tls, ctx.endpoint.proto);
    let pool = ctx.pool;
    if !conn.is_tls() && conn.proto() == Protocol::Http1 && !net::readable_now(conn.stream()) {
        // Its request is not here yet (a client's request usually follows
        // the handshake by a moment): it waits in the idle set, as a
        // kept-alive connection does between requests, and the first free
        // worker takes it when the request arrives. Queued, it would wake
        // a worker (the doorbell) only to find nothing and park it there:
        // the look here (a poll that does not wait) is one system call
        // instead of a ring, a wake, and an empty read.
        pool.idle.park(conn);
        return;
    }
    let mut conn = match pool.offer(conn) {
        Ok(()) => return,
        Err(crossbeam_channel::TrySendError::Full(c)) => c,
        Err(crossbeam_channel::TrySendError::Disconnected(_)) => return,
    };
    // The queue is full: wait for room, unless a drain begins.
    if !shared.is_closing() {
        match pool.send_or(conn, ctx.closed) {
            None => return,
            Some(c) => conn = c,
        }
    }
    // Draining with a full queue: the accept loop must not wait (the
    // listener closes now), and the connection must not be dropped (its
    // request may be on the wire, and an unread request makes the close a
    // reset). It waits in the idle set by the drain rules: a request that
    // arrives within the grace is served by the next free worker, a silent
    // connection is closed cleanly by the timer thread.
    pool.idle.park(conn);
}
