//! An admin server on a Unix socket: only local users who may open the
//! socket file (mode 0660) reach it, and handlers see who they are.
//!
//! ```text
//! cargo run --example unix -- [--path /tmp/courteous-admin.sock]
//! curl --unix-socket /tmp/courteous-admin.sock http://localhost/whoami
//! ```

use courteous::{Request, Response, Server};

fn main() {
    let mut path = String::from("/tmp/courteous-admin.sock");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--path", Some(p)) => path = p,
            _ => {
                eprintln!("usage: unix [--path SOCKET]");
                std::process::exit(2);
            }
        }
    }
    let run = || -> Result<(), courteous::Error> {
        let server = Server::bind_unix(&path)?;
        server
            .handle()
            .close_on_signals(courteous::DEFAULT_SIGNALS)?;
        println!(
            "unix: listening on {} (Ctrl-C drains; the file goes with it)",
            server.addr()
        );
        server.serve(|req: &mut Request| match req.conn().peer_cred() {
            Some(c) => Response::text(format!("uid {} gid {} pid {:?}\n", c.uid, c.gid, c.pid)),
            None => Response::text("no peer credentials on this system\n"),
        })
    };
    if let Err(e) = run() {
        eprintln!("unix: {e}");
        std::process::exit(1);
    }
}
