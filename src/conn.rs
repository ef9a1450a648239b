//! A connection's life, in one place: this module alone changes a
//! connection's state, tells the registry, and (through the registry's
//! bookkeeping in [`ServerState`]) calls the [`on_state`](crate::Builder::on_state)
//! hook. Its fields are private; the protocol loops, the idle set and the
//! accept loop move a connection only through the methods below.
//!
//! ```text
//!   accept ──► New ──bytes of a head──► Active ──response; keep-alive──► Idle
//!               │                       │  ▲                              │
//!               │                       │  └──────── next request ────────┘
//!               │                       │ the handler hijacks
//!               │                       ▼
//!               │                    Hijacked ── its stream dropped ──► forgotten
//!               │                       (the drain waits for it; the deadline kills it)
//!               ▼ close_write (from New, Active or Idle): our FIN is sent
//!            Closing ── linger over, or the peer's FIN ──► Closed (dropped)
//! ```
//!
//! A `Conn` dropped from any state but Hijacked is Closed: its
//! registration lives exactly as long as the value, on every path (a
//! panic included). Closing is the registry's `closing` flag
//! ([`Stats::closing`](crate::Stats::closing)); the hook is not told of
//! it, so that it sees the sequences Go's `ConnState` users expect (reuse
//! then close `New, Active, Idle, Active, Closed`; a hijack `New, Active,
//! Hijacked`). The one change made from elsewhere is a forced close at
//! the shutdown deadline, which ends every registration at once
//! ([`ServerState::wait_drained`]); a `Conn` then finds itself already gone.
//!
//! In-flight accounting is part of the life: [`InFlight`] counts a
//! request from its head to its response, in the same lock hold as the
//! state change.

use std::sync::Arc;
use std::time::Instant;

use crate::conn_info::{ConnInfo, ConnState};
use crate::io::{Drained, Io};
use crate::net::{Protocol, Stream};
use crate::state::ServerState;

/// What one protocol step (a request, HTTP/1.1 or FastCGI) tells the
/// worker its connection is fit for: the one step outcome of the crate.
/// The parts of a step that can end it early return it too, as the error
/// of a `Result` (a head that never came, a record stream that broke),
/// having answered the peer first where an answer is due. The worker
/// then parks a kept-alive connection whose next request is not there
/// yet (`pool::Outcome`, which owns the connection it hands on).
pub(crate) enum Next {
    /// Another request may follow.
    KeepAlive,
    /// Close cleanly: FIN, linger, close.
    Close,
    /// The peer is gone or the socket failed (or it was hijacked): drop.
    Drop,
}

pub(crate) struct Conn {
    info: Arc<ConnInfo>,
    stream: Arc<Stream>,
    /// The TLS session, for HTTPS connections.
    tls: Option<Box<rustls::ServerConnection>>,
    /// What the connection speaks.
    proto: Protocol,
    shared: Arc<ServerState>,
    /// Mirror of the registry's state (New, Active, Idle, Hijacked).
    state: ConnState,
    /// Our FIN is sent.
    closing: bool,
    /// Accept time for a new connection, else the end of its last response:
    /// the base of its idle timeout and of its drain grace.
    last_active: Instant,
    requests: u64,
    /// Registered with the idle set's epoll (once, for the socket's life).
    watched: bool,
    /// What the last read of the plain socket says of its queue
    /// ([`Drained`]).
    drained: Drained,
    /// The peer sent TCP urgent data: a read may stop short at its mark
    /// with more queued, so a short read no longer proves the queue empty.
    urgent: bool,
}

impl Conn {
    /// Registers a freshly accepted connection: New.
    pub(crate) fn accept(
        shared: &Arc<ServerState>,
        stream: Stream,
        info: ConnInfo,
        tls: Option<Box<rustls::ServerConnection>>,
        proto: Protocol,
    ) -> Conn {
        let info = Arc::new(info);
        let stream = Arc::new(stream);
        shared.register(&info, &stream);
        Conn {
            info,
            stream,
            tls,
            proto,
            shared: shared.clone(),
            state: ConnState::New,
            closing: false,
            last_active: Instant::now(),
            requests: 0,
            watched: false,
            drained: Drained::Unknown,
            urgent: false,
        }
    }

    // ----- what it is -----------------------------------------------------

