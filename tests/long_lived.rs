//! Long-lived connections at a drain: writer-style streams and WebSocket
//! sessions end politely, count as in flight (or hijacked) so the drain
//! waits for them, and only the shutdown deadline cuts them off.

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use courteous::testing::{wait_until, Ending, Gate, RawClient, TestServer};
use courteous::{BodyWriter, Request, Response, Server};

mod common;
use common::T;

/// A stream of ticks every 20 ms that says goodbye at the drain.
fn ticks(_: &mut Request) -> Response {
    Response::stream(|out: &mut BodyWriter| {
        let mut n = 0;
        while !out.wait_draining(Duration::from_millis(20)) {
            n += 1;
            write!(out, "data: {n}\n\n")?;
        }
        out.write_all(b"event: bye\n\n")
    })
}

#[test]
fn a_stream_is_in_flight_and_ends_with_its_last_event_at_the_drain() {
    let mut server = TestServer::start(Server::builder(), ticks);
    let handle = server.handle();
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    let head = c.read_head(T).expect("the head, before any tick");
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        c.read_chunk(T).expect("tick").expect("tick"),
        b"data: 1\n\n"
    );
    let s = wait_until(&handle, |s| s.in_flight == 1, T).expect("in flight");
    assert_eq!(s.active, 1);

    handle.close();
    let mut last = Vec::new();
    while let Some(chunk) = c.read_chunk(T).expect("a chunk or the end") {
        last = chunk;
    }
    assert_eq!(
        last, b"event: bye\n\n",
        "the last event, then the chunked end"
    );
    assert_eq!(c.read_end(T), Ending::Eof);
    server.join(T).expect("serve returned").expect("serve");
    assert_eq!(handle.stats().killed, 0);
}

