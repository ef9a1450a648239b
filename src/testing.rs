//! A kit for testing drain behaviour deterministically (feature `testing`).
//!
//! What this crate's own tests use, public: a [`Gate`] that holds handlers
//! until the test releases them, a [`TestServer`] that serves on
//! `127.0.0.1:0` and always stops, [`wait_until`] on [`Stats`]
//! predicates, a [`StateLog`] of state-hook events, and a [`RawClient`]
//! that reports exactly how a connection ended: the distinctions drain
//! tests need and HTTP clients hide. Every wait takes a timeout; nothing
//! sleeps to order events.
//!
//! ## In-flight requests complete
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{Gate, RawClient, TestServer, wait_until};
//! use courteous::{Request, Response, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let gate = Gate::new();
//! let g = gate.clone();
//! let server = TestServer::start(Server::builder(), move |_: &mut Request| {
//!     g.wait();
//!     Response::text("done\n")
//! });
//! let mut client = RawClient::connect(server.local_addr()).unwrap();
//! client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
//! assert!(gate.wait_parked(1, T), "the handler is running");
//! assert!(server.handle().close(), "the drain starts");
//! wait_until(&server.handle(), |s| s.draining, T).unwrap();
//! gate.open();
//! let resp = client.read_response(T).unwrap();
//! assert_eq!(resp.status, 200);
//! assert!(resp.connection_close(), "a drained response says close");
//! assert_eq!(client.read_end(T), courteous::testing::Ending::Eof);
//! server.stop().unwrap();
//! ```
//!
//! ## Idle connections close cleanly
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{Ending, RawClient, TestServer, wait_until};
//! use courteous::{Request, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let server = TestServer::start(
//!     Server::builder().drain_grace(Duration::ZERO),
//!     |_: &mut Request| "hi\n",
//! );
//! let mut client = RawClient::connect(server.local_addr()).unwrap();
//! client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
//! assert_eq!(client.read_response(T).unwrap().status, 200);
//! wait_until(&server.handle(), |s| s.idle == 1, T).unwrap();
//! server.handle().close();
//! assert_eq!(client.read_end(T), Ending::Eof, "a FIN, not a reset");
//! server.stop().unwrap();
//! ```
//!
//! ## A deadline kills and counts
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{Gate, RawClient, TestServer};
//! use courteous::{Request, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let gate = Gate::new();
//! let g = gate.clone();
//! let server = TestServer::start(
//!     Server::builder().shutdown_timeout(Duration::from_millis(50)),
//!     move |_: &mut Request| { g.wait(); "late\n" },
//! );
//! let mut client = RawClient::connect(server.local_addr()).unwrap();
//! client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
//! assert!(gate.wait_parked(1, T));
//! let handle = server.handle();
//! server.stop().unwrap(); // close, and serve returns at the deadline
//! assert_eq!(handle.stats().killed, 1);
//! gate.open();
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::{Builder, ConnInfo, ConnState, Error, Handle, Handler, Stats};

// ----- Gate -------------------------------------------------------------------

