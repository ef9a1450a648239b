//! HTTP over Unix-domain sockets: binding rules (refuse a live socket,
//! replace a stale one, never touch another file), the file mode, peer
//! credentials, removal when the drain closes the listener, and the drain
//! rules as on TCP.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use courteous::testing::{in_thread, wait_until, Ending, Gate, RawClient, TempDir, TestServer};
use courteous::{Error, Request, Response, Server};

mod common;
use common::T;

fn whoami(req: &mut Request) -> Response {
    let cred = req
        .conn()
        .peer_cred()
        .expect("peer credentials on a Unix socket");
    Response::text(format!("uid={} pid={:?}\n", cred.uid, cred.pid))
}

#[test]
fn serves_http_with_peer_credentials_and_mode() {
    let dir = TempDir::new("serve");
    let server = TestServer::serve(Server::bind_unix(dir.join("s.sock")).expect("bind"), whoami);
    let meta = std::fs::metadata(dir.join("s.sock")).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "default mode");

    let mut c = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    let r = c.get("/", T).expect("response");
    assert_eq!(r.status, 200);
    let uid = rustix::process::getuid().as_raw();
    let pid = std::process::id() as i32;
    assert_eq!(r.text(), format!("uid={uid} pid=Some({pid})\n"));

    // curl as a second, real client.
    let out = Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(dir.join("s.sock"))
        .arg("http://localhost/")
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("uid={uid} ")));
    server.stop().expect("stop");
    assert!(
        !dir.join("s.sock").exists(),
        "the socket file is removed when the drain ends"
    );
    assert_eq!(
        RawClient::connect_unix(dir.join("s.sock")).map(|_| ()),
        Err(Ending::Refused)
    );
}

#[test]
fn the_mode_is_configurable() {
    let dir = TempDir::new("mode");
    let server = Server::builder()
        .unix_mode(0o600)
        .bind_unix(dir.join("s.sock"))
        .expect("bind");
    let mode = std::fs::metadata(dir.join("s.sock"))
        .expect("file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(server);
    assert!(
        !dir.join("s.sock").exists(),
        "dropping the server removes its socket"
    );
}

#[test]
fn binding_rules_live_stale_and_foreign_files() {
    let dir = TempDir::new("rules");
    // A live server answers there: refused, and its file is left alone.
    let live = UnixListener::bind(dir.join("s.sock")).expect("live listener");
    match Server::bind_unix(dir.join("s.sock")) {
        Err(Error::Bind { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse)
        }
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    assert!(dir.join("s.sock").exists());
    // The same socket file with no one listening is stale: replaced.
    drop(live);
    assert!(dir.join("s.sock").exists(), "std leaves the file behind");
    let server = Server::bind_unix(dir.join("s.sock")).expect("a stale socket is replaced");
    drop(server);
    // Any other file at the path is never removed.
    std::fs::write(dir.join("s.sock"), b"precious").expect("write");
    match Server::bind_unix(dir.join("s.sock")) {
        Err(Error::Bind { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists)
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(dir.join("s.sock")).expect("still there"),
        b"precious"
    );
}

#[test]
fn drain_rules_hold_on_unix_sockets() {
    let dir = TempDir::new("drain");
    let gate = Gate::new();
    let g = gate.clone();
    let server = Server::builder()
        .drain_grace(Duration::ZERO)
        .bind_unix(dir.join("s.sock"))
        .expect("bind");
    let server = TestServer::serve(server, move |req: &mut Request| {
        if req.uri().path() == "/hold" {
            g.wait();
        }
        Response::text("done\n")
    });
    let mut idle = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    assert_eq!(idle.get("/", T).expect("response").status, 200);
    let mut busy = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    busy.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    wait_until(&handle, |s| s.idle == 1, T).expect("one idle");
    assert!(handle.close());
    assert_eq!(idle.read_end(T), Ending::Eof, "idle: a clean close");
    assert!(
        !dir.join("s.sock").exists(),
        "no new connects once draining"
    );
    gate.open();
    let r = busy.read_response(T).expect("in-flight completes");
    assert!(r.connection_close());
    assert_eq!(busy.read_end(T), Ending::Eof);
    server.stop().expect("stop");
}

#[test]
fn deadline_kills_unix_connections_and_counts_them() {
    let dir = TempDir::new("deadline");
    let gate = Gate::new();
    let g = gate.clone();
    let server = Server::builder()
        .shutdown_timeout(Duration::from_millis(100))
        .bind_unix(dir.join("s.sock"))
        .expect("bind");
    let server = TestServer::serve(server, move |_: &mut Request| {
        g.wait();
        "late\n"
    });
    let mut stuck = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    stuck
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    server.stop().expect("returns at the deadline");
    assert_eq!(handle.stats().killed, 1);
    gate.open();
}

#[test]
fn serves_again_on_the_same_path() {
    let dir = TempDir::new("again");
    let server = std::sync::Arc::new(Server::bind_unix(dir.join("s.sock")).expect("bind"));
    for round in 0..2 {
        let s = server.clone();
        let done = in_thread(move || s.serve(|_: &mut Request| "again\n"));
        let handle = server.handle();
        wait_until(&handle, |s| s.listening, T).expect("listening");
        let mut c = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
        assert_eq!(
            c.get("/", T).expect("response").text(),
            "again\n",
            "round {round}"
        );
        drop(c);
        assert!(handle.close());
        done.recv_timeout(T)
            .expect("serve returned")
            .expect("serve ok");
        assert!(!dir.join("s.sock").exists());
    }
}