    pub(crate) fn info(&self) -> &Arc<ConnInfo> {
        &self.info
    }

    pub(crate) fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The socket, shared: for the idle set, which registers it with its
    /// epoll after the connection moved into its table.
    pub(crate) fn stream_handle(&self) -> Arc<Stream> {
        self.stream.clone()
    }

    pub(crate) fn proto(&self) -> Protocol {
        self.proto
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub(crate) fn shared(&self) -> &Arc<ServerState> {
        &self.shared
    }

    pub(crate) fn state(&self) -> ConnState {
        self.state
    }

    /// Requests started on it so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests
    }

    /// The accept, or the end of the last response.
    pub(crate) fn last_active(&self) -> Instant {
        self.last_active
    }

    /// The connection's byte stream, for one protocol step.
    pub(crate) fn io(&mut self) -> Io<'_> {
        Io {
            stream: &self.stream,
            tls: self.tls.as_deref_mut(),
            drained: Some(&mut self.drained),
        }
    }

    /// The byte stream and who the connection is, borrowed together (a
    /// request's body reads the one while the request shows the other).
    pub(crate) fn io_and_info(&mut self) -> (Io<'_>, &Arc<ConnInfo>) {
        (
            Io {
                stream: &self.stream,
                tls: self.tls.as_deref_mut(),
                drained: Some(&mut self.drained),
            },
            &self.info,
        )
    }

    /// Whether the idle set's epoll watches it; set by the idle set.
    pub(crate) fn watched(&self) -> bool {
        self.watched
    }

    pub(crate) fn set_watched(&mut self, watched: bool) {
        self.watched = watched;
    }

    /// Whether the plain socket's queue is known empty: the last read
    /// returned short, and the peer never sent urgent data (a read stops
    /// at an urgent mark with more queued behind it). Only a plain TCP
    /// socket says so: a Unix stream also stops short after a message
    /// that carries descriptors.
    pub(crate) fn input_drained(&self) -> bool {
        self.drained == Drained::Empty
            && !self.urgent
            && self.tls.is_none()
            && matches!(*self.stream, Stream::Tcp(_))
    }

    /// The idle set saw the peer's urgent data (`EPOLLPRI`): from now on
    /// the socket is read until it reports empty.
    pub(crate) fn set_urgent(&mut self) {
        self.urgent = true;
    }

    /// Until when this connection may wait for its next request's first
    /// byte: the header timeout for a new connection, the idle timeout for
    /// a kept-alive one; in a drain, no later than its grace.
    pub(crate) fn wait_deadline(&self, draining: bool) -> Instant {
        let cfg = &self.shared.config;
        let base = match self.state {
            ConnState::New => self.last_active + cfg.timeouts.header_read,
            _ => self.last_active + cfg.timeouts.idle,
        };
        if draining {
            base.min(self.last_active + cfg.drain.grace)
        } else {
            base
        }
    }

    // ----- transitions ----------------------------------------------------

    /// New or Idle → Active: the first bytes of a head that is not complete
    /// yet (or is bad). A head that arrives whole turns it Active in
    /// [`InFlight::start`] instead, in the same lock hold as the count.
    pub(crate) fn head_started(&mut self) {
        self.set_state(ConnState::Active);
    }

    /// Closing: sends our FIN, after a TLS `close_notify` (the peer sees a
    /// clean end of stream). The connection stays registered, as closing,
    /// until it is dropped after the linger; a shutdown deadline does not
    /// count it as killed. `wait`: as [`Io::shutdown_write`].
    pub(crate) fn close_write(&mut self, wait: bool) {
        self.io().shutdown_write(wait);
        if !self.closing {
            self.closing = true;
            self.shared.closing(&self.info);
        }
    }

    /// Active → Hijacked: the handler took the socket, and `taken` (made by
    /// [`Hijack::take`]) holds the registration now; dropping this `Conn`
    /// neither closes the socket nor forgets the connection.
    pub(crate) fn hand_over(&mut self) {
        self.state = ConnState::Hijacked;
    }

    fn set_state(&mut self, new: ConnState) {
        if self.state != new {
            self.state = new;
            self.shared.transition(&self.info, new);
        }
    }
}