/// Holds handlers until the test opens it; the test can wait until a
/// number of handlers are parked at it.
///
/// A test that fails while handlers are parked should still open the gate
/// (the guard [`open_on_drop`](Gate::open_on_drop) gives does that), or
/// the server's drain waits for them.
///
/// # Examples
///
/// Hold two requests in flight, check the count, then let them finish:
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{wait_until, Gate, RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// const T: Duration = Duration::from_secs(5);
/// let gate = Gate::new();
/// let g = gate.clone();
/// let server = TestServer::start(Server::builder(), move |_: &mut Request| {
///     g.wait();
///     "released\n"
/// });
/// let mut clients: Vec<RawClient> = (0..2).map(|_| RawClient::connect(server.local_addr()).unwrap()).collect();
/// for c in &mut clients {
///     c.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
/// }
/// assert!(gate.wait_parked(2, T));
/// assert_eq!(wait_until(&server.handle(), |s| s.in_flight == 2, T).unwrap().active, 2);
/// gate.open();
/// for c in &mut clients {
///     assert_eq!(c.read_response(T).unwrap().text(), "released\n");
/// }
/// assert_eq!(gate.arrived(), 2);
/// server.stop().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Default)]
struct GateState {
    open: bool,
    parked: usize,
    arrived: usize,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.0.lock();
        f.debug_struct("Gate")
            .field("open", &st.open)
            .field("parked", &st.parked)
            .finish()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Blocks (in a handler) until the gate opens; returns at once if open.
    pub fn wait(&self) {
        let (m, c) = &*self.inner;
        let mut st = m.lock();
        st.arrived += 1;
        st.parked += 1;
        c.notify_all();
        while !st.open {
            c.wait(&mut st);
        }
        st.parked -= 1;
    }

    /// Waits until at least `n` callers are blocked at the gate.
    pub fn wait_parked(&self, n: usize, timeout: Duration) -> bool {
        let (m, c) = &*self.inner;
        let deadline = Instant::now() + timeout;
        let mut st = m.lock();
        while st.parked < n {
            if c.wait_until(&mut st, deadline).timed_out() {
                return st.parked >= n;
            }
        }
        true
    }

    /// How many callers ever arrived at the gate.
    pub fn arrived(&self) -> usize {
        self.inner.0.lock().arrived
    }

    /// Opens the gate: releases everyone and lets later callers through.
    pub fn open(&self) {
        let (m, c) = &*self.inner;
        m.lock().open = true;
        c.notify_all();
    }

    /// A guard that opens the gate when dropped. Declared after the server
    /// (locals drop in reverse order), it releases parked handlers even when
    /// an assertion fails, so the server can still drain and stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::testing::Gate;
    ///
    /// let gate = Gate::new();
    /// {
    ///     let _open = gate.open_on_drop();
    ///     // ... a test that may panic with handlers parked at `gate` ...
    /// }
    /// gate.wait(); // open: returns at once
    /// ```
    pub fn open_on_drop(&self) -> OpenOnDrop {
        OpenOnDrop(self.clone())
    }
}

/// Opens its [`Gate`] when dropped: see [`Gate::open_on_drop`].
#[must_use = "the gate opens when the guard is dropped"]
pub struct OpenOnDrop(Gate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

// ----- waiting on stats -----------------------------------------------------

/// Waits until `pred(stats)` holds; `Err` carries the last stats seen.
/// Checks on each state change it can see, and at least every millisecond.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{wait_until, RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// let _client = RawClient::connect(server.local_addr()).unwrap();
/// let stats = wait_until(&server.handle(), |s| s.accepted == 1, Duration::from_secs(5))
///     .unwrap_or_else(|last| panic!("never accepted: {last:?}"));
/// assert_eq!(stats.served, 0);
/// server.stop().unwrap();
/// ```
pub fn wait_until(
    handle: &Handle,
    mut pred: impl FnMut(&Stats) -> bool,
    timeout: Duration,
) -> Result<Stats, Stats> {
    let deadline = Instant::now() + timeout;
    loop {
        let s = handle.stats();
        if pred(&s) {
            return Ok(s);
        }
        if Instant::now() >= deadline {
            return Err(s);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

// ----- threads and temporary directories ------------------------------------

/// Runs `f` on a thread of its own; its result arrives on the returned
/// channel, to wait for with a bound (`recv_timeout`): a `serve` started
/// outside a [`TestServer`], a blocking client call.
///
/// ```
/// use std::time::Duration;
/// let done = courteous::testing::in_thread(|| 6 * 7);
/// assert_eq!(done.recv_timeout(Duration::from_secs(5)), Ok(42));
/// ```
pub fn in_thread<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> std::sync::mpsc::Receiver<R> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// A directory of a test's own (for Unix sockets, certificates), made
/// empty under the system's temporary directory and removed on drop.
///
/// ```
/// let dir = courteous::testing::TempDir::new("doc-example");
/// let sock = dir.join("app.sock");
/// assert!(sock.starts_with(dir.path()));
/// # drop(dir);
/// ```
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh directory named after `name` and this process; panics if
    /// it cannot be made (a test cannot go on without it).
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("courteous-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot make {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: impl AsRef<std::path::Path>) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ----- state log --------------------------------------------------------------

/// Records every state-hook event, for assertions on state sequences.
///
/// ```
/// use courteous::testing::StateLog;
/// let log = StateLog::new();
/// let builder = courteous::Server::builder().on_state(log.hook());
/// # let _ = builder;
/// ```
#[derive(Clone, Default)]
pub struct StateLog {
    inner: Arc<(Mutex<Events>, Condvar)>,
}

type Events = Vec<(ConnInfo, ConnState)>;

impl fmt::Debug for StateLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateLog")
            .field("events", &self.inner.0.lock().len())
            .finish()
    }
}

impl StateLog {
    /// An empty log.
    pub fn new() -> StateLog {
        StateLog::default()
    }

    /// The hook to pass to [`Builder::on_state`].
    pub fn hook(&self) -> impl Fn(&ConnInfo, ConnState, ConnState) + Send + Sync + 'static {
        let inner = self.inner.clone();
        move |info, _old, new| {
            inner.0.lock().push((info.clone(), new));
            inner.1.notify_all();
        }
    }

    /// The states the connection whose client end is `peer` went through.
    pub fn states(&self, peer: SocketAddr) -> Vec<ConnState> {
        self.inner
            .0
            .lock()
            .iter()
            .filter(|(i, _)| i.peer_addr() == Some(peer))
            .map(|(_, s)| *s)
            .collect()
    }

    /// Waits until the connection from `peer` has gone through exactly
    /// `expected` and is in a final state or matches; returns what it saw.
    ///
    /// # Examples
    ///
    /// A client that connects and hangs up without a request:
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, StateLog, TestServer};
    /// use courteous::{ConnState, Request, Server};
    ///
    /// let log = StateLog::new();
    /// let server = TestServer::start(Server::builder().on_state(log.hook()), |_: &mut Request| "hi\n");
    /// let client = RawClient::connect(server.local_addr()).unwrap();
    /// let peer = client.local_addr();
    /// drop(client);
    /// log.expect_states(peer, &[ConnState::New, ConnState::Closed], Duration::from_secs(5))
    ///     .unwrap_or_else(|seen| panic!("saw {seen:?}"));
    /// server.stop().unwrap();
    /// ```
    pub fn expect_states(
        &self,
        peer: SocketAddr,
        expected: &[ConnState],
        timeout: Duration,
    ) -> Result<(), Vec<ConnState>> {
        let deadline = Instant::now() + timeout;
        let (m, c) = &*self.inner;
        let mut log = m.lock();
        loop {
            let seen: Vec<ConnState> = log
                .iter()
                .filter(|(i, _)| i.peer_addr() == Some(peer))
                .map(|(_, s)| *s)
                .collect();
            if seen == expected {
                return Ok(());
            }
            if seen.len() > expected.len() || c.wait_until(&mut log, deadline).timed_out() {
                let seen: Vec<ConnState> = log
                    .iter()
                    .filter(|(i, _)| i.peer_addr() == Some(peer))
                    .map(|(_, s)| *s)
                    .collect();
                return if seen == expected { Ok(()) } else { Err(seen) };
            }
        }
    }
}

// ----- test server ----------------------------------------------------------

/// A server on `127.0.0.1:0` serving on a background thread. Dropping it
/// (or [`stop`](TestServer::stop)) closes it and waits for `serve` to
/// return (bounded: 10 s, then it lets the thread go and says so).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// assert!(server.url("/x").starts_with("http://127.0.0.1:"));
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// assert_eq!(client.get("/x", Duration::from_secs(5)).unwrap().text(), "hi\n");
/// server.stop().unwrap(); // or let it drop
/// ```
///
/// Waiting for a drain that something else started:
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::TestServer;
/// use courteous::{Request, Server};
///
/// let mut server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// server.handle().close(); // e.g. a handler, a signal, a hook
/// let result = server.join(Duration::from_secs(5)).expect("serve returned");
/// assert!(result.is_ok());
/// ```
pub struct TestServer {
    addr: crate::Addr,
    handle: Handle,
    done: crossbeam_channel::Receiver<Result<(), Error>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

const STOP_BOUND: Duration = Duration::from_secs(10);

impl TestServer {
    /// Binds `127.0.0.1:0` with `builder` and serves `handler`; panics if
    /// it cannot bind (a test cannot go on without its server).
    pub fn start(builder: Builder, handler: impl Handler) -> TestServer {
        let server = builder
            .bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("test server cannot bind: {e}"));
        TestServer::serve(server, handler)
    }

    /// Serves an already built server (TCP or Unix) on a background thread;
    /// returns once it listens.
    pub fn serve(server: crate::Server, handler: impl Handler) -> TestServer {
        let addr = server.addr().clone();
        let handle = server.handle();
        let (tx, done) = crossbeam_channel::bounded(1);
        let thread = thread::Builder::new()
            .name("courteous-test-serve".into())
            .spawn(move || {
                let _ = tx.send(server.serve(handler));
            })
            .unwrap_or_else(|e| panic!("cannot spawn the serve thread: {e}"));
        // Return once connects are queued for the server (or serve already
        // returned, e.g. after a close made before it), so that a test's
        // first close or connect never races the serve thread's start.
        let deadline = Instant::now() + STOP_BOUND;
        while !handle.stats().listening && done.is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        TestServer {
            addr,
            handle,
            done,
            thread: Some(thread),
        }
    }

    /// Where the server listens, TCP or Unix (as
    /// [`Server::addr`](crate::Server::addr)).
    pub fn addr(&self) -> &crate::Addr {
        &self.addr
    }

    /// The TCP address to connect to (as
    /// [`Server::local_addr`](crate::Server::local_addr), but a test's
    /// server is TCP: it panics for one on a Unix socket, rather than
    /// make every test unwrap).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.addr {
            crate::Addr::Tcp(a) => *a,
            other => panic!("the test server listens on {other}, not TCP"),
        }
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The server's handle.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Waits for `serve` to return, without closing (another party
    /// closes); `None` if it did not return in `timeout`.
    pub fn join(&mut self, timeout: Duration) -> Option<Result<(), Error>> {
        let r = self.done.recv_timeout(timeout).ok()?;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Some(r)
    }

    /// Closes the server and waits (bounded) for `serve` to return; gives
    /// `serve`'s result.
    pub fn stop(mut self) -> Result<(), Error> {
        self.handle.close();
        match self.join(STOP_BOUND) {
            Some(r) => r,
            None => Err(Error::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "serve did not return within 10 s of close",
            ))),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.close();
            if self.join(STOP_BOUND).is_none() {
                eprintln!("courteous::testing: serve did not return within 10 s; leaving it");
            }
        }
    }
}

