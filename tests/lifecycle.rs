//! The server's lifecycle and its wait group: close before, during and
//! after `serve`, serving twice, serving again, tracked routines, `wait`,
//! panicking handlers, idle connections on a small pool, the counts, and
//! the manners-style free functions on the process-wide default server.
//!
//! Every wait is bounded by `T`; events are ordered with gates, channels
//! and `wait_until` on the stats, never with sleeps.

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use courteous::testing::{
    in_thread, wait_until, Ending, Gate, OpenOnDrop, RawClient, RawResponse, TestServer,
};
use courteous::{Error, Handle, Request, Response, Server, Stats};

mod common;
use common::{agent, T};

/// How long a test watches for something that must *not* happen yet.
const SHORT: Duration = Duration::from_millis(200);

// ----- helpers ----------------------------------------------------------------

/// The plain handler most tests serve.
fn hello(_: &mut Request) -> Response {
    Response::text("hello\n")
}

/// A handler that parks at `gate` for the path `/hold`, else says hello.
fn held_at(gate: &Gate) -> impl Fn(&mut Request) -> Response + Send + Sync + 'static {
    let gate = gate.clone();
    move |req: &mut Request| {
        if req.uri().path() == "/hold" {
            gate.wait();
        }
        Response::text("hello\n")
    }
}

/// A closed gate and its guard (declare it after the server).
fn gate() -> (Gate, OpenOnDrop) {
    let g = Gate::new();
    let open = g.open_on_drop();
    (g, open)
}

/// A fresh server on loopback, port 0.
fn bind(builder: courteous::Builder) -> Arc<Server> {
    Arc::new(builder.bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
}

/// A `serve` (or free-function serve) running on a thread. Dropping it
/// closes the server and waits (bounded) for the thread, so a failing test
/// still stops its server.
struct Serving {
    handle: Handle,
    done: mpsc::Receiver<Result<(), Error>>,
    thread: Option<JoinHandle<()>>,
}

impl Serving {
    /// Runs `serve` on a thread; `handle` is what closes it.
    fn spawn(handle: Handle, serve: impl FnOnce() -> Result<(), Error> + Send + 'static) -> Self {
        let (tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            let r = serve();
            let _ = tx.send(r);
        });
        Serving {
            handle,
            done,
            thread: Some(thread),
        }
    }

    /// `server.serve(handler)` on a thread (the server is shared).
    fn server(server: &Arc<Server>, handler: impl courteous::Handler) -> Self {
        let s = server.clone();
        Serving::spawn(server.handle(), move || s.serve(handler))
    }

    /// What `serve` returned, if it returned within `timeout`.
    fn join(&mut self, timeout: Duration) -> Option<Result<(), Error>> {
        let r = self.done.recv_timeout(timeout).ok()?;
        if let Some(t) = self.thread.take() {
            t.join().expect("the serve thread panicked");
        }
        Some(r)
    }

    /// Closes and waits for `serve`'s result.
    fn stop(mut self) -> Result<(), Error> {
        self.handle.close();
        self.join(T).expect("serve returns after close")
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.handle.close();
            let _ = self.join(2 * T);
        }
    }
}

/// Closes, then waits for the drain to be over (manners' `BlockingClose`):
/// true if this close started the drain.
fn close_and_wait(handle: &Handle) -> bool {
    let started = handle.close();
    handle.wait();
    started
}

/// Waits for the stats to satisfy `pred`; panics with `what` and the last
/// stats seen otherwise.
fn await_stats(handle: &Handle, what: &str, pred: impl FnMut(&Stats) -> bool) -> Stats {
    wait_until(handle, pred, T).unwrap_or_else(|s| panic!("timed out waiting for {what}: {s:?}"))
}

/// One GET on `client`, expected to be a 200 "hello".
fn get_hello(client: &mut RawClient) -> RawResponse {
    let resp = client.get("/", T).expect("a response");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "hello\n");
    resp
}

