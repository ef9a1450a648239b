//! HTTPS: real clients (ureq with rustls, and curl), the drain rules over
//! TLS (in-flight completes, idle closes with close_notify and FIN, the
//! deadline kills and counts), and clear errors for bad certificates.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use courteous::testing::{
    in_thread, wait_until, Ending, Gate, RawClient, Socket, TempDir, TestServer,
};
use courteous::{Error, Request, Response, Server};
use rustls::pki_types::{CertificateDer, ServerName};

mod common;
use common::T;

/// A self-signed certificate for localhost and 127.0.0.1, as PEM files in
/// a directory of this test's own.
struct Certs {
    dir: TempDir,
    cert_pem: String,
}

impl Certs {
    fn new(name: &str) -> Certs {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("certificate");
        let dir = TempDir::new(name);
        let cert_pem = ck.cert.pem();
        std::fs::write(dir.join("cert.pem"), &cert_pem).expect("write cert");
        std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).expect("write key");
        Certs { dir, cert_pem }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn server(&self, builder: courteous::Builder, handler: impl courteous::Handler) -> TestServer {
        let server = builder
            .tls_pem(self.cert(), self.key())
            .bind("127.0.0.1:0")
            .expect("bind with TLS");
        TestServer::serve(server, handler)
    }

    /// A rustls client config that trusts this certificate only.
    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).expect("cert der");
        roots.add(der).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A raw client speaking TLS, reporting how the connection ended.
    fn raw(&self, addr: SocketAddr) -> RawClient<Tls> {
        let conn = rustls::ClientConnection::new(
            self.client_config(),
            ServerName::try_from("localhost").expect("name"),
        )
        .expect("client session");
        let tcp = TcpStream::connect(addr).expect("connect");
        RawClient::new(Tls(rustls::StreamOwned::new(conn, tcp)))
    }

    fn agent(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(self.cert_pem.as_bytes()).expect("pem");
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into()
    }
}

use rustls::pki_types::pem::PemObject;

/// rustls over TCP, for the raw client.
#[derive(Debug)]
struct Tls(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Socket for Tls {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.0.sock.set_read_timeout(t)
    }
    fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        self.0.sock.shutdown(how)
    }
}

fn hello(req: &mut Request) -> Response {
    assert!(req.conn().is_tls());
    Response::text("hello\n")
}

#[test]
fn ureq_and_curl_get_answers_over_https() {
    let certs = Certs::new("clients");
    let server = certs.server(Server::builder(), hello);
    let url = format!("https://127.0.0.1:{}/hello", server.local_addr().port());
    let mut resp = certs.agent().get(&url).call().expect("ureq over TLS");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body_mut().read_to_string().expect("body"), "hello\n");

    let out = Command::new("curl")
        .args(["-sS", "--http1.1", "--cacert"])
        .arg(certs.cert())
        .arg(&url)
        .output()
        .expect("curl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    server.stop().expect("stop");
}

#[test]
fn keep_alive_and_bodies_over_tls() {
    let certs = Certs::new("keepalive");
    let server = certs.server(Server::builder(), |req: &mut Request| {
        let mut body = Vec::new();
        let _ = req.body_mut().read_to_end(&mut body);
        Response::bytes(body)
    });
    let mut c = certs.raw(server.local_addr());
    for i in 0..3 {
        let body = format!("round {i} ").repeat(5000);
        let head = format!(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.send(head.as_bytes()).expect("send head");
        c.send(body.as_bytes()).expect("send body");
        let r = c.read_response(T).expect("response");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body.as_bytes());
    }
    assert_eq!(
        server.handle().stats().accepted,
        1,
        "one connection, kept alive"
    );
    server.stop().expect("stop");
}

#[test]
fn in_flight_completes_and_idle_gets_close_notify_then_fin() {
    let certs = Certs::new("drain");
    let gate = Gate::new();
    let g = gate.clone();
    let server = certs.server(
        Server::builder().drain_grace(Duration::ZERO),
        move |req: &mut Request| {
            if req.uri().path() == "/hold" {
                g.wait();
            }
            Response::text("done\n")
        },
    );
    let mut idle = certs.raw(server.local_addr());
    assert_eq!(idle.get("/", T).expect("response").status, 200);
    let mut busy = certs.raw(server.local_addr());
    busy.send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    wait_until(&handle, |s| s.idle == 1, T).expect("one idle");
    assert!(handle.close());
    // close_notify makes rustls report a clean end (Ok(0)): Eof, where a
    // bare FIN would be an UnexpectedEof error.
    assert_eq!(idle.read_end(T), Ending::Eof);
    gate.open();
    let r = busy
        .read_response(T)
        .expect("the in-flight request completes");
    assert_eq!(r.status, 200);
    assert!(r.connection_close());
    assert_eq!(busy.read_end(T), Ending::Eof);
    server.stop().expect("stop");
}

