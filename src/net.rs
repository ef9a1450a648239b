//! Sockets: the stream and listener types the server drives, the wake pipe
//! that interrupts a blocked wait, and the one readiness wait everything uses.
//!
//! Every blocking read in the crate goes through [`wait_readable`]: `poll(2)`
//! on the socket plus, where a drain or a new connection may need to
//! interrupt it, a [`Waker`]. Sockets stay in blocking mode; a read happens
//! only after `poll` reported the socket readable, so it returns at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::addr::{Addr, PeerCred};

/// What a listener's connections speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    FastCgi,
}

/// A connected byte stream.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }

    /// A second handle to the same socket (a `dup`), for a hijacking handler.
    pub(crate) fn try_clone_tcp(&self) -> io::Result<TcpStream> {
        match self {
            Stream::Tcp(s) => s.try_clone(),
            Stream::Unix(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "only a TCP connection can be hijacked",
            )),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match *self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

/// A listening socket, in non-blocking mode: the accept loop waits on it
/// with [`wait_readable`] so that a close can interrupt the wait.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpSocket),
    Unix(UnixSocket),
}

/// A listening TCP socket, and whether it is only ours.
#[derive(Debug)]
pub(crate) struct TcpSocket {
    pub(crate) listener: TcpListener,
    /// Whether another descriptor may serve this socket ([`SOLE`],
    /// [`SHARED`]), or the drain's filter is on ([`REFUSING`]). Changed
    /// by compare-and-swap: a copy handed out and the filter exclude each
    /// other.
    share: std::sync::atomic::AtomicU8,
}

/// No other descriptor serves the socket (we bound it, or it was handed
/// to us by value): at a drain we may stop its handshakes with a filter.
const SOLE: u8 = 0;
/// A copy was handed out (or it came from systemd): left alone.
const SHARED: u8 = 1;
/// The drain's SYN filter is on: no copy may be handed out now.
const REFUSING: u8 = 2;

impl std::ops::Deref for TcpSocket {
    type Target = TcpListener;
    fn deref(&self) -> &TcpListener {
        &self.listener
    }
}

impl Listener {
    /// A TCP listener that is only ours (bound here, or given by value).
    pub(crate) fn owned_tcp(listener: TcpListener) -> Listener {
        Listener::Tcp(TcpSocket {
            listener,
            share: SOLE.into(),
        })
    }

    /// A TCP listener that may be served elsewhere too (inherited from
    /// systemd or a restarting parent, which keep their own descriptor).
    pub(crate) fn shared_tcp(listener: TcpListener) -> Listener {
        Listener::Tcp(TcpSocket {
            listener,
            share: SHARED.into(),
        })
    }
}

/// An accepted connection, before it is registered.
pub(crate) struct Accepted {
    pub(crate) stream: Stream,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) cred: Option<PeerCred>,
}

impl Listener {
    pub(crate) fn accept(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                Ok(Accepted {
                    stream: Stream::Tcp(s),
                    peer: Some(peer),
                    // Filled in by the accept loop, without a syscall when
                    // the listener's own address says it.
                    local: None,
                    cred: None,
                })
            }
            Listener::Unix(u) => {
                let (s, _) = u.listener.accept()?;
                let cred = peer_cred(&s);
                Ok(Accepted {
                    stream: Stream::Unix(s),
                    peer: None,
                    local: None,
                    cred,
                })
            }
        }
    }
}

impl Listener {
    /// Sets the per-connection socket options (TCP_NODELAY, keepalive,
    /// write timeout) on the listening socket itself. On Linux accepted
    /// sockets inherit them, which saves six system calls per connection;
    /// returns whether they do (elsewhere each connection is tuned).
    pub(crate) fn tune(&self, cfg: &crate::config::Config) -> bool {
        if !cfg!(target_os = "linux") {
            return false;
        }
        let applied = match self {
            Listener::Tcp(l) => {
                let sock = socket2::SockRef::from(&l.listener);
                tune_sock(&sock, cfg)
                    .and_then(|()| sock.set_write_timeout(Some(cfg.timeouts.write)))
            }
            // Linux copies no socket option from a Unix listener to the
            // sockets it accepts: each connection gets its write timeout.
            Listener::Unix(_) => return false,
        };
        match applied {
            Ok(()) => true,
            Err(e) => {
                log::debug!("courteous: listener options: {e}; tuning each connection");
                false
            }
        }
    }

