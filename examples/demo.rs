//! The drain demo, driven from outside by tests and people alike.
//!
//! ```text
//! cargo run --release --example demo -- --addr 127.0.0.1:PORT [--timeout-ms N] [--workers N]
//! ```
//!
//! Prints `listening ADDR` once accepting. Routes: `GET /hello` → `hello`;
//! `GET /sleep?ms=N` → sleeps N ms, then `slept N`; `POST /echo` → the
//! body back. SIGTERM or SIGINT drains; when `serve` returns it prints
//! `drained killed=K` and exits 0.

use std::io::{Read, Write};
use std::time::Duration;

use courteous::http::{Method, StatusCode};
use courteous::{Request, Response, Server, SIGINT, SIGTERM};

struct Args {
    addr: String,
    timeout_ms: Option<u64>,
    workers: Option<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        timeout_ms: None,
        workers: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--addr" => args.addr = value(),
            "--timeout-ms" => {
                args.timeout_ms = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("bad --timeout-ms")),
                )
            }
            "--workers" => {
                args.workers = Some(value().parse().unwrap_or_else(|_| usage("bad --workers")))
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("demo: {why}");
    eprintln!("usage: demo --addr HOST:PORT [--timeout-ms N] [--workers N]");
    std::process::exit(2);
}

fn route(req: &mut Request) -> Response {
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/hello") => Response::text("hello\n"),
        (Method::GET, "/sleep") => {
            let ms: u64 = req
                .uri()
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            std::thread::sleep(Duration::from_millis(ms));
            Response::text(format!("slept {ms}\n"))
        }
        (Method::POST, "/echo") => {
            let mut body = Vec::new();
            match req.body_mut().read_to_end(&mut body) {
                Ok(_) => Response::bytes(body),
                Err(e) => {
                    Response::text(format!("bad body: {e}\n")).with_status(StatusCode::BAD_REQUEST)
                }
            }
        }
        _ => Response::text("not found\n").with_status(StatusCode::NOT_FOUND),
    }
}

fn main() {
    let args = parse_args();
    let mut builder = Server::builder();
    if let Some(ms) = args.timeout_ms {
        builder = builder.shutdown_timeout(Duration::from_millis(ms));
    }
    if let Some(n) = args.workers {
        builder = builder.workers(n);
    }
    let server = match builder.bind(&args.addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    };
    let handle = server.handle();
    if let Err(e) = handle.close_on_signals(&[SIGTERM, SIGINT]) {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
    // The listener is bound (and the kernel queues connects) from here on.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening {}", server.addr());
    let _ = out.flush();
    if let Err(e) = server.serve(route) {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
    let _ = writeln!(out, "drained killed={}", handle.connections_killed());
    let _ = out.flush();
}