#[test]
fn deadline_kills_tls_connections_and_counts_them() {
    let certs = Certs::new("deadline");
    let gate = Gate::new();
    let g = gate.clone();
    let server = certs.server(
        Server::builder().shutdown_timeout(Duration::from_millis(100)),
        move |_: &mut Request| {
            g.wait();
            "late\n"
        },
    );
    let mut stuck = certs.raw(server.local_addr());
    stuck
        .send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    assert!(gate.wait_parked(1, T));
    let handle = server.handle();
    server.stop().expect("serve returns at the deadline");
    assert_eq!(handle.stats().killed, 1);
    assert!(
        stuck.read_response(T).is_err(),
        "no response after the kill"
    );
    gate.open();
}

#[test]
fn a_silent_tcp_client_does_not_stall_tls_clients() {
    let certs = Certs::new("silent");
    let server = certs.server(Server::builder().workers(1), hello);
    // Connects and says nothing: no handshake to wait for on the accept
    // thread, and the only worker parks it when another client comes.
    let _silent = TcpStream::connect(server.local_addr()).expect("connect");
    wait_until(&server.handle(), |s| s.new == 1, T).expect("accepted");
    let mut c = certs.raw(server.local_addr());
    assert_eq!(c.get("/", T).expect("served").status, 200);
    server.stop().expect("stop");
}

#[test]
fn bad_certificate_or_key_is_a_clear_error_at_bind() {
    let certs = Certs::new("bad");
    let missing = Server::builder()
        .tls_pem(certs.dir.join("nope.pem"), certs.key())
        .bind("127.0.0.1:0");
    match missing {
        Err(Error::Tls(courteous::TlsError::Pem { what, source })) => {
            assert!(what.ends_with("nope.pem"), "{what}");
            assert!(
                matches!(source, rustls::pki_types::pem::Error::Io(_)),
                "{source:?}"
            );
        }
        other => panic!("expected Error::Tls, got {other:?}"),
    }
    let garbage = Server::builder()
        .tls_pem(certs.cert(), b"not a key".as_slice())
        .bind("127.0.0.1:0");
    assert!(
        matches!(garbage, Err(Error::Tls(courteous::TlsError::Pem { .. }))),
        "{garbage:?}"
    );
    let swapped = Server::builder()
        .tls_pem(certs.key(), certs.cert())
        .bind("127.0.0.1:0");
    // Each error is said once: the display names the step, the source
    // chain gives the cause.
    let err = swapped.expect_err("a certificate where the key goes");
    let chain: Vec<String> =
        std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect();
    assert_eq!(chain[0], "TLS setup failed");
    for pair in chain.windows(2) {
        assert!(!pair[0].contains(&pair[1]), "said twice: {chain:?}");
    }
}

#[test]
fn tls_config_of_your_own_is_used() {
    let certs = Certs::new("own");
    let chain = CertificateDer::pem_file_iter(certs.cert())
        .expect("read")
        .collect::<Result<Vec<_>, _>>()
        .expect("parse");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(certs.key()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("config");
    let server = Server::builder()
        .tls_config(Arc::new(config))
        .bind("127.0.0.1:0")
        .expect("bind");
    let server = TestServer::serve(server, hello);
    let mut c = certs.raw(server.local_addr());
    assert_eq!(c.get("/", T).expect("served").status, 200);
    server.stop().expect("stop");
}

#[test]
fn listen_and_serve_tls_serves_the_default_server() {
    let certs = Certs::new("free-function");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (cert, key) = (certs.cert(), certs.key());
    let serving = std::thread::spawn(move || {
        courteous::compat::listen_and_serve_tls(("127.0.0.1", port), cert, key, hello)
    });
    let handle = courteous::compat::handle();
    wait_until(&handle, |s| s.listening, T).expect("listening");
    let mut c = certs.raw(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(c.get("/", T).expect("served").text(), "hello\n");
    drop(c);
    assert!(courteous::compat::close());
    let result = in_thread(move || serving.join())
        .recv_timeout(T)
        .expect("serve returned")
        .expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    // A bad key path is an error, not a panic, and leaves the server ready.
    let bad = courteous::compat::listen_and_serve_tls(
        "127.0.0.1:0",
        certs.cert(),
        "/nonexistent/key.pem",
        hello,
    );
    assert!(matches!(bad, Err(Error::Tls(_))), "{bad:?}");
}

/// A pooled HTTPS client that never reads its idle socket again (requests,
/// Java pools) does not hold the drain: it gets close_notify and our FIN,
/// and `serve` returns at once, not a linger (500 ms) later.
#[test]
fn pooled_https_clients_that_never_read_do_not_hold_serve() {
    let certs = Certs::new("pooled");
    let mut server = certs.server(Server::builder().drain_grace(Duration::ZERO), hello);
    let handle = server.handle();
    let mut pool: Vec<_> = (0..20)
        .map(|_| {
            let mut c = certs.raw(server.local_addr());
            assert_eq!(c.get("/", T).expect("response").status, 200);
            c
        })
        .collect();
    wait_until(&handle, |s| s.idle == 20, T).expect("all idle");
    let closed_at = std::time::Instant::now();
    assert!(handle.close());
    server.join(T).expect("serve returned").expect("serve ok");
    let after = closed_at.elapsed();
    assert!(
        after < Duration::from_millis(150),
        "serve returned {after:?} after close"
    );
    for c in &mut pool {
        assert_eq!(c.read_end(T), Ending::Eof, "close_notify, then the FIN");
    }
}
