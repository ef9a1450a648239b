//! HTTPS with rustls: configuration from PEM (files or bytes) with the ring
//! provider named explicitly (never the process default, which panics when
//! two providers are linked), and the per-connection TLS operations the
//! connection's [`Io`](crate::io::Io) uses.
//!
//! The handshake runs on the worker, inside the first request-head read,
//! so it is bounded by the header-read timeout and a client that connects
//! and says nothing cannot stall the accept loop. A drain sends
//! `close_notify` before the FIN.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::error::{Error, TlsError};

/// Where PEM text comes from: a file, or bytes in memory. What
/// [`Builder::tls_pem`](crate::Builder::tls_pem) takes: paths (`&str`,
/// `&Path`, `PathBuf`) convert to [`Pem::File`], bytes (`Vec<u8>`,
/// `&[u8]`) to [`Pem::Bytes`].
///
/// # Examples
///
/// ```
/// use std::path::PathBuf;
/// use courteous::Pem;
///
/// assert!(matches!(Pem::from("/etc/app/cert.pem"), Pem::File(p) if p == PathBuf::from("/etc/app/cert.pem")));
/// let key = std::env::var("APP_TLS_KEY").unwrap_or_default(); // PEM text from the environment
/// assert!(matches!(Pem::from(key.into_bytes()), Pem::Bytes(_)));
///
/// // Nothing is read until the server binds; then a bad source is an error.
/// let result = courteous::Server::builder()
///     .tls_pem(Pem::Bytes(b"not PEM".to_vec()), Pem::Bytes(Vec::new()))
///     .bind("127.0.0.1:0");
/// assert!(matches!(result, Err(courteous::Error::Tls(_))));
/// ```
#[derive(Debug, Clone)]
pub enum Pem {
    /// A PEM file on disk, read at bind time.
    File(PathBuf),
    /// PEM text.
    Bytes(Vec<u8>),
}

impl From<&Path> for Pem {
    fn from(p: &Path) -> Self {
        Pem::File(p.to_path_buf())
    }
}

impl From<PathBuf> for Pem {
    fn from(p: PathBuf) -> Self {
        Pem::File(p)
    }
}

impl From<&str> for Pem {
    /// A path.
    fn from(p: &str) -> Self {
        Pem::File(PathBuf::from(p))
    }
}

impl From<Vec<u8>> for Pem {
    fn from(b: Vec<u8>) -> Self {
        Pem::Bytes(b)
    }
}

impl From<&[u8]> for Pem {
    fn from(b: &[u8]) -> Self {
        Pem::Bytes(b.to_vec())
    }
}

impl Pem {
    fn describe(&self) -> String {
        match self {
            Pem::File(p) => p.display().to_string(),
            Pem::Bytes(_) => "PEM bytes".into(),
        }
    }
}

fn pem_error(what: &Pem, source: rustls::pki_types::pem::Error) -> Error {
    Error::Tls(TlsError::Pem {
        what: what.describe(),
        source,
    })
}

/// The crypto provider every config of ours is built with.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config from a certificate chain and a private key, with ALPN
/// `http/1.1`.
pub(crate) fn config_from_pem(cert: &Pem, key: &Pem) -> Result<Arc<ServerConfig>, Error> {
    let certs: Vec<CertificateDer<'static>> = match cert {
        Pem::File(p) => CertificateDer::pem_file_iter(p)
            .map_err(|e| pem_error(cert, e))?
            .collect::<Result<_, _>>(),
        Pem::Bytes(b) => CertificateDer::pem_slice_iter(b).collect::<Result<_, _>>(),
    }
    .map_err(|e| pem_error(cert, e))?;
    if certs.is_empty() {
        return Err(Error::Tls(TlsError::NoCertificate {
            what: cert.describe(),
        }));
    }
    let key_der = match key {
        Pem::File(p) => PrivateKeyDer::from_pem_file(p),
        Pem::Bytes(b) => PrivateKeyDer::from_pem_slice(b),
    }
    .map_err(|e| pem_error(key, e))?;
    let refused = |source| {
        Error::Tls(TlsError::Rustls {
            what: key.describe(),
            source,
        })
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(refused)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A new server-side TLS session.
pub(crate) fn accept(config: &Arc<ServerConfig>) -> io::Result<Box<rustls::ServerConnection>> {
    rustls::ServerConnection::new(config.clone())
        .map(Box::new)
        .map_err(io::Error::other)
}
