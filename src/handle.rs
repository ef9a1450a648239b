//! The handle: close, wait for and watch a server from any thread.

use std::os::fd::AsFd;
use std::sync::Arc;

use crate::drain::Shared;
use crate::error::Error;

/// Controls a [`Server`](crate::Server) from other threads. Cheap to
/// clone; `Send + Sync`.
///
/// ```no_run
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
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A snapshot of a server's counts, from [`Handle::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests whose head was read and whose response is not yet written.
    pub in_flight: usize,
    /// Routines tracked with [`Handle::track`] and not yet finished.
    pub routines: usize,
    /// Open connections, in any state (closing ones included).
    pub connections: usize,
    /// Open connections that have not sent a byte yet.
    pub new: usize,
    /// Open connections reading or serving a request.
    pub active: usize,
    /// Open connections kept alive between requests.
    pub idle: usize,
    /// Connections that sent their FIN and linger for the peer's (also
    /// counted under their last state).
    pub closing: usize,
    /// Connections accepted since the server was made.
    pub accepted: u64,
    /// Responses written since the server was made.
    pub served: u64,
    /// Connections force-closed at a shutdown deadline, in all drains.
    pub killed: u64,
    /// `serve` is running (serving or draining).
    pub serving: bool,
    /// The listener is open: connects are queued for this server. False
    /// before `serve` has its listener and from the start of a drain on.
    pub listening: bool,
    /// A close was accepted (a drain delay or the drain itself runs) and
    /// `serve` has not returned yet.
    pub draining: bool,
}

/// A tracked routine, from [`Handle::track`]: the drain waits for it until
/// it is dropped (manners' `StartRoutine`/`FinishRoutine`).
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
    /// Starts a drain. True only for the call that started it; later calls
    /// (and calls during a drain) return false. Called before `serve`, it
    /// makes the next `serve` return at once.
    pub fn close(&self) -> bool {
        self.shared.close(None)
    }

    /// Force-closes every connection now, as the shutdown deadline would
    /// (counted in [`connections_killed`](Handle::connections_killed)),
    /// starting the drain first if needed; what a second Ctrl-C does.
    /// False when the server is not serving.
    pub fn force_close(&self) -> bool {
        self.shared.force()
    }

    /// A second descriptor for the listening socket while `serve` runs (see
    /// [`Server::try_clone_listener`](crate::Server::try_clone_listener)).
    /// Fails when the server is not listening.
    pub fn try_clone_listener(&self) -> Result<std::os::fd::OwnedFd, Error> {
        match self.shared.listener() {
            Some(l) => l.try_clone_fd().map_err(Error::Io),
            None => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the server is not listening",
            ))),
        }
    }

    /// The listening socket's descriptor number while `serve` runs
    /// (manners' `GetFile`, without a copy): for logging or `fstat`.
    pub fn listener_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.shared.listener().map(|l| l.as_fd().as_raw_fd())
    }

    /// Re-executes this program on `signal` with the listening socket
    /// inherited, waits until the new process is ready, then drains this
    /// one; see [`restart`](crate::restart).
    pub fn restart_on_signal(&self, signal: i32) -> Result<(), Error> {
        crate::restart::on_signal(&self.shared, signal)
    }

    /// [`close`](Handle::close), then [`wait`](Handle::wait).
    pub fn blocking_close(&self) -> bool {
        let started = self.close();
        self.wait();
        started
    }

    /// Blocks until `serve` is not running: at once when it is not serving,
    /// else when its drain is over.
    pub fn wait(&self) {
        self.shared.wait_stopped();
    }

    /// A snapshot of the counts.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Connections force-closed at a shutdown deadline, in all drains so far.
    pub fn connections_killed(&self) -> u64 {
        self.shared.stats().killed
    }

    /// True from an accepted close (drain delay included) until `serve`
    /// returns.
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// The signal that started the (last) drain, if one did. Stays readable
    /// after `serve` returns.
    pub fn signal_received(&self) -> Option<i32> {
        self.shared.signal()
    }

    /// Counts a background routine in the wait group until the returned
    /// guard drops: a drain does not end while it runs (but a shutdown
    /// deadline does not wait for it).
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
    pub fn close_on_signals(&self, signals: &[i32]) -> Result<(), Error> {
        crate::signals::close_on(&self.shared, signals)
    }
}
