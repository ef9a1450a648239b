//! FastCGI: the responder protocol against a raw record client (exact
//! records: multiplexing refused, management records, abort, keep-conn),
//! the drain rules (in-flight completes, idle kept connections close,
//! the deadline kills and counts, the wait group counts FastCGI requests),
//! and real peers: Debian's `cgi-fcgi` and nginx with `fastcgi_pass`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use courteous::testing::{wait_until, Gate, TempDir, TestServer};
use courteous::{Request, Response, Server};

mod common;
use common::T;

const BEGIN_REQUEST: u8 = 1;
const ABORT_REQUEST: u8 = 2;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const STDERR: u8 = 7;
const GET_VALUES: u8 = 9;
const GET_VALUES_RESULT: u8 = 10;
const UNKNOWN_TYPE: u8 = 11;

fn record(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let len = content.len() as u16;
    let pad = (8 - content.len() % 8) % 8;
    let mut r = vec![
        1,
        kind,
        (id >> 8) as u8,
        id as u8,
        (len >> 8) as u8,
        len as u8,
        pad as u8,
        0,
    ];
    r.extend_from_slice(content);
    r.extend(std::iter::repeat(0).take(pad));
    r
}

fn pairs(params: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in params {
        for len in [n.len(), v.len()] {
            if len < 128 {
                out.push(len as u8);
            } else {
                out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
            }
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn begin(id: u16, role: u16, keep: bool) -> Vec<u8> {
    let body = [(role >> 8) as u8, role as u8, keep as u8, 0, 0, 0, 0, 0];
    record(BEGIN_REQUEST, id, &body)
}

/// A whole request's records: BEGIN, PARAMS, STDIN.
fn request(id: u16, keep: bool, method: &str, uri: &str, body: &[u8]) -> Vec<u8> {
    let len = body.len().to_string();
    let mut params = vec![
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", uri),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REMOTE_ADDR", "192.0.2.7"),
        ("REMOTE_PORT", "4321"),
        ("HTTP_HOST", "example.test"),
    ];
    if !body.is_empty() {
        params.push(("CONTENT_LENGTH", &len));
    }
    let mut w = begin(id, 1, keep);
    w.extend(record(PARAMS, id, &pairs(&params)));
    w.extend(record(PARAMS, id, &[]));
    for piece in body.chunks(65_535) {
        w.extend(record(STDIN, id, piece));
    }
    w.extend(record(STDIN, id, &[]));
    w
}

/// What came back for one request.
#[derive(Debug, Default)]
struct Reply {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    app_status: u32,
    protocol_status: u8,
}

impl Reply {
    fn head_and_body(&self) -> (String, Vec<u8>) {
        let at = self
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a CGI head");
        (
            String::from_utf8_lossy(&self.stdout[..at]).into_owned(),
            self.stdout[at + 4..].to_vec(),
        )
    }
}

/// A raw FastCGI client on a Unix socket.
struct Client {
    s: UnixStream,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let s = UnixStream::connect(path).expect("connect");
        s.set_read_timeout(Some(T)).expect("timeout");
        Client { s }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
    }

    /// One record: (type, id, content); `None` at a clean end of stream.
    fn record(&mut self) -> Option<(u8, u16, Vec<u8>)> {
        let mut h = [0u8; 8];
        match self.s.read(&mut h[..1]) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => panic!("reading a record: {e}"),
        }
        self.s.read_exact(&mut h[1..]).expect("header");
        let len = u16::from_be_bytes([h[4], h[5]]) as usize;
        let mut c = vec![0u8; len + h[6] as usize];
        self.s.read_exact(&mut c).expect("content");
        c.truncate(len);
        Some((h[1], u16::from_be_bytes([h[2], h[3]]), c))
    }

    /// Reads records up to `id`'s END_REQUEST.
    fn reply(&mut self, id: u16) -> Reply {
        let mut r = Reply::default();
        loop {
            let (kind, rid, c) = self.record().expect("records until END_REQUEST");
            assert_eq!(rid, id, "a record for another request: type {kind}");
            match kind {
                STDOUT => r.stdout.extend(c),
                STDERR => r.stderr.extend(c),
                END_REQUEST => {
                    r.app_status = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
                    r.protocol_status = c[4];
                    return r;
                }
                other => panic!("unexpected record type {other}"),
            }
        }
    }

    fn at_eof(&mut self) -> bool {
        self.record().is_none()
    }
}

