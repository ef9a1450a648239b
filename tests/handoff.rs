//! Listener hand-off: to another server in this process (manners'
//! `HijackListener`/`GetFile` case), and to a new process the systemd way
//! (socket activation, `LISTEN_FDS`), with the variables cleared after.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};
use courteous::testing::{wait_until, Ending, Gate, RawClient, TestServer};
use courteous::{Request, Response, Server};

mod common;
use common::T;

#[test]
fn a_second_server_takes_over_the_socket_with_no_refused_connect() {
    let gate = Gate::new();
    let g = gate.clone();
    let first = TestServer::start(Server::builder(), move |req: &mut Request| {
        if req.uri().path() == "/hold" {
            g.wait();
        }
        Response::text("first\n")
    });
    let addr = first.local_addr();
    let mut held = RawClient::connect(addr).expect("connect");
    held.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));

    // Server 2 serves the same socket, then server 1 drains.
    let fd = first
        .handle()
        .try_clone_listener()
        .expect("clone the listener");
    let second = Server::from_listener(TcpListener::from(fd)).expect("second server");
    let second = TestServer::serve(second, |_: &mut Request| "second\n");
    assert!(first.handle().close());
    wait_until(&first.handle(), |s| !s.listening, T).expect("first stopped listening");
    // New clients are not refused: they reach the second server.
    for _ in 0..20 {
        let mut c = RawClient::connect(addr).expect("never refused during the swap");
        assert_eq!(c.get("/", T).expect("answered").text(), "second\n");
    }
    // The first server's client finishes on it.
    gate.open();
    let r = held.read_response(T).expect("in-flight completes");
    assert_eq!(r.text(), "first\n");
    assert!(r.connection_close());
    assert_eq!(held.read_end(T), Ending::Eof);
    first.stop().expect("first drained");
    second.stop().expect("second drained");
}

#[test]
fn the_listener_is_visible_while_serving() {
    let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    assert!(server.handle().listener_fd().is_some());
    let handle = server.handle();
    server.stop().expect("stop");
    assert!(handle.listener_fd().is_none());
    assert!(
        handle.try_clone_listener().is_err(),
        "not listening any more"
    );
}

/// The child's role: run by `socket_activation_*` below as this same test
/// binary, with a socket on descriptor 3.
#[test]
fn systemd_child_role() {
    let Ok(role) = std::env::var("COURTEOUS_TEST_ROLE") else {
        return; // Only meaningful as the child.
    };
    let result = Server::builder().from_systemd();
    for var in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        assert!(std::env::var_os(var).is_none(), "{var} must be cleared");
    }
    match role.as_str() {
        "serve-one" => {
            let server = result.expect("the passed socket");
            let handle = server.handle();
            let h = handle.clone();
            let served = TestServer::serve(server, move |_: &mut Request| {
                // One request, then drain.
                h.close();
                "activated\n"
            });
            let mut served = served;
            assert!(served.join(T).expect("serve returned").is_ok());
        }
        "expect-none" => {
            assert!(result.is_err(), "LISTEN_PID names another process");
        }
        other => panic!("unknown role {other}"),
    }
}

fn run_child(role: &str, listener: TcpListener, listen_pid: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        "systemd_child_role",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("COURTEOUS_TEST_ROLE", role)
    .env("LISTEN_FDS", "1")
    .env("LISTEN_FDNAMES", "http");
    match listen_pid {
        Some(pid) => cmd.env("LISTEN_PID", pid),
        None => cmd.env_remove("LISTEN_PID"),
    };
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: listener.into(),
        child_fd: 3,
    }])
    .expect("fd mapping");
    // The child's own test-harness report would read like ours; its
    // failures still show on stderr.
    cmd.stdout(std::process::Stdio::null());
    cmd.spawn().expect("spawn the child role")
}

fn wait_child(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + T;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the child role did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn socket_activation_serves_the_passed_socket_and_clears_the_variables() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let child = run_child("serve-one", listener, None);
    // The socket is listening before the child even starts: the kernel
    // queues this connect until the child accepts it.
    let mut c = RawClient::connect(addr).expect("connect");
    assert_eq!(c.get("/", T).expect("answered").text(), "activated\n");
    let status = wait_child(child);
    assert!(status.success(), "the child role failed: {status}");
}

#[test]
fn socket_activation_honours_listen_pid() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let child = run_child("expect-none", listener, Some("1"));
    let status = wait_child(child);
    assert!(status.success(), "the child role failed: {status}");
}