/// A new connection to `addr` and one GET on it, expected to be "hello".
fn get_hello_at(addr: SocketAddr) -> RawResponse {
    let mut client = RawClient::connect(addr).expect("connect");
    get_hello(&mut client)
}

/// Connects once `serve` listens. A `serve` that binds (a second run of a
/// server, `listen_and_serve`) reports serving a moment before it has
/// bound; `listening` says when connects are queued for it.
fn connect_when_listening(handle: &Handle, addr: SocketAddr) -> RawClient {
    await_stats(handle, "listening", |s| s.listening);
    RawClient::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e:?}"))
}

/// A client that has sent `GET /hold` and whose handler is parked at `gate`.
fn hold_one(addr: SocketAddr, gate: &Gate) -> RawClient {
    let mut client = RawClient::connect(addr).expect("connect");
    client
        .send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T), "the handler reached the gate");
    client
}

fn ureq_hello(addr: SocketAddr) {
    let mut resp = agent()
        .get(&format!("http://{addr}/"))
        .call()
        .expect("ureq GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body_mut().read_to_string().expect("body"), "hello\n");
}

// ----- close ------------------------------------------------------------------

#[test]
fn close_before_serve_returns_at_once_and_a_later_serve_works() {
    let server = bind(Server::builder());
    let handle = server.handle();
    assert!(
        handle.close(),
        "a close before serve is the one that counts"
    );
    assert!(!handle.close(), "a second close before serve does nothing");

    let mut first = Serving::server(&server, hello);
    match first.join(T) {
        Some(Ok(())) => {}
        other => panic!("serve after a close should return Ok at once, got {other:?}"),
    }
    let st = handle.stats();
    assert!(!st.serving && !st.draining, "{st:?}");
    assert_eq!(st.accepted, 0);

    // The pending close was used up: the next serve serves.
    let second = Serving::server(&server, hello);
    get_hello_at(server.local_addr().expect("TCP"));
    await_stats(&handle, "serving", |s| s.serving && !s.draining);
    second.stop().expect("serve returns Ok");
    assert_eq!(handle.stats().served, 1);
}

#[test]
fn close_twice_and_close_then_wait() {
    let (gate, _open) = gate();
    let mut server = TestServer::start(Server::builder(), held_at(&gate));
    let handle = server.handle();
    let mut client = hold_one(server.local_addr(), &gate);

    assert!(handle.close(), "the first close starts the drain");
    assert!(handle.is_draining());
    assert!(!handle.close(), "a close during the drain does nothing");

    // A close and wait during someone else's drain: the close says false,
    // the wait waits.
    let h = handle.clone();
    let blocking = in_thread(move || {
        let started = close_and_wait(&h);
        (started, h.stats())
    });
    assert_eq!(
        blocking.recv_timeout(SHORT).err(),
        Some(RecvTimeoutError::Timeout),
        "wait returned while a request was still held"
    );
    gate.open();
    let (started, after) = blocking.recv_timeout(T).expect("close and wait return");
    assert!(!started, "it did not start the drain");
    assert!(!after.serving, "serve had returned when wait did");
    assert_eq!(client.read_response(T).expect("response").status, 200);
    assert!(server.join(T).expect("serve returned").is_ok());

    // Drained: a close now belongs to the run that ended (one accepted
    // close per run), and a close and wait returns at once.
    let h = handle.clone();
    let idle = in_thread(move || (close_and_wait(&h), close_and_wait(&h)));
    let (first, second) = idle.recv_timeout(T).expect("returns at once");
    assert!(!first && !second, "the run already ended by a close");

    // Before a server's first serve, a close is a pending close, and the
    // wait returns at once.
    let fresh = Server::bind("127.0.0.1:0").expect("bind").handle();
    let idle = in_thread(move || (close_and_wait(&fresh), close_and_wait(&fresh)));
    let (first, second) = idle.recv_timeout(T).expect("returns at once");
    assert!(
        first,
        "the first close of a server not yet serving is pending"
    );
    assert!(!second, "a second one is not");
}

#[test]
fn close_then_wait_returns_once_the_drain_is_over() {
    let (gate, _open) = gate();
    let mut server = TestServer::start(Server::builder(), held_at(&gate));
    let handle = server.handle();
    let mut client = hold_one(server.local_addr(), &gate);

    let h = handle.clone();
    let blocking = in_thread(move || (close_and_wait(&h), h.stats()));
    await_stats(&handle, "the drain", |s| s.draining);
    assert_eq!(
        blocking.recv_timeout(SHORT).err(),
        Some(RecvTimeoutError::Timeout),
        "wait returned before the held request finished"
    );
    gate.open();
    let (started, after) = blocking.recv_timeout(T).expect("close and wait return");
    assert!(started, "this call started the drain");
    assert!(!after.serving && !after.draining, "{after:?}");
    let resp = client.read_response(T).expect("response");
    assert!(resp.connection_close());
    assert!(server.join(T).expect("serve returned").is_ok());
}

// ----- serve twice, serve again -----------------------------------------------

#[test]
fn serve_while_serving_or_draining_is_not_ready() {
    let (gate, _open) = gate();
    let server = bind(Server::builder());
    let handle = server.handle();
    let mut serving = Serving::server(&server, held_at(&gate));
    await_stats(&handle, "serving", |s| s.serving);

    match server.serve(hello) {
        Err(Error::AlreadyServing) => {}
        other => panic!("a second serve while serving: {other:?}"),
    }
    // The failed call changed nothing: the first serve still serves.
    get_hello_at(server.local_addr().expect("TCP"));

    let mut client = hold_one(server.local_addr().expect("TCP"), &gate);
    assert!(handle.close());
    await_stats(&handle, "the drain", |s| s.draining);
    match server.serve(hello) {
        Err(Error::StillDraining) => {}
        other => panic!("a serve while draining: {other:?}"),
    }
    assert!(
        handle.is_draining(),
        "the failed serve did not end the drain"
    );
    assert!(
        serving.join(SHORT).is_none(),
        "the drain waits for the gate"
    );

    gate.open();
    assert_eq!(client.read_response(T).expect("response").status, 200);
    assert!(serving.join(T).expect("serve returned").is_ok());
}

#[test]
fn serves_again_after_a_finished_drain() {
    let server = bind(Server::builder());
    let handle = server.handle();
    let addr = server.local_addr().expect("TCP");

    for round in 1..=3u64 {
        let serving = Serving::server(&server, hello);
        get_hello(&mut connect_when_listening(&handle, addr));
        ureq_hello(addr);
        serving.stop().expect("serve returns Ok");
        assert_eq!(server.local_addr(), Some(addr), "same address");
        let st = handle.stats();
        assert!(!st.serving && !st.draining, "round {round}: {st:?}");
        assert_eq!(st.connections, 0, "round {round}: {st:?}");
        assert_eq!(st.in_flight, 0, "round {round}: {st:?}");
        assert_eq!(st.served, 2 * round, "counts add up across runs");
        // Between runs nothing listens: a connect is refused.
        assert!(
            matches!(RawClient::connect(addr), Err(Ending::Refused)),
            "round {round}: the listener is closed after serve returned"
        );
    }
}

#[test]
fn a_handler_left_running_by_a_forced_close_does_not_hold_the_next_drain() {
    let server = bind(Server::builder());
    let handle = server.handle();
    let addr = server.local_addr().expect("TCP");
    let (gate, _open) = gate();

    // Run 1 ends by force while a handler is held.
    let mut serving = Serving::server(&server, held_at(&gate));
    await_stats(&handle, "listening", |s| s.listening);
    let _held = hold_one(addr, &gate);
    assert!(handle.force_close());
    serving.join(T).expect("serve returns").expect("Ok");
    drop(serving);
    let st = handle.stats();
    assert_eq!(
        (st.killed, st.in_flight),
        (1, 1),
        "the handler still runs: {st:?}"
    );

    // Run 2 serves and drains on its own: the old run's handler is not
    // one of its requests.
    let serving = Serving::server(&server, held_at(&gate));
    get_hello(&mut connect_when_listening(&handle, addr));
    serving
        .stop()
        .expect("serve returns Ok while the old handler runs");
    assert_eq!(handle.stats().in_flight, 1, "still counted until it ends");

    // When it ends, its count goes, and the counts stay whole for run 3.
    gate.open();
    await_stats(&handle, "the old handler's end", |s| s.in_flight == 0);
    let serving = Serving::server(&server, held_at(&gate));
    get_hello(&mut connect_when_listening(&handle, addr));
    serving.stop().expect("serve returns Ok");
    let st = handle.stats();
    assert_eq!((st.in_flight, st.connections), (0, 0), "{st:?}");
}

// ----- the wait group -----------------------------------------------------------

#[test]
fn a_tracked_routine_holds_the_drain() {
    let mut server = TestServer::start(Server::builder(), hello);
    let handle = server.handle();
    let routine = handle.track();
    assert_eq!(handle.stats().routines, 1);
    get_hello_at(server.local_addr());
    // Its count drops just after the response is written: only the
    // routine is left to hold the drain once it did.
    await_stats(&handle, "the request finished", |s| s.in_flight == 0);

    assert!(handle.close());
    assert!(
        server.join(SHORT).is_none(),
        "serve returned while a routine was running"
    );
    let st = handle.stats();
    assert!(st.draining, "{st:?}");
    assert_eq!(st.routines, 1, "{st:?}");
    assert_eq!(st.in_flight, 0, "{st:?}");

    drop(routine);
    assert!(server.join(T).expect("serve returns").is_ok());
    assert_eq!(handle.stats().routines, 0);
}

#[test]
fn wait_blocks_until_serve_returns() {
    let (gate, _open) = gate();
    let mut server = TestServer::start(Server::builder(), held_at(&gate));
    let handle = server.handle();
    let mut client = hold_one(server.local_addr(), &gate);

    let h = handle.clone();
    let waiter = in_thread(move || {
        h.wait();
        h.stats()
    });
    assert_eq!(
        waiter.recv_timeout(SHORT).err(),
        Some(RecvTimeoutError::Timeout),
        "wait returned while serving"
    );
    assert!(handle.close());
    assert_eq!(
        waiter.recv_timeout(SHORT).err(),
        Some(RecvTimeoutError::Timeout),
        "wait returned while draining"
    );
    gate.open();
    let seen = waiter.recv_timeout(T).expect("wait returns");
    assert!(!seen.serving, "wait returned before serve did: {seen:?}");
    assert_eq!(client.read_response(T).expect("response").status, 200);
    assert!(server.join(T).expect("serve returned").is_ok());
}

#[test]
fn wait_returns_at_once_when_not_serving() {
    let server = bind(Server::builder());
    let h = server.handle();
    let waiter = in_thread(move || h.wait());
    waiter
        .recv_timeout(T)
        .expect("wait on a never-served server");

    // And after a finished run.
    let serving = Serving::server(&server, hello);
    get_hello_at(server.local_addr().expect("TCP"));
    serving.stop().expect("serve returns Ok");
    let h = server.handle();
    in_thread(move || h.wait())
        .recv_timeout(T)
        .expect("wait on a stopped server");
}

// ----- panics -------------------------------------------------------------------

#[test]
fn a_panicking_handler_costs_one_500_and_the_workers_survive() {
    const ROUNDS: u64 = 50;
    let server = TestServer::start(Server::builder().workers(2), |req: &mut Request| {
        if req.uri().path() == "/panic" {
            panic!("deliberate handler panic (expected in this test)");
        }
        Response::text("hello\n")
    });
    let handle = server.handle();
    for i in 1..=ROUNDS {
        let mut client = RawClient::connect(server.local_addr()).expect("connect");
        let resp = client.get("/panic", T).expect("a response to a panic");
        assert_eq!(resp.status, 500, "round {i}");
        assert!(resp.connection_close(), "round {i}: {resp:?}");
        assert_eq!(client.read_end(T), Ending::Eof, "round {i}");

        get_hello_at(server.local_addr());
        let st = await_stats(&handle, "the request to leave the count", |s| {
            s.in_flight == 0 && s.served == 2 * i
        });
        assert_eq!(st.accepted, 2 * i, "{st:?}");
    }
    server.stop().expect("serve returns Ok");
}

// ----- idle connections on a small pool ---------------------------------------

#[test]
fn idle_keep_alive_connections_do_not_starve_a_small_pool() {
    const IDLE: usize = 10;
    let server = TestServer::start(Server::builder().workers(2), hello);
    let handle = server.handle();
    let mut idle: Vec<RawClient> = (0..IDLE)
        .map(|_| {
            let mut c = RawClient::connect(server.local_addr()).expect("connect");
            let resp = get_hello(&mut c);
            assert!(!resp.connection_close(), "kept alive: {resp:?}");
            c
        })
        .collect();
    await_stats(&handle, "every client idle", |s| s.idle == IDLE);

    // More idle connections than workers: a new client is still served,
    // within T (far less than the 60 s idle timeout that would free a worker).
    get_hello_at(server.local_addr());

    // And the idle ones still work.
    for c in &mut idle {
        get_hello(c);
    }
    let st = await_stats(&handle, "all served", |s| {
        s.served == 2 * IDLE as u64 + 1 && s.in_flight == 0
    });
    assert_eq!(st.accepted, IDLE as u64 + 1, "{st:?}");
    drop(idle);
    server.stop().expect("serve returns Ok");
}

/// One worker waits for events; the rest are called in from the bench
/// when every one in circulation is held up. Every worker of the pool can
/// be held at once, by new connections and by kept-alive ones.
#[test]
fn every_worker_of_the_pool_can_be_held_at_once() {
    const WORKERS: usize = 8;
    let (gate, _open) = gate();
    let server = TestServer::start(Server::builder().workers(WORKERS), held_at(&gate));
    let handle = server.handle();

    // Kept-alive connections, parked between requests, then all held.
    let mut kept: Vec<RawClient> = (0..WORKERS / 2)
        .map(|_| {
            let mut c = RawClient::connect(server.local_addr()).expect("connect");
            get_hello(&mut c);
            c
        })
        .collect();
    await_stats(&handle, "kept-alive clients idle", |s| {
        s.idle == WORKERS / 2
    });
    for c in &mut kept {
        c.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("send");
    }
    // New connections, held from their first request.
    let fresh: Vec<RawClient> = (0..WORKERS / 2)
        .map(|_| {
            let mut c = RawClient::connect(server.local_addr()).expect("connect");
            c.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
                .expect("send");
            c
        })
        .collect();
    assert!(
        gate.wait_parked(WORKERS, T),
        "all {WORKERS} workers held: {} arrived, {:?}",
        gate.arrived(),
        handle.stats()
    );

    // One more request waits for a worker; none is free until the gate opens.
    let mut late = RawClient::connect(server.local_addr()).expect("connect");
    late.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(
        matches!(late.read_response(SHORT), Err(Ending::TimedOut)),
        "no worker was free for it"
    );
    assert_eq!(gate.arrived(), WORKERS);
    gate.open();
    for mut c in kept.into_iter().chain(fresh) {
        let resp = c.read_response(T).expect("held response");
        assert_eq!(resp.status, 200);
    }
    assert_eq!(late.read_response(T).expect("late response").status, 200);
    server.stop().expect("serve returns Ok");
}

// ----- the counts ---------------------------------------------------------------

#[test]
fn stats_follow_a_simple_exchange() {
    let (gate, _open) = gate();
    let server = TestServer::start(Server::builder(), held_at(&gate));
    let handle = server.handle();
    let st = await_stats(&handle, "serving", |s| s.serving);
    assert_eq!(
        (st.connections, st.accepted, st.served, st.in_flight),
        (0, 0, 0, 0),
        "{st:?}"
    );

    // Connected, nothing sent: New.
    let mut client = RawClient::connect(server.local_addr()).expect("connect");
    let st = await_stats(&handle, "a new connection", |s| s.new == 1);
    assert_eq!(
        (st.accepted, st.connections, st.active, st.idle),
        (1, 1, 0, 0)
    );

    // A request held in its handler: Active and in flight.
    client
        .send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    let st = handle.stats();
    assert_eq!(
        (st.new, st.active, st.idle, st.in_flight, st.served),
        (0, 1, 0, 1, 0),
        "{st:?}"
    );

    // Answered and kept alive: Idle, nothing in flight, one served.
    gate.open();
    assert_eq!(client.read_response(T).expect("response").status, 200);
    let st = await_stats(&handle, "an idle connection", |s| s.idle == 1);
    assert_eq!(
        (st.new, st.active, st.in_flight, st.served, st.connections),
        (0, 0, 0, 1, 1),
        "{st:?}"
    );

    // A second connection, then both hang up.
    let mut other = RawClient::connect(server.local_addr()).expect("connect");
    get_hello(&mut other);
    let st = await_stats(&handle, "two idle connections", |s| s.idle == 2);
    assert_eq!(
        (st.accepted, st.served, st.connections),
        (2, 2, 2),
        "{st:?}"
    );
    drop(client);
    drop(other);
    let st = await_stats(&handle, "no connection", |s| s.connections == 0);
    assert_eq!(
        (
            st.new,
            st.active,
            st.idle,
            st.in_flight,
            st.accepted,
            st.served
        ),
        (0, 0, 0, 0, 2, 2),
        "{st:?}"
    );
    assert!(!st.draining && st.killed == 0, "{st:?}");
    server.stop().expect("serve returns Ok");
}

// ----- the default server (process-wide: one test only) ------------------------

#[test]
fn default_server_free_functions() {
    let handle = courteous::compat::handle();

    // A close before serve: serve returns at once, Ok.
    assert!(courteous::compat::close(), "the pending close");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut early = Serving::spawn(handle.clone(), move || {
        courteous::compat::serve(listener, hello)
    });
    match early.join(T) {
        Some(Ok(())) => {}
        other => panic!("serve after close: {other:?}"),
    }
    assert!(!handle.stats().serving);

    // serve(listener, handler), then close.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let mut serving = Serving::spawn(handle.clone(), move || {
        courteous::compat::serve(listener, hello)
    });
    get_hello_at(addr);
    ureq_hello(addr);
    await_stats(&handle, "serving", |s| s.serving);
    assert!(
        courteous::compat::close(),
        "the close that starts the drain"
    );
    assert!(serving.join(T).expect("serve returns").is_ok());
    assert_eq!(
        courteous::compat::signal_received(),
        None,
        "closed, not signalled"
    );
    let served = handle.stats().served;
    assert!(served >= 2, "{served}");

    // listen_and_serve on an address in use fails, and leaves the server ready.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_addr = taken.local_addr().expect("local_addr");
    match courteous::compat::listen_and_serve(taken_addr, hello) {
        Err(Error::Bind { .. }) => {}
        other => panic!("listen_and_serve on a taken address: {other:?}"),
    }
    assert!(!handle.stats().serving);
    drop(taken);

    // listen_and_serve(addr, handler), then close.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("local_addr");
    drop(free);
    let mut serving = Serving::spawn(handle.clone(), move || {
        courteous::compat::listen_and_serve(addr, hello)
    });
    get_hello(&mut connect_when_listening(&handle, addr));
    assert!(courteous::compat::close());
    assert!(serving.join(T).expect("listen_and_serve returns").is_ok());
    assert_eq!(courteous::compat::signal_received(), None);
    let st = handle.stats();
    assert!(!st.serving && st.served == served + 1, "{st:?}");
}
