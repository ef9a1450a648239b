//! Zero-downtime restarts: `kill -USR2 <pid>` starts a fresh copy of this
//! program on the same socket; once it is ready, the old one drains and
//! exits. Not one connection is refused during the swap.
//!
//! ```text
//! cargo build --example restart && ./target/debug/examples/restart &
//! while true; do curl -s localhost:8080/; done     # in another terminal
//! kill -USR2 $(curl -s localhost:8080/pid)          # the pid changes, no error
//! ```
//!
//! Under systemd: `Type=notify`, `NotifyAccess=all`,
//! `ExecReload=/bin/kill -USR2 $MAINPID` (see the crate's `restart` docs).

use courteous::{Request, Response, Server, SIGINT, SIGTERM, SIGUSR2};

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let run = || -> Result<(), courteous::Error> {
        // A restarted copy takes the socket its parent handed down.
        let server = Server::builder().bind_or_activate(addr.as_str())?;
        let handle = server.handle();
        handle.close_on_signals(&[SIGTERM, SIGINT])?;
        handle.restart_on_signal(SIGUSR2)?;
        let pid = std::process::id();
        println!("restart: pid {pid} serving on {}", server.addr());
        server.serve(move |req: &mut Request| match req.uri().path() {
            "/pid" => Response::text(format!("{pid}\n")),
            _ => Response::text(format!("hello from pid {pid}\n")),
        })?;
        println!("restart: pid {pid} drained");
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("restart: {e}");
        std::process::exit(1);
    }
}
