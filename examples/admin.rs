//! An admin server for a batch program: health, metrics, a jobs API with
//! JSON, a live event stream and a WebSocket console, all of which end
//! politely at a drain. Driven from outside by tests.
//!
//! ```text
//! cargo run --release --all-features --example admin -- --addr 127.0.0.1:PORT [--timeout-ms N]
//! ```
//!
//! Prints `listening ADDR` once accepting. Routes:
//!
//! - `GET /healthz` → `ok` (`HEAD` too; other methods 405 with `Allow`)
//! - `POST /jobs` with `{"name": "..."}` → 201, `Location: /jobs/ID`, `{"id":ID,"name":"..."}`
//! - `GET /jobs/{id}` → that job as JSON, or 404
//! - `GET /metrics` → the server's counts in the Prometheus text format
//! - `GET /events` → server-sent events, `data: tick N` every 100 ms; at
//!   the drain `event: bye`, then the stream's end
//! - `GET /ws` → a WebSocket that echoes text messages; at the drain a
//!   Close with 1001 (Going Away)
//!
//! SIGTERM or SIGINT drains (a second one force-closes what is left, as
//! does the deadline, 10 s by default); then it prints `drained killed=K`
//! and exits 0.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courteous::http::header::{CONTENT_TYPE, LOCATION};
use courteous::http::StatusCode;
use courteous::websocket::{self, WebSocket};
use courteous::{BodyWriter, JsonError, Request, Response, Router, Server, SIGINT, SIGTERM};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct NewJob {
    name: String,
}

#[derive(Serialize, Clone)]
struct Job {
    id: u64,
    name: String,
}

#[derive(Default)]
struct Jobs {
    next: AtomicU64,
    all: Mutex<HashMap<u64, Job>>,
}

fn events(_: &mut Request) -> Response {
    Response::stream(|out: &mut BodyWriter| {
        let mut n = 0;
        while !out.wait_draining(Duration::from_millis(100)) {
            n += 1;
            write!(out, "data: tick {n}\n\n")?;
        }
        out.write_all(b"event: bye\ndata: the server is draining\n\n")
    })
    .with_header(CONTENT_TYPE, "text/event-stream")
    .with_header("cache-control", "no-cache")
}

fn echo(req: &mut Request) -> Response {
    websocket::upgrade(req, |ws: &mut WebSocket| {
        while let Some(msg) = ws.read()? {
            if msg.is_text() {
                ws.send(msg)?;
            }
        }
        Ok(())
    })
}

fn app(server: &Server) -> Router {
    let jobs = Arc::new(Jobs::default());
    let (create, get) = (jobs.clone(), jobs);
    Router::new()
        .route("GET /healthz", |_: &mut Request| "ok\n")
        .route(
            "POST /jobs",
            move |req: &mut Request| -> Result<Response, JsonError> {
                let new: NewJob = req.json()?;
                let id = create.next.fetch_add(1, Ordering::Relaxed) + 1;
                let job = Job { id, name: new.name };
                create.all.lock().unwrap().insert(id, job.clone());
                Ok(Response::json(&job)
                    .with_status(StatusCode::CREATED)
                    .with_header(LOCATION, format!("/jobs/{id}")))
            },
        )
        .route("GET /jobs/{id}", move |req: &mut Request| {
            let id = req.param("id").and_then(|id| id.parse::<u64>().ok());
            match id.and_then(|id| get.all.lock().unwrap().get(&id).cloned()) {
                Some(job) => Response::json(&job),
                None => Response::text("no such job\n").with_status(StatusCode::NOT_FOUND),
            }
        })
        .route("GET /events", events)
        .route("GET /ws", echo)
        .metrics("/metrics", &server.handle())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut timeout_ms) = ("127.0.0.1:8080".to_string(), 10_000);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--addr", Some(v)) => addr = v,
            ("--timeout-ms", Some(v)) if v.parse::<u64>().is_ok() => {
                timeout_ms = v.parse().unwrap_or(0)
            }
            _ => fail("usage: admin --addr HOST:PORT [--timeout-ms N]", 2),
        }
    }
    let server = Server::builder()
        .shutdown_timeout(Duration::from_millis(timeout_ms))
        .on_listening(|addr| {
            // Printed once serve accepts: a signal after it drains a server that serves.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening {addr}");
            let _ = out.flush();
        })
        .bind(&addr)
        .unwrap_or_else(|e| fail(&format!("admin: {e}"), 1));
    let handle = server.handle();
    if let Err(e) = handle.close_on_signals(&[SIGTERM, SIGINT]) {
        fail(&format!("admin: {e}"), 1);
    }
    let app = app(&server);
    if let Err(e) = server.serve(app) {
        fail(&format!("admin: {e}"), 1);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "drained killed={}", handle.stats().killed);
    let _ = out.flush();
}

fn fail(why: &str, code: i32) -> ! {
    eprintln!("{why}");
    std::process::exit(code);
}
