//! Hostile input, through a real server on loopback: request smuggling,
//! control bytes in heads, absurd sizes, limits, clients that vanish at
//! every step, response splitting, and connection churn. Each test checks
//! one rule, named in its doc comment.
//!
//! Every wait is bounded by `T`; events are ordered with channels and
//! `wait_until` on the server's stats, never with sleeps.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use courteous::http::header::{HeaderName, HeaderValue};
use courteous::http::StatusCode;
use courteous::testing::{wait_until, Ending, RawClient, TestServer};
use courteous::{Builder, Handle, Request, Response, Server, Stats};

mod common;
use common::{assert_refused, connect, echo, exchange, Seen, SMUGGLED, T};

// ----- the application under test --------------------------------------------

/// Routes (the handler notes each request's path in `seen`): `/echo` returns the body (or `400 bad body: KIND: ERROR`),
/// `/headers` lists the request's `x-` fields, anything else says hello.
fn app(seen: &Seen) -> impl Fn(&mut Request) -> Response + Send + Sync + 'static {
    let seen = seen.clone();
    move |req: &mut Request| {
        seen.push(req.uri().path().to_string());
        match req.uri().path() {
            "/echo" => echo(req),
            "/headers" => {
                let mut text = String::new();
                for (name, value) in req.headers() {
                    if name.as_str().starts_with("x-") {
                        let value = String::from_utf8_lossy(value.as_bytes());
                        text.push_str(&format!("{name}={value}\n"));
                    }
                }
                Response::text(text)
            }
            _ => Response::text("hello\n"),
        }
    }
}

fn start(builder: Builder, seen: &Seen) -> TestServer {
    TestServer::start(builder, app(seen))
}

// ----- client helpers -----------------------------------------------------------

/// A GET on a new connection is answered: the server still serves.
fn assert_serves(server: &TestServer) {
    let mut client = connect(server);
    let resp = client.get("/", T).expect("a response");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello\n"));
}

/// Reads raw bytes until the server closes.
fn read_to_eof(client: &RawClient) -> Vec<u8> {
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T)).expect("set a timeout");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read until EOF");
    out
}

/// Waits until nothing is in flight and no connection is open.
fn await_quiet(handle: &Handle, what: &str) -> Stats {
    wait_until(handle, |s| s.in_flight == 0 && s.connections == 0, T)
        .unwrap_or_else(|s| panic!("{what}: the server did not settle: {s:?}"))
}

// ----- request smuggling ----------------------------------------------------------

