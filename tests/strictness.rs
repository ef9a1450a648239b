//! HTTP/1.1 strictness, through a real server on loopback: every case of
//! the conformance probe in issue 14, with its exact bytes, against the
//! default `Server::builder()`. Each test names the rule it checks; the
//! decisions and their reasons are in `courteous::manual::strictness`.
//!
//! Every wait is bounded by `T`; nothing is ordered with sleeps. A server
//! that waited for bytes the client never sends would wait its read
//! timeout (30 s by default), past `T`: the tests would see `TimedOut`.

use courteous::testing::{Ending, RawResponse, TestServer};
use courteous::{Builder, Request, Response, Server};

mod common;
use common::{assert_refused, connect, echo, exchange, Seen, SMUGGLED, T};

/// A handler that answers everything, as the probe's did: `200 ok`
/// without reading the body; `/echo` returns the body (or the handler's
/// own `400 bad body: KIND: ERROR`); `/target` returns the target as
/// received; `/headers` lists the field names. It notes each request's
/// method and target in `seen`.
fn app(seen: &Seen) -> impl Fn(&mut Request) -> Response + Send + Sync + 'static {
    let seen = seen.clone();
    move |req: &mut Request| {
        seen.push(format!("{} {}", req.method(), req.uri()));
        match req.uri().path() {
            "/echo" => echo(req),
            "/headers" => {
                let names: Vec<&str> = req.headers().keys().map(|n| n.as_str()).collect();
                Response::text(names.join(","))
            }
            _ if req.uri().path().starts_with("/target") => Response::text(req.uri().to_string()),
            _ => Response::text("ok\n"),
        }
    }
}

fn start(builder: Builder, seen: &Seen) -> TestServer {
    TestServer::start(builder, app(seen))
}

/// Sends `request` on a new connection: the server must answer `200`,
/// keep the connection, and serve a GET after it.
fn assert_served(server: &TestServer, request: &[u8]) -> RawResponse {
    let mut client = connect(server);
    let resp = exchange(&mut client, request);
    assert!(
        resp.status == 200 && !resp.connection_close(),
        "{:?}: expected 200, kept alive; got {resp:?} ({})",
        String::from_utf8_lossy(request),
        resp.text()
    );
    let next = client.get("/next", T).expect("the next request");
    assert_eq!(next.status, 200);
    resp
}

// ----- Host --------------------------------------------------------------------

/// Probe cases 1 to 4 (RFC 9112 §3.2, RFC 9110 §7.2): a Host with userinfo,
/// with a path, empty, or a list is 400 and a close; so are two Host
/// fields. The handler is never called.
#[test]
fn host_must_be_one_uri_host_and_port() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    let p = server.local_addr().port();
    for host in [
        format!("user@127.0.0.1:{p}"),
        format!("127.0.0.1:{p}/path"),
        String::new(),
        format!("127.0.0.1:{p}, other.example.com"),
        format!("127.0.0.1:{p},other.example.com"),
        "127.0.0.1:".to_string(),
        "..".to_string(),
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n{SMUGGLED}");
        assert_refused(&server, request.as_bytes(), 400);
    }
    for request in [
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nHost: 127.0.0.1:{p}\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nHost: other.example.com\r\n\r\n"),
        "GET / HTTP/1.1\r\n\r\n".to_string(),
        "GET / HTTP/1.0\r\nHost: a@b\r\n\r\n".to_string(),
        // absolute-form: the Host names the target's authority.
        format!("GET http://127.0.0.1:{p}/ HTTP/1.1\r\nHost: other.example.com\r\n\r\n"),
        format!("GET http://user@127.0.0.1:{p}/ HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n"),
    ] {
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());

    for host in [
        format!("127.0.0.1:{p}"),
        "localhost".to_string(),
        "[::1]:8080".to_string(),
        "my_service:8080".to_string(),
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_served(&server, request.as_bytes());
    }
    let request =
        format!("GET http://127.0.0.1:{p}/target HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n");
    let resp = assert_served(&server, request.as_bytes());
    assert_eq!(resp.text(), format!("http://127.0.0.1:{p}/target"));
    server.stop().expect("serve returns Ok");
}

// ----- request-target forms -------------------------------------------------------

