//! Drives `examples/demo.rs` as a child process, as outside suites do:
//! its flags, routes and output lines are a contract.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use courteous::testing::{Ending, RawClient, TempDir};
use rustix::process::{kill_process, Pid, Signal};

mod common;
use common::{Example, T};

/// `examples/demo.rs`, running with `args`.
fn start_demo(args: &[&str]) -> Example {
    Example::start("demo", args)
}

fn request(addr: &str, raw: &str) -> courteous::testing::RawResponse {
    let mut c = RawClient::connect(addr).expect("connect");
    c.send(raw.as_bytes()).expect("send");
    c.read_response(T).expect("a response")
}

#[test]
fn routes_answer_and_sigterm_drains_with_exit_zero() {
    let demo = start_demo(&[]);
    let r = request(&demo.addr, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "hello\n"));
    let r = request(&demo.addr, "GET /sleep?ms=20 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "slept 20\n"));
    let r = request(
        &demo.addr,
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello, echo",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "hello, echo"));

    // A request sent before the signal completes, with Connection: close.
    let mut held = RawClient::connect(&demo.addr).expect("connect");
    held.send(b"GET /sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    // An idle keep-alive connection is closed cleanly.
    let mut idle = RawClient::connect(&demo.addr).expect("connect");
    assert_eq!(idle.get("/hello", T).expect("response").status, 200);

    demo.signal(Signal::TERM);
    let r = held
        .read_response(T)
        .expect("the in-flight request completes");
    assert_eq!((r.status, r.text().as_str()), (200, "slept 300\n"));
    assert!(r.connection_close());
    assert_eq!(held.read_end(T), Ending::Eof);
    assert_eq!(idle.read_end(T), Ending::Eof);

    let (line, status) = demo.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigint_drains_too_and_new_connects_are_refused() {
    let demo = start_demo(&["--workers", "4"]);
    let addr = demo.addr.clone();
    demo.signal(Signal::INT);
    let (line, status) = demo.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success());
    match TcpStream::connect(&addr) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        Ok(mut s) => {
            // Only a stranger could have bound the port since; it is not us.
            let _ = s.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
            let mut b = Vec::new();
            let _ = s.read_to_end(&mut b);
            assert!(!b.starts_with(b"HTTP/1.1 200"), "the demo still answered");
        }
    }
}

#[test]
fn timeout_kills_what_is_left_and_counts_it() {
    let demo = start_demo(&["--timeout-ms", "200"]);
    let mut stuck = RawClient::connect(&demo.addr).expect("connect");
    stuck
        .send(b"GET /sleep?ms=20000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let started = Instant::now();
    demo.signal(Signal::TERM);
    let (line, status) = demo.finish();
    assert_eq!(line, "drained killed=1");
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the deadline cut the 20 s request short"
    );
    let end = stuck.read_end(T);
    assert!(matches!(end, Ending::Eof | Ending::Reset), "{end:?}");
}

fn sigterm_drains(demo: Example) {
    demo.signal(Signal::TERM);
    let (line, status) = demo.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success());
}

#[test]
fn unix_socket_mode_serves_the_same_routes() {
    let dir = TempDir::new("unix");
    let sock = dir.join("demo.sock");
    let demo = start_demo(&["--unix", sock.to_str().expect("utf-8 path")]);
    assert_eq!(Path::new(&demo.addr), sock, "listening prints the path");
    let mut c = RawClient::connect_unix(&sock).expect("connect");
    let r = c.get("/hello", T).expect("response");
    assert_eq!((r.status, r.text().as_str()), (200, "hello\n"));
    drop(c);
    sigterm_drains(demo);
    assert!(!sock.exists(), "the socket file is gone");
}

#[test]
fn tls_mode_serves_the_same_routes() {
    let dir = TempDir::new("tls");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    let demo = start_demo(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ]);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/hello", demo.addr))
        .output()
        .expect("curl (installed by .ci/run)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    sigterm_drains(demo);
}

#[test]
fn fastcgi_mode_serves_the_same_routes() {
    let have = Command::new("sh")
        .args(["-c", "command -v cgi-fcgi"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        eprintln!("SKIP fastcgi_mode_serves_the_same_routes: cgi-fcgi missing (.ci/run installs libfcgi-bin)");
        return;
    }
    let dir = TempDir::new("fcgi");
    let sock = dir.join("fcgi.sock");
    let demo = start_demo(&["--fastcgi", sock.to_str().expect("utf-8 path")]);
    assert_eq!(Path::new(&demo.addr), sock);
    let out = Command::new("cgi-fcgi")
        .args(["-bind", "-connect"])
        .arg(&sock)
        .env_clear()
        .env("REQUEST_METHOD", "GET")
        .env("REQUEST_URI", "/sleep?ms=5")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .output()
        .expect("run cgi-fcgi");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Status: 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nslept 5\n"), "{text}");
    sigterm_drains(demo);
}

/// One client's tally during a restart.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    failed: Vec<String>,
    pids: std::collections::BTreeSet<String>,
}

