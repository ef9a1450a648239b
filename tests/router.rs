//! The router over real sockets: method routing and what it answers by
//! itself (HEAD, 405 with Allow, OPTIONS, 404, 501, CONNECT), path
//! parameters, nesting, per-route counts; JSON bodies and header values.

use courteous::testing::{wait_until, RawClient, RawResponse, TestServer};
use courteous::{Request, Response, Router, Server};
use http::StatusCode;

mod common;
use common::T;

fn app() -> Router {
    Router::new()
        .route("GET /items", |_: &mut Request| "list\n")
        .route("POST /items", |_: &mut Request| StatusCode::CREATED)
        .route("DELETE /items/{id}", |req: &mut Request| {
            Response::text(format!("deleted {}\n", req.param("id").unwrap_or("?")))
        })
        .route("GET /items/{id}", |req: &mut Request| {
            Response::text(format!("item {}\n", req.param("id").unwrap_or("?")))
        })
        .route("GET /items/new", |_: &mut Request| "the form\n")
        .route("GET /head", |_: &mut Request| "from GET\n")
        .route("HEAD /head", |_: &mut Request| {
            Response::new(StatusCode::OK).with_header("x-from", "head route")
        })
        .route("OPTIONS /own-options", |_: &mut Request| "my options\n")
        .route("GET /own-options", |_: &mut Request| "")
        .route("PURGE /cache", |_: &mut Request| "purged\n")
        .route("/any", |req: &mut Request| {
            Response::text(format!("any {}\n", req.method()))
        })
        .route("GET /any", |_: &mut Request| "the GET route\n")
        .route("GET /files/{*path}", |req: &mut Request| {
            Response::text(format!("file {}\n", req.param("path").unwrap_or("?")))
        })
}

fn send(server: &TestServer, method: &str, path: &str) -> RawResponse {
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    c.request(method, path, &[], b"", T).expect("a response")
}

#[test]
fn methods_route_and_the_router_answers_the_rest_itself() {
    let server = TestServer::start(Server::builder(), app());
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    let mut ask =
        |method: &str, path: &str| c.request(method, path, &[], b"", T).expect("response");

    assert_eq!(ask("GET", "/items").text(), "list\n");
    assert_eq!(ask("POST", "/items").status, 201);
    assert_eq!(ask("GET", "/items/42").text(), "item 42\n");
    assert_eq!(
        ask("GET", "/items/new").text(),
        "the form\n",
        "static over parameter"
    );
    assert_eq!(ask("DELETE", "/items/7").text(), "deleted 7\n");

    // HEAD: the GET route, without its body; an own HEAD route wins.
    let r = ask("HEAD", "/items/42");
    assert_eq!(
        (r.status, r.header("content-length"), r.body.len()),
        (200, Some("8"), 0)
    );
    assert_eq!(ask("HEAD", "/head").header("x-from"), Some("head route"));

    // 405 with the path's methods, on a kept-alive connection.
    let r = ask("PUT", "/items");
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, HEAD, POST"))
    );
    assert!(!r.connection_close());
    let r = ask("POST", "/items/1");
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    assert_eq!(ask("TRACE", "/items").status, 405, "TRACE only when routed");
    assert_eq!(
        ask("PURGE", "/items").status,
        405,
        "a method some route names"
    );

    // OPTIONS: Allow with OPTIONS, unless a route answers it.
    let r = ask("OPTIONS", "/items");
    assert_eq!(
        (r.status, r.header("allow")),
        (204, Some("GET, HEAD, POST, OPTIONS"))
    );
    assert_eq!(ask("OPTIONS", "/own-options").text(), "my options\n");

    // 404 for no route; 501 for a method nobody named.
    assert_eq!(ask("GET", "/nowhere").status, 404);
    assert_eq!(ask("DELETE", "/nowhere").status, 404);
    assert_eq!(ask("PURGE", "/nowhere").status, 404);
    assert_eq!(ask("PURGE", "/cache").text(), "purged\n");
    assert_eq!(ask("BREW", "/items").status, 501);
    assert_eq!(ask("BREW", "/nowhere").status, 501);

    // A route for every method, after the routes of its own method.
    assert_eq!(ask("GET", "/any").text(), "the GET route\n");
    assert_eq!(ask("HEAD", "/any").header("content-length"), Some("14"));
    assert_eq!(ask("PATCH", "/any").text(), "any PATCH\n");
    assert_eq!(
        ask("BREW", "/any").text(),
        "any BREW\n",
        "it asked for every method"
    );
    assert_eq!(ask("OPTIONS", "/any").text(), "any OPTIONS\n");
    drop(c);
    server.stop().expect("stop");
}

#[test]
fn parameters_are_percent_decoded_and_bad_ones_refused() {
    let server = TestServer::start(Server::builder(), app());
    assert_eq!(send(&server, "GET", "/items/a%20b").text(), "item a b\n");
    assert_eq!(send(&server, "GET", "/items/a%2Fb").text(), "item a/b\n");
    assert_eq!(
        send(&server, "GET", "/files/docs/a%C3%A9.txt").text(),
        "file docs/aé.txt\n"
    );
    assert_eq!(send(&server, "GET", "/items/%FF").status, 400);
    assert_eq!(
        send(&server, "GET", "/items/").status,
        404,
        "an empty parameter is no match"
    );
    server.stop().expect("stop");
}

