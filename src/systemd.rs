//! systemd's two protocols, both also used by [`restart`](crate::restart):
//! socket activation (the listening socket arrives as descriptor 3, with
//! `LISTEN_FDS`) and readiness notification (`READY=1` sent to the
//! datagram socket named by `NOTIFY_SOCKET`).

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::error::Error;
use crate::net::{Listener, UnixSocket};

/// Takes the first socket systemd (or a restarting parent) passed: TCP or
/// Unix. `LISTEN_PID` is honoured when set; `LISTEN_FDS`, `LISTEN_PID` and
/// `LISTEN_FDNAMES` are cleared so that our own children do not inherit
/// them (facebookgo/grace's issue 44).
pub(crate) fn take_listener() -> Result<Listener, Error> {
    let mut fds = listenfd::ListenFd::from_env();
    // listenfd clears LISTEN_FDS and LISTEN_PID; the names go too.
    std::env::remove_var("LISTEN_FDNAMES");
    if fds.len() == 0 {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::NotFound,
            "no socket passed: LISTEN_FDS is not set (or LISTEN_PID is another process)",
        )));
    }
    if let Ok(Some(l)) = fds.take_tcp_listener(0) {
        l.set_nonblocking(true)?;
        return Ok(Listener::shared_tcp(l));
    }
    match fds.take_unix_listener(0)? {
        Some(l) => {
            l.set_nonblocking(true)?;
            let path = l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Path::to_path_buf))
                .unwrap_or_default();
            Ok(Listener::Unix(UnixSocket {
                listener: l,
                path,
                // Not ours to remove: it outlives this process.
                remove_on_close: false.into(),
            }))
        }
        None => Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the passed descriptor is not a listening TCP or Unix stream socket",
        ))),
    }
}

/// Tells the supervisor (systemd with `Type=notify`, or a restarting
/// parent) that this process accepts connections. Nothing happens without
/// `NOTIFY_SOCKET`.
pub(crate) fn notify_ready() {
    let msg = format!("READY=1\nMAINPID={}\n", std::process::id());
    if let Err(e) = notify(&msg) {
        log::warn!("courteous: readiness notification failed: {e}");
    }
}

/// Sends `state` to `NOTIFY_SOCKET`; `Ok(false)` when it is not set.
pub(crate) fn notify(state: &str) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    send_to(&target, state.as_bytes())?;
    Ok(true)
}

/// Sends a datagram to a `NOTIFY_SOCKET` address: a path, or (Linux) an
/// abstract name written with a leading `@`.
pub(crate) fn send_to(target: &std::ffi::OsStr, msg: &[u8]) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let bytes = target.as_encoded_bytes();
    #[cfg(target_os = "linux")]
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(msg, &addr)?;
        return Ok(());
    }
    let _ = bytes;
    sock.send_to(msg, Path::new(target))?;
    Ok(())
}
