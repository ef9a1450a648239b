//! What the kernel knows of a TCP connection after our FIN: whether every
//! byte of ours before it was acknowledged (the response is in the peer's
//! kernel), whether the FIN itself was, and the smoothed round-trip time.
//! The lingering close ends on it (see [`idle`](crate::idle)).
//!
//! # The one `unsafe` in this crate
//!
//! Linux tells this through `getsockopt(TCP_INFO)` and the `SIOCOUTQ`
//! ioctl, which neither rustix nor socket2 wraps (the crates that do are
//! small bindgen builds). So this module makes the two calls itself,
//! through `libc`, in one function reviewed for these points:
//!
//! - the `TCP_INFO` buffer is a `libc::tcp_info`, zero-initialised (every
//!   field is a plain integer, so all-zero bytes are a valid value), and
//!   the length passed is its size: the kernel writes at most that many
//!   bytes (fewer on an older kernel, leaving zeros, which is why the
//!   length it returns is checked to cover the fields read);
//! - the `SIOCOUTQ` argument is a pointer to a `c_int`, which is what the
//!   kernel writes for it;
//! - the descriptor is borrowed for the calls (`BorrowedFd`), so it is open;
//! - nothing is kept past the calls.
//!
//! Elsewhere the crate keeps `#![deny(unsafe_code)]`; this module alone
//! allows it.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// A TCP connection's state after our FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AfterFin {
    /// The peer acknowledged our FIN, and so every byte we sent before it.
    pub(crate) acked: bool,
    /// Every byte we sent before the FIN is acknowledged, and the FIN has
    /// left (only its own acknowledgement may be missing: a peer that reads
    /// nothing delays it, by 40 ms on Linux).
    pub(crate) delivered: bool,
    /// Smoothed round-trip time.
    pub(crate) rtt: Duration,
    /// Its variation.
    pub(crate) rtt_var: Duration,
}

// From linux/tcp_states.h.
const FIN_WAIT1: u8 = 4;
const FIN_WAIT2: u8 = 5;
const TIME_WAIT: u8 = 6;
const CLOSE: u8 = 7;
const LAST_ACK: u8 = 9;
const CLOSING: u8 = 11;

/// Reads the connection's state; fails on a socket that is not TCP (or
/// off Linux).
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
pub(crate) fn after_fin(socket: &impl AsFd) -> io::Result<AfterFin> {
    let fd = socket.as_fd();
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let size = std::mem::size_of::<libc::tcp_info>();
    let mut len = size as libc::socklen_t;
    // SAFETY: `info` is a writable buffer of `len` bytes that lives for the
    // call; `fd` is an open descriptor borrowed for the call; the kernel
    // writes at most `len` bytes and stores the count in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: every field of `tcp_info` is an integer, so the zeroed bytes
    // were already a valid value, and the kernel wrote integers over them.
    let info = unsafe { info.assume_init() };
    // The fields read below end with `tcpi_rttvar` (kernels since 2.6).
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_rttvar) + 4;
    if (len as usize) < needed {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP_INFO too short",
        ));
    }
    let acked = matches!(info.tcpi_state, FIN_WAIT2 | TIME_WAIT | CLOSE);
    // Bytes not sent yet (kernels since 4.6; zero, so unknown, before).
    let has_notsent =
        (len as usize) >= std::mem::offset_of!(libc::tcp_info, tcpi_notsent_bytes) + 4;
    let mut outq: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ's number) writes one `c_int`, the bytes
    // written and not yet acknowledged, through the pointer; `outq` lives
    // for the call; `fd` is open for the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut outq) };
    // Our FIN is queued (these states), and sent once nothing is left
    // unsent; it takes one sequence number, so 1 unacknowledged means only
    // the FIN is.
    let fin_queued = matches!(info.tcpi_state, FIN_WAIT1 | LAST_ACK | CLOSING);
    let delivered = acked
        || (fin_queued && rc == 0 && has_notsent && outq <= 1 && info.tcpi_notsent_bytes == 0);
    Ok(AfterFin {
        acked,
        delivered,
        rtt: Duration::from_micros(info.tcpi_rtt.into()),
        rtt_var: Duration::from_micros(info.tcpi_rttvar.into()),
    })
}

#[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
pub(crate) fn after_fin(_socket: &impl AsFd) -> io::Result<AfterFin> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_INFO is read on Linux (glibc or musl) only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::time::Instant;

    /// Polls (bounded) until `f` holds for the state.
    fn until(s: &TcpStream, f: impl Fn(&AfterFin) -> bool) -> AfterFin {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let st = after_fin(s).expect("TCP_INFO");
            if f(&st) || Instant::now() > deadline {
                return st;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn our_fin_is_acknowledged_by_a_peer_that_keeps_its_socket_open() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        let open = after_fin(&server).unwrap();
        assert!(!open.acked, "no FIN sent yet: {open:?}");
        assert!(!open.delivered, "no FIN sent yet: {open:?}");
        server.shutdown(Shutdown::Write).unwrap();
        // The client's kernel acknowledges at once, though the client
        // reads nothing yet.
        let st = until(&server, |s| s.acked);
        assert!(st.acked && st.delivered, "{st:?}");
        assert!(st.rtt < Duration::from_secs(1), "{st:?}");
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).unwrap(), 0, "the client sees our FIN");
    }

    #[test]
    fn a_response_is_delivered_before_the_fin_is_acknowledged() {
        use std::io::Write;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut server, _) = l.accept().unwrap();
        server.write_all(&[b'x'; 10_000]).unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        // The client reads nothing: its kernel acknowledges the data at
        // once, the FIN only after its delayed-ACK timer.
        let st = until(&server, |s| s.delivered);
        assert!(st.delivered, "{st:?}");
    }

    #[test]
    fn a_socket_that_is_not_tcp_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(after_fin(&a).is_err());
    }
}