fn app(req: &mut Request) -> Response {
    match req.uri().path() {
        "/echo" => {
            let mut b = Vec::new();
            req.body_mut().read_to_end(&mut b).expect("body");
            Response::bytes(b)
        }
        "/who" => Response::text(format!(
            "{} {:?} https={}\n",
            req.headers()["host"].to_str().unwrap_or("?"),
            req.remote_addr(),
            req.is_https()
        )),
        "/panic" => panic!("boom"),
        _ => Response::text("hello\n"),
    }
}

fn fastcgi_server(
    dir: &TempDir,
    builder: courteous::Builder,
    handler: impl courteous::Handler,
) -> TestServer {
    TestServer::serve(
        builder
            .fastcgi(true)
            .bind_unix(dir.join("fcgi.sock"))
            .expect("bind"),
        handler,
    )
}

#[test]
fn responder_answers_and_keeps_the_connection() {
    let dir = TempDir::new("basic");
    let server = fastcgi_server(&dir, Server::builder(), app);
    let mut c = Client::connect(&dir.join("fcgi.sock"));
    c.send(&request(1, true, "GET", "/who?x=1", b""));
    let (head, body) = c.reply(1).head_and_body();
    assert!(head.starts_with("Status: 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: "),
        "{head}"
    );
    assert_eq!(
        String::from_utf8_lossy(&body),
        "example.test Some(192.0.2.7:4321) https=false\n"
    );
    // KEEP_CONN: the same connection serves the next request, a POST.
    let big = vec![b'z'; 200_000];
    c.send(&request(2, true, "POST", "/echo", &big));
    let r = c.reply(2);
    assert_eq!((r.app_status, r.protocol_status), (0, 0));
    let echoed = r.head_and_body().1;
    assert!(
        echoed == big,
        "echoed {} bytes of {}",
        echoed.len(),
        big.len()
    );
    // Without KEEP_CONN the server closes after END_REQUEST.
    c.send(&request(3, false, "GET", "/", b""));
    assert_eq!(c.reply(3).head_and_body().1, b"hello\n");
    assert!(c.at_eof());
    let stats = server.handle().stats();
    assert_eq!((stats.served, stats.accepted), (3, 1));
    server.stop().expect("stop");
}

#[test]
fn management_records_multiplexing_roles_and_abort() {
    let dir = TempDir::new("mgmt");
    let server = fastcgi_server(&dir, Server::builder().workers(4), app);
    let mut c = Client::connect(&dir.join("fcgi.sock"));
    // GET_VALUES: answered; we do not multiplex.
    c.send(&record(
        GET_VALUES,
        0,
        &pairs(&[("FCGI_MPXS_CONNS", ""), ("FCGI_MAX_REQS", "")]),
    ));
    let (kind, id, content) = c.record().expect("GET_VALUES_RESULT");
    assert_eq!((kind, id), (GET_VALUES_RESULT, 0));
    let text = String::from_utf8_lossy(&content).into_owned();
    assert!(
        text.contains("FCGI_MPXS_CONNS") && text.contains('0'),
        "{text:?}"
    );
    // Another management type: UNKNOWN_TYPE naming it.
    c.send(&record(42, 0, &[]));
    let (kind, _, content) = c.record().expect("UNKNOWN_TYPE");
    assert_eq!((kind, content[0]), (UNKNOWN_TYPE, 42));
    // A role we do not play: END_REQUEST {UNKNOWN_ROLE}.
    c.send(&begin(5, 2, true));
    let r = c.reply(5);
    assert_eq!(r.protocol_status, 3, "UNKNOWN_ROLE");
    // A second BEGIN while one is active: CANT_MPX_CONN for it; the first
    // request goes on.
    let mut first = begin(6, 1, true);
    first.extend(begin(7, 1, true));
    c.send(&first);
    let (kind, id, content) = c.record().expect("refusal");
    assert_eq!((kind, id, content[4]), (END_REQUEST, 7, 1), "CANT_MPX_CONN");
    // ABORT_REQUEST before the params end: the request ends at once.
    c.send(&record(ABORT_REQUEST, 6, &[]));
    let r = c.reply(6);
    assert_eq!((r.protocol_status, r.stdout.len()), (0, 0));
    // The connection is still good.
    c.send(&request(8, true, "GET", "/", b""));
    assert_eq!(c.reply(8).head_and_body().1, b"hello\n");
    server.stop().expect("stop");
}