/// RFC 9112 §6.1, §6.3: a head whose body framing is ambiguous is refused
/// and its connection closed, so nothing behind it is ever served.
#[test]
fn ambiguous_framing_is_refused_and_nothing_behind_it_served() {
    let cases: &[(&str, &str, u16)] = &[
        (
            "CL then TE",
            "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE then CL",
            "Transfer-Encoding: chunked\r\nContent-Length: 41\r\n\r\n0\r\n\r\n",
            400,
        ),
        // RFC 9112 §6.3: chunked not last (or not there) is 400 and close.
        (
            "chunked, identity",
            "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunked, gzip",
            "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunked then identity fields",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunked twice",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "xchunked",
            "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "quoted chunked",
            "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
            400,
        ),
        // RFC 9112 §6.1: chunked last after a coding the server does not
        // decode: 501 (and close, as for every refused head).
        (
            "gzip, chunked",
            "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (
            "underscore Content_Length beside a Transfer-Encoding",
            "Content_Length: 41\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "underscore Transfer_Encoding beside a Content-Length",
            "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "equal Content-Length fields",
            "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            400,
        ),
        (
            "an equal Content-Length list",
            "Content-Length: 5, 5\r\n\r\nhello",
            400,
        ),
        (
            "a Content-Length with leading zeros",
            "Content-Length: 005\r\n\r\nhello",
            400,
        ),
        (
            "a bare LF before a Content-Length",
            "X-A: a\nContent-Length: 5\r\n\r\nhello",
            400,
        ),
        (
            "whitespace before the colon",
            "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "a vertical tab in the coding",
            "Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "differing Content-Length fields",
            "Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello",
            400,
        ),
        (
            "a differing Content-Length list",
            "Content-Length: 5, 41\r\n\r\nhello",
            400,
        ),
        (
            "obs-fold hiding a Transfer-Encoding",
            "X-Fold: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "obs-fold continuing a Transfer-Encoding",
            "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
    ];
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for (what, fields, status) in cases {
        let request = format!("POST /attack HTTP/1.1\r\nHost: t\r\n{fields}{SMUGGLED}");
        let mut client = connect(&server);
        let resp = exchange(&mut client, request.as_bytes());
        let ending = client.read_end(T);
        assert!(
            resp.status == *status && resp.connection_close() && ending == Ending::Eof,
            "{what}: expected {status}, close, EOF; got {resp:?}, then {ending:?}"
        );
    }
    // Transfer-Encoding in HTTP/1.0 (which has no chunked coding).
    let request = format!(
        "POST /attack HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n\
         0\r\n\r\n{SMUGGLED}"
    );
    assert_refused(&server, request.as_bytes(), 400);
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    server.stop().expect("serve returns Ok");
}

// ----- control bytes in heads -------------------------------------------------------

/// RFC 9110 §5.5, RFC 9112 §5: NUL, bare CR and other bytes a field cannot
/// hold, in a field name or value or the request line, get 400 and a close.
#[test]
fn nul_and_cr_in_names_values_and_the_request_line_are_400() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for fields in [
        "X-A: a\0b\r\n",
        "X-A: \0\r\n",
        "X\0A: b\r\n",
        "X-A: a\rb\r\n",
        "X-A: a\r\r\n",
        "X\rA: b\r\n",
        "X-A\r: b\r\n",
        "X-A\n: b\r\n",
        "X A: b\r\n",
        ": b\r\n",
        "X-A: a\x7fb\r\n",
        "X-A: a\x01b\r\n",
        "X-A\u{e9}: b\r\n",
    ] {
        let request = format!("GET /headers HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
        assert_refused(&server, request.as_bytes(), 400);
    }
    for line in [
        "GET /a\0b HTTP/1.1",
        "GET /a\rb HTTP/1.1",
        "GET\0/ HTTP/1.1",
        "GET / HTTP/1.1\0",
        "GET / HTTP/1.1 extra",
        "GET / HTTP/1.1\rHost: t",
    ] {
        let request = format!("{line}\r\nHost: t\r\n\r\n");
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    server.stop().expect("serve returns Ok");
}

/// RFC 9112 §3: a request line with a space inside its target is malformed
/// (400), not a request for an unsupported HTTP version (505).
#[test]
fn a_space_inside_the_target_is_400_not_505() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    assert_refused(&server, b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    assert!(seen.list().is_empty());
    server.stop().expect("serve returns Ok");
}

/// RFC 9112 §2.2 lets a recipient take a bare LF for a line end; this
/// server does not (a front end that keeps the LF inside a value would see
/// one field where this server saw two): an LF without its CR anywhere in
/// a head is 400 and a close, and nothing behind it is served.
#[test]
fn a_bare_lf_in_a_head_is_400() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for request in [
        &b"GET /headers HTTP/1.1\nHost: t\nX-A: a\nX-B: b\n\n"[..],
        b"GET /headers HTTP/1.1\r\nHost: t\r\nX-A: a\nX-B: b\r\n\r\n",
        b"POST /echo HTTP/1.1\nHost: t\nX-A: a\nContent-Length: 5\n\nhello",
        b"GET /headers HTTP/1.1\r\nHost: t\r\n\n",
        b"\nGET /headers HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let mut with_smuggled = request.to_vec();
        with_smuggled.extend_from_slice(SMUGGLED.as_bytes());
        assert_refused(&server, &with_smuggled, 400);
    }
    // Before the head ends, too: a 400 at once, not a 408 at the head
    // timeout.
    assert_refused(&server, b"GET /headers HTTP/1.1\nHost: t\n", 400);
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    assert_serves(&server);
    server.stop().expect("serve returns Ok");
}

// ----- sizes ---------------------------------------------------------------------------

/// RFC 9112 §7.1: a chunk size that does not fit (more than 15 hex digits,
/// or past `max_body_bytes`) fails the handler's read, and the connection
/// closes after the response, whatever bytes follow.
#[test]
fn oversized_chunk_sizes_fail_the_read_and_close() {
    let seen = Seen::default();
    let server = start(Server::builder().max_body_bytes(Some(1 << 20)), &seen);
    for size in [
        "ffffffffffffffffff",
        "10000000000000000",
        "000000000000000000001",
        "fffffffffffffff",
        "100001",
    ] {
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
             {size}\r\nhello\r\n0\r\n\r\n{SMUGGLED}"
        );
        let mut client = connect(&server);
        let resp = exchange(&mut client, request.as_bytes());
        let ending = client.read_end(T);
        assert!(
            resp.status == 400
                && resp.text().starts_with("bad body: InvalidData")
                && resp.connection_close()
                && ending == Ending::Eof,
            "size {size}: {resp:?} ({}), then {ending:?}",
            resp.text()
        );
    }
    assert!(
        seen.list().iter().all(|p| p == "/echo"),
        "{:?}",
        seen.list()
    );
    server.stop().expect("serve returns Ok");
}