    /// Stops the kernel from completing new connections for this socket
    /// (when it is only ours), ahead of the last accept pass before the
    /// close: a connection the kernel completed and left queued when the
    /// socket closes is reset, request and all (nginx then reads
    /// ECONNRESET and answers 502). TCP: a socket filter drops new SYNs,
    /// so a late client is refused when it retries (after a second), never
    /// reset after it wrote; a handshake already under way completes, and
    /// is accepted. Unix: the socket's file is removed, so a late connect
    /// fails at once.
    ///
    /// Returns how long the last pass must find nothing new before the
    /// socket may close (`None`: the socket is served elsewhere too, and
    /// its queue outlives our descriptor; one pass is enough).
    pub(crate) fn refuse_new(&self) -> Option<Duration> {
        match self {
            Listener::Tcp(l) => {
                use std::sync::atomic::Ordering::{AcqRel, Acquire};
                if l.share
                    .compare_exchange(SOLE, REFUSING, AcqRel, Acquire)
                    .is_err()
                {
                    return None;
                }
                match stop_syns(&l.listener) {
                    Ok(()) => Some(TCP_LAST_PASS),
                    Err(e) => {
                        log::debug!("courteous: cannot filter new handshakes: {e}");
                        Some(Duration::ZERO)
                    }
                }
            }
            Listener::Unix(u) => {
                if !u
                    .remove_on_close
                    .swap(false, std::sync::atomic::Ordering::AcqRel)
                {
                    return None;
                }
                let _ = std::fs::remove_file(&u.path);
                Some(UNIX_LAST_PASS)
            }
        }
    }

    /// The end of the drain's last pass, just before our descriptor
    /// closes. The SYN filter belongs to the socket, not to the
    /// descriptor: if another descriptor in this process refers to the
    /// same socket (a clone the user made before handing it to us), that
    /// copy would go on dropping every SYN, so the filter comes off.
    /// Otherwise our close destroys the socket and the filter with it, and
    /// the filter stays on to the end: taken off, it would let a handshake
    /// complete in the instant before the close, and the close would reset
    /// it. Says whether the filter came off (handshakes may complete from
    /// now until the close, and must be accepted).
    pub(crate) fn end_refusal(&self) -> bool {
        if let Listener::Tcp(l) = self {
            if l.share.load(std::sync::atomic::Ordering::Acquire) == REFUSING
                && !only_descriptor(&l.listener)
            {
                if let Err(e) = socket2::SockRef::from(&l.listener).detach_filter() {
                    log::debug!("courteous: cannot detach the handshake filter: {e}");
                }
                return true;
            }
        }
        false
    }

    /// The local address of every accepted TCP connection, when the
    /// listener is bound to one address (not a wildcard).
    pub(crate) fn fixed_local(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().filter(|a| !a.ip().is_unspecified()),
            Listener::Unix(_) => None,
        }
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> Addr {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map(Addr::Tcp)
                .unwrap_or_else(|_| Addr::Unix(PathBuf::new())),
            Listener::Unix(u) => Addr::Unix(u.path.clone()),
        }
    }

    /// A second descriptor for the listening socket, for another server
    /// or a new process. The socket then outlives this server: a Unix
    /// socket's file is no longer removed when this server closes it.
    pub(crate) fn try_clone_fd(&self) -> io::Result<std::os::fd::OwnedFd> {
        match self {
            Listener::Tcp(l) => {
                use std::sync::atomic::Ordering::{AcqRel, Acquire};
                match l.share.compare_exchange(SOLE, SHARED, AcqRel, Acquire) {
                    Ok(_) | Err(SHARED) => Ok(l.listener.try_clone()?.into()),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the listener is closing",
                    )),
                }
            }
            Listener::Unix(u) => {
                u.remove_on_close
                    .store(false, std::sync::atomic::Ordering::Release);
                Ok(u.listener.try_clone()?.into())
            }
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.listener.as_fd(),
            Listener::Unix(u) => u.listener.as_fd(),
        }
    }
}