#[cfg(test)]
impl Conn {
    /// For unit tests: a new HTTP/1.1 connection over one end of a Unix
    /// socket pair; the other end is the peer.
    pub(crate) fn accept_pair(shared: &Arc<ServerState>) -> (Conn, std::os::unix::net::UnixStream) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let info = ConnInfo::bare(shared.next_conn_id());
        let conn = Conn::accept(shared, Stream::Unix(ours), info, None, Protocol::Http1);
        (conn, theirs)
    }
}

impl Drop for Conn {
    /// → Closed (the registration ends), unless hijacked: then the
    /// [`Hijack`] ends it.
    fn drop(&mut self) {
        if self.state != ConnState::Hijacked {
            self.shared.deregister(&self.info, ConnState::Closed);
        }
    }
}

/// Counts a request in flight from its head to its response, whatever
/// path it leaves by (a panic included).
pub(crate) struct InFlight<'a> {
    shared: &'a ServerState,
    /// The run it counts in.
    run: u64,
    armed: bool,
}

impl<'a> InFlight<'a> {
    /// A request's head is read: counts it, and the connection is Active
    /// (one lock for both).
    pub(crate) fn start(shared: &'a ServerState, conn: &mut Conn) -> Self {
        let run = shared.request_started(&conn.info);
        conn.state = ConnState::Active;
        conn.requests += 1;
        InFlight {
            shared,
            run,
            armed: true,
        }
    }

    /// The response is written: the count and the new state change in
    /// one lock hold; says what the connection does next. Kept alive, it
    /// is Idle from now (the base of its idle timeout and drain grace).
    pub(crate) fn finish(mut self, conn: &mut Conn, keep_alive: bool) -> Next {
        self.armed = false;
        let next = keep_alive.then_some(ConnState::Idle);
        self.shared.request_done(&conn.info, next, self.run);
        match next {
            Some(s) => {
                conn.state = s;
                conn.last_active = Instant::now();
                Next::KeepAlive
            }
            None => Next::Close,
        }
    }
}

impl Drop for InFlight<'_> {
    /// Abandoned (a hijack, a failed write, a panic): out of the count,
    /// not served.
    fn drop(&mut self) {
        if self.armed {
            self.shared.request_finished(false, self.run);
        }
    }
}

/// A hijacked connection's registration: while it lives the drain waits
/// for the connection, and the shutdown deadline force-closes (and
/// counts) it. Made by [`Hijack::take`] while the handler runs; it ends
/// when dropped.
pub(crate) struct Hijack {
    shared: Arc<ServerState>,
    info: Arc<ConnInfo>,
}

impl Hijack {
    /// Active → Hijacked, reported to the hook; the worker's `Conn` then
    /// lets go of it ([`Conn::hand_over`]).
    pub(crate) fn take(shared: &Arc<ServerState>, info: &Arc<ConnInfo>) -> Hijack {
        shared.transition(info, ConnState::Hijacked);
        Hijack {
            shared: shared.clone(),
            info: info.clone(),
        }
    }

    pub(crate) fn shared(&self) -> &ServerState {
        &self.shared
    }
}

impl Drop for Hijack {
    /// The handler is done with the connection: forgotten, without a
    /// report (Hijacked is the hook's last word on it).
    fn drop(&mut self) {
        self.shared.forget(&self.info);
    }
}

#[cfg(test)]
mod tests {
    //! One test per transition, on a real socket pair and a real server
    //! state, watching the registry through `stats()` and the hook.

    use super::*;
    use crate::config::Config;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;

    type Log = Arc<Mutex<Vec<(ConnState, ConnState)>>>;

    fn server() -> (Arc<ServerState>, Log) {
        let log: Log = Arc::default();
        let l = log.clone();
        let config = Config {
            on_state: Some(Arc::new(move |_: &ConnInfo, old, new| {
                l.lock().unwrap().push((old, new));
            })),
            ..Config::default()
        };
        (ServerState::new(config), log)
    }

    fn accept(shared: &Arc<ServerState>) -> (Conn, UnixStream) {
        Conn::accept_pair(shared)
    }

    fn reports(log: &Log) -> Vec<(ConnState, ConnState)> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    use ConnState::{Active, Closed, Hijacked, Idle, New};

    #[test]
    fn accept_is_new_and_reported_as_new_new() {
        let (shared, log) = server();
        let (conn, _peer) = accept(&shared);
        assert_eq!(conn.state(), New);
        let s = shared.stats();
        assert_eq!((s.accepted, s.connections, s.new), (1, 1, 1));
        assert_eq!(reports(&log), [(New, New)]);
    }