/// RFC 9110 §8.6: a Content-Length that is not a plain decimal number of
/// bytes (negative, signed, hex, fractional, empty, overflowing) is 400.
#[test]
fn negative_or_non_numeric_content_length_is_400() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for value in [
        "-1",
        "-0",
        "+5",
        "0x10",
        "1.5",
        "5e2",
        "abc",
        "5 5",
        "5,",
        "",
        "99999999999999999999",
        "18446744073709551616",
        "٥",
    ] {
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\nhello{SMUGGLED}"
        );
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    server.stop().expect("serve returns Ok");
}

/// RFC 9110 §15.5.14, §10.1.1: a Content-Length over `max_body_bytes` is
/// 413 before the handler runs, with no `100 Continue` sent first even
/// when the client asked for one; a body at the limit is served.
#[test]
fn content_length_over_the_limit_is_413_without_100_continue() {
    let seen = Seen::default();
    let server = start(Server::builder().max_body_bytes(Some(10)), &seen);
    let mut client = connect(&server);
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\
              Expect: 100-continue\r\n\r\n",
        )
        .expect("send");
    let raw = read_to_eof(&client);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text:?}");
    assert!(!text.contains(" 100 "), "a 100 Continue was sent: {text:?}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{text:?}"
    );
    assert!(seen.list().is_empty(), "the handler ran: {:?}", seen.list());

    // Without Expect, and with a body sent anyway: the same.
    assert_refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
        413,
    );

    // At the limit: the 100 comes, then the echo.
    let mut client = connect(&server);
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\
              Expect: 100-continue\r\n\r\n",
        )
        .expect("send");
    let mut interim = [0u8; 25];
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T)).expect("set a timeout");
    stream
        .read_exact(&mut interim)
        .expect("the interim response");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.send(b"0123456789").expect("send the body");
    let resp = client.read_response(T).expect("a response");
    assert_eq!((resp.status, resp.text().as_str()), (200, "0123456789"));
    drop(client);
    assert_eq!(seen.list(), ["/echo"]);
    server.stop().expect("serve returns Ok");
}

/// `max_requests_per_conn`: the last request a connection may carry is
/// answered with `Connection: close`, then the server closes it.
#[test]
fn the_third_request_of_a_capped_connection_says_close_then_eof() {
    let seen = Seen::default();
    let server = start(Server::builder().max_requests_per_conn(Some(3)), &seen);
    let mut client = connect(&server);
    for n in 1..=3 {
        let resp = client.get(&format!("/{n}"), T).expect("a response");
        assert_eq!(resp.status, 200, "request {n}: {resp:?}");
        assert_eq!(resp.connection_close(), n == 3, "request {n}: {resp:?}");
    }
    assert_eq!(client.read_end(T), Ending::Eof);
    assert_eq!(seen.list(), ["/1", "/2", "/3"]);
    let st = await_quiet(&server.handle(), "after the cap");
    assert_eq!((st.accepted, st.served), (1, 3), "{st:?}");
    server.stop().expect("serve returns Ok");
}

// ----- clients that vanish ------------------------------------------------------------

/// A client that hangs up in the middle of a request head costs nothing:
/// no request is counted, the connection is gone, the server serves on.
#[test]
fn a_client_gone_mid_head_leaves_nothing_behind() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    let handle = server.handle();
    let mut client = connect(&server);
    client
        .send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Le")
        .expect("send");
    wait_until(&handle, |s| s.active == 1, T).expect("the server read part of the head");
    drop(client);
    let st = await_quiet(&handle, "after a hang-up mid-head");
    assert_eq!(st.served, 0, "{st:?}");
    assert!(seen.list().is_empty());
    assert_serves(&server);
    server.stop().expect("serve returns Ok");
}