// ----- raw client -------------------------------------------------------------

/// How a connection ended, as the client saw it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{Ending, RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// const T: Duration = Duration::from_secs(5);
/// let server = TestServer::start(
///     Server::builder().drain_grace(Duration::ZERO),
///     |_: &mut Request| "hi\n",
/// );
/// let addr = server.local_addr();
/// let mut idle = RawClient::connect(addr).unwrap();
/// idle.get("/", T).unwrap();
/// server.stop().unwrap();
/// assert_eq!(idle.read_end(T), Ending::Eof, "closed with a FIN");
/// assert_eq!(RawClient::connect(addr).unwrap_err(), Ending::Refused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A clean end of stream (the server's FIN).
    Eof,
    /// A reset (`ECONNRESET`): what a polite server never sends.
    Reset,
    /// The connect was refused.
    Refused,
    /// Nothing happened in time.
    TimedOut,
    /// Bytes arrived instead of an end.
    Data(Vec<u8>),
    /// Some other error.
    Other(io::ErrorKind),
}

/// A response as the raw client read it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// let resp = client.get("/", Duration::from_secs(5)).unwrap();
/// assert_eq!(resp.status, 200);
/// assert_eq!(resp.header("Content-Type"), Some("text/plain; charset=utf-8"));
/// assert!(!resp.connection_close(), "kept alive");
/// assert_eq!(resp.text(), "hi\n");
/// server.stop().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the response says `Connection: close`.
    pub fn connection_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client that sends exact bytes and reports exactly what it saw, over