#[cfg(target_os = "linux")]
fn peer_cred(s: &UnixStream) -> Option<PeerCred> {
    let c = rustix::net::sockopt::socket_peercred(s).ok()?;
    Some(PeerCred {
        uid: c.uid.as_raw(),
        gid: c.gid.as_raw(),
        pid: Some(c.pid.as_raw_pid()),
    })
}

#[cfg(not(target_os = "linux"))]
fn peer_cred(_: &UnixStream) -> Option<PeerCred> {
    None
}

/// How long the last accept pass of a TCP socket must see nothing new:
/// a handshake whose SYN passed before the filter completes within a
/// round trip (microseconds on loopback, under a millisecond in a data
/// centre).
const TCP_LAST_PASS: Duration = Duration::from_millis(5);
/// The same for a Unix socket, once its file is gone: a connect already
/// past the file's lookup completes within its own system call.
const UNIX_LAST_PASS: Duration = Duration::from_millis(1);

/// Drops new SYNs on a listening socket: a classic BPF program run on the
/// TCP header of each segment addressed to it (Linux). A SYN without ACK
/// is dropped; everything else (the final ACK of a handshake under way,
/// data) passes. Accepted sockets share the filter, harmlessly: they
/// never need a bare SYN.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn stop_syns(listener: &TcpListener) -> io::Result<()> {
    use socket2::SockFilter;
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const FLAGS: u32 = 13; // the TCP header's flags byte
    const SYN: u32 = 0x02;
    const ACK: u32 = 0x10;
    let program = [
        SockFilter::new(LD_B_ABS, 0, 0, FLAGS),
        SockFilter::new(JSET_K, 2, 0, ACK), // ACK set: pass (to 4)
        SockFilter::new(JSET_K, 0, 1, SYN), // SYN alone: drop (3), else pass (4)
        SockFilter::new(RET_K, 0, 0, 0),
        SockFilter::new(RET_K, 0, 0, u32::MAX),
    ];
    socket2::SockRef::from(listener).attach_filter(&program)
}

/// Whether `listener` is the only descriptor in this process for its
/// socket: no other entry of `/proc/self/fd` names the same socket inode.
/// Copies outside the process are not seen here; the ones we hand out, and
/// the sockets inherited from a supervisor, are marked [`SHARED`] and
/// never filtered. When the table cannot be read the answer is no (the
/// filter comes off, as it must when in doubt).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn only_descriptor(listener: &TcpListener) -> bool {
    use std::os::fd::AsRawFd;
    let ours = listener.as_raw_fd();
    let Ok(name) = std::fs::read_link(format!("/proc/self/fd/{ours}")) else {
        return false;
    };
    let Ok(table) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    for entry in table {
        let Ok(entry) = entry else { return false };
        let fd = entry.file_name();
        if fd.to_str().and_then(|n| n.parse::<i32>().ok()) == Some(ours) {
            continue;
        }
        // A descriptor closed since the listing reads as an error: not a copy.
        if std::fs::read_link(entry.path()).is_ok_and(|other| other == name) {
            return false;
        }
    }
    true
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn only_descriptor(_: &TcpListener) -> bool {
    false
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn stop_syns(_: &TcpListener) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "socket filters are Linux's",
    ))
}

/// A listening Unix socket; its file is removed when it closes, if we
/// made it.
#[derive(Debug)]
pub(crate) struct UnixSocket {
    pub(crate) listener: UnixListener,
    pub(crate) path: PathBuf,
    /// Cleared when the socket is handed to another server or process:
    /// then its file outlives us.
    pub(crate) remove_on_close: std::sync::atomic::AtomicBool,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        if self
            .remove_on_close
            .load(std::sync::atomic::Ordering::Acquire)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds a Unix socket at `path` with file mode `mode`. A socket file
/// where a server still answers is refused (`AddrInUse`); a stale one (no
/// one answers) is removed; any other file is left alone (`AlreadyExists`).
pub(crate) fn bind_unix(path: &Path, mode: u32, backlog: i32) -> io::Result<UnixSocket> {
    use socket2::{Domain, SockAddr, Socket, Type};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            ));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "a server already answers on this socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    let made = UnixSocket {
        listener: UnixListener::from(std::os::fd::OwnedFd::from(socket)),
        path: path.to_path_buf(),
        remove_on_close: true.into(),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    let sock = socket2::SockRef::from(&made.listener);
    sock.listen(backlog)?;
    made.listener.set_nonblocking(true)?;
    Ok(made)
}