#[test]
fn a_panicking_handler_gives_500_and_says_so_on_stderr() {
    let dir = TempDir::new("panic");
    let server = fastcgi_server(&dir, Server::builder(), app);
    let mut c = Client::connect(&dir.join("fcgi.sock"));
    c.send(&request(1, true, "GET", "/panic", b""));
    let r = c.reply(1);
    assert!(r.head_and_body().0.starts_with("Status: 500"));
    assert!(String::from_utf8_lossy(&r.stderr).contains("panicked"));
    assert!(c.at_eof(), "the connection closes after a panic");
    assert_eq!(server.handle().stats().in_flight, 0);
    let mut c = Client::connect(&dir.join("fcgi.sock"));
    c.send(&request(1, true, "GET", "/", b""));
    assert_eq!(c.reply(1).head_and_body().1, b"hello\n");
    server.stop().expect("stop");
}

#[test]
fn drain_counts_fastcgi_requests_and_closes_idle_connections() {
    let dir = TempDir::new("drain");
    let gate = Gate::new();
    let g = gate.clone();
    let server = fastcgi_server(
        &dir,
        Server::builder().drain_grace(Duration::ZERO),
        move |req: &mut Request| {
            if req.uri().path() == "/hold" {
                g.wait();
            }
            Response::text("done\n")
        },
    );
    let handle = server.handle();
    let mut idle = Client::connect(&dir.join("fcgi.sock"));
    idle.send(&request(1, true, "GET", "/", b""));
    idle.reply(1);
    let mut busy = Client::connect(&dir.join("fcgi.sock"));
    busy.send(&request(1, true, "GET", "/hold", b""));
    assert!(gate.wait_parked(1, T));
    let s = wait_until(&handle, |s| s.in_flight == 1 && s.idle == 1, T).expect("counted");
    assert_eq!(s.active, 1);
    assert!(handle.close());
    assert!(idle.at_eof(), "an idle kept connection closes cleanly");
    assert!(!dir.join("fcgi.sock").exists(), "no new connections");
    gate.open();
    assert_eq!(
        busy.reply(1).head_and_body().1,
        b"done\n",
        "in-flight completes"
    );
    assert!(busy.at_eof(), "and its connection closes after END_REQUEST");
    server.stop().expect("stop");
}

#[test]
fn deadline_kills_fastcgi_connections_and_counts_them() {
    let dir = TempDir::new("deadline");
    let gate = Gate::new();
    let g = gate.clone();
    let server = fastcgi_server(
        &dir,
        Server::builder().shutdown_timeout(Duration::from_millis(100)),
        move |_: &mut Request| {
            g.wait();
            "late\n"
        },
    );
    let mut c = Client::connect(&dir.join("fcgi.sock"));
    c.send(&request(1, true, "GET", "/", b""));
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    server.stop().expect("returns at the deadline");
    assert_eq!(handle.stats().killed, 1);
    gate.open();
}