/// TCP ([`RawClient::connect`]) or a Unix socket
/// ([`RawClient::connect_unix`]).
///
/// # Examples
///
/// Pipelined requests, sent in one write, answered in order:
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Response, Server};
///
/// const T: Duration = Duration::from_secs(5);
/// let server = TestServer::start(Server::builder(), |req: &mut Request| {
///     Response::text(req.uri().path().to_string())
/// });
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// client.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
/// assert_eq!(client.read_response(T).unwrap().text(), "/a");
/// assert_eq!(client.read_response(T).unwrap().text(), "/b");
/// server.stop().unwrap();
/// ```
#[derive(Debug)]
pub struct RawClient<S: Socket = TcpStream> {
    stream: S,
    buf: Vec<u8>,
}

/// A stream the raw client can drive: `TcpStream` or `UnixStream`, or one
/// of your own.
///
/// # Examples
///
/// ```
/// use std::net::TcpStream;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// let stream = TcpStream::connect(server.local_addr()).unwrap(); // made with options of your own
/// let mut client = RawClient::new(stream);
/// assert_eq!(client.get("/", std::time::Duration::from_secs(5)).unwrap().status, 200);
/// server.stop().unwrap();
/// ```
pub trait Socket: Read + Write + fmt::Debug {
    /// Bounds the next reads.
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    /// Shuts down part of the connection.
    fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()>;
}