/// Requests `/pid` until `stop`, on a new connection each time
/// (`keep_alive` false) or on one kept-alive connection that follows
/// `Connection: close` to a new one.
fn hammer(
    addr: String,
    keep_alive: bool,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Tally {
    use std::sync::atomic::Ordering;
    let mut t = Tally::default();
    let mut conn: Option<RawClient> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let mut c = match conn.take() {
            Some(c) => c,
            None => match RawClient::connect(addr.as_str()) {
                Ok(c) => c,
                Err(e) => {
                    t.failed.push(format!("connect: {e:?}"));
                    continue;
                }
            },
        };
        match c.get("/pid", T) {
            Ok(r) if r.status == 200 => {
                t.ok += 1;
                done.fetch_add(1, Ordering::SeqCst);
                t.pids.insert(r.text().trim().to_string());
                if keep_alive && !r.connection_close() {
                    conn = Some(c);
                }
            }
            Ok(r) => t.failed.push(format!("status {}", r.status)),
            Err(e) => t.failed.push(format!("request: {e:?}")),
        }
    }
    t
}

#[test]
fn restart_swaps_processes_without_failing_a_request() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let demo = start_demo(&["--restart"]);
    let done = Arc::new(AtomicU64::new(0));
    // Waits until the clients have made `n` more requests.
    let progress = |n: u64| {
        let target = done.load(Ordering::SeqCst) + n;
        let deadline = Instant::now() + T;
        while done.load(Ordering::SeqCst) < target {
            assert!(Instant::now() < deadline, "the clients stalled");
            std::thread::yield_now();
        }
    };
    let old_pid = request(&demo.addr, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n").text();
    let old_pid = old_pid.trim().to_string();
    assert_eq!(old_pid, demo.child.id().to_string());

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = [false, false, true, true]
        .into_iter()
        .map(|keep| {
            let (addr, stop, done) = (demo.addr.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || hammer(addr, keep, stop, done))
        })
        .collect();
    // Let the clients run against the old process, then restart under load.
    progress(200);
    demo.signal(Signal::USR2);
    // The new process announces itself on the same stdout.
    let line = demo.lines.recv_timeout(T).expect("the new process's line");
    assert_eq!(line, format!("listening {}", demo.addr));
    // Once the old one has drained, every request reaches the new one.
    let drained = demo.lines.recv_timeout(T).expect("the old process drains");
    assert_eq!(drained, "drained killed=0");
    let mut demo = demo;
    let status = demo.child.wait().expect("the old process exits");
    assert!(status.success());
    let new_pid = request(&demo.addr, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n").text();
    let new_pid = new_pid.trim().to_string();
    assert_ne!(new_pid, old_pid);
    progress(200);
    stop.store(true, Ordering::SeqCst);
    let tallies: Vec<Tally> = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect();
    for t in &tallies {
        assert!(
            t.failed.is_empty(),
            "failures during the restart: {:?}",
            t.failed
        );
        assert!(t.ok > 0);
    }
    let served = tallies.iter().map(|t| t.ok).sum::<u64>();
    let saw_new = tallies.iter().any(|t| t.pids.contains(&new_pid));
    assert!(
        saw_new,
        "the clients reached the new process ({served} requests)"
    );
    // Stop the new process (not our child) and see it drain too.
    let pid: i32 = new_pid.parse().expect("pid");
    kill_process(Pid::from_raw(pid).expect("pid"), Signal::TERM).expect("SIGTERM");
    let last = demo.lines.recv_timeout(T).expect("the new process drains");
    assert_eq!(last, "drained killed=0");
}

#[test]
fn drain_delay_fails_health_checks_before_closing() {
    let demo = start_demo(&["--drain-delay-ms", "300"]);
    let health = |addr: &str| request(addr, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(health(&demo.addr).status, 200);
    let began = Instant::now();
    demo.signal(Signal::TERM);
    // During the delay the listener is open and the health check fails.
    let deadline = Instant::now() + T;
    loop {
        let r = health(&demo.addr);
        if r.status == 503 {
            assert_eq!(r.text(), "draining\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 503 from /healthz after SIGTERM"
        );
    }
    let (line, status) = demo.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success());
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "not before the delay"
    );
}