/// Probe case 5 (RFC 9110 §9.3.6, §15.6.2): CONNECT is 501 and a close by
/// default, never handed to a handler that did not ask for it; the
/// authority form with another method is 400, as is `*` with a method
/// other than OPTIONS.
#[test]
fn connect_is_refused_unless_allowed_and_target_forms_match_their_methods() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    let resp = assert_refused(
        &server,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        501,
    );
    assert_eq!(resp.text(), "CONNECT is not supported\n");
    for request in [
        &b"GET example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"[..],
        b"POST example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 0\r\n\r\n",
        b"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
        b"OPTIONS *x HTTP/1.1\r\nHost: t\r\n\r\n",
        b"CONNECT /path HTTP/1.1\r\nHost: t\r\n\r\n",
        b"CONNECT example.com HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        assert_refused(&server, request, 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    assert_served(&server, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(seen.list()[0], "OPTIONS *");
    server.stop().expect("serve returns Ok");

    // Allowed: the handler sees it; answered without a hijack, the
    // connection closes after the response (what follows would be tunnel
    // bytes, not a request).
    let seen = Seen::default();
    let server = start(Server::builder().allow_connect(true), &seen);
    let mut client = connect(&server);
    let resp = exchange(
        &mut client,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert_eq!((resp.status, resp.connection_close()), (200, true));
    assert_eq!(client.read_end(T), Ending::Eof);
    assert_eq!(seen.list(), ["CONNECT example.com:443"]);
    server.stop().expect("serve returns Ok");
}

/// Probe case 12 and the target warnings (RFC 9112 §3.2, RFC 3986): raw
/// non-ASCII and a fragment are 400, as are `%00` and a broken
/// percent-encoding in the path; other encoded bytes (`%0d%0a` too) reach
/// the handler undecoded, and `%00` in the query passes.
#[test]
fn request_target_bytes() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for target in [
        &b"/caf\xc3\xa9"[..],
        b"/\xff",
        b"/path#frag",
        b"/target?q#f",
        b"/%00",
        b"/a%00b",
        b"/%zz",
        b"/100%",
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_refused(&server, &request, 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    for target in [
        "/target/caf%C3%A9",
        "/target/a%0d%0ab",
        "/target/%2e%2e/x",
        "/target?x=%00&y=100%",
        "/target/a|b{c}",
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(assert_served(&server, request.as_bytes()).text(), target);
    }
    server.stop().expect("serve returns Ok");
}

/// Probe case 11: a 100,000-byte method is a malformed request line
/// (400), not a head too large (431); an unknown but well-formed method
/// goes to the handler.
#[test]
fn an_overlong_method_is_400_and_an_unknown_one_is_served() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    let mut request = vec![b'A'; 100_000];
    request.extend_from_slice(b" / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut client = connect(&server);
    // The server may answer before the whole method is sent; it reads
    // (and drops) the rest while it closes, so the send completes.
    let _ = client.send(&request);
    let resp = client.read_response(T).expect("a response");
    assert_eq!(
        (resp.status, resp.connection_close()),
        (400, true),
        "{resp:?}"
    );
    assert_eq!(client.read_end(T), Ending::Eof);
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());

    assert_served(&server, b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(seen.list()[0], "BREW /");
    server.stop().expect("serve returns Ok");
}

// ----- framing --------------------------------------------------------------------

/// Probe case 6 (RFC 9112 §6.3, §6.1): chunked not last is 400 and a
/// close; chunked last after a coding the server does not decode is 501.
#[test]
fn chunked_must_be_the_last_transfer_coding() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for (te, status) in [
        ("chunked, gzip", 400),
        ("chunked, chunked", 400),
        ("gzip", 400),
        ("gzip, chunked", 501),
    ] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}\r\n\r\n0\r\n\r\n{SMUGGLED}"
        );
        assert_refused(&server, request.as_bytes(), status);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    server.stop().expect("serve returns Ok");
}

/// Probe case 13 and the Content-Length warnings (RFC 9110 §8.6): a
/// length over `max_body_bytes` is 413; leading zeros and lists (even of
/// equal numbers) are 400; the OWS around the value is not part of it.
#[test]
fn content_length_values() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    assert_refused(
        &server,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n",
        413,
    );
    for value in ["005", "00", "0200", "5, 5", "5,5"] {
        let request = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {value}\r\n\r\nhello{SMUGGLED}"
        );
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert_refused(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    for line in [
        "Content-Length: 5 ",
        "Content-Length:  5",
        "Content-Length:   5",
        "Content-Length: \t5",
        "Content-Length:\t5",
        "Content-Length:5",
    ] {
        let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\n{line}\r\n\r\nhello");
        assert_eq!(
            assert_served(&server, request.as_bytes()).text(),
            "hello",
            "{line:?}"
        );
    }
    server.stop().expect("serve returns Ok");
}

