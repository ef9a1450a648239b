//! The drain demo, driven from outside by tests and people alike.
//!
//! ```text
//! cargo run --release --example demo -- --addr 127.0.0.1:PORT [--timeout-ms N] [--workers N]
//!     [--tls-cert FILE --tls-key FILE]   same routes over HTTPS
//!     [--unix PATH]                      HTTP on a Unix socket instead of TCP
//!     [--fastcgi PATH]                   a FastCGI responder on a Unix socket
//!     [--restart]                        SIGUSR2 re-executes the demo with the socket inherited
//!     [--drain-delay-ms N]               keep serving N ms after the close (health checks fail)
//! ```
//!
//! Prints `listening ADDR` (the address or the socket path) once accepting. Routes: `GET /hello` → `hello`;
//! `GET /sleep?ms=N` → sleeps N ms, then `slept N`; `POST /echo` → the
//! body back; `GET /pid` → the serving process id; `GET /healthz` → 200
//! `ok`, or 503 `draining` once closed. SIGTERM or SIGINT drains (a second
//! one force-closes what is left); when `serve` returns it prints
//! `drained killed=K` and exits 0. With `--restart`, SIGUSR2 starts a fresh
//! copy on the same socket (it prints its own `listening` line), then this
//! one drains and exits 0.

use std::io::{Read, Write};
use std::time::Duration;

use courteous::http::{Method, StatusCode};
use courteous::{Request, Response, Server, SIGINT, SIGTERM, SIGUSR2};

struct Args {
    addr: String,
    timeout_ms: Option<u64>,
    workers: Option<usize>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    unix: Option<String>,
    fastcgi: Option<String>,
    restart: bool,
    drain_delay_ms: Option<u64>,
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        timeout_ms: None,
        workers: None,
        tls_cert: None,
        tls_key: None,
        unix: None,
        fastcgi: None,
        restart: false,
        drain_delay_ms: None,
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
            "--tls-cert" => args.tls_cert = Some(value()),
            "--tls-key" => args.tls_key = Some(value()),
            "--unix" => args.unix = Some(value()),
            "--fastcgi" => args.fastcgi = Some(value()),
            "--restart" => args.restart = true,
            "--drain-delay-ms" => {
                args.drain_delay_ms = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("bad --drain-delay-ms")),
                )
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        usage("--tls-cert and --tls-key go together");
    }
    if args.unix.is_some() && args.fastcgi.is_some() {
        usage("--unix and --fastcgi exclude each other");
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!("demo: {why}");
    eprintln!(
        "usage: demo --addr HOST:PORT [--timeout-ms N] [--workers N] \
         [--tls-cert FILE --tls-key FILE] [--unix PATH | --fastcgi PATH] [--restart] \
         [--drain-delay-ms N]"
    );
    std::process::exit(2);
}

fn route(req: &mut Request) -> Response {
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, "/hello") => Response::text("hello\n"),
        (Method::GET, "/pid") => Response::text(format!("{}\n", std::process::id())),
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
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls_pem(cert.as_str(), key.as_str());
    }
    if let Some(ms) = args.drain_delay_ms {
        builder = builder.drain_delay(Duration::from_millis(ms));
    }
    if args.fastcgi.is_some() {
        // Also when the socket is inherited from a restart.
        builder = builder.fastcgi(true);
    }
    builder = builder.health_route("/healthz").on_listening(|addr| {
        // Printed once serve accepts: a signal after this line drains a
        // server that is really serving.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening {addr}");
        let _ = out.flush();
    });
    let bound = match (&args.unix, &args.fastcgi) {
        // A restarted demo inherits its socket (LISTEN_FDS) instead.
        _ if std::env::var_os("LISTEN_FDS").is_some() => builder.from_systemd(),
        (Some(path), _) => builder.bind_unix(path),
        (_, Some(path)) => builder.fastcgi(true).bind_unix(path),
        _ => builder.bind(&args.addr),
    };
    let server = match bound {
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
    if args.restart {
        if let Err(e) = handle.restart_on_signal(SIGUSR2) {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = server.serve(route) {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "drained killed={}", handle.stats().killed);
    let _ = out.flush();
}
