//! HTTPS with rustls, draining on Ctrl-C.
//!
//! ```text
//! cargo run --example tls -- --cert cert.pem --key key.pem [--addr 127.0.0.1:8443]
//! curl --cacert cert.pem https://localhost:8443/
//! ```
//!
//! A test certificate: `openssl req -x509 -newkey rsa:2048 -nodes -subj
//! /CN=localhost -addext subjectAltName=DNS:localhost -keyout key.pem -out
//! cert.pem`.

use courteous::{Request, Response, Server};

fn main() {
    let mut addr = String::from("127.0.0.1:8443");
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--addr", Some(v)) => addr = v,
            ("--cert", Some(v)) => cert = Some(v),
            ("--key", Some(v)) => key = Some(v),
            _ => usage(),
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        usage()
    };
    let run = || -> Result<(), courteous::Error> {
        let server = Server::builder()
            .tls_pem(cert.as_str(), key.as_str())
            .bind(&addr)?;
        server
            .handle()
            .close_on_signals(courteous::DEFAULT_SIGNALS)?;
        println!("tls: listening on https://{}", server.addr());
        server.serve(|req: &mut Request| {
            Response::text(format!(
                "hello over {}\n",
                if req.is_https() { "TLS" } else { "TCP" }
            ))
        })
    };
    if let Err(e) = run() {
        eprintln!("tls: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: tls --cert CERT.pem --key KEY.pem [--addr HOST:PORT]");
    std::process::exit(2);
}
