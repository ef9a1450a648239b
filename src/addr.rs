//! Where a server listens, and who is at the other end of a Unix socket:
//! plain public values.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a server listens: a TCP address or a Unix socket path. Displays
/// as the address or the path.
///
/// # Examples
///
/// ```
/// use courteous::{Addr, Server};
///
/// let server = Server::bind("127.0.0.1:0")?;
/// match server.addr() {
///     Addr::Tcp(addr) => println!("serving on http://{addr}/"),
///     Addr::Unix(path) => println!("serving on {}", path.display()),
///     other => println!("serving on {other}"),
/// }
/// assert!(server.addr().to_string().starts_with("127.0.0.1:"));
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Addr {
    /// A TCP address (with the real port when bound to port 0).
    Tcp(SocketAddr),
    /// A Unix-domain socket path.
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(a) => a.fmt(f),
            Addr::Unix(p) => p.display().fmt(f),
        }
    }
}

/// The credentials of the process at the other end of a Unix socket, from
/// [`ConnInfo::peer_cred`](crate::ConnInfo::peer_cred) (Linux; `None`
/// elsewhere and on TCP). They are those of the process that connected,
/// taken by the kernel at connect time: they cannot be forged.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courteous::testing::{RawClient, TestServer};
/// use courteous::{Request, Response, Server};
///
/// let path = std::env::temp_dir().join(format!("courteous-doc-{}.sock", std::process::id()));
/// let server = TestServer::serve(Server::bind_unix(&path)?, |req: &mut Request| {
///     match req.conn().peer_cred() {
///         Some(cred) => Response::text(format!("{:?}", cred.pid)),
///         None => Response::text("unknown"),
///     }
/// });
/// let mut client = RawClient::connect_unix(&path).unwrap();
/// let text = client.get("/", Duration::from_secs(5)).unwrap().text();
/// if cfg!(target_os = "linux") {
///     // The client is this very process.
///     assert_eq!(text, format!("{:?}", Some(std::process::id() as i32)));
/// }
/// server.stop()?;
/// # Ok::<(), courteous::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Process id, when the system tells.
    pub pid: Option<i32>,
}