impl Socket for TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
    fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

impl Socket for UnixStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, t)
    }
    fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }
}

fn classify(e: &io::Error) -> Ending {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Ending::Reset,
        io::ErrorKind::ConnectionRefused => Ending::Refused,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ending::TimedOut,
        k => Ending::Other(k),
    }
}

impl RawClient<TcpStream> {
    /// Connects over TCP; a refused connect is `Err(Ending::Refused)`.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<RawClient, Ending> {
        let stream = TcpStream::connect(addr).map_err(|e| classify(&e))?;
        let _ = stream.set_nodelay(true);
        Ok(RawClient {
            stream,
            buf: Vec::new(),
        })
    }

    /// The client's own address (the server's `peer_addr` for it).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl RawClient<UnixStream> {
    /// Connects to a Unix socket; a refused connect (or a missing socket
    /// file) is `Err(Ending::Refused)`.
    pub fn connect_unix(path: impl AsRef<std::path::Path>) -> Result<Self, Ending> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Ending::Refused,
            _ => classify(&e),
        })?;
        Ok(RawClient {
            stream,
            buf: Vec::new(),
        })
    }
}

impl<S: Socket> RawClient<S> {
    /// A raw client over a stream of your own (a TLS stream, say: implement
    /// [`Socket`] for it).
    pub fn new(stream: S) -> RawClient<S> {
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    /// The socket, for anything the kit does not cover.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), Ending> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Ending::TimedOut);
        }
        let _ = Socket::set_read_timeout(&self.stream, Some(left));
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                // Like a real client, answer the server's FIN with ours, so
                // the server's linger ends at once.
                let _ = Socket::shutdown(&self.stream, std::net::Shutdown::Write);
                Err(Ending::Eof)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }

    /// Reads one response (to a non-HEAD request). `Err` says how the
    /// connection ended instead (`Eof` with nothing read: the server closed
    /// without a status line).
    pub fn read_response(&mut self, timeout: Duration) -> Result<RawResponse, Ending> {
        self.read_response_to(false, timeout)
    }

    /// Reads one response; `head` says the request was HEAD (no body).
    pub fn read_response_to(
        &mut self,
        head: bool,
        timeout: Duration,
    ) -> Result<RawResponse, Ending> {
        let deadline = Instant::now() + timeout;
        let mut resp = self.read_head_by(deadline)?;
        if head || resp.status == 101 || resp.status == 204 || resp.status == 304 {
            return Ok(resp);
        }
        if is_chunked(&resp) {
            resp.body = self.read_chunked(deadline)?;
        } else if let Some(n) = resp
            .header("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            while self.buf.len() < n {
                self.fill(deadline)?;
            }
            resp.body = self.buf.drain(..n).collect();
        } else {
            loop {
                match self.fill(deadline) {
                    Ok(()) => {}
                    Err(Ending::Eof) => break,
                    Err(e) => return Err(e),
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// Reads the status line and headers of the next response, and no
    /// body (its `body` is empty): for a stream, read the body after it
    /// with [`read_chunk`](RawClient::read_chunk). Interim responses
    /// (`100 Continue`, `103`) are skipped; a `101 Switching Protocols` is
    /// returned, and what follows it is the new protocol's (see
    /// [`into_parts`](RawClient::into_parts)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{BodyWriter, Request, Response, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| {
    ///     Response::stream(|out: &mut BodyWriter| {
    ///         out.write_all(b"first")?;
    ///         out.write_all(b"second")
    ///     })
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    /// assert_eq!(client.read_head(T).unwrap().status, 200);
    /// assert_eq!(client.read_chunk(T).unwrap().unwrap(), b"first");
    /// assert_eq!(client.read_chunk(T).unwrap().unwrap(), b"second");
    /// assert_eq!(client.read_chunk(T).unwrap(), None, "the last chunk");
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn read_head(&mut self, timeout: Duration) -> Result<RawResponse, Ending> {
        self.read_head_by(Instant::now() + timeout)
    }

    fn read_head_by(&mut self, deadline: Instant) -> Result<RawResponse, Ending> {
        loop {
            let (status, headers, used) = loop {
                let mut hs = [httparse::EMPTY_HEADER; 64];
                let mut r = httparse::Response::new(&mut hs);
                match r.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let headers = r
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_ascii_lowercase(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect::<Vec<_>>();
                        break (r.code.unwrap_or(0), headers, n);
                    }
                    Ok(httparse::Status::Partial) => self.fill(deadline)?,
                    Err(_) => return Err(Ending::Data(self.buf.clone())),
                }
            };
            self.buf.drain(..used);
            // Skip interim responses; a 101 ends the HTTP exchange.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            return Ok(RawResponse {
                status,
                headers,
                body: Vec::new(),
            });
        }
    }

    /// Reads the next chunk of a chunked body whose head
    /// [`read_head`](RawClient::read_head) read: `Ok(None)` at the last
    /// chunk (its trailers read too). See `read_head` for an example.
    pub fn read_chunk(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, Ending> {
        let deadline = Instant::now() + timeout;
        let line = self.read_line(deadline)?;
        let size_text = line.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| Ending::Data(line.clone().into_bytes()))?;
        if size == 0 {
            while !self.read_line(deadline)?.is_empty() {}
            return Ok(None);
        }
        while self.buf.len() < size + 2 {
            self.fill(deadline)?;
        }
        let chunk = self.buf.drain(..size).collect();
        self.buf.drain(..2);
        Ok(Some(chunk))
    }

    /// Sends a request with `headers` and `body` (a `Content-Length` for
    /// it added, and a `Host`), then reads the response (a `HEAD`
    /// request's without a body).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     let mut body = String::new();
    ///     let _ = req.body_mut().read_to_string(&mut body);
    ///     Response::text(format!("{} {}", req.method(), body))
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let headers = [("Content-Type", "application/json")];
    /// let resp = client.request("POST", "/jobs", &headers, br#"{"name":"a"}"#, Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.text(), r#"POST {"name":"a"}"#);
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<RawResponse, Ending> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: courteous.test\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || !matches!(method, "GET" | "HEAD" | "OPTIONS" | "DELETE") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send(&bytes).map_err(|e| classify(&e))?;
        self.read_response_to(method == "HEAD", timeout)
    }

    /// The socket, to change or to speak on directly.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The socket, and the bytes read from it past the last response: after
    /// a `101 Switching Protocols`, the start of the new protocol.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |req: &mut Request| {
    ///     if let Ok(mut raw) = req.hijack() {
    ///         let _ = raw.stream.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nhi");
    ///     }
    ///     "not sent"
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// let resp = client.get("/", Duration::from_secs(5)).unwrap();
    /// assert_eq!(resp.status, 101);
    /// let (_socket, mut early) = client.into_parts();
    /// early.truncate(2); // what came in the same read as the head, if anything
    /// assert!(b"hi".starts_with(&early));
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }
}