/// Binds a TCP listener the way a server wants it: `SO_REUSEADDR` (so a
/// drained server can bind its port again while old connections sit in
/// `TIME_WAIT`), close-on-exec, the given backlog, non-blocking.
pub(crate) fn bind_tcp(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    let listener: TcpListener = socket.into();
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Binds the first of `addr`'s addresses that binds.
pub(crate) fn bind_any(
    addr: impl std::net::ToSocketAddrs + std::fmt::Debug,
    backlog: i32,
) -> Result<TcpListener, crate::Error> {
    let mut last = None;
    // A name that does not parse or resolve fails here: named as given.
    let addrs = addr
        .to_socket_addrs()
        .map_err(|source| crate::Error::Bind {
            addr: addr_text(&addr),
            source,
        })?;
    for a in addrs {
        match bind_tcp(a, backlog) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a.to_string(), e)),
        }
    }
    let (addr, source) = last.unwrap_or_else(|| {
        (
            addr_text(&addr),
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"),
        )
    });
    Err(crate::Error::Bind { addr, source })
}

/// An address as the caller gave it: its `Debug` text, without the quotes
/// a string's has.
fn addr_text(addr: &impl std::fmt::Debug) -> String {
    let text = format!("{addr:?}");
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.to_owned(),
        None => text,
    }
}

/// A self-pipe: `wake` makes a [`wait_readable`] that includes it return
/// [`Ready::Woken`]. Wakes collapse: many wakes before a drain are one.
#[derive(Debug)]
pub(crate) struct Waker {
    tx: UnixStream,
    rx: UnixStream,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Waker { tx, rx })
    }

    /// Wakes the waiter. A full pipe already holds a wake, so errors are moot.
    pub(crate) fn wake(&self) {
        let _ = (&self.tx).write(&[1]);
    }

    /// Consumes pending wakes.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.rx.as_fd()
    }
}

/// What [`wait_readable`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// The socket has bytes, an end of file, or an error to read.
    Readable,
    /// The waker fired (it is drained already).
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// Waits until `fd` is readable, `waker` fires, or `deadline` passes. A
/// deadline in the past still checks readiness once, without blocking.
pub(crate) fn wait_readable(
    fd: &impl AsFd,
    waker: Option<&Waker>,
    deadline: Option<Instant>,
) -> io::Result<Ready> {
    loop {
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            // `ppoll` takes nanoseconds; a wait that still returns early
            // loops below until the deadline really passed.
            Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: i64::MAX / 2,
                tv_nsec: 0,
            })
        });
        let mut fds = [
            PollFd::new(fd, PollFlags::IN),
            match waker {
                Some(w) => PollFd::new(w, PollFlags::IN),
                None => PollFd::new(fd, PollFlags::empty()),
            },
        ];
        let n = if waker.is_some() { 2 } else { 1 };
        match poll(&mut fds[..n], timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready = fds[0].revents();
        if waker.is_some() && !fds[1].revents().is_empty() {
            if let Some(w) = waker {
                w.drain();
            }
            return Ok(Ready::Woken);
        }
        if !ready.is_empty() {
            return Ok(Ready::Readable);
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                return Ok(Ready::TimedOut);
            }
        }
    }
}

/// True when the socket has something to read right now.
pub(crate) fn readable_now(fd: &impl AsFd) -> bool {
    matches!(
        wait_readable(fd, None, Some(Instant::now())),
        Ok(Ready::Readable) | Err(_)
    )
}

