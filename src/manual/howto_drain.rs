//! How draining works.
//!
//! A drain is what [`Server::serve`](crate::Server::serve) does between a
//! close and its return: it stops taking new connections, finishes every
//! request already started, closes every connection cleanly, and returns
//! the moment nothing is left. This chapter follows a drain step by step,
//! says what every kind of client sees, and explains the numbers behind
//! each rule.
//!
//! # The sequence
//!
//! 1. **A close.** [`Handle::close`](crate::Handle::close), the free
//!    function [`close`](crate::compat::close), a signal registered with
//!    [`Handle::close_on_signals`](crate::Handle::close_on_signals), or a
//!    finished [`restart`](crate::restart). A
//!    [`before_shutdown`](crate::Builder::before_shutdown) callback, if
//!    set, may veto it. Only the close that starts the drain returns
//!    `true`; later ones do nothing (a second close or signal during a
//!    drain delay cuts the delay short).
//! 2. **The shutdown hooks start.** Every
//!    [`on_shutdown`](crate::Builder::on_shutdown) callback runs on a
//!    thread of its own.
//! 3. **The drain delay**, if one is configured
//!    ([`drain_delay`](crate::Builder::drain_delay)): the server keeps
//!    accepting and serving, but its health route answers 503 and every
//!    response says `Connection: close`, so that load balancers take it
//!    out of rotation before anything is refused.
//! 4. **The drain proper.** The listener is closed: from now on a connect
//!    is refused at once. Connections whose handshake the kernel had
//!    already completed are accepted first and handled by the rules below,
//!    so a request already sent on them is answered, not reset: a
//!    connection left in the kernel's queue when the socket closes is
//!    reset with its request (nginx answers that with a 502, and does not
//!    retry). To leave none there, the server first stops new handshakes,
//!    then takes what the kernel completed until nothing new came for a
//!    moment (5 ms for TCP, 1 ms for a Unix socket), then closes. On TCP a
//!    socket filter drops new SYNs (Linux; the late client's kernel
//!    retries a second later and is refused then); on a Unix socket its
//!    file is removed, so a late connect fails at once. A listening
//!    socket that is served elsewhere too (inherited from systemd, or
//!    after [`try_clone_listener`](crate::Handle::try_clone_listener)) is
//!    left alone: its queue outlives this server's descriptor. The
//!    shutdown deadline, if any, starts counting here.
//! 5. **Every open connection is handled by its state** (the table
//!    below): requests in flight finish, idle connections close.
//! 6. **`serve` returns** when no request is in flight, no tracked routine
//!    runs and no connection is open (lingering ones included), or at the
//!    shutdown deadline after force-closing what is left.
//!
//! # The drain table
//!
//! | state at close | what happens | what the client sees |
//! |---|---|---|
//! | not yet accepted | new handshakes stopped, those the kernel completed taken, then the listener closed | connection refused, at once |
//! | New, no byte read | closed cleanly once its grace, counted from the accept, is over | EOF |
//! | New or Active, part of a head read | may complete within [`drain_head_timeout`](crate::Builder::drain_head_timeout) (1 s) | full response with `Connection: close`, or EOF after the bound |
//! | Active | the handler finishes; the response carries `Connection: close` | full response, then EOF |
//! | Idle, active moments ago | [`drain_grace`](crate::Builder::drain_grace) (100 ms from its last response) for its next request | that request answered with `Connection: close` |
//! | Idle for longer | closed cleanly at once | EOF, never a reset |
//! | Hijacked | the drain waits until the handler drops the stream; the stream says a drain began | whatever goodbye the handler's protocol has |
//! | past [`shutdown_timeout`](crate::Builder::shutdown_timeout) | force-closed, counted in [`Stats::killed`](crate::Stats::killed) | EOF or reset |
//!
//! The states are those of [`ConnState`](crate::ConnState), as the
//! [`on_state`](crate::Builder::on_state) hook reports them.
//!
//! # What the client sees
//!
//! - A request in flight gets its **whole response**, with `Connection:
//!   close`, then the server's FIN (a clean end of stream). HTTP/1.1
//!   clients read `Connection: close` as "do not send another request
//!   here", so they open a new connection for the next one, which a load
//!   balancer sends to another instance.
//! - Pipelined requests that had already arrived are answered in order;
//!   only the last response says `Connection: close`.
//! - A connect made after the drain began is **refused** at once
//!   (`ECONNREFUSED`): the client, or the balancer in front, fails over
//!   immediately instead of waiting for a timeout.
//! - A request sent on a kept-alive connection after the server closed it
//!   gets **no status line, only a clean EOF**. That is the signal HTTP
//!   clients (Go's transport, ureq, nginx's upstream module) take to mean
//!   "the connection was closed before the request was read" and on which
//!   they retry idempotent requests on a new connection.
//! - A connection force-closed at the deadline may see a reset: that is
//!   what the deadline is for, and it is counted.
//!
//! The example below shows three rows of the table at once: the request in
//! flight finishes with `Connection: close`, a new connect is refused, and
//! the connection then ends with a FIN.
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{Ending, Gate, RawClient, TestServer};
//! use courteous::{Request, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let gate = Gate::new();
//! let g = gate.clone();
//! let server = TestServer::start(Server::builder(), move |_: &mut Request| {
//!     g.wait(); // hold the request until the test opens the gate
//!     "done\n"
//! });
//! let mut busy = RawClient::connect(server.local_addr()).unwrap();
//! busy.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
//! assert!(gate.wait_parked(1, T), "the request is in flight");
//!
//! assert!(server.handle().close()); // the listener is closed when this returns
//! assert_eq!(RawClient::connect(server.local_addr()).unwrap_err(), Ending::Refused);
//!
//! gate.open();
//! let resp = busy.read_response(T).unwrap();
//! assert_eq!((resp.status, resp.connection_close()), (200, true));
//! assert_eq!(busy.read_end(T), Ending::Eof);
//! server.stop().unwrap();
//! ```
//!
//! # The grace for recently active idle connections
//!
//! A keep-alive client sends its next request as soon as it has read a
//! response. If the server closes a connection it believes idle while that
//! request is on its way, the request and the FIN cross on the wire: the
//! request is lost, and for a request that is not idempotent the client
//! cannot tell whether it ran. Under steady load every connection is
//! "idle" for a few microseconds between requests, so a server that closes
//! idle connections at once loses about one request per connection per
//! drain.
//!
//! Two rules prevent it:
//!
//! - A connection whose socket is readable when the drain looks at it (a
//!   request already on the wire) is served, whatever its state.
//! - An idle connection whose last response went out less than
//!   [`drain_grace`](crate::Builder::drain_grace) ago (100 ms by default)
//!   is given the rest of that grace for its next request; that request is
//!   answered, with `Connection: close`. A new connection gets the same
//!   grace, counted from its accept, for its first request. Connections
//!   idle for longer are closed at once.
//!
//! The grace only has to cover a client's turnaround and one network round
//! trip; raise it for clients far away, set it to zero in tests that want
//! idle connections closed at once.
//!
//! # Half-sent heads, and the bound on them
//!
//! A connection whose request head has started to arrive but not finished
//! is busy: the server cannot answer a request it has not read, and
//! closing would drop a request the client believes sent. Waiting for it
//! with only the ordinary [`header_read_timeout`](crate::Builder::header_read_timeout)
//! (10 s), or forever in servers without one, would let one slow or
//! malicious client hold the whole drain. So from the start of the drain a
//! half-received head has [`drain_head_timeout`](crate::Builder::drain_head_timeout)
//! (1 s) to complete: if it does, the request is served with `Connection:
//! close`; if not, the connection is closed cleanly without a response and
//! the client sees EOF.
//!
//! # FIN, linger, and why a close with unread input resets
//!
//! When a program closes a TCP socket whose receive buffer still holds
//! bytes it has not read, the kernel does not send a FIN: it sends a reset
//! (RFC 1122, 4.2.2.13), and bytes that arrive after the close are answered
//! with a reset too. A reset does more harm than ending the connection:
//! the client's kernel throws away whatever it had received and not yet
//! handed to the application, so even a complete response can vanish, and
//! the client gets `ECONNRESET` instead of a clean end. This is
//! `braintree/manners`' issue 13: a client writing to a connection as the
//! server exited got a reset.
//!
//! This server closes every connection in three steps:
//!
//! 1. for HTTPS, a TLS `close_notify`; then `shutdown(Write)`, which sends
//!    the FIN: the client sees a clean end of stream;
//! 2. it keeps reading, and discarding, what the client still sends, until
//!    a reset can no longer do harm: the client's own FIN arrives, or the
//!    client's kernel has acknowledged every byte of the response, our FIN
//!    has left, and nothing came for a margin of a few round-trip times
//!    since (twice the smoothed RTT plus four times its variation, at
//!    least a fiftieth of `linger`: 10 ms by default); if the client did
//!    send after our FIN, it is in the middle of a request, and the linger
//!    lasts until its FIN; [`linger`](crate::Builder::linger) (500 ms) is
//!    only the upper bound;
//! 3. only then it closes the socket.
//!
//! Once the response is acknowledged it is in the client's kernel, and a
//! reset can no longer cost it in transit; and bytes the client sent
//! before our FIN reached it (a pipelined request, a pooled connection
//! reused at that moment) arrive within a round trip of the FIN, which the
//! margin covers, and are read. The FIN's own acknowledgement is not
//! awaited: a client that reads nothing sends it only when its delayed-ACK
//! timer fires (40 ms on Linux). What is left is a FIN lost on the way
//! and a client that stays silent past the margin and then writes (a pool
//! that reuses a socket without looking at it first): then a late byte
//! meets a closed socket and the client sees a reset instead of the end,
//! with its response already delivered. A longer `linger` widens the
//! margin with it. Many clients never send their
//! FIN promptly: urllib3 and Java pools never read an idle pooled socket,
//! and many clients keep a socket open after reading a `Connection: close`
//! response. Their kernel acknowledges the response within a round trip
//! all the same, so on loopback a drain returns about 10 ms after its last
//! response, whatever the clients do with their sockets. (The state comes
//! from Linux's `TCP_INFO` and `SIOCOUTQ`; on a Unix socket, where a
//! close never resets, the linger ends once nothing came for the margin.)
//!
//! Connections in step 2 are counted in
//! [`Stats::closing`](crate::Stats::closing); a shutdown deadline closes
//! them without counting them as killed, since their business is done.
//! No worker waits for a lingering connection: it waits in the idle set
//! with the connections waiting for their next request (see
//! [`timeouts`](super::timeouts)), and whichever worker is free reads what
//! arrives; the timer thread looks at it a millisecond after the FIN (then,
//! while the response is unacknowledged, backing off) and closes it once
//! the risk is over: a few looks, not a poll.
//!
//! # The deadline, and the kill count
//!
//! Without a [`shutdown_timeout`](crate::Builder::shutdown_timeout) (the
//! default) a drain waits as long as the requests take. With one, counted
//! from the start of the drain proper (after any drain delay), whatever is
//! still open when it expires is force-closed: both directions of the
//! socket are shut down, the client sees EOF or a reset, and the
//! connection is counted in [`Stats::killed`](crate::Stats::killed)
//! (and [`Stats::killed`](crate::Stats::killed)). Then `serve` returns.
//!
//! A thread cannot be killed safely, so a handler still running at the
//! deadline is not interrupted: it finishes in the background, and what it
//! writes goes nowhere. Tracked routines are not waited for past the
//! deadline either. [`Handle::force_close`](crate::Handle::force_close)
//! applies the deadline at once; so does a second signal during a drain
//! (the second Ctrl-C).
//!
//! The kill count is the number to watch: it should be zero. A drain that
//! kills connections says that a handler ran longer than the deadline
//! allowed.
//!
//! # Tracked routines
//!
//! Work a handler starts in the background (a write to a log, a message to
//! a queue) is invisible to the server: the process could exit in the
//! middle of it. [`Handle::track`](crate::Handle::track) counts such work
//! in the drain's wait group until the returned [`Routine`](crate::Routine)
//! guard is dropped (manners' `StartRoutine` and `FinishRoutine`, without
//! the risk of forgetting the second):
//!
//! ```
//! use std::time::Duration;
//! use courteous::testing::{wait_until, TestServer};
//! use courteous::{Request, Server};
//!
//! const T: Duration = Duration::from_secs(5);
//! let mut server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
//! let handle = server.handle();
//! let routine = handle.track(); // e.g. moved into a background thread
//! handle.close();
//! wait_until(&handle, |s| s.draining && s.routines == 1, T).unwrap();
//! assert!(server.join(Duration::from_millis(50)).is_none(), "serve waits for it");
//! drop(routine); // the background work is done
//! assert!(server.join(T).unwrap().is_ok());
//! ```
//!
//! # Shutdown hooks
//!
//! [`on_shutdown`](crate::Builder::on_shutdown) callbacks run when the
//! close is accepted, before any drain delay, each on a thread of its own
//! (Go's `RegisterOnShutdown`). They are tracked like routines, so `serve`
//! does not return before they finish (up to the deadline). Use them to
//! tell long-running work to wrap up: a long poll to answer now, a
//! streaming response to end, a hijacked connection to say goodbye, a
//! service registry to forget this instance.
//! [`before_shutdown`](crate::Builder::before_shutdown) runs before that,
//! on the closing thread, and may veto the close.
//!
//! Handlers can also look for themselves:
//! [`Request::is_draining`](crate::Request::is_draining) and
//! [`Handle::is_draining`](crate::Handle::is_draining) are true from the
//! close on.
//!
//! # The drain delay
//!
//! A load balancer learns that an instance is going away from its health
//! checks, some seconds after the instance was told to stop. If the
//! listener closed at once, the balancer would go on sending connections
//! that are refused until it noticed. With
//! [`drain_delay`](crate::Builder::drain_delay), a close first starts a
//! period during which the server keeps serving normally, except that the
//! [`health_route`](crate::Builder::health_route) answers `503 draining`
//! and every response says `Connection: close`. When the delay is over the
//! drain proper begins. A second close (or signal) skips the rest of the
//! delay. [`deploying`](super::deploying) has the Kubernetes settings.
//!
//! # Hijacked connections
//!
//! A handler that calls [`Request::hijack`](crate::Request::hijack) takes
//! the socket: the connection is reported
//! [`Hijacked`](crate::ConnState::Hijacked), and the server writes nothing
//! more on it. It is not forgotten: while the handler holds the
//! [`HijackedStream`](crate::HijackedStream) (inline in the handler, or on
//! a thread of its own), a drain waits for it as for a request in flight
//! ([`Stats::hijacked`](crate::Stats::hijacked) counts them). The stream
//! says when a drain began ([`is_draining`](crate::HijackedStream::is_draining),
//! [`wait_draining`](crate::HijackedStream::wait_draining)), so the
//! session can end the way its protocol ends politely (a WebSocket Close
//! frame with 1001, a last line, a FIN), and dropping the stream closes
//! it and lets the drain end. A session that ignores the drain is bounded
//! by the [`shutdown_timeout`](crate::Builder::shutdown_timeout): the
//! deadline shuts its socket down (its reads and writes fail) and counts
//! it in [`Stats::killed`](crate::Stats::killed).
//! Without a deadline, a drain waits for it as long as it lasts, as it
//! would for a long handler.
//!
//! This is on purpose unlike Go's `Server.Shutdown`, which ignores
//! hijacked connections (golang/go#17721): a process then exits under an
//! upgraded connection without a goodbye.
//!
//! # Why `serve` returns without polling
//!
//! The wait group is one mutex and condition variable holding the count of
//! requests in flight, the tracked routines and the registry of open
//! connections. Every change that can end a drain (a response written, a
//! connection closed, a routine dropped) checks whether the drain is over
//! and, if so, wakes the thread in `serve`, which sleeps on the condition
//! variable with the deadline as its only timeout. So `serve` and
//! [`Handle::wait`](crate::Handle::wait) return the moment the last
//! connection closes, not at the next tick of a polling loop (Go's
//! `Server.Shutdown` polls, up to every 500 ms).
//!
//! # After the drain
//!
//! `serve` returns `Ok(())`. The [`Handle`](crate::Handle) still answers:
//! [`stats`](crate::Handle::stats), the kill count and the
//! [`signal_received`](crate::Handle::signal_received) stay readable. The
//! same [`Server`](crate::Server) can serve again: it binds its address
//! anew.
