//! Signals drain a server. One test function: signal dispositions are
//! process-wide, so the steps run in order, each with its own signal.

use std::net::TcpListener;
use std::time::Duration;

use courteous::testing::{in_thread, wait_until, Gate, RawClient, TestServer};
use courteous::{Error, Request, Server, SIGUSR1, SIGUSR2};
use rustix::process::{getpid, kill_process, Signal};

const T: Duration = Duration::from_secs(10);

fn raise(sig: Signal) {
    kill_process(getpid(), sig).expect("raise");
}

#[test]
fn signals_start_the_drain_and_are_remembered() {
    // A server's handle: SIGUSR1 drains it and is reported afterwards.
    let server = Server::bind("127.0.0.1:0").expect("bind");
    let handle = server.handle();
    handle.close_on_signals(&[SIGUSR1]).expect("install");
    let mut ts = TestServer::serve(server, |_: &mut Request| "hi\n");
    wait_until(&handle, |s| s.serving, T).expect("serving");
    assert_eq!(handle.signal_received(), None);
    raise(Signal::USR1);
    assert!(ts.join(T).expect("serve returned").is_ok());
    assert_eq!(handle.signal_received(), Some(SIGUSR1));
    assert!(!handle.is_draining());

    // SIGKILL cannot be caught: asking for it is an error, not a panic.
    assert!(matches!(
        handle.close_on_signals(&[rustix::process::Signal::KILL.as_raw()]),
        Err(Error::Signal(_))
    ));
    drop(ts);
    drop(handle);

    // A second signal during the drain force-closes what is left (what a
    // second Ctrl-C does), counted like a deadline's kills.
    let gate = Gate::new();
    let g = gate.clone();
    let server = Server::bind("127.0.0.1:0").expect("bind");
    let handle = server.handle();
    handle.close_on_signals(&[SIGUSR1]).expect("install");
    let mut ts = TestServer::serve(server, move |_: &mut Request| {
        g.wait();
        "late\n"
    });
    let mut stuck = RawClient::connect(ts.addr()).expect("connect");
    stuck
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    raise(Signal::USR1);
    wait_until(&handle, |s| s.draining && !s.listening, T).expect("draining");
    assert!(
        ts.join(Duration::from_millis(100)).is_none(),
        "the drain waits"
    );
    raise(Signal::USR1);
    assert!(ts.join(T).expect("serve returned").is_ok());
    assert_eq!(handle.connections_killed(), 1);
    gate.open();
    drop(ts);
    drop(handle);

    // The manners-style default server: close_on_interrupt + signal_received,
    // readable after serve returned.
    courteous::close_on_interrupt(&[SIGUSR2]).expect("install");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let serving = std::thread::spawn(move || courteous::serve(listener, |_: &mut Request| "hi\n"));
    wait_until(&courteous::handle(), |s| s.serving, T).expect("default server serving");
    raise(Signal::USR2);
    let result = in_thread(move || serving.join())
        .recv_timeout(T)
        .expect("serve returned")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(courteous::signal_received(), Some(SIGUSR2));
}
