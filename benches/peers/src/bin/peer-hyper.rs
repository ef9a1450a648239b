//! hyper 1.x serving `GET /hello`, for the benchmarks.
//!
//! `peer-hyper [--addr HOST:PORT]`
//!
//! A multi-thread tokio runtime with 2 workers (the benchmark machine has
//! 2 cores), one task per connection, HTTP/1.1 keep-alive, `TCP_NODELAY`
//! as hyper's own examples set it. It exits on SIGTERM or SIGINT (their
//! default action: it has nothing to drain for the benchmarks).
//!
//! `GET /sleep?ms=N` runs a blocking `std::thread::sleep` of N ms the way a
//! tokio program must run blocking code, through
//! `tokio::task::spawn_blocking` (tokio's blocking pool, up to 512 threads),
//! then answers like `/hello`: the blocking-handler benchmark's peer.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use courteous_peers::peer;

const NAME: &str = "peer-hyper";

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    let path = req.uri().path();
    if req.method() != Method::GET || (path != "/hello" && path != "/sleep") {
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return Ok(resp);
    }
    if path == "/sleep" {
        let ms = peer::sleep_ms(req.uri().query());
        let slept = tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(ms));
        })
        .await;
        if slept.is_err() {
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(resp);
        }
    }
    *resp.body_mut() = Full::new(Bytes::from_static(peer::HELLO.as_bytes()));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(peer::TEXT_PLAIN));
    Ok(resp)
}

async fn serve(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("{NAME}: accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello));
            let _ = conn.await;
        });
    }
}

fn main() {
    let args = peer::Args::parse(NAME, &[]);
    peer::raise_fd_limit();
    let std_listener =
        std::net::TcpListener::bind(&args.addr).unwrap_or_else(|e| peer::fail(NAME, e));
    let addr = std_listener
        .local_addr()
        .unwrap_or_else(|e| peer::fail(NAME, e));
    std_listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| peer::fail(NAME, e));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_io()
        .build()
        .unwrap_or_else(|e| peer::fail(NAME, e));
    rt.block_on(async move {
        let listener = TcpListener::from_std(std_listener).unwrap_or_else(|e| peer::fail(NAME, e));
        peer::announce(addr);
        serve(listener).await;
    });
}