/// A client that hangs up in the middle of a request body fails the
/// handler's read (an error, not a short body taken for the whole), and
/// the request and its connection are accounted for.
#[test]
fn a_client_gone_mid_body_fails_the_read_and_leaves_nothing_behind() {
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (result_tx, result) = mpsc::channel::<io::Result<usize>>();
    let server = TestServer::start(Server::builder(), move |req: &mut Request| {
        if req.uri().path() != "/upload" {
            return Response::text("hello\n");
        }
        entered_tx.send(()).expect("the test listens");
        let mut body = Vec::new();
        let r = req.body_mut().read_to_end(&mut body);
        let status = if r.is_ok() { 200 } else { 400 };
        result_tx.send(r).expect("the test listens");
        Response::new(StatusCode::from_u16(status).expect("a status"))
    });
    let handle = server.handle();
    let mut client = connect(&server);
    client
        .send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\nfirst part")
        .expect("send");
    entered.recv_timeout(T).expect("the handler runs");
    drop(client);
    let r = result.recv_timeout(T).expect("the handler's read returns");
    assert!(r.is_err(), "a cut body read as complete: {r:?}");
    await_quiet(&handle, "after a hang-up mid-body");
    assert_serves(&server);
    server.stop().expect("serve returns Ok");
}

/// A body reader that produces `left` bytes and reports being dropped.
struct Endless {
    left: u64,
    dropped: mpsc::Sender<()>,
}

impl Read for Endless {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        out[..n].fill(b'x');
        self.left -= n as u64;
        Ok(n)
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

/// A client that hangs up in the middle of a streamed response ends the
/// write (the handler's reader is dropped, no worker keeps writing), and
/// the request and its connection are accounted for.
#[test]
fn a_client_gone_mid_response_stops_the_stream_and_leaves_nothing_behind() {
    let (dropped_tx, dropped) = mpsc::channel::<()>();
    let server = TestServer::start(Server::builder(), move |req: &mut Request| {
        if req.uri().path() != "/big" {
            return Response::text("hello\n");
        }
        Response::reader(Endless {
            left: 1 << 30,
            dropped: dropped_tx.clone(),
        })
    });
    let handle = server.handle();
    let mut client = connect(&server);
    client
        .send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T)).expect("set a timeout");
    let mut got = 0;
    let mut chunk = [0u8; 16 * 1024];
    while got < 256 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) => panic!("the server closed after {got} bytes"),
            Ok(n) => got += n,
            Err(e) => panic!("read after {got} bytes: {e}"),
        }
    }
    assert_eq!(handle.stats().in_flight, 1, "still streaming");
    drop(client);
    dropped.recv_timeout(T).expect("the body reader is dropped");
    await_quiet(&handle, "after a hang-up mid-response");
    assert_serves(&server);
    server.stop().expect("serve returns Ok");
}

// ----- response splitting ----------------------------------------------------------------

