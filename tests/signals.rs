//! Signals drain a server. One test function: signal dispositions are
//! process-wide, so the steps run in order, each with its own signal.

use std::net::TcpListener;
use std::time::Duration;

use courteous::testing::{in_thread, wait_until, Gate, RawClient, TestServer};
use courteous::{Error, Request, Server, SIGUSR1, SIGUSR2};
use rustix::process::{getpid, kill_process, Signal};

mod common;
use common::T;

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
        Err(Error::Signal { .. })
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
    let mut stuck = RawClient::connect(ts.local_addr()).expect("connect");
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
    assert_eq!(handle.stats().killed, 1);
    gate.open();
    drop(ts);
    drop(handle);

    // Asked for twice, a signal is still handled once: one delivery is one
    // close, not a close and a force-close (a request in flight is served).
    let gate = Gate::new();
    let g = gate.clone();
    let server = Server::bind("127.0.0.1:0").expect("bind");
    let handle = server.handle();
    handle.close_on_signals(&[SIGUSR1]).expect("install");
    handle
        .close_on_signals(&[SIGUSR1, SIGUSR1])
        .expect("install again: nothing to do");
    let mut ts = TestServer::serve(server, move |_: &mut Request| {
        g.wait();
        "served\n"
    });
    let mut client = RawClient::connect(ts.local_addr()).expect("connect");
    client
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    raise(Signal::USR1);
    wait_until(&handle, |s| s.draining && !s.listening, T).expect("draining");
    gate.open();
    let resp = client
        .read_response(T)
        .expect("the held request is answered");
    assert_eq!((resp.status, resp.text().as_str()), (200, "served\n"));
    assert!(ts.join(T).expect("serve returned").is_ok());
    assert_eq!(handle.stats().killed, 0, "one signal killed nothing");
    assert_eq!(handle.signal_received(), Some(SIGUSR1));

    // A signal cannot both close and restart the same server.
    assert!(matches!(
        handle.restart_on_signal(SIGUSR1),
        Err(Error::Signal {
            signal: SIGUSR1,
            ..
        })
    ));
    drop(ts);
    drop(handle);

    // Numbers that are not signals, or cannot be handled, are errors that
    // name the number: never a panic, never an abort.
    let handle = Server::bind("127.0.0.1:0").expect("bind").handle();
    for bad in [0, -1, 9, 19, 32, 65, 999, i32::MIN, i32::MAX] {
        match handle.close_on_signals(&[bad]) {
            Err(e @ Error::Signal { signal, .. }) => {
                assert_eq!(signal, bad);
                assert!(e.to_string().contains(&bad.to_string()), "{e}");
            }
            other => panic!("close_on_signals(&[{bad}]): {other:?}"),
        }
        assert!(
            matches!(handle.restart_on_signal(bad), Err(Error::Signal { signal, .. }) if signal == bad),
            "restart_on_signal({bad})"
        );
    }
    // A bad number among good ones installs none of them.
    assert!(handle.close_on_signals(&[SIGUSR1, 999]).is_err());
    drop(handle);

    // The manners-style default server: close_on_interrupt + signal_received,
    // readable after serve returned.
    courteous::compat::close_on_interrupt(&[SIGUSR2]).expect("install");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let serving =
        std::thread::spawn(move || courteous::compat::serve(listener, |_: &mut Request| "hi\n"));
    wait_until(&courteous::compat::handle(), |s| s.serving, T).expect("default server serving");
    raise(Signal::USR2);
    let result = in_thread(move || serving.join())
        .recv_timeout(T)
        .expect("serve returned")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(courteous::compat::signal_received(), Some(SIGUSR2));
}
