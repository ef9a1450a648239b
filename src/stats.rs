//! A snapshot of a server's counts: a plain public value.

/// A snapshot of a server's counts, from [`Handle::stats`](crate::Handle::stats).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{wait_until, RawClient, TestServer};
/// use courteous::{Request, Server};
///
/// const T: Duration = Duration::from_secs(5);
/// let server = TestServer::start(Server::builder(), |_: &mut Request| "hi\n");
/// let handle = server.handle();
/// let mut client = RawClient::connect(server.local_addr()).unwrap();
/// client.get("/", T).unwrap();
///
/// // The server turns the connection idle just after writing the response.
/// let stats = wait_until(&handle, |s| s.idle == 1, T).unwrap();
/// assert_eq!((stats.accepted, stats.served, stats.in_flight), (1, 1, 0));
/// assert_eq!((stats.connections, stats.new, stats.active), (1, 0, 0));
/// assert!(stats.serving && stats.listening && !stats.draining);
///
/// server.stop()?;
/// let after = handle.stats();
/// assert_eq!((after.connections, after.killed), (0, 0));
/// assert!(!after.serving && !after.listening);
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests whose head was read and whose response is not yet written.
    /// Counts too the handlers a forced close left running (their
    /// connections are gone); a later run's drain does not wait for those.
    pub in_flight: usize,
    /// Routines tracked with [`Handle::track`](crate::Handle::track) and not yet finished.
    pub routines: usize,
    /// Open connections, in any state (closing ones included).
    pub connections: usize,
    /// Open connections that have not sent a byte yet.
    pub new: usize,
    /// Open connections reading or serving a request.
    pub active: usize,
    /// Open connections kept alive between requests.
    pub idle: usize,
    /// Connections a handler took over with
    /// [`Request::hijack`](crate::Request::hijack) and still holds: the
    /// drain waits for them, and a shutdown deadline force-closes them.
    pub hijacked: usize,
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