/// RFC 9110 §5.5: the header types a handler builds responses with refuse
/// CR, LF, NUL and other control bytes, so a handler cannot split a
/// response by passing a request's bytes into a header.
#[test]
fn header_values_and_names_refuse_cr_lf_and_nul() {
    for bad in [
        &b"a\r\nX-Injected: 1"[..],
        b"a\nX-Injected: 1",
        b"a\rX-Injected: 1",
        b"\r\n\r\nHTTP/1.1 200 OK",
        b"a\0b",
        b"a\x7fb",
        b"a\x0bb",
    ] {
        assert!(HeaderValue::from_bytes(bad).is_err(), "{bad:?}");
        if let Ok(s) = std::str::from_utf8(bad) {
            assert!(HeaderValue::from_str(s).is_err(), "{s:?}");
            assert!(HeaderValue::try_from(s.to_string()).is_err(), "{s:?}");
            assert!(HeaderName::from_bytes(bad).is_err(), "{s:?}");
            assert!(
                courteous::http::Response::builder()
                    .header("x-a", s)
                    .body(())
                    .is_err(),
                "{s:?}"
            );
            assert!(
                std::panic::catch_unwind(|| HeaderValue::from_static(s)).is_err(),
                "{s:?}"
            );
        }
    }
    for bad in ["x-a\r\nx-b", "x-a\n", "x a", "x:a", "", "x\0"] {
        assert!(HeaderName::from_bytes(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

/// Every value byte a header can hold: HTAB, SP to `~`, and obs-text.
fn every_value_byte() -> Vec<u8> {
    let mut v = vec![b'\t'];
    v.extend(0x20..=0x7e);
    v.extend(0x80..=0xff);
    v
}

/// The fields the zoo response sets: one of every kind a handler can build.
fn header_zoo() -> Vec<(HeaderName, HeaderValue)> {
    let v = |b: &[u8]| HeaderValue::from_bytes(b).expect("a valid value");
    let n = |s: &str| HeaderName::from_bytes(s.as_bytes()).expect("a valid name");
    let obs: Vec<u8> = (0x80..=0xff).collect();
    vec![
        (n("x-every-byte"), v(&every_value_byte())),
        (n("x-obs-text"), v(&obs)),
        (n("x-empty"), v(b"")),
        (n("x-blank"), v(b" \t ")),
        (n("x-padded"), v(b"  padded\t")),
        (n("x-looks-like-a-field"), v(b"a: b")),
        (n("x-long"), v(&[b'l'; 8000])),
        (n("x-multi"), v(b"one")),
        (n("x-multi"), v(b"two")),
        (n("x-!#$%&'*+-.^_`|~09azaz"), v(b"every name byte")),
        (n("Content-Type"), v(b"text/plain; charset=utf-8")),
        (
            courteous::http::header::DATE,
            v(b"Mon, 01 Jan 2024 00:00:00 GMT"),
        ),
        // Fields the server owns: it writes its own, never the handler's.
        (courteous::http::header::CONTENT_LENGTH, v(b"999")),
        (courteous::http::header::TRANSFER_ENCODING, v(b"chunked")),
        (courteous::http::header::CONNECTION, v(b"keep-alive, x-a")),
    ]
}

/// Reads one response head and its `Content-Length` body, raw.
fn read_raw_response(client: &RawClient) -> (Vec<u8>, Vec<u8>) {
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T)).expect("set a timeout");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_len = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).expect("read the head");
        assert!(
            n > 0,
            "EOF in the head: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = raw[..head_len].to_vec();
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut hs);
    assert!(
        matches!(parsed.parse(&head), Ok(httparse::Status::Complete(n)) if n == head_len),
        "not a well-formed head: {:?}",
        String::from_utf8_lossy(&head)
    );
    let len: usize = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
        .expect("a content-length");
    let mut body = raw[head_len..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).expect("read the body");
        assert!(n > 0, "EOF in the body");
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(body.len(), len, "bytes past the declared body");
    (head, body)
}

/// RFC 9112 §2, §5: a response carrying every kind of header value the
/// API accepts has a well-formed head (CRLF only at line ends, one
/// framing, the handler's values intact), and the connection carries the
/// next request.
#[test]
fn every_header_value_the_api_accepts_gives_a_well_formed_head() {
    let server = TestServer::start(Server::builder(), |req: &mut Request| {
        if req.uri().path() != "/zoo" {
            return Response::text("hello\n");
        }
        let mut resp = Response::bytes(&b"zoo body\r\n\r\nHTTP/1.1 200 OK\r\n"[..])
            .with_status(StatusCode::from_u16(599).expect("a status"));
        for (name, value) in header_zoo() {
            resp = resp.with_header(name, value);
        }
        resp
    });
    let mut client = connect(&server);
    client
        .send(b"GET /zoo HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let (head, body) = read_raw_response(&client);
    assert_eq!(body, b"zoo body\r\n\r\nHTTP/1.1 200 OK\r\n");

    // Line structure: CR and LF only as CRLF line ends, no NUL.
    let lines: Vec<&[u8]> = head
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            line.strip_suffix(b"\r\n").unwrap_or_else(|| {
                panic!("a line without CRLF: {:?}", String::from_utf8_lossy(line))
            })
        })
        .collect();
    assert_eq!(
        lines.last(),
        Some(&&b""[..]),
        "the head ends with an empty line"
    );
    for line in &lines {
        assert!(
            !line.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0),
            "a control byte in {:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert!(lines[0].starts_with(b"HTTP/1.1 599 "), "{:?}", lines[0]);

    // Fields: the handler's, each once, values intact (less the outer
    // whitespace a field value cannot keep); the server's framing, once.
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut hs);
    parsed.parse(&head).expect("a head");
    let got = |name: &str| -> Vec<Vec<u8>> {
        parsed
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.to_vec())
            .collect()
    };
    let trim = |v: &[u8]| -> Vec<u8> {
        let ws = |b: &u8| *b == b' ' || *b == b'\t';
        let start = v.iter().position(|b| !ws(b)).unwrap_or(v.len());
        let end = v.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
        v[start..end].to_vec()
    };
    for (name, value) in header_zoo() {
        let owned = ["content-length", "transfer-encoding", "connection"];
        if owned.contains(&name.as_str()) {
            continue;
        }
        let want: Vec<Vec<u8>> = header_zoo()
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| trim(v.as_bytes()))
            .collect();
        assert_eq!(got(name.as_str()), want, "{name}: {value:?}");
    }
    assert_eq!(got("content-length"), [b"29".to_vec()]);
    assert!(got("transfer-encoding").is_empty());
    assert!(got("connection").is_empty(), "kept alive: no close");
    assert_eq!(got("date").len(), 1);

    // The framing held: the next request on the connection is answered.
    let resp = client.get("/", T).expect("a response");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello\n"));
    drop(client);
    server.stop().expect("serve returns Ok");
}