/// What a read got: the one outcome of every read of a connection, here
/// and in [`io`](crate::io) and the read buffer above it. Each read says
/// which variants it returns: a read that does not wait ([`read_now`],
/// `Io::read`) gets `Data`, `Eof` or `WouldBlock`; a read that first
/// waits (`Io::fill`, `ReadBuf::fill`) gets `Data`, `Eof`, `TimedOut` or
/// `Woken`.
///
/// (A wait alone reports [`Ready`]: whether there is something to read,
/// not what a read got.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Got {
    /// Bytes (plaintext, with TLS): this many.
    Data(usize),
    /// The peer closed (a FIN, or TLS `close_notify`).
    Eof,
    /// Nothing there yet (or, with TLS, bytes but no plaintext: a
    /// handshake or a partial record): wait for the socket again.
    WouldBlock,
    /// The deadline of the wait passed first.
    TimedOut,
    /// The wait's waker fired.
    Woken,
}

/// Reads what is there without waiting (`MSG_DONTWAIT`: the socket stays
/// blocking for every other read): one syscall where a `poll` and a read
/// would be two. Gets [`Got::Data`], [`Got::Eof`] or [`Got::WouldBlock`].
pub(crate) fn read_now(fd: &impl AsFd, out: &mut [u8]) -> io::Result<Got> {
    loop {
        return match rustix::net::recv(fd, &mut *out, rustix::net::RecvFlags::DONTWAIT) {
            Ok((0, _)) => Ok(Got::Eof),
            Ok((n, _)) => Ok(Got::Data(n)),
            Err(rustix::io::Errno::AGAIN) => Ok(Got::WouldBlock),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// A writer that sends what fits in the socket now (`MSG_DONTWAIT`) and
/// reports `WouldBlock` for the rest; the socket stays blocking for every
/// other write.
pub(crate) struct SendNow<'a>(pub(crate) &'a Stream);

impl io::Write for SendNow<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
        loop {
            return match rustix::net::send(self.0, buf, flags) {
                Err(rustix::io::Errno::INTR) => continue,
                r => r.map_err(io::Error::from),
            };
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Applies the per-connection socket options to an accepted TCP stream.
pub(crate) fn tune_tcp(stream: &TcpStream, cfg: &crate::config::Config) -> io::Result<()> {
    tune_sock(&socket2::SockRef::from(stream), cfg)
}

/// TCP_NODELAY and keepalive, on a connection or a listener.
fn tune_sock(sock: &socket2::SockRef<'_>, cfg: &crate::config::Config) -> io::Result<()> {
    sock.set_tcp_nodelay(true)?;
    if let Some(time) = cfg.socket.tcp_keepalive {
        let mut ka = socket2::TcpKeepalive::new().with_time(time);
        if let Some(interval) = cfg.socket.tcp_keepalive_interval {
            ka = ka.with_interval(interval);
        }
        if let Some(retries) = cfg.socket.tcp_keepalive_retries {
            ka = ka.with_retries(retries);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The drain keeps its SYN filter through the close only when no other
    /// descriptor of this process names the socket.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_clone_of_the_listener_is_seen_as_another_descriptor() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(only_descriptor(&listener), "another socket is not a copy");
        let copy = listener.try_clone().unwrap();
        assert!(!only_descriptor(&listener));
        assert!(!only_descriptor(&copy));
        drop(copy);
        assert!(only_descriptor(&listener));
        drop(other);
    }

    /// What `Listener::tune` relies on: accepted sockets carry the
    /// listener's options (checked where it claims so).
    #[test]
    fn accepted_sockets_inherit_the_listener_options() {
        let mut cfg = Config::default();
        cfg.timeouts.write = Duration::from_secs(7);
        cfg.socket.tcp_keepalive = Some(Duration::from_secs(77));
        let listener = Listener::owned_tcp(bind_tcp("127.0.0.1:0".parse().unwrap(), 8).unwrap());
        let inherits = listener.tune(&cfg);
        assert_eq!(inherits, cfg!(target_os = "linux"));
        let Listener::Tcp(l) = &listener else {
            unreachable!()
        };
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let accepted = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(
                        &listener,
                        None,
                        Some(Instant::now() + Duration::from_secs(5)),
                    )
                    .unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        };
        if !inherits {
            return;
        }
        let s = socket2::SockRef::from(&accepted);
        assert!(s.tcp_nodelay().unwrap());
        assert!(s.keepalive().unwrap());
        assert_eq!(s.tcp_keepalive_time().unwrap(), Duration::from_secs(77));
        assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(7)));
        assert_eq!(listener.fixed_local(), Some(l.local_addr().unwrap()));
    }
}
