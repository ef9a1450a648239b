//! courteous serving `GET /hello`, for the benchmarks.
//!
//! `peer-courteous [--addr HOST:PORT] [--workers N] [--drain-report]`
//!
//! Default configuration unless `--workers` says otherwise. SIGTERM or
//! SIGINT drains it. `GET /sleep?ms=N` sleeps N ms before answering: the
//! drain benchmark keeps requests in flight with it. With `--drain-report`,
//! once `serve` returns it prints
//! `drain-report returned_ns=T last_handler_ns=H served=S killed=K`:
//! `T` is when `serve` returned and `H` when the last `/sleep` handler
//! returned, both on the system-wide monotonic clock (see
//! `courteous_peers::clock`), so the runner can set them against its own
//! instants.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use courteous::http::{Method, StatusCode};
use courteous::{Request, Response, Server, SIGINT, SIGTERM};
use courteous_peers::{clock, peer};

const NAME: &str = "peer-courteous";

fn main() {
    let args = peer::Args::parse(NAME, &["--workers", "--drain-report"]);
    peer::raise_fd_limit();
    let mut builder = Server::builder();
    if let Some(n) = args.workers {
        builder = builder.workers(n);
    }
    let server = builder
        .bind(&args.addr)
        .unwrap_or_else(|e| peer::fail(NAME, e));
    let handle = server.handle();
    handle
        .close_on_signals(&[SIGTERM, SIGINT])
        .unwrap_or_else(|e| peer::fail(NAME, e));
    let last_sleep = Arc::new(AtomicU64::new(0));
    let handler = {
        let last_sleep = last_sleep.clone();
        move |req: &mut Request| route(req, &last_sleep)
    };
    let addr = server
        .local_addr()
        .unwrap_or_else(|| peer::fail(NAME, "not listening on TCP"));
    peer::announce(addr);
    server
        .serve(handler)
        .unwrap_or_else(|e| peer::fail(NAME, e));
    if args.drain_report {
        // Read here only: under valgrind, rustix's vDSO lookup crashes.
        let returned = clock::mono_ns();
        let st = handle.stats();
        println!(
            "drain-report returned_ns={returned} last_handler_ns={} served={} killed={}",
            last_sleep.load(Ordering::SeqCst),
            st.served,
            st.killed
        );
    }
}

fn route(req: &mut Request, last_sleep: &AtomicU64) -> Response {
    if req.method() != Method::GET {
        return Response::new(StatusCode::METHOD_NOT_ALLOWED);
    }
    match req.uri().path() {
        "/hello" => Response::text(peer::HELLO),
        "/sleep" => {
            let ms = peer::sleep_ms(req.uri().query());
            std::thread::sleep(Duration::from_millis(ms));
            last_sleep.fetch_max(clock::mono_ns(), Ordering::SeqCst);
            Response::text(peer::HELLO)
        }
        _ => Response::new(StatusCode::NOT_FOUND),
    }
}
