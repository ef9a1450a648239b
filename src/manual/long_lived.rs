//! Long-lived connections at a drain: streams, server-sent events and
//! WebSockets.
//!
//! A request that never ends on its own, an event stream, a log tail, a
//! WebSocket console, would hold a drain for ever, or until the shutdown
//! deadline cuts it off and counts it as killed: neither is polite. This
//! chapter says how each kind ends with the drain instead, what the client
//! sees on the wire, and where the deadline still applies.
//!
//! # The rule
//!
//! Every long-lived connection stays known to the drain until it ends, and
//! can tell that a drain began, at once, without polling:
//!
//! | kind | known to the drain as | tells of the drain with | ends with |
//! |---|---|---|---|
//! | a [`Response::stream`](crate::Response::stream) | a request in flight | [`BodyWriter::draining`](crate::BodyWriter::is_draining), [`BodyWriter::wait_draining`](crate::BodyWriter::wait_draining) | its last write, then the chunked end (`0\r\n\r\n`), then `Connection: close`'s FIN |
//! | a [`Response::reader`](crate::Response::reader) | a request in flight | nothing of its own: the reader may hold a [`Handle`](crate::Handle) and call [`Handle::wait_draining`](crate::Handle::wait_draining) | the reader's end (`Ok(0)`) |
//! | a WebSocket (`websocket::upgrade`, feature `websocket`) | a hijacked connection ([`Stats::hijacked`](crate::Stats::hijacked)) | its reads return `None`; `WebSocket::draining`, `WebSocket::wait_draining` | a Close frame with code 1001 (Going Away), the peer's Close awaited up to `websocket::CLOSE_TIMEOUT` (1 s), then a FIN |
//! | any other hijacked connection ([`Request::hijack`](crate::Request::hijack)) | a hijacked connection | [`HijackedStream::draining`](crate::HijackedStream::is_draining), [`HijackedStream::wait_draining`](crate::HijackedStream::wait_draining) | whatever goodbye its protocol has, then the drop |
//!
//! "A drain began" means an accepted close: a
//! [`drain_delay`](crate::Builder::drain_delay) counts, so streams end while
//! the load balancer takes the server out of rotation, not after.
//!
//! # Streams and server-sent events
//!
//! [`Response::stream`](crate::Response::stream) runs its closure on the
//! handler's worker after the handler returned. The head goes out before
//! the closure runs; every `write` (or `write!`) is one chunk, sent at
//! once. A stream that sends every so often waits between sends with
//! [`wait_draining`](crate::BodyWriter::wait_draining): it sleeps until its
//! next tick, or wakes at once when the drain begins, and then writes its
//! last event and returns. The server ends the body properly and closes
//! the connection with a FIN.
//!
//! ```
//! use std::io::Write;
//! use std::time::Duration;
//! use courteous::testing::{Ending, RawClient, TestServer};
//! use courteous::{BodyWriter, Request, Response, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let mut server = TestServer::start(Server::builder(), |_: &mut Request| {
//!     Response::stream(|out: &mut BodyWriter| {
//!         let mut n = 0;
//!         while !out.wait_draining(Duration::from_millis(100)) {
//!             n += 1;
//!             write!(out, "data: tick {n}\n\n")?;
//!         }
//!         out.write_all(b"event: bye\ndata: draining\n\n")
//!     })
//!     .with_header(http::header::CONTENT_TYPE, "text/event-stream")
//! });
//! let mut client = RawClient::connect(server.local_addr()).unwrap();
//! client.send(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
//! client.read_head(T).unwrap();
//! assert_eq!(client.read_chunk(T).unwrap().unwrap(), b"data: tick 1\n\n");
//!
//! server.handle().close();
//! let mut last = Vec::new();
//! while let Some(chunk) = client.read_chunk(T).unwrap() {
//!     last = chunk; // ticks sent before the drain, then the goodbye
//! }
//! assert_eq!(last, b"event: bye\ndata: draining\n\n");
//! assert_eq!(client.read_end(T), Ending::Eof, "a FIN, never a reset");
//! server.join(T).expect("serve returned as the stream ended")?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! On the wire, the end of such a stream at a drain is (each chunk its
//! size in hex, then the bytes):
//!
//! ```text
//! e\r\ndata: tick 3\n\n\r\n
//! 1b\r\nevent: bye\ndata: draining\n\n\r\n
//! 0\r\n\r\n                                   and the server's FIN
//! ```
//!
//! An `EventSource` in a browser reconnects after the stream ends, to
//! another instance behind the balancer: the `event: bye` lets the page
//! know that this was no failure.
//!
//! A closure that returns an error ends the connection without the
//! chunked end, so the client can tell the body was cut short. For `HEAD`
//! the closure does not run at all.
//!
//! # WebSockets
//!
//! `websocket::upgrade` (feature `websocket`, on `tungstenite`) answers the
//! handshake and runs the session on the handler's worker, over a
//! [hijacked](crate::Request::hijack) connection that the drain tracks.
//! The session's reads wait on the socket and on a pipe together; a
//! watcher thread per session, asleep on the drain signal, writes to the
//! pipe when the drain begins, so a read that was blocked returns at once,
//! with no polling interval. Then the server:
//!
//! 1. sends a Close frame with code 1001 and the reason `the server is
//!    draining` (`88 18 03 e9 …` on the wire);
//! 2. reads until the peer's Close, for at most `CLOSE_TIMEOUT` (1 s),
//!    dropping any data that comes meanwhile;
//! 3. sends its FIN, and reads what still comes until the peer's FIN, for
//!    at most 500 ms, so that closing never answers data with a reset;
//! 4. drops the connection: the drain stops waiting for it.
//!
//! A session that pushes rather than reads waits between pushes with
//! `WebSocket::wait_draining` and returns at the drain; the server then
//! does the same close for it. A session that returns on its own gets a
//! Close with 1000 (Normal); one that fails, 1011.
//!
//! A new handshake during a drain delay is refused with `503`: the client
//! should connect to another instance rather than get a session that ends
//! at once.
//!
//! # What the deadline still does
//!
//! [`shutdown_timeout`](crate::Builder::shutdown_timeout) bounds all of
//! this. Past it, a stream still running has its connection force-closed
//! (its writes then fail, so its closure returns), a WebSocket whose peer
//! never answered the Close (and whose close timeout is longer than what
//! was left of the deadline) is shut down, and each is counted in
//! [`Stats::killed`](crate::Stats::killed). A client that answers the
//! Close, or a stream that ends at the drain, is never killed: with the
//! default close timeout, a drain of streams and WebSockets ends in about
//! a round trip, and at most about 1.5 s for peers that do not answer.
//!
//! Keep the deadline above `CLOSE_TIMEOUT` plus the linger (1.5 s) if
//! clients that ignore Close frames should still end cleanly, and count
//! one worker per open stream or session when you size
//! [`workers`](crate::Builder::workers): each holds its worker while it
//! lasts.
//!
//! # Why other servers get this wrong
//!
//! Go's `Shutdown` does not track hijacked connections (golang/go#17721),
//! so WebSockets are cut off when the process exits, without a Close
//! frame; `RegisterOnShutdown` is the documented workaround, and waiting
//! for the sessions is left to the program. axum does not wait for
//! WebSocket tasks at a graceful shutdown (axum#3003). Here a session is
//! a connection the drain knows of, from its upgrade to its FIN.
