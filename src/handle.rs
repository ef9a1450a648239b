//! The handle: close, wait for and watch a server from any thread.

use std::os::fd::AsFd;
use std::sync::Arc;

use crate::error::Error;
use crate::state::ServerState;
use crate::stats::Stats;

/// Controls a [`Server`](crate::Server) from other threads. Cheap to
/// clone; `Send + Sync`.
///
/// ```
/// use std::thread;
/// let server = courteous::Server::bind("127.0.0.1:0")?;
/// let handle = server.handle();
/// let t = thread::spawn(move || server.serve(|_: &mut courteous::Request| "hi\n"));
/// // ... later:
/// assert!(handle.close(), "the first close starts the drain");
/// assert!(!handle.close(), "later ones do nothing");
/// handle.wait();
/// t.join().unwrap()?;
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<ServerState>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A tracked routine, from [`Handle::track`]: the drain waits for it until
/// it is dropped (manners' `StartRoutine`/`FinishRoutine`).
///
/// Dropping the guard finishes the routine, on every path (a panic
/// included). A shutdown deadline does not wait for routines.
///
/// # Examples
///
/// Work that a request starts in the background, and that must not be cut
/// off by the process exiting after the drain:
///
/// ```
/// use std::sync::mpsc;
/// use std::thread;
/// use std::time::Duration;
/// use courteous::testing::TestServer;
/// use courteous::{Request, Server};
///
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// let handle = server.handle();
/// let (done_tx, done_rx) = mpsc::channel();
/// let routine = handle.track();
/// let background = thread::spawn(move || {
///     let _routine = routine; // dropped when this work is done
///     thread::sleep(Duration::from_millis(50)); // e.g. flush a log
///     done_tx.send(()).unwrap();
/// });
/// server.stop()?; // the drain waits for the routine
/// assert!(done_rx.try_recv().is_ok(), "the work finished before serve returned");
/// background.join().unwrap();
/// # Ok::<(), courteous::Error>(())
/// ```
#[must_use = "the routine is tracked until this guard is dropped"]
#[derive(Debug)]
pub struct Routine {
    handle: Handle,
}

impl Drop for Routine {
    fn drop(&mut self) {
        self.handle.shared.routine_finished();
    }
}