// ----- real peers -------------------------------------------------------------

fn have(binary: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn cgi_fcgi_is_answered() {
    if !have("cgi-fcgi") {
        eprintln!("SKIP cgi_fcgi_is_answered: cgi-fcgi is not installed (Debian libfcgi-bin; .ci/run installs it)");
        return;
    }
    let dir = TempDir::new("cgi-fcgi");
    let server = fastcgi_server(&dir, Server::builder(), app);
    let out = Command::new("cgi-fcgi")
        .args(["-bind", "-connect"])
        .arg(dir.join("fcgi.sock"))
        .env_clear()
        .env("REQUEST_METHOD", "GET")
        .env("REQUEST_URI", "/who")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("HTTP_HOST", "cgi.test")
        .env("REMOTE_ADDR", "198.51.100.1")
        .env("REMOTE_PORT", "80")
        .env("HTTPS", "on")
        .output()
        .expect("run cgi-fcgi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Status: 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\ncgi.test Some(198.51.100.1:80) https=true\n"),
        "{text}"
    );
    server.stop().expect("stop");
}

/// nginx in the foreground, one process, on a loopback port, with a
/// `fastcgi_pass` to our socket; stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &TempDir, sock: &Path) -> Nginx {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let conf = dir.join("nginx.conf");
        let d = dir.path().display();
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  fastcgi_temp_path {d}/fcgi;\n\
                 proxy_temp_path {d}/proxy;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 upstream app {{\n    server unix:{sock};\n    keepalive 4;\n  }}\n\
                 server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      include /etc/nginx/fastcgi_params;\n\
                 fastcgi_param REQUEST_URI $request_uri;\n      fastcgi_keep_conn on;\n\
                 fastcgi_pass app;\n    }}\n  }}\n}}\n",
                sock = sock.display()
            ),
        )
        .expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + T;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        }
        Nginx { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nginx_fastcgi_pass_reaches_the_handler_and_drains() {
    if !have("nginx") {
        eprintln!("SKIP nginx_fastcgi_pass_reaches_the_handler_and_drains: nginx is not installed (.ci/run installs it)");
        return;
    }
    let dir = TempDir::new("nginx");
    let gate = Gate::new();
    let g = gate.clone();
    let server = fastcgi_server(&dir, Server::builder(), move |req: &mut Request| {
        if req.uri().path() == "/hold" {
            g.wait();
            return Response::text("held\n");
        }
        app(req)
    });
    let nginx = Nginx::start(&dir, &dir.join("fcgi.sock"));
    let agent = common::agent();
    for _ in 0..3 {
        let mut r = agent
            .get(&nginx.url("/hello"))
            .call()
            .expect("GET via nginx");
        assert_eq!(r.status(), 200);
        assert_eq!(r.body_mut().read_to_string().expect("body"), "hello\n");
    }
    let body = "x".repeat(100_000);
    let mut r = agent
        .post(&nginx.url("/echo"))
        .send(body.as_str())
        .expect("POST via nginx");
    assert_eq!(
        r.body_mut().read_to_string().expect("body").len(),
        body.len()
    );
    assert_eq!(
        server.handle().stats().accepted,
        1,
        "nginx kept its connection"
    );

    // Drain while nginx relays an in-flight request: it completes.
    let url = nginx.url("/hold");
    let held = std::thread::spawn(move || {
        common::agent()
            .get(&url)
            .call()
            .map(|mut r| (r.status().as_u16(), r.body_mut().read_to_string()))
    });
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    assert!(handle.close());
    gate.open();
    let (status, body) = held
        .join()
        .expect("no panic")
        .expect("the request completes");
    assert_eq!((status, body.expect("body").as_str()), (200, "held\n"));
    server.stop().expect("stop");
    drop(nginx);
}
