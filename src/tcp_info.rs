//! What the kernel knows of a TCP connection after our FIN: whether the
//! peer acknowledged it (and so everything before it), and the smoothed
//! round-trip time. The lingering close ends on it (see
//! [`idle`](crate::idle)).
//!
//! # The one `unsafe` in this crate
//!
//! Linux tells this through `getsockopt(TCP_INFO)`, which neither rustix
//! nor socket2 wraps, and the crates that do are small bindgen builds.
//! So this module makes the call itself, through `libc`, in one function
//! reviewed for these points:
//!
//! - the buffer is a `libc::tcp_info`, zero-initialised (every field is a
//!   plain integer, so all-zero bytes are a valid value), and the length
//!   passed is its size: the kernel writes at most that many bytes (fewer
//!   on an older kernel, leaving zeros, which is why the length it returns
//!   is checked to cover the fields read);
//! - the descriptor is borrowed for the call (`BorrowedFd`), so it is open;
//! - nothing is kept past the call.
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
    /// Smoothed round-trip time.
    pub(crate) rtt: Duration,
    /// Its variation.
    pub(crate) rtt_var: Duration,
}

// From linux/tcp_states.h.
const FIN_WAIT2: u8 = 5;
const TIME_WAIT: u8 = 6;
const CLOSE: u8 = 7;

/// Reads the connection's state; fails on a socket that is not TCP (or
/// off Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
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
    Ok(AfterFin {
        acked: matches!(info.tcpi_state, FIN_WAIT2 | TIME_WAIT | CLOSE),
        rtt: Duration::from_micros(info.tcpi_rtt.into()),
        rtt_var: Duration::from_micros(info.tcpi_rttvar.into()),
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn after_fin(_socket: &impl AsFd) -> io::Result<AfterFin> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_INFO is read on Linux only",
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
        server.shutdown(Shutdown::Write).unwrap();
        // The client's kernel acknowledges at once, though the client
        // reads nothing yet.
        let st = until(&server, |s| s.acked);
        assert!(st.acked, "{st:?}");
        assert!(st.rtt < Duration::from_secs(1), "{st:?}");
        let mut buf = [0u8; 1];
        assert_eq!(client.read(&mut buf).unwrap(), 0, "the client sees our FIN");
    }

    #[test]
    fn a_socket_that_is_not_tcp_is_an_error() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(after_fin(&a).is_err());
    }
}
