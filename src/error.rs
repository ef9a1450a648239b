//! The crate's one error type.

use std::fmt;
use std::io;

/// Everything that can go wrong in this crate's public API.
///
/// It displays as a sentence, implements [`std::error::Error`] (with the
/// operating system's error as its source where there is one), and comes
/// from an [`io::Error`] by `?`.
///
/// # Examples
///
/// `serve` on a server that is already serving says so:
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::wait_until;
/// use courteous::{Error, Request, Server};
///
/// let server = Server::bind("127.0.0.1:0")?;
/// let handle = server.handle();
/// std::thread::scope(|s| {
///     let first = s.spawn(|| server.serve(|_: &mut Request| "hi\n"));
///     wait_until(&handle, |st| st.listening, Duration::from_secs(5)).unwrap();
///     match server.serve(|_: &mut Request| "again\n") {
///         Err(Error::NotReady { quitting: false }) => println!("already serving"),
///         Err(Error::NotReady { quitting: true }) => println!("still draining: try later"),
///         other => panic!("unexpected: {other:?}"),
///     }
///     handle.close();
///     first.join().unwrap()
/// })?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// A port already taken:
///
/// ```
/// use courteous::{Error, Server};
///
/// let first = Server::bind("127.0.0.1:0")?;
/// match Server::bind(first.local_addr().unwrap()) {
///     Err(Error::Bind { addr, source }) => {
///         assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
///         eprintln!("cannot listen on {addr}: {source}");
///     }
///     other => panic!("unexpected: {other:?}"),
/// }
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server cannot serve now. `quitting: false`: it is already
    /// serving; `quitting: true`: it is still draining from a close. The
    /// same server serves again once `serve` has returned.
    NotReady {
        /// True while a drain is still running.
        quitting: bool,
    },
    /// No listener could be bound at the address.
    Bind {
        /// The address that failed, as text.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// A signal cannot be handled: not a signal number, one no program may
    /// catch (SIGKILL, SIGSTOP, the fault signals), one this server
    /// already handles for another purpose, or the system refused it.
    Signal {
        /// The signal number asked for.
        signal: i32,
        /// Why (its message says it).
        source: io::Error,
    },
    /// A thread the server needs could not be started.
    Spawn(io::Error),
    /// The TLS certificate or key could not be loaded or used (the message
    /// names the file and the cause).
    Tls(String),
    /// Any other I/O error from the operating system.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotReady { quitting: false } => f.write_str("server is already serving"),
            Error::NotReady { quitting: true } => f.write_str("server is still draining"),
            Error::Bind { addr, source } => write!(f, "cannot bind {addr}: {source}"),
            Error::Signal { signal, .. } => write!(f, "cannot handle signal {signal}"),
            Error::Spawn(_) => f.write_str("cannot start a thread"),
            Error::Tls(e) => write!(f, "TLS setup failed: {e}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } => Some(source),
            Error::Signal { source, .. } => Some(source),
            Error::Spawn(e) | Error::Io(e) => Some(e),
            Error::NotReady { .. } | Error::Tls(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