/// The field warnings: two Content-Type fields are 400; underscore
/// spellings of framing fields are 400, beside real framing or not; other
/// underscore names reach the handler.
#[test]
fn singleton_and_underscore_fields() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    for fields in [
        "Content-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
        "Content_Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Content_Length: 5\r\n\r\nhello",
    ] {
        let request = format!("POST /echo HTTP/1.1\r\nHost: t\r\n{fields}{SMUGGLED}");
        assert_refused(&server, request.as_bytes(), 400);
    }
    assert!(seen.list().is_empty(), "served: {:?}", seen.list());
    let resp = assert_served(
        &server,
        b"GET /headers HTTP/1.1\r\nHost: t\r\nX_Api_Key: k\r\nContent-Type: a\r\n\r\n",
    );
    assert_eq!(resp.text(), "host,x_api_key,content-type");
    server.stop().expect("serve returns Ok");
}

// ----- chunked bodies -----------------------------------------------------------------

/// The chunked bodies of probe cases 7 to 10, and framing trailers.
const BAD_CHUNKED: [(&str, &[u8]); 8] = [
    ("an extension without a name", b"5;\r\nhello\r\n0\r\n\r\n"),
    (
        "a non-tchar in an extension",
        b"5;bad[=x\r\nhello\r\n0\r\n\r\n",
    ),
    ("whitespace after the size", b"5 \r\nhello\r\n0\r\n\r\n"),
    (
        "a trailer section ended by a bare LF",
        b"5\r\nhello\r\n0\r\n\n",
    ),
    ("a bare LF after the size", b"5\nhello\r\n0\r\n\r\n"),
    (
        "a Content-Length trailer",
        b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n",
    ),
    (
        "a Transfer-Encoding trailer",
        b"5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
    ),
    (
        "a Host trailer",
        b"5\r\nhello\r\n0\r\nHost: evil.example\r\n\r\n",
    ),
];

fn chunked_post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .into_bytes();
    request.extend_from_slice(body);
    request
}

/// Posts each of [`BAD_CHUNKED`] to `path`, each on a new connection that
/// the client keeps open (an answer must not wait for it): the response
/// must be what `answered` accepts, with `Connection: close`, then EOF.
fn assert_each_bad_chunked_body(
    server: &TestServer,
    path: &str,
    answered: impl Fn(&RawResponse) -> bool,
) {
    for (what, body) in BAD_CHUNKED {
        let mut client = connect(server);
        client.send(&chunked_post(path, body)).expect("send");
        let resp = client
            .read_response(T)
            .unwrap_or_else(|e| panic!("{what}: no response: {e:?}"));
        let ending = client.read_end(T);
        assert!(
            answered(&resp) && resp.connection_close() && ending == Ending::Eof,
            "{what}: {resp:?} ({}), then {ending:?}",
            resp.text()
        );
    }
}

/// Probe cases 7 to 10 (RFC 9112 §7.1.1, §7.1.2, RFC 9110 §6.5.1): a
/// chunked body that breaks the chunk grammar, or carries a framing or
/// routing trailer, is answered 400 and a close by the server when the
/// handler left it unread, instead of the handler's 200; and at once,
/// the client still connected: never a wait for bytes that will not come.
#[test]
fn a_malformed_chunked_body_is_400_when_the_handler_did_not_read_it() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    assert_each_bad_chunked_body(&server, "/", |resp| {
        resp.status == 400 && resp.text() == "malformed chunked body\n"
    });
    // The handler ran (the body is read after it), and only for those.
    assert_eq!(seen.list().len(), BAD_CHUNKED.len());
    // A well-formed one keeps the connection.
    let resp = assert_served(
        &server,
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;a=b ; c=\"d\"\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
    );
    assert_eq!(resp.text(), "ok\n");
    server.stop().expect("serve returns Ok");
}

/// The same bodies read by the handler: its read fails with
/// `InvalidData` at once, it answers as it likes (here, its own 400), and
/// the connection closes after.
#[test]
fn a_malformed_chunked_body_fails_the_handlers_read() {
    let seen = Seen::default();
    let server = start(Server::builder(), &seen);
    assert_each_bad_chunked_body(&server, "/echo", |resp| {
        resp.status == 400 && resp.text().starts_with("bad body: InvalidData")
    });
    server.stop().expect("serve returns Ok");
}

/// A chunked body over `max_body_bytes` that the handler left unread is
/// answered 413 by the server, and the connection closes.
#[test]
fn an_oversized_chunked_body_left_unread_is_413() {
    let seen = Seen::default();
    let server = start(Server::builder().max_body_bytes(Some(4)), &seen);
    let resp = assert_refused(&server, &chunked_post("/", b"5\r\nhello\r\n0\r\n\r\n"), 413);
    assert_eq!(resp.text(), "request body too large\n");
    assert_eq!(seen.list().len(), 1, "the handler ran first");
    server.stop().expect("serve returns Ok");
}