#[test]
fn a_stream_that_ignores_the_drain_is_cut_off_at_the_deadline_and_counted() {
    let gate = Gate::new();
    let g = gate.clone();
    let server = TestServer::start(
        Server::builder().shutdown_timeout(Duration::from_millis(100)),
        move |_: &mut Request| {
            let g = g.clone();
            Response::stream(move |out: &mut BodyWriter| {
                out.write_all(b"started\n")?;
                g.wait(); // deaf to the drain
                loop {
                    out.write_all(b"still here\n")?;
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        },
    );
    let handle = server.handle();
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").expect("send");
    c.read_head(T).expect("head");
    assert_eq!(
        c.read_chunk(T).expect("chunk").expect("chunk"),
        b"started\n"
    );
    assert!(gate.wait_parked(1, T));
    let began = Instant::now();
    server.stop().expect("serve returned at the deadline");
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(handle.stats().killed, 1);
    gate.open(); // its writes now fail: the closure returns
    wait_until(&handle, |s| s.in_flight == 0, T).expect("the stream ended");
}

#[test]
fn streams_to_head_and_http_1_0_and_a_failing_stream() {
    let (ran_tx, ran_rx) = mpsc::channel::<&'static str>();
    let server = TestServer::start(Server::builder(), move |req: &mut Request| {
        let ran = ran_tx.clone();
        let fail = req.uri().path() == "/fail";
        Response::stream(move |out: &mut BodyWriter| {
            let _ = ran.send("ran");
            out.write_all(b"part")?;
            if fail {
                return Err(std::io::Error::other("the source broke"));
            }
            out.write_all(b" two")
        })
    });
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    let r = c.request("HEAD", "/", &[], b"", T).expect("response");
    assert_eq!((r.status, r.header("transfer-encoding")), (200, None));
    assert!(!r.connection_close());
    // An HTTP/1.0 client gets the body close-delimited.
    let mut old = RawClient::connect(server.local_addr()).expect("connect");
    old.send(b"GET / HTTP/1.0\r\n\r\n").expect("send");
    let r = old.read_response(T).expect("response");
    assert_eq!(
        (r.text().as_str(), r.connection_close()),
        ("part two", true)
    );
    assert_eq!(ran_rx.recv_timeout(T), Ok("ran"));
    assert!(
        ran_rx.try_recv().is_err(),
        "the HEAD request did not run the stream"
    );
    // A stream that fails ends its connection without the chunked end.
    let mut broken = RawClient::connect(server.local_addr()).expect("connect");
    broken
        .send(b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    broken.read_head(T).expect("head");
    assert_eq!(
        broken.read_chunk(T).expect("chunk").expect("chunk"),
        b"part"
    );
    assert!(matches!(
        broken.read_chunk(T),
        Err(Ending::Eof | Ending::Reset)
    ));
    server.stop().expect("stop");
}

#[cfg(feature = "websocket")]
mod websocket {
    use super::*;
    use courteous::websocket::{self, Message, WebSocket};
    use courteous::Router;

    fn echo() -> Router {
        Router::new().route("GET /ws", |req: &mut Request| {
            websocket::upgrade(req, |ws: &mut WebSocket| {
                while let Some(msg) = ws.read()? {
                    ws.send(msg)?;
                }
                Ok(())
            })
        })
    }

    fn client(server: &TestServer) -> tungstenite::WebSocket<TcpStream> {
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream.set_read_timeout(Some(T)).expect("timeout");
        let url = format!("ws://{}/ws", server.addr());
        tungstenite::client(url.as_str(), stream)
            .expect("handshake")
            .0
    }

    fn close_code(msg: Message) -> u16 {
        match msg {
            Message::Close(Some(frame)) => frame.code.into(),
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }

    #[test]
    fn every_session_gets_going_away_at_the_drain_and_then_a_fin() {
        let mut server = TestServer::start(Server::builder(), echo());
        let handle = server.handle();
        let mut clients: Vec<_> = (0..3).map(|_| client(&server)).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(Message::text(format!("hello {i}"))).expect("send");
            assert_eq!(c.read().expect("echo"), Message::text(format!("hello {i}")));
        }
        wait_until(&handle, |s| s.hijacked == 3, T).expect("tracked by the drain");
        handle.close();
        for c in &mut clients {
            assert_eq!(close_code(c.read().expect("Close")), 1001);
            assert!(matches!(
                c.read(),
                Err(tungstenite::Error::ConnectionClosed)
            ));
        }
        server.join(T).expect("serve returned").expect("serve");
        assert_eq!(handle.stats().killed, 0);
    }

    #[test]
    fn a_client_that_closes_first_gets_its_close_answered_and_is_forgotten() {
        let server = TestServer::start(Server::builder(), echo());
        let handle = server.handle();
        let mut c = client(&server);
        c.send(Message::binary(vec![1, 2, 3])).expect("send");
        assert_eq!(c.read().expect("echo"), Message::binary(vec![1, 2, 3]));
        c.close(None).expect("close");
        loop {
            match c.read() {
                Ok(Message::Close(_)) => {}
                Err(tungstenite::Error::ConnectionClosed) => break,
                other => panic!("{other:?}"),
            }
        }
        wait_until(&handle, |s| s.hijacked == 0 && s.connections == 0, T).expect("forgotten");
        server.stop().expect("stop");
    }

    #[test]
    fn handshakes_that_are_not_websocket_are_refused_and_draining_servers_refuse_new_ones() {
        let server = TestServer::start(
            Server::builder().drain_delay(Duration::from_secs(30)),
            echo(),
        );
        let mut c = RawClient::connect(server.local_addr()).expect("connect");
        let r = c.get("/ws", T).expect("response");
        assert_eq!((r.status, r.header("upgrade")), (426, Some("websocket")));
        let upgrade = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "8"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let r = c.request("GET", "/ws", &upgrade, b"", T).expect("response");
        assert_eq!(
            (r.status, r.header("sec-websocket-version")),
            (426, Some("13"))
        );
        let mut good = upgrade;
        good[2].1 = "13";
        server.handle().close(); // the drain delay: still serving, draining
        let mut c = RawClient::connect(server.local_addr()).expect("connect");
        let r = c.request("GET", "/ws", &good, b"", T).expect("response");
        assert_eq!(r.status, 503);
        server.stop().expect("stop");
    }

    #[test]
    fn past_the_deadline_a_session_that_does_not_end_is_killed() {
        let gate = Gate::new();
        let g = gate.clone();
        let app = Router::new().route("GET /ws", move |req: &mut Request| {
            let g = g.clone();
            websocket::upgrade(req, move |_ws: &mut WebSocket| {
                g.wait(); // neither reads nor looks at the drain
                Ok(())
            })
        });
        let server = TestServer::start(
            Server::builder().shutdown_timeout(Duration::from_millis(100)),
            app,
        );
        let handle = server.handle();
        let _c = client(&server);
        assert!(gate.wait_parked(1, T));
        server.stop().expect("serve returned at the deadline");
        assert_eq!(handle.stats().killed, 1);
        gate.open();
        wait_until(&handle, |s| s.hijacked == 0, T).expect("the session ended");
    }
}