impl Handle {
    /// Starts a drain. True only for the call that started it, however
    /// many threads (or signals) close at once; later calls (during the
    /// drain, or after it ended and before the next `serve`) return false.
    /// Called before a server's first `serve`, it makes that `serve` return
    /// at once.
    ///
    /// Once a `close` that started the drain returns, the listener is
    /// closed: a connect made after it is refused (unless a
    /// [`drain_delay`](crate::Builder::drain_delay) keeps it open for a
    /// while). A [`before_shutdown`](crate::Builder::before_shutdown) veto
    /// makes it return false and the server goes on serving.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::{Request, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")?;
    /// let handle = server.handle();
    /// assert!(handle.close(), "this call started it");
    /// assert!(!handle.close(), "already closed");
    /// server.serve(|_: &mut Request| "never called\n")?; // returns at once
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close(None)
    }

    /// Force-closes every connection now, as the shutdown deadline would
    /// (counted in [`Stats::killed`](crate::Stats::killed)),
    /// starting the drain first if needed; what a second Ctrl-C does.
    /// False when the server is not serving.
    ///
    /// A handler still running goes on to its end (a thread cannot be
    /// stopped from outside); its response goes nowhere. It stays in
    /// [`Stats::in_flight`](crate::Stats::in_flight) until then, but a
    /// later `serve`'s drain does not wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{Gate, RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let gate = Gate::new();
    /// let g = gate.clone();
    /// let mut server = TestServer::start(Server::builder(), move |_: &mut Request| {
    ///     g.wait(); // a handler that does not finish
    ///     "late\n"
    /// });
    /// let mut client = RawClient::connect(server.local_addr()).unwrap();
    /// client.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n").unwrap();
    /// assert!(gate.wait_parked(1, T));
    ///
    /// let handle = server.handle();
    /// assert!(handle.force_close());
    /// server.join(T).expect("serve returned")?;
    /// assert_eq!(handle.stats().killed, 1);
    /// gate.open(); // the handler finishes on its own; its response goes nowhere
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn force_close(&self) -> bool {
        self.shared.force()
    }

    /// A second descriptor for the listening socket (manners' `GetFile`),
    /// before or during `serve`: hand it to another server in this process
    /// (`TcpListener::from(fd)`, then
    /// [`Server::from_listener`](crate::Server::from_listener)) so that new
    /// clients reach it while this one drains, with no refused connect. The
    /// socket then outlives this server (a Unix socket's file too). Fails
    /// when the server has no socket: after its drain closed it, before a
    /// next `serve` binds anew. To hand the socket to a new process, see
    /// [`restart`](Handle::restart).
    ///
    /// # Examples
    ///
    /// Hand the socket to a new server, then drain the old one: clients
    /// reach one server or the other, never a closed port.
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use std::time::Duration;
    /// use courteous::testing::{RawClient, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// let old = TestServer::start(Server::builder(), |_: &mut Request| "old\n");
    /// let fd = old.handle().try_clone_listener()?;
    ///
    /// let new = Server::from_listener(TcpListener::from(fd))?;
    /// let new = TestServer::serve(new, |_: &mut Request| "new\n");
    /// let handle = old.handle();
    /// old.stop()?; // the old server drains; the socket stays open
    /// assert!(handle.try_clone_listener().is_err(), "the old server has no socket now");
    ///
    /// let mut client = RawClient::connect(new.local_addr()).unwrap();
    /// assert_eq!(client.get("/", Duration::from_secs(5)).unwrap().text(), "new\n");
    /// new.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    ///
    /// Before `serve`, the socket the server was bound with:
    ///
    /// ```
    /// use std::net::TcpListener;
    ///
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// let listener = TcpListener::from(server.handle().try_clone_listener()?);
    /// assert_eq!(Some(listener.local_addr()?), server.local_addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_clone_listener(&self) -> Result<std::os::fd::OwnedFd, Error> {
        match self.shared.with_listener(|l| l.try_clone_fd()) {
            Some(fd) => fd.map_err(Error::Io),
            None => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the server is not listening",
            ))),
        }
    }

    /// The listening socket's descriptor number, before or during `serve`
    /// (manners' `GetFile`, without a copy): for logging or `fstat`.
    ///
    /// # Examples
    ///
    /// ```
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// let fd = handle.listener_fd().expect("serving");
    /// println!("listening on descriptor {fd}");
    /// server.stop()?;
    /// assert_eq!(handle.listener_fd(), None);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn listener_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.shared.with_listener(|l| l.as_fd().as_raw_fd())
    }

    /// Re-executes this program on `signal` with the listening socket
    /// inherited, waits until the new process is ready, then drains this
    /// one; see [`restart`](crate::restart). A failed restart is logged and
    /// the server goes on serving.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use courteous::{Request, Server, SIGINT, SIGTERM, SIGUSR2};
    ///
    /// // The new process takes the inherited socket instead of binding.
    /// let server = Server::builder().bind_or_activate("127.0.0.1:8080")?;
    /// let handle = server.handle();
    /// handle.close_on_signals(&[SIGTERM, SIGINT])?;
    /// handle.restart_on_signal(SIGUSR2)?; // `kill -USR2 <pid>`, or systemd's ExecReload
    /// server.serve(|_: &mut Request| "hello\n")?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn restart_on_signal(&self, signal: i32) -> Result<(), Error> {
        crate::signals::handle(
            &self.shared.signals,
            &[signal],
            crate::signals::Purpose::Restart,
            || signal_dispatch(&self.shared),
        )
    }

    /// Restarts now: starts a new copy of this program with the listening
    /// socket inherited, waits until it is ready, then starts this server's
    /// drain. Returns the new process's id. On failure the old server goes on
    /// serving, and the error says why.
    ///
    /// The new process is this program again (`current_exe`, same arguments
    /// and environment), with the listening socket as descriptor 3 and
    /// `LISTEN_FDS=1`; it must take the socket with
    /// [`Builder::bind_or_activate`](crate::Builder::bind_or_activate) or
    /// [`Builder::from_systemd`](crate::Builder::from_systemd). Fails when the
    /// server is not serving.
    ///
    /// # Examples
    ///
    /// Restart on a trigger other than a signal (an admin request, a new
    /// binary on disk):
    ///
    /// ```no_run
    /// use courteous::{Request, Response, Server};
    ///
    /// let server = Server::builder().bind_or_activate("127.0.0.1:8080")?;
    /// let handle = server.handle();
    /// let admin = handle.clone();
    /// server.serve(move |req: &mut Request| {
    ///     if req.uri().path() == "/admin/restart" {
    ///         return match admin.restart() {
    ///             Ok(pid) => Response::text(format!("pid {pid} took over\n")),
    ///             Err(e) => Response::text(format!("restart failed, still serving: {e}\n"))
    ///                 .with_status(http::StatusCode::INTERNAL_SERVER_ERROR),
    ///         };
    ///     }
    ///     Response::text("hello\n")
    /// })?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn restart(&self) -> Result<u32, Error> {
        crate::restart::restart_shared(&self.shared)
    }

    /// Closes with a deadline: the drain force-closes what is left
    /// `timeout` from now (sooner than the configured `shutdown_timeout`,
    /// never later). During a drain it brings the deadline forward. What
    /// tylerb/graceful's `Stop(timeout)` and Go's `Shutdown(ctx)` do. False
    /// when the server is not serving.
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// let handle = server.handle();
    /// let t = std::thread::spawn(move || server.serve(|_: &mut courteous::Request| "hi\n"));
    /// # courteous::testing::wait_until(&handle, |s| s.listening, Duration::from_secs(10)).unwrap();
    /// assert!(handle.close_within(Duration::from_secs(5)));
    /// handle.wait();
    /// t.join().unwrap()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn close_within(&self, timeout: std::time::Duration) -> bool {
        self.shared.close_within(timeout)
    }

    /// Blocks until `serve` is not running: at once when it is not serving,
    /// else when its drain is over.
    ///
    /// Any number of threads may wait (tylerb/graceful's `StopChan`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::thread;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// let watcher = thread::spawn({
    ///     let handle = handle.clone();
    ///     move || {
    ///         handle.wait();
    ///         println!("the server has stopped");
    ///     }
    /// });
    /// handle.close();
    /// watcher.join().unwrap();
    /// server.stop()?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn wait(&self) {
        self.shared.wait_stopped();
    }

    /// A snapshot of the counts (see [`Stats`] for a fuller example).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = courteous::Server::bind("127.0.0.1:0")?;
    /// let stats = server.handle().stats();
    /// assert!(!stats.serving, "serve has not been called");
    /// assert_eq!((stats.accepted, stats.connections), (0, 0));
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// True from an accepted close (drain delay included) until `serve`
    /// returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let builder = Server::builder().drain_delay(Duration::from_secs(60));
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// assert!(!handle.is_draining());
    /// handle.close();
    /// assert!(handle.is_draining(), "during the drain delay too");
    /// server.stop()?;
    /// assert!(!handle.is_draining(), "serve returned");
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// Blocks until the server begins to drain (a close was accepted; a
    /// drain delay counts) or `timeout` passes; true when it drains. For a
    /// stream or a background task that should end with the drain, without
    /// polling [`is_draining`](Handle::is_draining).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// // A drain delay keeps the server draining (and listening) for a while.
    /// let builder = Server::builder().drain_delay(Duration::from_secs(60));
    /// let server = TestServer::start(builder, |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// assert!(!handle.wait_draining(Duration::from_millis(10)), "not yet");
    /// let watcher = std::thread::spawn({
    ///     let handle = handle.clone();
    ///     move || handle.wait_draining(Duration::from_secs(10))
    /// });
    /// handle.close(); // the drain delay begins
    /// assert!(watcher.join().unwrap(), "woken by the drain");
    /// server.stop()?; // a second close cuts the delay short
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn wait_draining(&self, timeout: std::time::Duration) -> bool {
        self.shared.wait_draining(timeout)
    }

    /// The signal that started the (last) drain, if one did. Stays readable
    /// after `serve` returns.
    ///
    /// # Examples
    ///
    /// A close by a call, not a signal (see
    /// [`close_on_signals`](Handle::close_on_signals) for a signal):
    ///
    /// ```
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server};
    ///
    /// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// server.stop()?;
    /// assert_eq!(handle.signal_received(), None);
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn signal_received(&self) -> Option<i32> {
        self.shared.signal()
    }

    /// Counts a background routine in the wait group until the returned
    /// guard drops: a drain does not end while it runs (but a shutdown
    /// deadline does not wait for it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::{wait_until, TestServer};
    /// use courteous::{Request, Server};
    ///
    /// const T: Duration = Duration::from_secs(5);
    /// let mut server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// let routine = handle.track();
    /// handle.close();
    /// wait_until(&handle, |s| s.draining && s.routines == 1, T).unwrap();
    /// assert!(server.join(Duration::from_millis(50)).is_none(), "the drain waits");
    /// drop(routine);
    /// server.join(T).expect("serve returned")?;
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn track(&self) -> Routine {
        self.shared.routine_started();
        Routine {
            handle: self.clone(),
        }
    }

    /// Drains the server when one of `signals` arrives (see
    /// [`DEFAULT_SIGNALS`](crate::DEFAULT_SIGNALS)); the signal is then
    /// [`signal_received`](Handle::signal_received). The handler stays
    /// installed for later `serve` calls and is removed when the server is
    /// dropped. SIGKILL and SIGSTOP cannot be caught: asking for them fails.
    ///
    /// A second signal during a [`drain_delay`](crate::Builder::drain_delay)
    /// skips the rest of it; during the drain it force-closes what is left,
    /// as [`force_close`](Handle::force_close) does (the second Ctrl-C).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use courteous::testing::TestServer;
    /// use courteous::{Request, Server, SIGUSR1};
    ///
    /// let mut server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
    /// let handle = server.handle();
    /// handle.close_on_signals(&[SIGUSR1])?;
    /// signal_hook::low_level::raise(SIGUSR1)?; // as `kill -USR1 <pid>` would
    /// server.join(Duration::from_secs(5)).expect("the signal drained the server")?;
    /// assert_eq!(handle.signal_received(), Some(SIGUSR1));
    ///
    /// assert!(handle.close_on_signals(&[signal_hook::consts::SIGKILL]).is_err());
    /// # Ok::<(), courteous::Error>(())
    /// ```
    pub fn close_on_signals(&self, signals: &[i32]) -> Result<(), Error> {
        crate::signals::handle(
            &self.shared.signals,
            signals,
            crate::signals::Purpose::Close,
            || signal_dispatch(&self.shared),
        )
    }
}