// ----- churn ---------------------------------------------------------------------------------

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .expect("/proc/self/fd")
}

/// Threads of this process.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .expect("/proc/self/task")
}

/// Set in the child process that runs the churn test alone.
const CHURN_CHILD: &str = "COURTEOUS_HOSTILE_CHURN_CHILD";
const CHURN: &str = "ten_thousand_dropped_connections_leak_no_fd_or_thread";

/// No leak under churn: 10,000 connections opened and dropped (silent,
/// after half a request, after a whole one unread, after a response) leave
/// the process's file descriptors and threads where they were.
#[test]
fn ten_thousand_dropped_connections_leak_no_fd_or_thread() {
    // Descriptors and threads are counted per process, and the harness runs
    // the other tests of this file in parallel: the count is only
    // meaningful in a process of its own, so the test runs itself in one.
    if std::env::var_os(CHURN_CHILD).is_none() {
        // Its output is kept (and shown on failure only): its own summary
        // line must not read as one more test binary's.
        let child = Command::new(std::env::current_exe().expect("this test binary"))
            .args([CHURN, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHURN_CHILD, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the churn test in a process of its own");
        let pid = child.id();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let Ok(out) = done.recv_timeout(12 * T) else {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            panic!("the churn test did not finish within {:?}", 12 * T);
        };
        let out = out.expect("the child's output");
        assert!(
            out.status.success(),
            "the churn test failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }

    let seen = Seen::default();
    let server = start(Server::builder().workers(4), &seen);
    let handle = server.handle();
    // Warm up: every thread the server will ever have, and the fds of the
    // listener and the pool's wakers, exist before the baseline.
    assert_serves(&server);
    await_quiet(&handle, "after the warm-up");
    let (fds, tasks) = (open_fds(), threads());

    let started = Instant::now();
    const N: u64 = 10_000;
    for i in 0..N {
        let mut client = connect(&server);
        match i % 4 {
            0 => {}
            1 => client
                .send(b"GET /half HTTP/1.1\r\nHost: t\r\nX-Half: ")
                .expect("send"),
            2 => client
                .send(b"GET /unread HTTP/1.1\r\nHost: t\r\n\r\n")
                .expect("send"),
            _ => {
                let resp = client.get("/read", T).expect("a response");
                assert_eq!(resp.status, 200);
            }
        }
        drop(client);
        assert!(
            started.elapsed() < 10 * T,
            "stuck at connection {i}: {:?}",
            handle.stats()
        );
    }
    let st = await_quiet(&handle, "after the churn");
    assert_eq!(st.accepted, N + 1, "{st:?}");

    // Slack. For the harness: none, as the baseline is taken inside a
    // process of its own after the warm-up, so libtest's threads and
    // descriptors are already counted in it. For the server: no thread (its
    // pool, timer and accept thread all start with `serve`); for
    // descriptors, a connection leaves the registry just before its worker
    // drops the socket, so a worker may still hold one when the stats say
    // 0: wait (bounded) for the count to come back, then allow nothing more.
    const THREAD_SLACK: usize = 0;
    const FD_SLACK: usize = 0;
    let settled = Instant::now() + T;
    while open_fds() > fds + FD_SLACK && Instant::now() < settled {
        std::thread::sleep(Duration::from_millis(1)); // polling a count, as wait_until does
    }
    assert!(
        open_fds() <= fds + FD_SLACK,
        "fds: {} before, {} after",
        fds,
        open_fds()
    );
    assert!(
        threads() <= tasks + THREAD_SLACK,
        "threads: {} before, {} after",
        tasks,
        threads()
    );
    assert_serves(&server);
    server.stop().expect("serve returns Ok");
}
