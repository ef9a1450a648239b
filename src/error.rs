//! The crate's one error type, with the typed causes it carries.

use std::fmt;
use std::io;

/// Everything that can go wrong in this crate's public API.
///
/// It displays as a sentence that says what failed, and its
/// [`source`](std::error::Error::source) is the cause (the operating
/// system's error, the rustls or PEM error, the refused signal's reason):
/// the display never repeats the source, so an error-chain printer shows
/// each part once. It comes from an [`io::Error`] by `?`.
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
///         Err(Error::AlreadyServing) => println!("already serving"),
///         Err(Error::StillDraining) => println!("still draining: try later"),
///         other => panic!("unexpected: {other:?}"),
///     }
///     handle.close();
///     first.join().unwrap()
/// })?;
/// # Ok::<(), courteous::Error>(())
/// ```
///
/// A port already taken, and an address that is not one:
///
/// ```
/// use std::error::Error as _;
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
/// let err = Server::bind("not an address").unwrap_err();
/// assert_eq!(err.to_string(), "cannot bind not an address");
/// assert!(err.source().is_some(), "the lookup's error");
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `serve` was called while the server is already serving (manners'
    /// and graceful's `NotReadyError` without `quitting`).
    AlreadyServing,
    /// `serve` was called while the server is still draining from a close
    /// (`NotReadyError { quitting: true }`): the same server serves again
    /// once the first `serve` has returned.
    StillDraining,
    /// No listener could be bound at the address: it did not parse, its
    /// name did not resolve, or the system refused it.
    Bind {
        /// The address that failed, as given.
        addr: String,
        /// Why.
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
    /// The TLS certificate or key could not be loaded or used.
    Tls(TlsError),
    /// A restart failed; the server goes on serving.
    Restart(RestartError),
    /// Any other I/O error from the operating system.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyServing => f.write_str("the server is already serving"),
            Error::StillDraining => f.write_str("the server is still draining"),
            Error::Bind { addr, .. } => write!(f, "cannot bind {addr}"),
            Error::Signal { signal, .. } => write!(f, "cannot handle signal {signal}"),
            Error::Spawn(_) => f.write_str("cannot start a thread"),
            Error::Tls(_) => f.write_str("TLS setup failed"),
            Error::Restart(_) => f.write_str("restart failed"),
            Error::Io(_) => f.write_str("i/o error"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Signal { source, .. } => Some(source),
            Error::Spawn(e) | Error::Io(e) => Some(e),
            Error::Tls(e) => Some(e),
            Error::Restart(e) => Some(e),
            Error::AlreadyServing | Error::StillDraining => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Why TLS could not be set up, from [`Error::Tls`]. `what` names the
/// file (or says "PEM bytes").
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use courteous::{Error, Pem, Server, TlsError};
///
/// let err = Server::builder()
///     .tls_pem(Pem::Bytes(Vec::new()), Pem::Bytes(Vec::new()))
///     .bind("127.0.0.1:0")
///     .unwrap_err();
/// match &err {
///     Error::Tls(TlsError::NoCertificate { what }) => assert_eq!(what, "PEM bytes"),
///     other => panic!("unexpected: {other:?}"),
/// }
/// assert_eq!(err.source().unwrap().to_string(), "no certificate in PEM bytes");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read, or its contents are not PEM.
    Pem {
        /// The file, or "PEM bytes".
        what: String,
        /// rustls' PEM error (the I/O error of a missing file among them).
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate PEM holds no certificate.
    NoCertificate {
        /// The file, or "PEM bytes".
        what: String,
    },
    /// rustls refused the certificate chain or the key (a key that does
    /// not match the certificate, an unsupported key type).
    Rustls {
        /// The key's file, or "PEM bytes".
        what: String,
        /// rustls' error.
        source: rustls::Error,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { what, .. } => write!(f, "cannot read {what}"),
            TlsError::NoCertificate { what } => write!(f, "no certificate in {what}"),
            TlsError::Rustls { what, .. } => write!(f, "rustls refused {what}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Pem { source, .. } => Some(source),
            TlsError::Rustls { source, .. } => Some(source),
            TlsError::NoCertificate { .. } => None,
        }
    }
}

/// Why a [restart](crate::restart) failed, from [`Error::Restart`]; the
/// old server goes on serving.
///
/// # Examples
///
/// ```
/// use courteous::{Error, RestartError, Server};
///
/// let server = Server::bind("127.0.0.1:0")?;
/// match server.handle().restart() {
///     Err(Error::Restart(RestartError::NotListening)) => {} // serve has not begun
///     other => panic!("unexpected: {other:?}"),
/// }
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RestartError {
    /// The server is not listening (not serving, or already draining).
    NotListening,
    /// The new process could not be started (or its readiness socket
    /// made).
    Start(io::Error),
    /// The new process exited before it said it was ready.
    ExitedBeforeReady(std::process::ExitStatus),
    /// The new process did not say it was ready in time; it was killed.
    NotReadyInTime,
}

impl fmt::Display for RestartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartError::NotListening => f.write_str("the server is not listening"),
            RestartError::Start(_) => f.write_str("the new process could not be started"),
            RestartError::ExitedBeforeReady(status) => {
                write!(f, "the new process exited before it was ready ({status})")
            }
            RestartError::NotReadyInTime => {
                f.write_str("the new process did not become ready in time")
            }
        }
    }
}

impl std::error::Error for RestartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RestartError::Start(e) => Some(e),
            _ => None,
        }
    }
}
