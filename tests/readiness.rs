//! What operators need around a drain: the readiness drain (a delay with
//! failing health checks before the listener closes), `on_shutdown` hooks
//! the drain waits for, a `before_shutdown` veto, and a forced close (what
//! a second Ctrl-C does).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courteous::testing::{wait_until, Ending, Gate, RawClient, TestServer};
use courteous::{Request, Response, Server};

mod common;
use common::T;

fn hello(req: &mut Request) -> Response {
    if req.is_draining() {
        Response::text("hello, draining\n")
    } else {
        Response::text("hello\n")
    }
}

#[test]
fn drain_delay_keeps_serving_with_failing_health_checks() {
    let mut server = TestServer::start(
        Server::builder()
            .drain_delay(Duration::from_millis(300))
            .health_route("/healthz"),
        hello,
    );
    let handle = server.handle();
    let mut lb = RawClient::connect(server.local_addr()).expect("connect");
    let r = lb.get("/healthz", T).expect("health");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));

    let began = Instant::now();
    assert!(handle.close(), "the close is accepted");
    assert!(handle.is_draining());
    // During the delay: the listener is open, new clients are served, the
    // health route fails, handlers see the drain, responses say close.
    let s = handle.stats();
    assert!(s.listening && s.draining, "{s:?}");
    let r = lb.get("/healthz", T).expect("health during the delay");
    assert_eq!(r.status, 503);
    let mut late = RawClient::connect(server.local_addr()).expect("still accepting");
    let r = late.get("/", T).expect("served during the delay");
    assert_eq!(r.text(), "hello, draining\n");
    assert!(r.connection_close());
    // Then the drain proper: the listener closes after the delay.
    wait_until(&handle, |s| !s.listening, T).expect("listener closed");
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "not before the delay"
    );
    assert!(server.join(T).expect("serve returned").is_ok());
}

#[test]
fn a_second_close_skips_the_delay() {
    let mut server = TestServer::start(
        Server::builder().drain_delay(Duration::from_secs(60)),
        hello,
    );
    let handle = server.handle();
    assert!(handle.close());
    wait_until(&handle, |s| s.draining && s.listening, T).expect("delaying");
    assert!(
        !handle.close(),
        "the second close does not start another drain"
    );
    wait_until(&handle, |s| !s.listening, T).expect("the delay was skipped");
    assert!(server.join(T).expect("serve returned").is_ok());
}

#[test]
fn on_shutdown_hooks_run_at_the_close_and_hold_the_drain() {
    let gate = Gate::new();
    let g = gate.clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let r1 = ran.clone();
    let r2 = ran.clone();
    let mut server = TestServer::start(
        Server::builder()
            .on_shutdown(move || {
                r1.fetch_add(1, Ordering::SeqCst);
                g.wait();
            })
            .on_shutdown(move || {
                r2.fetch_add(1, Ordering::SeqCst);
            }),
        hello,
    );
    let handle = server.handle();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "not before the close");
    assert!(handle.close());
    assert!(
        gate.wait_parked(1, T),
        "the hook runs once the drain starts"
    );
    wait_until(&handle, |_| ran.load(Ordering::SeqCst) == 2, T).expect("both hooks ran");
    assert!(
        server.join(Duration::from_millis(200)).is_none(),
        "serve waits for the hook"
    );
    assert_eq!(handle.stats().routines, 1);
    gate.open();
    assert!(server.join(T).expect("serve returned").is_ok());
}

#[test]
fn before_shutdown_can_veto_a_close() {
    let allow = Arc::new(AtomicBool::new(false));
    let a = allow.clone();
    let mut server = TestServer::start(
        Server::builder().before_shutdown(move || a.load(Ordering::SeqCst)),
        hello,
    );
    let handle = server.handle();
    assert!(!handle.close(), "vetoed");
    assert!(!handle.is_draining());
    let mut c = RawClient::connect(server.local_addr()).expect("still serving");
    assert_eq!(c.get("/", T).expect("served").text(), "hello\n");
    allow.store(true, Ordering::SeqCst);
    assert!(handle.close(), "allowed now");
    assert_eq!(c.read_end(T), Ending::Eof);
    assert!(server.join(T).expect("serve returned").is_ok());
}

/// A server whose handler waits at the returned gate, and a client whose
/// request is stuck there.
fn one_request_stuck() -> (Gate, TestServer, RawClient) {
    let gate = Gate::new();
    let g = gate.clone();
    let server = TestServer::start(Server::builder(), move |_: &mut Request| {
        g.wait();
        "late\n"
    });
    let mut stuck = RawClient::connect(server.local_addr()).expect("connect");
    stuck
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    (gate, server, stuck)
}

#[test]
fn force_close_kills_what_is_left_now() {
    let (gate, mut server, mut stuck) = one_request_stuck();
    let handle = server.handle();
    assert!(handle.close());
    assert!(
        server.join(Duration::from_millis(100)).is_none(),
        "no deadline: it waits"
    );
    assert!(handle.force_close());
    assert!(server.join(T).expect("serve returned").is_ok());
    assert_eq!(handle.stats().killed, 1);
    assert!(stuck.read_response(T).is_err());
    assert!(!handle.force_close(), "nothing to force once stopped");
    gate.open();
}

#[test]
fn close_within_sets_this_drains_deadline() {
    // The stuck client stays connected until the end.
    let (gate, mut server, _stuck) = one_request_stuck();
    let handle = server.handle();
    let began = Instant::now();
    assert!(handle.close_within(Duration::from_millis(100)));
    assert!(server.join(T).expect("serve returned").is_ok());
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "the deadline applied"
    );
    assert_eq!(handle.stats().killed, 1);
    assert!(!handle.close_within(Duration::ZERO), "not serving any more");
    gate.open();
}
