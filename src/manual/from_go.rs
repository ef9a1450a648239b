//! Coming from Go's manners and graceful.
//!
//! This crate does the job of `github.com/braintree/manners`,
//! `gopkg.in/tylerb/graceful` and the shutdown half of Go's `net/http`
//! `Server`, for blocking Rust. The tables map every function, type and
//! setting of those packages to what does the same here; the last section
//! lists the defects of the Go servers that this one does not have.
//!
//! The shape is the same as manners': a server you serve on, a close that
//! starts a drain from any thread, and a serve call that returns once the
//! drain is over.
//!
//! ```go
//! server := manners.NewWithServer(&http.Server{Addr: ":8080", Handler: h})
//! go server.ListenAndServe()
//! // ...
//! server.BlockingClose() // returns once every request finished
//! ```
//!
//! ```
//! use courteous::{Request, Server};
//!
//! let server = Server::bind("127.0.0.1:0")?;
//! let handle = server.handle(); // what manners calls the server: Close, BlockingClose...
//! let serving = std::thread::spawn(move || server.serve(|_: &mut Request| "hello\n"));
//! // ...
//! handle.close();
//! handle.wait(); // returns once every request finished
//! serving.join().unwrap()?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! # braintree/manners
//!
//! | manners | courteous | notes |
//! |---|---|---|
//! | `ListenAndServe(addr, handler)` | [`listen_and_serve`](crate::compat::listen_and_serve) | on one process-wide default server, like manners; an address starting with `/` or `.` is a Unix socket served as FastCGI |
//! | `ListenAndServeTLS(addr, cert, key, handler)` | [`listen_and_serve_tls`](crate::compat::listen_and_serve_tls) | PEM files; a bad file is an [`Error::Tls`](crate::Error::Tls), not a panic |
//! | `Serve(listener, handler)` | [`serve`](crate::compat::serve) | a `std::net::TcpListener` |
//! | `Close() bool` | [`close`](crate::compat::close), [`Handle::close`](crate::Handle::close) | `true` only the first time, for the call that started the drain; a close before serving makes the next serve return at once |
//! | `BlockingClose()` | [`blocking_close`](crate::compat::blocking_close), [`Handle::close`](crate::Handle::close) then [`Handle::wait`](crate::Handle::wait) | |
//! | `CloseOnInterrupt()` | [`close_on_interrupt`](crate::compat::close_on_interrupt), [`Handle::close_on_signals`](crate::Handle::close_on_signals) | the signals are named; [`DEFAULT_SIGNALS`](crate::DEFAULT_SIGNALS) is the usual set; a second signal during the drain force-closes |
//! | `SignalReceived()` | [`signal_received`](crate::compat::signal_received), [`Handle::signal_received`](crate::Handle::signal_received) | `Option<i32>`; still readable after serve returned |
//! | `StartRoutine()` / `FinishRoutine()` | [`Handle::track`](crate::Handle::track) → [`Routine`](crate::Routine) | a guard: dropping it finishes the routine, on every path |
//! | `StateHandler` | [`Builder::on_state`](crate::Builder::on_state) | called with the connection, its old and its new [`ConnState`](crate::ConnState) |
//! | `NewServer()`, `NewWithServer(*http.Server)` | [`Server::builder`](crate::Server::builder), then [`Builder::bind`](crate::Builder::bind) | the `http.Server` fields are [`Builder`](crate::Builder) settings |
//! | the `*GracefulServer` methods | [`Handle`](crate::Handle), from [`Server::handle`](crate::Server::handle) | `Clone + Send + Sync`, usable from any thread |
//! | `GetFile()` | [`Handle::try_clone_listener`](crate::Handle::try_clone_listener), [`Handle::listener_fd`](crate::Handle::listener_fd) | a duplicate descriptor, or the number for logging |
//! | `HijackListener`, handing a listener to a new server | [`Handle::try_clone_listener`](crate::Handle::try_clone_listener), then [`Builder::from_listener`](crate::Builder::from_listener) | in one process; to a new process, [`restart`](crate::restart) |
//! | TCP keep-alive listener (3 min) | on by default: [`Builder::tcp_keepalive`](crate::Builder::tcp_keepalive) (60 s), [`tcp_keepalive_interval`](crate::Builder::tcp_keepalive_interval), [`tcp_keepalive_retries`](crate::Builder::tcp_keepalive_retries) | |
//! | FastCGI | [`Builder::fastcgi`](crate::Builder::fastcgi)`(true)`, then `bind_unix(path)` or `bind(addr)`; `listen_and_serve("/path.sock", ..)` | same handlers, same drain |
//!
//! # tylerb/graceful
//!
//! | graceful | courteous | notes |
//! |---|---|---|
//! | `Server{Timeout: d}` | [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout) | graceful's `Timeout: 0` (wait as long as it takes) is our default |
//! | `Run(addr, timeout, handler)` | [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), [`Builder::bind`](crate::Builder::bind), [`Handle::close_on_signals`](crate::Handle::close_on_signals), [`Server::serve`](crate::Server::serve) | graceful installs signal handlers unless told not to; here they are opt-in |
//! | `Stop(timeout)` | [`Handle::close_within`](crate::Handle::close_within) | a deadline for this drain (or the configured `shutdown_timeout` with [`Handle::close`](crate::Handle::close)); for `Stop(0)`-style "now", [`Handle::force_close`](crate::Handle::force_close) |
//! | `StopChan()` | [`Handle::wait`](crate::Handle::wait) | blocks: call it on the thread that would read the channel |
//! | `Wait()` | [`Handle::wait`](crate::Handle::wait) | |
//! | `ConnState` | [`Builder::on_state`](crate::Builder::on_state) | |
//! | `ShutdownInitiated func()` | [`Builder::on_shutdown`](crate::Builder::on_shutdown) | runs on its own thread; serve waits for it |
//! | `BeforeShutdown func() bool` | [`Builder::before_shutdown`](crate::Builder::before_shutdown) | `false` vetoes the close, signals included |
//! | `NotReadyError{quitting}` | [`Error::AlreadyServing`](crate::Error::AlreadyServing), [`Error::StillDraining`](crate::Error::StillDraining) | `quitting: false` and `true`, as two variants |
//! | `TCPKeepAlive` | [`Builder::tcp_keepalive`](crate::Builder::tcp_keepalive) | |
//! | `LogFunc` | the [`log`](https://docs.rs/log) facade | install any logger (`env_logger`, `syslog`, ...) |
//! | `NoSignalHandling` | the default | signals only with [`Handle::close_on_signals`](crate::Handle::close_on_signals) |
//! | `Interrupted` | [`Handle::signal_received`](crate::Handle::signal_received)`.is_some()` | and says which signal |
//! | `ListenLimit` | [`Builder::workers`](crate::Builder::workers), [`Builder::queue_depth`](crate::Builder::queue_depth), [`Builder::backlog`](crate::Builder::backlog) | no cap on open connections: workers bound the requests served at once, the queue and the backlog the connections waiting |
//!
//! # net/http
//!
//! | net/http | courteous | notes |
//! |---|---|---|
//! | `Server.Shutdown(ctx)` | [`Handle::close_within`](crate::Handle::close_within), then [`wait`](crate::Handle::wait) (or [`close`](crate::Handle::close) with [`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), then [`wait`](crate::Handle::wait)) | at the context's deadline Go returns and leaves the connections open; we force-close them and count them |
//! | `Server.Close()` | [`Handle::force_close`](crate::Handle::force_close) | counted in [`Stats::killed`](crate::Stats::killed) |
//! | `Server.RegisterOnShutdown(f)` | [`Builder::on_shutdown`](crate::Builder::on_shutdown) | Go does not wait for `f`; serve does |
//! | `Server.ConnState` | [`Builder::on_state`](crate::Builder::on_state) | `StateNew` is reported at the accept, as `(New, New)` |
//! | `Server.ReadHeaderTimeout` | [`Builder::header_read_timeout`](crate::Builder::header_read_timeout) | 10 s by default (Go: none) |
//! | `Server.IdleTimeout` | [`Builder::idle_timeout`](crate::Builder::idle_timeout) | 60 s |
//! | `Server.MaxHeaderBytes` | [`Builder::max_header_bytes`](crate::Builder::max_header_bytes) | 64 KiB by default (Go: 1 MiB) |
//! | `Server.ReadTimeout`, `WriteTimeout` | [`Builder::read_timeout`](crate::Builder::read_timeout), [`Builder::write_timeout`](crate::Builder::write_timeout) | per read and per write, not per request |
//! | `http.ErrServerClosed` | `Ok(())` from [`Server::serve`](crate::Server::serve) | |
//! | `http.Hijacker` | [`Request::hijack`](crate::Request::hijack) | |
//! | `Server.SetKeepAlivesEnabled(false)` | [`Builder::max_requests_per_conn`](crate::Builder::max_requests_per_conn)`(Some(1))` | a drain turns keep-alive off by itself |
//!
//! # The defects we fix
//!
//! Each of these has a test in this crate's suite (`tests/golang.rs`)
//! that ports the Go scenario and checks the behaviour below.
//!
//! **Idle keep-alive connections, never closed.** manners stops accepting
//! and waits for requests in flight, but leaves idle keep-alive
//! connections open until the process exits. The kernel then closes them,
//! and a client that had just written its next request gets a reset
//! instead of a response or a clean close (manners' issue 13). Here a
//! drain closes idle connections itself, with a FIN, and reads what the
//! client still sends for a short linger before closing, so the client
//! sees a clean EOF and knows it may retry. See
//! [`howto_drain`](super::howto_drain).
//!
//! **A half-sent request holds the drain forever.** A connection turns
//! active at its first byte. Go's `Shutdown` (and manners and graceful)
//! wait for active connections, and without a read timeout (the default)
//! a client that sends half a request head and stops holds the drain until
//! the context expires, or for ever. Here a half-received head has
//! [`drain_head_timeout`](crate::Builder::drain_head_timeout) (1 s) from the
//! start of the drain to complete.
//!
//! **Polling, and silent connections held for 5 s.** Go's `Shutdown`
//! checks for idle connections in a polling loop whose interval grows to
//! 500 ms, so it returns up to half a second after the last connection
//! closed; and it only counts a new connection that has not sent a byte
//! as idle once it is 5 seconds old, so a browser's preconnect holds the
//! drain for 5 s. Here the last close wakes `serve` through a condition
//! variable, at once, and a silent new connection is closed when its
//! [`drain_grace`](crate::Builder::drain_grace) (100 ms from its accept)
//! is over.
//!
//! **About one lost request per connection under load.** A keep-alive
//! client sends its next request the moment it has read a response. Go
//! closes connections it sees idle as soon as the drain starts, so under
//! steady load nearly every connection has a request crossing the
//! server's close on the wire: that request fails, and if it was a POST,
//! the client cannot know whether it ran. Here a request already on the
//! wire is served, and a connection active less than `drain_grace` ago
//! gets its next request answered with `Connection: close`; a drain under
//! keep-alive load loses no request.
