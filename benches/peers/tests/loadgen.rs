//! The load generator counts what the server served: checked against
//! courteous's own count, in both modes and with both ways to stop.

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use courteous::{Handle, Request, Response, Server};
use courteous_peers::loadgen::{self, Mode, Spec, Stop};

fn server() -> (SocketAddr, Handle, thread::JoinHandle<()>) {
    let server = Server::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.handle();
    let t = thread::spawn(move || {
        server
            .serve(|req: &mut Request| match req.uri().path() {
                "/hello" => Response::text("hello\n"),
                _ => Response::new(courteous::http::StatusCode::NOT_FOUND),
            })
            .unwrap()
    });
    (addr, handle, t)
}

fn spec(addr: SocketAddr, path: &str, mode: Mode, stop: Stop) -> Spec {
    Spec {
        addr,
        path: path.into(),
        conns: 4,
        threads: 2,
        mode,
        pipeline: 1,
        stop,
    }
}

#[test]
fn counted_runs_match_the_server() {
    for mode in [Mode::KeepAlive, Mode::Close] {
        let (addr, handle, t) = server();
        let s = loadgen::run(&spec(addr, "/hello", mode, Stop::Requests(500))).unwrap();
        assert_eq!(s.requests, 500, "{mode:?}");
        assert_eq!(s.errors.total(), 0, "{mode:?}: {:?}", s.errors);
        assert_eq!(s.latency.len(), 500);
        assert!(s.quantile(0.99) >= s.quantile(0.5));
        handle.close();
        handle.wait();
        t.join().unwrap();
        assert_eq!(handle.stats().served, 500, "{mode:?}");
        if mode == Mode::Close {
            // A connection per request (a client racing another for the
            // last request may open one more).
            let accepted = handle.stats().accepted;
            assert!((500..=504).contains(&accepted), "accepted {accepted}");
        }
    }
}

#[test]
fn pipelined_runs_count_every_response() {
    let (addr, handle, t) = server();
    // 500 is not a multiple of 16: the last batches are short.
    let s = loadgen::run(&Spec {
        pipeline: 16,
        ..spec(addr, "/hello", Mode::KeepAlive, Stop::Requests(500))
    })
    .unwrap();
    assert_eq!(s.requests, 500);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    // One latency per batch, as wrk records them.
    assert!(s.latency.len() < 500 / 8, "{} latencies", s.latency.len());
    handle.close();
    handle.wait();
    t.join().unwrap();
    assert_eq!(handle.stats().served, 500);
    assert_eq!(handle.stats().accepted, 4);
    // Pipelining needs keep-alive.
    assert!(loadgen::run(&Spec {
        pipeline: 16,
        ..spec(addr, "/hello", Mode::Close, Stop::Requests(10))
    })
    .is_err());
}

#[test]
fn timed_runs_count_no_more_than_was_served() {
    let (addr, handle, t) = server();
    let s = loadgen::run(&spec(
        addr,
        "/hello",
        Mode::KeepAlive,
        Stop::After(Duration::from_millis(300)),
    ))
    .unwrap();
    handle.close();
    handle.wait();
    t.join().unwrap();
    let served = handle.stats().served;
    assert!(s.requests > 0);
    assert!(
        served >= s.requests && served - s.requests <= 4,
        "served {served}, counted {}",
        s.requests
    );
    assert!(
        (s.elapsed.as_secs_f64() - 0.3).abs() < 0.1,
        "{:?}",
        s.elapsed
    );
}

#[test]
fn error_statuses_and_refusals_are_errors() {
    let (addr, handle, t) = server();
    let s = loadgen::run(&spec(addr, "/nope", Mode::KeepAlive, Stop::Requests(10))).unwrap();
    assert_eq!((s.requests, s.errors.status), (10, 10));
    handle.close();
    handle.wait();
    t.join().unwrap();
    // Nothing listens there any more: every connect fails, then it gives up.
    let s = loadgen::run(&spec(addr, "/hello", Mode::KeepAlive, Stop::Requests(10))).unwrap();
    assert_eq!(s.requests, 0);
    assert!(s.errors.connect > 0);
}
