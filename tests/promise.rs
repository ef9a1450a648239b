//! The promise, case by case: `serve` returns when the last response is
//! delivered, whatever the clients do with their sockets; closes cannot
//! race; a connection the kernel completed is never dropped.
//!
//! Real sockets on loopback; events ordered with barriers, gates and the
//! server's stats; every wait bounded. Timings are asserted only as upper
//! bounds on how long a drain takes (`serve` returning), never as speeds.
//!
//! Rounds: `COURTEOUS_ROUNDS` scales the stress tests (default: a few
//! hundred, so `cargo test` stays quick; the 10,000 with
//! `COURTEOUS_ROUNDS=10000`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use courteous::testing::{in_thread, wait_until, Ending, Gate, RawClient, TestServer};
use courteous::{Request, Response, Server};

const T: Duration = Duration::from_secs(10);

fn rounds(default: usize) -> usize {
    std::env::var("COURTEOUS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn hello(_: &mut Request) -> Response {
    Response::text("hello\n")
}

// ----- close is accepted once -------------------------------------------------

/// Two threads released together each call `close()` on a serving server:
/// exactly one is told it started the drain (the phase changes in the same
/// lock hold as the check).
#[test]
fn concurrent_closes_accept_exactly_one() {
    const CLOSERS: usize = 3;
    for round in 0..rounds(300) {
        let builder = Server::builder().workers(1);
        let server = TestServer::start(builder, hello);
        let barrier = Arc::new(Barrier::new(CLOSERS));
        let closers: Vec<_> = (0..CLOSERS)
            .map(|_| {
                let handle = server.handle();
                let barrier = barrier.clone();
                in_thread(move || {
                    barrier.wait();
                    handle.close()
                })
            })
            .collect();
        let accepted = closers
            .iter()
            .map(|rx| rx.recv_timeout(T).expect("close returns"))
            .filter(|&started| started)
            .count();
        assert_eq!(
            accepted, 1,
            "round {round}: {accepted} closes said they started the drain"
        );
        server.stop().expect("serve returned");
    }
}

/// `close`, `force_close` and `close_within` racing on a serving server:
/// one `close` at most is accepted, and the server always stops.
#[test]
fn close_force_and_close_within_race_without_harm() {
    for round in 0..rounds(200) {
        let server = TestServer::start(Server::builder().workers(1), hello);
        let barrier = Arc::new(Barrier::new(3));
        let spawn = |op: u8| {
            let handle = server.handle();
            let barrier = barrier.clone();
            in_thread(move || {
                barrier.wait();
                match op {
                    0 => handle.close(),
                    1 => {
                        handle.force_close();
                        false
                    }
                    _ => {
                        handle.close_within(Duration::from_secs(5));
                        false
                    }
                }
            })
        };
        let ops = [spawn(0), spawn(1), spawn(2)];
        for rx in &ops {
            rx.recv_timeout(T).expect("returns");
        }
        assert!(
            !server.handle().close(),
            "round {round}: a later close is refused"
        );
        server.stop().expect("serve returned");
    }
}
