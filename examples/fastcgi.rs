//! A FastCGI responder behind nginx, draining on SIGTERM like the HTTP
//! server does.
//!
//! ```text
//! cargo run --example fastcgi -- [--path /tmp/courteous-fcgi.sock]
//! ```
//!
//! nginx:
//!
//! ```text
//! upstream courteous {
//!     server unix:/tmp/courteous-fcgi.sock;
//!     keepalive 8;                  # reuse connections between requests
//! }
//! server {
//!     listen 8080;
//!     location / {
//!         include fastcgi_params;
//!         fastcgi_param REQUEST_URI $request_uri;
//!         fastcgi_keep_conn on;     # FCGI_KEEP_CONN, needed by keepalive
//!         fastcgi_pass courteous;
//!     }
//! }
//! ```
//!
//! Or without a web server, with Debian's `cgi-fcgi` (package libfcgi-bin):
//! `REQUEST_METHOD=GET REQUEST_URI=/ cgi-fcgi -bind -connect /tmp/courteous-fcgi.sock`

use courteous::{Request, Response, Server};

fn main() {
    let mut path = String::from("/tmp/courteous-fcgi.sock");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--path", Some(p)) => path = p,
            _ => {
                eprintln!("usage: fastcgi [--path SOCKET]");
                std::process::exit(2);
            }
        }
    }
    let run = || -> Result<(), courteous::Error> {
        let server = Server::builder().fastcgi(true).bind_unix(&path)?;
        server
            .handle()
            .close_on_signals(courteous::DEFAULT_SIGNALS)?;
        println!("fastcgi: responder on {}", server.addr());
        server.serve(|req: &mut Request| {
            Response::text(format!(
                "hello from FastCGI: {} {} for {:?}\n",
                req.method(),
                req.uri(),
                req.remote_addr()
            ))
        })
    };
    if let Err(e) = run() {
        eprintln!("fastcgi: {e}");
        std::process::exit(1);
    }
}