/// What a signal does to `shared`'s server: a close signal closes (a
/// second one during the drain forces it), a restart signal restarts (a
/// failed restart is logged; the server goes on serving). It holds the
/// server weakly: a signal after the server is gone ends the thread.
///
/// A restart runs on a thread of its own (one at a time): it waits up to
/// a minute for the new process, and the signal thread must stay free
/// meanwhile, or a SIGTERM sent then would be seen only after the
/// restart's own close, as a second signal, and force the drain.
pub(crate) fn signal_dispatch(shared: &Arc<ServerState>) -> crate::signals::Dispatch {
    let weak = Arc::downgrade(shared);
    let restarting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    Arc::new(move |sig, purpose| {
        let Some(shared) = weak.upgrade() else {
            return false;
        };
        match purpose {
            crate::signals::Purpose::Close => shared.on_signal(sig),
            crate::signals::Purpose::Restart => {
                use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
                if restarting
                    .compare_exchange(false, true, AcqRel, Acquire)
                    .is_err()
                {
                    log::info!("courteous: signal {sig}: a restart is already under way");
                    return true;
                }
                let flag = restarting.clone();
                let spawned = std::thread::Builder::new()
                    .name("courteous-restart".into())
                    .spawn(move || {
                        if let Err(e) = crate::restart::restart_shared(&shared) {
                            log::error!("courteous: restart failed, still serving: {e}");
                        }
                        flag.store(false, Release);
                    });
                if let Err(e) = spawned {
                    log::error!("courteous: cannot start the restart: {e}");
                    restarting.store(false, Release);
                }
            }
        }
        true
    })
}