    #[test]
    fn new_to_closed_when_dropped() {
        let (shared, log) = server();
        let (conn, _peer) = accept(&shared);
        reports(&log);
        drop(conn);
        assert_eq!(shared.stats().connections, 0);
        assert_eq!(reports(&log), [(New, Closed)]);
    }

    #[test]
    fn a_partial_head_makes_it_active() {
        let (shared, log) = server();
        let (mut conn, _peer) = accept(&shared);
        reports(&log);
        conn.head_started();
        conn.head_started();
        assert_eq!(conn.state(), Active);
        assert_eq!(shared.stats().active, 1);
        assert_eq!(reports(&log), [(New, Active)], "reported once");
    }

    #[test]
    fn a_request_counts_in_flight_and_makes_it_active() {
        let (shared, log) = server();
        let (mut conn, _peer) = accept(&shared);
        reports(&log);
        let flight = InFlight::start(&shared, &mut conn);
        let s = shared.stats();
        assert_eq!((s.in_flight, s.active, conn.requests()), (1, 1, 1));
        drop(flight);
        let s = shared.stats();
        assert_eq!((s.in_flight, s.served), (0, 0), "abandoned: not served");
        assert_eq!(reports(&log), [(New, Active)]);
    }

    #[test]
    fn a_response_kept_alive_makes_it_idle() {
        let (shared, log) = server();
        let (mut conn, _peer) = accept(&shared);
        let before = conn.last_active();
        let flight = InFlight::start(&shared, &mut conn);
        assert!(matches!(flight.finish(&mut conn, true), Next::KeepAlive));
        assert_eq!(conn.state(), Idle);
        assert!(conn.last_active() >= before);
        let s = shared.stats();
        assert_eq!((s.in_flight, s.served, s.idle), (0, 1, 1));
        // And the next request makes it Active again.
        let flight = InFlight::start(&shared, &mut conn);
        assert_eq!(conn.requests(), 2);
        drop(flight);
        assert_eq!(
            reports(&log),
            [(New, New), (New, Active), (Active, Idle), (Idle, Active)]
        );
    }

    #[test]
    fn a_response_that_closes_leaves_it_active_until_it_closes() {
        let (shared, log) = server();
        let (mut conn, _peer) = accept(&shared);
        let flight = InFlight::start(&shared, &mut conn);
        assert!(matches!(flight.finish(&mut conn, false), Next::Close));
        assert_eq!(conn.state(), Active);
        assert_eq!(shared.stats().served, 1);
        drop(conn);
        assert_eq!(reports(&log), [(New, New), (New, Active), (Active, Closed)]);
    }

    #[test]
    fn close_write_sends_the_fin_and_marks_it_closing() {
        use std::io::Read;
        let (shared, log) = server();
        let (mut conn, mut peer) = accept(&shared);
        reports(&log);
        conn.close_write(true);
        conn.close_write(true);
        let s = shared.stats();
        assert_eq!((s.closing, s.connections), (1, 1), "closing counts once");
        let mut buf = [0u8; 1];
        assert_eq!(peer.read(&mut buf).unwrap(), 0, "the peer sees our FIN");
        drop(conn);
        let s = shared.stats();
        assert_eq!((s.closing, s.connections), (0, 0));
        assert_eq!(
            reports(&log),
            [(New, Closed)],
            "closing is not a hook state"
        );
    }

    #[test]
    fn a_hijack_hands_the_registration_to_the_handler() {
        let (shared, log) = server();
        let (mut conn, _peer) = accept(&shared);
        let flight = InFlight::start(&shared, &mut conn);
        let taken = Hijack::take(&shared, conn.info());
        conn.hand_over();
        drop(flight);
        drop(conn);
        let s = shared.stats();
        assert_eq!(
            (s.connections, s.hijacked),
            (1, 1),
            "still tracked by the drain"
        );
        drop(taken);
        let s = shared.stats();
        assert_eq!((s.connections, s.hijacked), (0, 0));
        assert_eq!(
            reports(&log),
            [(New, New), (New, Active), (Active, Hijacked)],
            "Hijacked is the hook's last word"
        );
    }
}