fn is_chunked(resp: &RawResponse) -> bool {
    resp.header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
}

impl<S: Socket> RawClient<S> {
    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, Ending> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(deadline)?;
            let size_text = line.split(';').next().unwrap_or("").trim().to_string();
            let size = usize::from_str_radix(&size_text, 16)
                .map_err(|_| Ending::Data(line.clone().into_bytes()))?;
            if size == 0 {
                loop {
                    if self.read_line(deadline)?.is_empty() {
                        return Ok(body);
                    }
                }
            }
            while self.buf.len() < size + 2 {
                self.fill(deadline)?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    fn read_line(&mut self, deadline: Instant) -> Result<String, Ending> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill(deadline)?;
        }
    }

    /// Waits for what comes next when no response is expected: `Eof` for
    /// a clean close, `Reset`, `TimedOut`, or `Data` if bytes arrived.
    pub fn read_end(&mut self, timeout: Duration) -> Ending {
        if !self.buf.is_empty() {
            return Ending::Data(std::mem::take(&mut self.buf));
        }
        match self.fill(Instant::now() + timeout) {
            Ok(()) => Ending::Data(std::mem::take(&mut self.buf)),
            Err(e) => e,
        }
    }

    /// A request-and-response round trip.
    pub fn get(&mut self, path: &str, timeout: Duration) -> Result<RawResponse, Ending> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: courteous.test\r\n\r\n");
        self.send(req.as_bytes()).map_err(|e| classify(&e))?;
        self.read_response(timeout)
    }
}
