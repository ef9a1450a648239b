//! HTTP/1.1 behaviour with real clients: ureq where a normal client fits,
//! the raw client where the exact bytes matter (framing, interim
//! responses, how a connection ends).
//!
//! Every wait is bounded by `T`; nothing sleeps to order events.

use std::io::{self, Read};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use courteous::http::header::{HeaderValue, CONNECTION};
use courteous::http::StatusCode;
use courteous::testing::{wait_until, Ending, RawClient, RawResponse, TestServer};
use courteous::{Builder, Request, Response, Server};

mod common;
use common::{agent, connect, exchange, T};

// ----- the application under test --------------------------------------------

const HELLO: &str = "hello, world\n";
const DENIED: &str = "unauthorized\n";

/// A streamed body long enough for several chunks.
fn stream_body() -> Vec<u8> {
    pattern(40 * 1024 + 17)
}

/// `n` bytes of a non-repeating-looking pattern (a shifted byte would show).
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// One handler, routed by path.
fn app(req: &mut Request) -> Response {
    match req.uri().path() {
        "/echo" => {
            let mut body = Vec::new();
            match req.body_mut().read_to_end(&mut body) {
                Ok(_) => Response::bytes(body),
                Err(e) => {
                    Response::text(format!("bad body: {e}\n")).with_status(StatusCode::BAD_REQUEST)
                }
            }
        }
        // Answers without reading the body.
        "/deny" => Response::text(DENIED).with_status(StatusCode::UNAUTHORIZED),
        "/stream" => Response::reader(io::Cursor::new(stream_body())),
        "/endless" => Response::reader(Endless),
        "/204" => Response::text("must not be sent").with_status(StatusCode::NO_CONTENT),
        "/304" => Response::text("must not be sent").with_status(StatusCode::NOT_MODIFIED),
        "/close" => {
            Response::text(HELLO).with_header(CONNECTION, HeaderValue::from_static("close"))
        }
        _ => Response::text(HELLO),
    }
}

fn start() -> TestServer {
    start_with(Server::builder())
}

fn start_with(builder: Builder) -> TestServer {
    TestServer::start(builder, app)
}

// ----- client helpers ---------------------------------------------------------

/// A GET of `path` on `client`, answered 200 with `HELLO`, connection kept.
fn get_hello(client: &mut RawClient, path: &str) {
    let resp = client.get(path, T).expect("a response");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), HELLO);
    assert!(!resp.connection_close(), "{resp:?}");
}

/// Asserts `resp` says `Connection: close` and the server then closes cleanly.
fn assert_closed_after(client: &mut RawClient, resp: &RawResponse) {
    let ending = client.read_end(T);
    assert!(
        resp.connection_close() && ending == Ending::Eof,
        "expected Connection: close, then EOF; got {resp:?}, then {ending:?}"
    );
}

/// Reads raw bytes until the server closes; `Err` on reset or timeout.
fn read_until_eof(client: &RawClient) -> io::Result<Vec<u8>> {
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T))?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

/// Sends a request the server must refuse with `status`, then close.
fn expect_rejection(builder: Builder, request: &[u8], status: u16) {
    let server = start_with(builder);
    let mut client = connect(&server);
    let resp = exchange(&mut client, request);
    assert_eq!(resp.status, status, "{resp:?}");
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

fn ureq_echo(server: &TestServer, body: &[u8]) -> Vec<u8> {
    let mut resp = agent()
        .post(&server.url("/echo"))
        .send(body)
        .expect("ureq POST");
    assert_eq!(resp.status(), 200);
    resp.body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .expect("the echoed body")
}

// ----- keep-alive and request bodies ------------------------------------------

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = start();
    let mut client = connect(&server);
    get_hello(&mut client, "/one");
    get_hello(&mut client, "/two");
    let st = wait_until(&server.handle(), |s| s.served == 2, T).expect("two served");
    assert_eq!(st.accepted, 1, "one connection: {st:?}");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start();
    let mut client = connect(&server);
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst\
              GET /second HTTP/1.1\r\nHost: t\r\n\r\n\
              POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird",
        )
        .expect("send");
    for expected in ["first", HELLO, "third"] {
        let resp = client.read_response(T).expect("a response");
        assert_eq!((resp.status, resp.text().as_str()), (200, expected));
    }
    drop(client);
    server.stop().expect("serve returns Ok");
}

