//! Zero-downtime restarts: a graceful re-exec that refuses no connection.
//!
//! ```text
//!  old process (serving)                          new process
//!  SIGUSR2 ──► dup the listening socket
//!              spawn this program again ───────►  socket on fd 3, LISTEN_FDS=1
//!              (same arguments, NOTIFY_SOCKET      Server::builder().bind_or_activate(..)
//!               = a datagram socket of ours)       serve(): listening ──► "READY=1"
//!              wait for READY (no sleep) ◄──────────────────────────────┘
//!              drain: in-flight requests finish;  new connections are accepted
//!              serve returns, the process exits   by the new process all along
//! ```
//!
//! The listening socket is never closed during the swap: the kernel queues
//! connects on it throughout, and both processes accept from it until the
//! old one starts draining, so no connect is refused. If the new process
//! fails before it is ready (or within the timeout), the old one logs it
//! and goes on serving.
//!
//! Use it with [`Builder::bind_or_activate`](crate::Builder::bind_or_activate)
//! (the new process takes the inherited socket instead of binding) and
//! [`Handle::restart_on_signal`](crate::Handle::restart_on_signal):
//!
//! ```no_run
//! use courteous::{Request, Server, SIGUSR2};
//! let server = Server::builder().bind_or_activate("127.0.0.1:8080")?;
//! let handle = server.handle();
//! handle.close_on_signals(&[courteous::SIGTERM, courteous::SIGINT])?;
//! handle.restart_on_signal(SIGUSR2)?;
//! server.serve(|_: &mut Request| "hello\n")?;
//! # Ok::<(), courteous::Error>(())
//! ```
//!
//! ## Supervisors
//!
//! The new process is a child of the old one and outlives it: it is
//! re-parented (to init, or to the nearest subreaper) when the old one
//! exits, and keeps the old one's session, process group, stdin/stdout/
//! stderr and environment. What that means for a supervisor (grace's
//! issue 11, where supervisors lost the child):
//! - systemd: the new process is in the service's cgroup, so systemd keeps
//!   supervising it. With `Type=notify` and `NotifyAccess=all`, the new
//!   process's `READY=1` and `MAINPID` are forwarded to systemd, which then
//!   follows the new main process; the old one exiting is then not a
//!   service failure. Use `ExecReload=/bin/kill -USR2 $MAINPID`.
//! - Supervisors that watch one PID (runit, supervisord, a container's
//!   init process) see the old PID exit and consider the service stopped:
//!   with those, run the server under systemd-style socket activation, or
//!   let the supervisor restart the process instead of re-executing it.
//! - A process group signal (Ctrl-C in a terminal) reaches both processes
//!   while both run.

use std::ffi::OsString;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};

use crate::error::{Error, RestartError};
use crate::state::ServerState;

/// Carries the supervisor's `NOTIFY_SOCKET` (empty: none) down a chain of
/// restarts.
const SUPERVISOR_NOTIFY: &str = "COURTEOUS_SUPERVISOR_NOTIFY";

/// How long the old process waits for the new one to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Re-executes this program with the listening socket, waits until it
/// is ready, then drains this server ([`Handle::restart`](crate::Handle::restart)
/// and the restart signal).
pub(crate) fn restart_shared(shared: &Arc<ServerState>) -> Result<u32, Error> {
    let start = |e| Error::Restart(RestartError::Start(e));
    let listener = shared
        .listener()
        .filter(|_| !shared.is_closing())
        .ok_or(Error::Restart(RestartError::NotListening))?;
    let fd = listener.try_clone_fd().map_err(start)?;
    drop(listener);

    // The supervisor's own notify socket (systemd), passed down the chain
    // of restarts: our NOTIFY_SOCKET is our parent's when we were started
    // by a restart.
    let supervisor = match std::env::var_os(SUPERVISOR_NOTIFY) {
        Some(s) => s,
        None => std::env::var_os("NOTIFY_SOCKET").unwrap_or_default(),
    };
    let notify = NotifySocket::bind().map_err(start)?;
    let exe = std::env::current_exe().map_err(start)?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = Command::new(&exe);
    cmd.args(&args)
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "courteous")
        .env_remove("LISTEN_PID")
        .env("NOTIFY_SOCKET", &notify.path)
        .env(SUPERVISOR_NOTIFY, &supervisor);
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: fd,
        child_fd: 3,
    }])
    .map_err(|_| start(io::Error::other("descriptor mapping collision")))?;
    let mut child = cmd.spawn().map_err(start)?;
    let pid = child.id();
    log::info!("courteous: restart: started {} as pid {pid}", exe.display());

    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if notify.ready(Duration::from_millis(100)).map_err(start)? {
            break;
        }
        if let Some(status) = child.try_wait().map_err(start)? {
            return Err(Error::Restart(RestartError::ExitedBeforeReady(status)));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Restart(RestartError::NotReadyInTime));
        }
    }
    // A supervisor of ours (systemd) learns who the main process is now.
    if !supervisor.is_empty() {
        let msg = format!("MAINPID={pid}\nREADY=1\n");
        if let Err(e) = crate::systemd::send_to(&supervisor, msg.as_bytes()) {
            log::warn!("courteous: restart: cannot tell the supervisor: {e}");
        }
    }
    log::info!("courteous: restart: pid {pid} is ready; draining this process");
    shared.close(None);
    Ok(pid)
}

/// The datagram socket a new process reports readiness to.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind() -> io::Result<NotifySocket> {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "courteous-restart-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path)?;
        Ok(NotifySocket { sock, path })
    }

    /// Waits up to `wait` for a message; true once one says `READY=1`.
    fn ready(&self, wait: Duration) -> io::Result<bool> {
        self.sock.set_read_timeout(Some(wait))?;
        let mut buf = [0u8; 1024];
        match self.sock.recv(&mut buf) {
            Ok(n) => Ok(String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
