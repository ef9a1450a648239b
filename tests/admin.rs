//! Drives `examples/admin.rs` as a child process, as outside suites do:
//! its flag, routes, stream and WebSocket behaviour at a drain, and output
//! lines are a contract.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use courteous::testing::{Ending, RawClient, RawResponse};
use rustix::process::Signal;
use tungstenite::{Message, WebSocket};

mod common;
use common::{Example, T};

/// `examples/admin.rs`, running with `args`.
fn start_admin(args: &[&str]) -> Example {
    Example::start("admin", args)
}

/// One request on a new connection to `admin`.
fn request(
    admin: &Example,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut c = RawClient::connect(&admin.addr).expect("connect");
    c.request(method, path, headers, body, T)
        .expect("a response")
}

/// A WebSocket session with `admin`'s `/ws`.
fn websocket(admin: &Example) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(&admin.addr).expect("connect");
    stream.set_read_timeout(Some(T)).expect("timeout");
    let url = format!("ws://{}/ws", admin.addr);
    let (ws, resp) = tungstenite::client(url.as_str(), stream).expect("handshake");
    assert_eq!(resp.status(), 101);
    ws
}

const JSON: [(&str, &str); 1] = [("Content-Type", "application/json")];

#[test]
fn routes_keep_their_contract_and_sigterm_drains_with_exit_zero() {
    let admin = start_admin(&[]);
    let r = request(&admin, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let r = request(&admin, "HEAD", "/healthz", &[], b"");
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = request(&admin, "DELETE", "/healthz", &[], b"");
    assert_eq!(r.status, 405);
    let allow: Vec<&str> = r
        .header("allow")
        .expect("Allow")
        .split(',')
        .map(str::trim)
        .collect();
    assert!(
        allow.contains(&"GET") && allow.contains(&"HEAD"),
        "{allow:?}"
    );
    assert_eq!(request(&admin, "GET", "/nowhere", &[], b"").status, 404);

    let r = request(
        &admin,
        "POST",
        "/jobs",
        &JSON,
        br#"{"name": "nightly backup"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("location").expect("Location").to_string();
    let id = location.strip_prefix("/jobs/").expect("/jobs/ID");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.text(),
        format!(r#"{{"id":{id},"name":"nightly backup"}}"#)
    );
    let got = request(&admin, "GET", &location, &[], b"");
    assert_eq!((got.status, got.text()), (200, r.text()));
    assert_eq!(request(&admin, "GET", "/jobs/999999", &[], b"").status, 404);
    assert_eq!(
        request(&admin, "GET", "/jobs/not-a-number", &[], b"").status,
        404
    );
    assert_eq!(
        request(&admin, "POST", "/jobs", &JSON, b"{\"name\": ").status,
        400
    );
    assert_eq!(
        request(&admin, "POST", "/jobs", &JSON, b"[1, 2]").status,
        400
    );
    let plain = [("Content-Type", "text/plain")];
    assert_eq!(
        request(&admin, "POST", "/jobs", &plain, br#"{"name":"x"}"#).status,
        415
    );

    let m = request(&admin, "GET", "/metrics", &[], b"");
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let text = m.text();
    assert!(
        text.contains("# TYPE courteous_connections_accepted_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains("courteous_route_requests_total{method=\"POST\",route=\"/jobs\"} 4\n"),
        "{text}"
    );
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').expect("NAME VALUE");
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("a number in {line:?}"));
    }

    let mut idle = RawClient::connect(&admin.addr).expect("connect");
    assert_eq!(idle.get("/healthz", T).expect("response").status, 200);
    admin.signal(Signal::TERM);
    assert_eq!(
        idle.read_end(T),
        Ending::Eof,
        "an idle connection gets a FIN"
    );
    let (line, status) = admin.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success(), "{status:?}");
}

/// Reads SSE chunks until `event: bye`; returns the data events before it.
fn read_events_until_bye(sse: &mut RawClient) -> Vec<String> {
    let mut ticks = Vec::new();
    loop {
        let chunk = sse
            .read_chunk(T)
            .expect("a chunk")
            .expect("not the end before bye");
        let text = String::from_utf8(chunk).expect("UTF-8");
        if text.starts_with("event: bye\n") {
            assert!(text.ends_with("\n\n"), "{text:?}");
            return ticks;
        }
        assert!(
            text.starts_with("data: ") && text.ends_with("\n\n"),
            "{text:?}"
        );
        ticks.push(text);
    }
}

#[test]
fn the_stream_and_the_websocket_end_politely_at_sigint() {
    let admin = start_admin(&[]);
    let mut sse = RawClient::connect(&admin.addr).expect("connect");
    sse.send(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let head = sse.read_head(T).expect("head");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    // Two ticks, about 100 ms apart.
    let first = sse.read_chunk(T).expect("a tick").expect("a tick");
    let at = Instant::now();
    let second = sse.read_chunk(T).expect("a tick").expect("a tick");
    assert_eq!(
        (first.as_slice(), second.as_slice()),
        (&b"data: tick 1\n\n"[..], &b"data: tick 2\n\n"[..])
    );
    assert!(
        at.elapsed() >= Duration::from_millis(50),
        "paced, not a busy loop"
    );

    let mut ws = websocket(&admin);
    ws.send(Message::text("status?")).expect("send");
    assert_eq!(ws.read().expect("echo"), Message::text("status?"));
    ws.send(Message::binary(vec![1, 2])).expect("send");
    ws.send(Message::text("again")).expect("send");
    assert_eq!(
        ws.read().expect("echo"),
        Message::text("again"),
        "binary is not echoed"
    );

    admin.signal(Signal::INT);
    read_events_until_bye(&mut sse);
    assert_eq!(sse.read_chunk(T).expect("the end"), None, "the chunked end");
    assert_eq!(sse.read_end(T), Ending::Eof, "then a FIN");

    match ws.read().expect("a Close frame") {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected Close 1001, got {other:?}"),
    }
    // Reading on sends our Close; the server then ends the TCP connection.
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
    let mut tail = [0u8; 1];
    assert_eq!(
        std::io::Read::read(ws.get_mut(), &mut tail).expect("a FIN, not a reset"),
        0
    );

    let (line, status) = admin.finish();
    assert_eq!(line, "drained killed=0");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_websocket_that_ignores_the_close_is_ended_after_the_close_timeout() {
    let admin = start_admin(&[]);
    let mut ws = websocket(&admin);
    ws.send(Message::text("hi")).expect("send");
    assert_eq!(ws.read().expect("echo"), Message::text("hi"));
    let began = Instant::now();
    admin.signal(Signal::TERM);
    // The client reads nothing more: the server's Close goes unanswered.
    let (line, status) = admin.finish();
    assert_eq!(
        line, "drained killed=0",
        "closed with a FIN, not force-closed"
    );
    assert!(status.success());
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    let mut raw = Vec::new();
    let got = std::io::Read::read_to_end(ws.get_mut(), &mut raw);
    assert!(got.is_ok(), "the connection ended with a FIN: {got:?}");
    // What came before the FIN: the server's Close frame, code 1001.
    assert_eq!(raw.first(), Some(&0x88), "a Close frame: {raw:?}");
    assert_eq!(raw.get(2..4), Some(&1001u16.to_be_bytes()[..]), "{raw:?}");
}

#[test]
fn past_the_deadline_a_websocket_is_force_closed_and_counted() {
    // The deadline (200 ms) falls inside the close timeout (1 s): a client
    // that never answers the Close is cut off there, and counted.
    let admin = start_admin(&["--timeout-ms", "200"]);
    let mut ws = websocket(&admin);
    ws.send(Message::text("hi")).expect("send");
    assert_eq!(ws.read().expect("echo"), Message::text("hi"));
    admin.signal(Signal::TERM);
    let (line, status) = admin.finish();
    assert_eq!(line, "drained killed=1");
    assert!(status.success());
}