/// A GET for `path` padded with a header to exactly `size` bytes.
fn get_of_size(path: &str, size: usize) -> Vec<u8> {
    let bare = format!("GET {path} HTTP/1.1\r\nHost: t\r\nX-Pad: \r\n\r\n");
    let pad = size.checked_sub(bare.len()).expect("room for the padding");
    format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(pad)
    )
    .into_bytes()
}

/// Pipelined requests whose sizes divide the read buffer: a read can end
/// exactly at a request's end with more requests still in the kernel, so
/// the server must not park the connection as if its input were drained
/// (the edge-triggered epoll owes no event for bytes already there).
#[test]
fn pipelined_requests_that_fill_the_read_buffer_exactly_are_all_answered() {
    let server = start();
    for size in [256, 512, 1024, 2048, 4096, 8192] {
        let mut client = connect(&server);
        let n = 64 * 1024 / size;
        let mut burst = Vec::new();
        for _ in 0..n {
            burst.extend(get_of_size("/hello", size));
        }
        client.send(&burst).expect("send");
        for i in 0..n {
            let resp = client
                .read_response(T)
                .unwrap_or_else(|e| panic!("{size}-byte requests: response {i} of {n}: {e:?}"));
            assert_eq!((resp.status, resp.text().as_str()), (200, HELLO));
        }
    }
    server.stop().expect("serve returns Ok");
}