#[test]
fn connect_reaches_only_a_connect_route_and_only_when_allowed() {
    let connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let ask = |server: &TestServer| {
        let mut c = RawClient::connect(server.local_addr()).expect("connect");
        c.send(connect).expect("send");
        c.read_response(T).expect("response")
    };
    // The server refuses CONNECT before any handler (src/http1/head.rs).
    let server = TestServer::start(Server::builder(), app());
    assert_eq!(ask(&server).status, 501);
    server.stop().expect("stop");
    // Allowed, but no route asks for it: the router refuses it the same way.
    let server = TestServer::start(Server::builder().allow_connect(true), app());
    let r = ask(&server);
    assert_eq!((r.status, r.connection_close()), (501, true));
    server.stop().expect("stop");
    let tunnel = app().route("CONNECT", |req: &mut Request| {
        Response::text(format!("tunnel to {}\n", req.uri()))
    });
    let server = TestServer::start(Server::builder().allow_connect(true), tunnel);
    assert_eq!(ask(&server).text(), "tunnel to example.com:443\n");
    server.stop().expect("stop");
}

#[test]
fn routers_nest_and_count_their_routes() {
    let server = Server::bind("127.0.0.1:0").expect("bind");
    let admin = Router::new().route("GET /admin/users", |_: &mut Request| "alice\n");
    let outer = app()
        .route("/admin/{*rest}", admin)
        .metrics("/metrics", &server.handle());
    let server = TestServer::serve(server, outer);
    assert_eq!(send(&server, "GET", "/admin/users").text(), "alice\n");
    assert_eq!(send(&server, "DELETE", "/admin/users").status, 405);
    assert_eq!(send(&server, "GET", "/admin/nobody").status, 404);
    send(&server, "GET", "/items");
    send(&server, "HEAD", "/items");
    send(&server, "GET", "/gone");
    // A request's in-flight count drops just after its response is
    // written, so a client can hold the response first: wait until the
    // earlier six are done, and the gauge counts only the /metrics
    // request itself.
    wait_until(&server.handle(), |s| s.in_flight == 0, T).expect("the earlier requests finished");
    let m = send(&server, "GET", "/metrics");
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = m.text();
    for line in [
        "courteous_route_requests_total{method=\"GET\",route=\"/items\"} 2\n",
        "courteous_route_requests_total{method=\"*\",route=\"/admin/{*rest}\"} 3\n",
        "courteous_route_requests_total{method=\"GET\",route=\"/metrics\"} 1\n",
        "courteous_router_unrouted_total{status=\"404\"} 1\n",
        "courteous_connections_accepted_total 7\n",
        "courteous_requests_in_flight 1\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    server.stop().expect("stop");
}

#[test]
fn an_invalid_header_value_answers_500_and_the_server_goes_on() {
    let server = TestServer::start(
        Server::builder(),
        Router::new()
            .route("GET /bad", |_: &mut Request| {
                Response::text("x")
                    .with_header("x-bad", "line\nbreak")
                    .with_status(StatusCode::OK)
            })
            .route("GET /good", |_: &mut Request| {
                Response::text("fine\n").with_header("x-n", 7)
            }),
    );
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    let r = c.get("/bad", T).expect("response");
    assert_eq!((r.status, r.header("x-bad")), (500, None));
    let r = c.get("/good", T).expect("response");
    assert_eq!((r.status, r.header("x-n")), (200, Some("7")));
    server.stop().expect("stop");
}

#[cfg(feature = "json")]
mod json {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize)]
    struct Note {
        text: String,
    }

    fn notes() -> Router {
        Router::new().route(
            "POST /notes",
            |req: &mut Request| -> Result<Response, courteous::JsonError> {
                let note: Note = req.json()?;
                Ok(Response::json(&note).with_status(StatusCode::CREATED))
            },
        )
    }

    const JSON: [(&str, &str); 1] = [("Content-Type", "application/json; charset=utf-8")];

    #[test]
    fn typed_bodies_and_their_errors() {
        let server = TestServer::start(Server::builder().max_body_bytes(Some(64)), notes());
        let mut c = RawClient::connect(server.local_addr()).expect("connect");
        let r = c
            .request("POST", "/notes", &JSON, br#"{"text":"hi"}"#, T)
            .expect("response");
        assert_eq!((r.status, r.text().as_str()), (201, r#"{"text":"hi"}"#));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let r = c
            .request("POST", "/notes", &JSON, b"{\"text\":", T)
            .expect("response");
        assert_eq!(r.status, 400);
        assert!(r.text().starts_with("malformed JSON"), "{}", r.text());
        assert!(
            !r.connection_close(),
            "the body was read: the connection goes on"
        );
        let r = c
            .request("POST", "/notes", &JSON, br#"{"txt":"hi"}"#, T)
            .expect("response");
        assert_eq!(r.status, 400, "JSON, but not a Note");
        let r = c
            .request("POST", "/notes", &[], br#"{"text":"hi"}"#, T)
            .expect("response");
        assert_eq!(r.status, 415, "no Content-Type");
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let r = c
            .request("POST", "/notes", &form, b"text=hi", T)
            .expect("response");
        assert_eq!(r.status, 415);

        // Over the limit, chunked (so the handler's read finds out): 413.
        let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(100));
        let mut chunked = RawClient::connect(server.local_addr()).expect("connect");
        let req = format!(
            "POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        );
        chunked.send(req.as_bytes()).expect("send");
        let r = chunked.read_response(T).expect("response");
        assert_eq!((r.status, r.connection_close()), (413, true));
        // With a Content-Length over the limit the server refuses it first.
        let r = c
            .request("POST", "/notes", &JSON, big.as_bytes(), T)
            .expect("response");
        assert_eq!(r.status, 413);
        wait_until(&server.handle(), |s| s.in_flight == 0, T).expect("settled");
        server.stop().expect("stop");
    }
}