#[test]
fn content_length_body_is_echoed() {
    let server = start();
    assert_eq!(
        ureq_echo(&server, b"a body with a length"),
        b"a body with a length"
    );

    let mut client = connect(&server);
    let resp = exchange(
        &mut client,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello there",
    );
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello there"));
    get_hello(&mut client, "/after");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn chunked_body_with_extension_and_trailer_is_echoed() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(
        &mut client,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value\r\nhello\r\n\
          7\r\n, world\r\n\
          0\r\nX-Checksum: 42\r\n\r\n",
    );
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello, world"));
    // The trailer was consumed: the connection carries the next request.
    get_hello(&mut client, "/after");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn a_large_body_is_echoed_intact() {
    let server = start();
    let body = pattern(1 << 20);
    let echoed = ureq_echo(&server, &body);
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echoed body differs");

    // The same, chunked, from the raw client.
    let mut client = connect(&server);
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(100_000) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let resp = exchange(&mut client, &request);
    assert_eq!(resp.status, 200);
    assert!(resp.body == body, "the chunked echo differs");
    assert_eq!(resp.header("content-length"), Some("1048576"));
    drop(client);
    server.stop().expect("serve returns Ok");
}

// ----- response framing ---------------------------------------------------------

#[test]
fn a_fixed_length_response_has_content_length() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(&mut client, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.header("content-length"), Some("13"));
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.text(), HELLO);
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn a_reader_is_chunked_to_http11() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(&mut client, b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.header("content-length"), None);
    assert!(!resp.connection_close(), "{resp:?}");
    assert!(resp.body == stream_body(), "the de-chunked body differs");
    get_hello(&mut client, "/after");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn a_reader_is_close_delimited_to_http10() {
    let server = start();
    for request in [
        &b"GET /stream HTTP/1.0\r\n\r\n"[..],
        b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let mut client = connect(&server);
        client.send(request).expect("send");
        let raw = read_until_eof(&client).expect("a response, then EOF");
        let head_end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head")
            + 4;
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 "), "{head}");
        assert!(!head.contains("content-length"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert!(raw[head_end..] == stream_body(), "the body runs to the EOF");
    }
    server.stop().expect("serve returns Ok");
}

#[test]
fn http10_without_keep_alive_gets_the_response_then_eof() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(&mut client, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!((resp.status, resp.text().as_str()), (200, HELLO));
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

#[test]
fn http10_keep_alive_is_honoured() {
    let server = start();
    let mut client = connect(&server);
    for path in ["/one", "/two"] {
        let request = format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let resp = exchange(&mut client, request.as_bytes());
        assert_eq!((resp.status, resp.text().as_str()), (200, HELLO));
        assert_eq!(resp.header("connection"), Some("keep-alive"), "{resp:?}");
    }
    assert_eq!(server.handle().stats().accepted, 1);
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn head_gets_the_get_headers_and_no_body() {
    let server = start();
    let mut client = connect(&server);
    let get = exchange(&mut client, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    client
        .send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    let head = client.read_response_to(true, T).expect("a HEAD response");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), get.header("content-length"));
    assert_eq!(head.header("content-type"), get.header("content-type"));
    // Had a body followed, the next response would not parse.
    get_hello(&mut client, "/after");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn no_body_for_204_and_304() {
    let server = start();
    let mut client = connect(&server);
    for (path, status) in [("/204", 204), ("/304", 304)] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        let resp = exchange(&mut client, request.as_bytes());
        assert_eq!(resp.status, status);
        assert_eq!(resp.header("transfer-encoding"), None, "{resp:?}");
        if status == 204 {
            assert_eq!(resp.header("content-length"), None, "{resp:?}");
        }
        // No stray body bytes: the next response parses.
        get_hello(&mut client, "/after");
    }
    drop(client);
    server.stop().expect("serve returns Ok");
}

// ----- Expect: 100-continue -------------------------------------------------------

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[test]
fn expect_continue_gets_100_when_the_handler_reads() {
    let server = start();
    let mut client = connect(&server);
    client
        .send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .expect("send");
    // The body goes only once the 100 came.
    let mut interim = vec![0u8; CONTINUE.len()];
    let mut stream = client.stream();
    stream.set_read_timeout(Some(T)).expect("timeout");
    stream
        .read_exact(&mut interim)
        .expect("the interim response");
    assert_eq!(
        String::from_utf8_lossy(&interim),
        String::from_utf8_lossy(CONTINUE)
    );
    client.send(b"hello").expect("send the body");
    let resp = client.read_response(T).expect("the final response");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello"));
    assert!(!resp.connection_close(), "{resp:?}");
    get_hello(&mut client, "/after");
    drop(client);
    server.stop().expect("serve returns Ok");
}

#[test]
fn expect_continue_gets_no_100_when_the_handler_does_not_read() {
    let server = start();
    let mut client = connect(&server);
    client
        .send(
            b"POST /deny HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .expect("send");
    let raw = read_until_eof(&client).expect("the final response, then EOF");
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 401 "), "{text}");
    assert!(!text.contains("100 continue"), "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
    assert!(text.ends_with(DENIED), "{text}");
    server.stop().expect("serve returns Ok");
}

// ----- Connection: close ----------------------------------------------------------

#[test]
fn client_connection_close_gets_close_then_eof() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(
        &mut client,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((resp.status, resp.text().as_str()), (200, HELLO));
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

#[test]
fn handler_connection_close_closes_the_connection() {
    let server = start();
    let mut client = connect(&server);
    let resp = exchange(&mut client, b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((resp.status, resp.text().as_str()), (200, HELLO));
    assert_eq!(
        resp.header("connection"),
        Some("close"),
        "one Connection header"
    );
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

// ----- bad input -------------------------------------------------------------------

#[test]
fn a_garbage_request_line_is_400() {
    expect_rejection(Server::builder(), b"this is not http\r\n\r\n", 400);
    expect_rejection(
        Server::builder(),
        b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",
        400,
    );
}

#[test]
fn http2_is_505() {
    expect_rejection(Server::builder(), b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    expect_rejection(
        Server::builder(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

/// RFC 9112 §6.1: a coding the server does not decode, before a final
/// chunked (so the framing itself is sound), is 501.
#[test]
fn an_unknown_transfer_coding_is_501() {
    expect_rejection(
        Server::builder(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    );
}

/// RFC 9112 §6.3: without chunked as the final coding the body's end
/// cannot be found, so even a known coding alone is 400 (the MUST there
/// outranks §6.1's SHOULD 501), as is chunked followed by another.
#[test]
fn a_transfer_coding_without_chunked_last_is_400() {
    for te in ["gzip", "chunked, gzip"] {
        let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}\r\n\r\n");
        expect_rejection(Server::builder(), request.as_bytes(), 400);
    }
}

#[test]
fn an_oversized_head_is_431() {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(2000)
    );
    expect_rejection(
        Server::builder().max_header_bytes(1024),
        request.as_bytes(),
        431,
    );
}

#[test]
fn a_head_not_finished_in_time_is_408() {
    let server = start_with(Server::builder().header_read_timeout(Duration::from_millis(200)));

    // A first request, timed from the accept.
    let mut client = connect(&server);
    let resp = exchange(&mut client, b"GET / HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(resp.status, 408, "{resp:?}");
    assert_closed_after(&mut client, &resp);

    // A later request on a kept-alive connection, timed from its first byte.
    let mut client = connect(&server);
    get_hello(&mut client, "/first");
    let resp = exchange(&mut client, b"GET /second HTTP/1.1\r\nHo");
    assert_eq!(resp.status, 408, "{resp:?}");
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

// ----- unread request bodies -------------------------------------------------------

#[test]
fn a_small_unread_body_is_discarded_and_the_connection_reused() {
    let server = start();
    let mut client = connect(&server);
    let mut request = b"POST /deny HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n".to_vec();
    request.extend(pattern(3000));
    let resp = exchange(&mut client, &request);
    assert_eq!((resp.status, resp.text().as_str()), (401, DENIED));
    assert!(!resp.connection_close(), "{resp:?}");
    get_hello(&mut client, "/after-length");

    let resp = exchange(
        &mut client,
        b"POST /deny HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          a\r\n0123456789\r\n0\r\n\r\n",
    );
    assert_eq!(resp.status, 401);
    assert!(!resp.connection_close(), "{resp:?}");
    get_hello(&mut client, "/after-chunked");
    assert_eq!(server.handle().stats().accepted, 1);
    drop(client);
    server.stop().expect("serve returns Ok");
}

/// Go issue 3595: a handler that refuses a large upload without reading it
/// must not make the server reset the connection under the response.
#[test]
fn a_large_unread_body_gets_the_whole_response_then_eof() {
    let server = start_with(Server::builder().max_discard_bytes(4096));
    for round in 0..5 {
        let mut client = connect(&server);
        let mut request =
            b"POST /deny HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n".to_vec();
        request.extend(pattern(64 * 1024));
        let resp = exchange(&mut client, &request);
        assert_eq!(resp.status, 401, "round {round}: {resp:?}");
        assert_eq!(resp.text(), DENIED, "round {round}: the whole body");
        assert_closed_after(&mut client, &resp);
    }
    let handle = server.handle();
    wait_until(&handle, |s| s.connections == 0, T).expect("every connection closed");
    server.stop().expect("serve returns Ok");
}

/// The same with a chunked upload: its size is unknown when the response
/// goes out, but the connection is not reused, so the response must say
/// `Connection: close` rather than invite another request.
#[test]
fn a_large_unread_chunked_body_gets_close_then_eof() {
    let server = start_with(Server::builder().max_discard_bytes(4096));
    let mut client = connect(&server);
    let mut request =
        b"POST /deny HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in pattern(64 * 1024).chunks(8192) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    let resp = exchange(&mut client, &request);
    assert_eq!((resp.status, resp.text().as_str()), (401, DENIED));
    assert_closed_after(&mut client, &resp);
    server.stop().expect("serve returns Ok");
}

// ----- Date ---------------------------------------------------------------------------

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`), checking every field; `None` if malformed.
fn parse_imf_fixdate(s: &str) -> Option<i64> {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    if b.len() != 29 || &s[3..5] != ", " || &s[25..] != " GMT" {
        return None;
    }
    if [7, 11, 16].iter().any(|&i| b[i] != b' ') || b[19] != b':' || b[22] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (day, year) = (num(5..7)?, num(12..16)?);
    let (h, m, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
    let month = MONTHS.iter().position(|&x| x == &s[8..11])? as i64 + 1;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if DAYS[days.rem_euclid(7) as usize] != &s[..3] {
        return None;
    }
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

#[test]
fn the_date_parser_knows_a_real_date() {
    assert_eq!(
        parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(784_111_777)
    );
    assert_eq!(parse_imf_fixdate("Mon, 06 Nov 1994 08:49:37 GMT"), None);
    assert_eq!(parse_imf_fixdate("Sun, 6 Nov 1994 08:49:37 GMT"), None);
}

#[test]
fn the_date_header_is_present_and_well_formed() {
    let server = start();
    let mut client = connect(&server);
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64
    };
    for path in ["/", "/204", "/stream"] {
        let before = now();
        let resp = client.get(path, T).expect("a response");
        let after = now();
        let date = resp
            .header("date")
            .unwrap_or_else(|| panic!("no Date in {resp:?}"));
        let secs = parse_imf_fixdate(date).unwrap_or_else(|| panic!("malformed Date {date:?}"));
        assert!(
            (before - 1..=after + 1).contains(&secs),
            "Date {date:?} is not now ({before}..={after})"
        );
        assert_eq!(
            resp.headers.iter().filter(|(n, _)| n == "date").count(),
            1,
            "one Date header"
        );
    }
    // A rejection carries one too.
    let mut bad = connect(&server);
    let resp = exchange(&mut bad, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n");
    assert!(
        resp.header("date").and_then(parse_imf_fixdate).is_some(),
        "{resp:?}"
    );
    drop((client, bad));
    server.stop().expect("serve returns Ok");
}

/// An endless body, for a client that never reads.
struct Endless;

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(b'x');
        Ok(buf.len())
    }
}

/// The write timeout frees the worker from a client that stops reading: the
/// request leaves the count and the connection closes.
#[test]
fn a_client_that_stops_reading_is_cut_off_by_the_write_timeout() {
    let server = start_with(
        Server::builder()
            .workers(1)
            .write_timeout(Duration::from_millis(200)),
    );
    let handle = server.handle();
    let mut stalled = connect(&server);
    stalled
        .send(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    wait_until(&handle, |s| s.in_flight == 1, T).expect("streaming");
    // The socket buffers fill, the write blocks, the timeout ends it.
    wait_until(&handle, |s| s.in_flight == 0 && s.connections == 0, T)
        .expect("the worker was freed");
    // The only worker serves the next client.
    let mut next = connect(&server);
    get_hello(&mut next, "/hello");
    drop(stalled);
    server.stop().expect("stop");
}

/// A new connection that never sends a byte waits in the idle set, holding
/// no worker, and is closed cleanly when the header timeout passes (no 408:
/// there was no request to answer); busy clients are served meanwhile.
#[test]
fn a_silent_new_connection_is_closed_after_the_header_timeout() {
    let server = start_with(
        Server::builder()
            .workers(1)
            .header_read_timeout(Duration::from_millis(300)),
    );
    let mut silent = connect(&server);
    let mut busy = connect(&server);
    for _ in 0..3 {
        get_hello(&mut busy, "/hello");
    }
    assert_eq!(silent.read_end(T), Ending::Eof, "a FIN, no response");
    wait_until(&server.handle(), |s| s.connections == 1, T).expect("the silent one closed");
    // The busy client's connection is still open, and the wait applied to
    // it as a new connection only.
    get_hello(&mut busy, "/hello");
    server.stop().expect("stop");
}

/// After our FIN a connection lingers, its input read and discarded (so the
/// close is never a reset), until the peer's FIN or the linger bound: a
/// client that never hangs up is closed when the linger is over.
#[test]
fn a_client_that_never_hangs_up_is_closed_when_the_linger_is_over() {
    use std::io::{Read, Write};
    // Two seconds: its quiet margin (a fiftieth) is 40 ms, time enough for
    // this thread to send its bytes after our FIN on a busy machine.
    let server = start_with(Server::builder().linger(Duration::from_secs(2)));
    let handle = server.handle();
    // A bare socket: the kit's client answers a FIN with its own.
    let mut c = std::net::TcpStream::connect(server.local_addr()).expect("connect");
    c.set_read_timeout(Some(T)).expect("timeout");
    c.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("the response, then our FIN");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with(HELLO), "{text}");
    // Whatever it still sends is read and discarded while it lingers: a
    // peer that sent after our FIN keeps the linger until the bound.
    c.write_all(b"bytes after the server's FIN").expect("send");
    wait_until(&handle, |s| s.connections == 1 && s.closing == 1, T).expect("lingering");
    wait_until(&handle, |s| s.connections == 0, T).expect("closed when the linger is over");
    drop(c);
    server.stop().expect("stop");
}

/// The idle timeout closes a kept-alive connection that sends nothing more,
/// cleanly.
#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let server = start_with(Server::builder().idle_timeout(Duration::from_millis(200)));
    let mut c = connect(&server);
    get_hello(&mut c, "/hello");
    assert_eq!(c.read_end(T), Ending::Eof, "a FIN after the idle timeout");
    wait_until(&server.handle(), |s| s.connections == 0, T).expect("closed");
    server.stop().expect("stop");
}
