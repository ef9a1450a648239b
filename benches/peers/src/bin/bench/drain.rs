//! How quickly a drain ends: courteous with `--drain-report`, for the
//! three kinds of client a drain meets: one that closes at EOF (Go's
//! transport, a browser), one that reads its response and keeps its socket
//! open (many scripts and tools), and pooled idle sockets that nobody
//! reads (urllib3/requests pools, Java's HttpClient).
//!
//! Times come from two processes on one clock (`CLOCK_MONOTONIC`, see
//! `courteous_peers::clock`): the client notes when it has read the last
//! response, or when it sends SIGTERM; the server notes when the last
//! handler returned and when `serve` returned. "Last response → return"
//! is bracketed: from the client's side it is a little short (the bytes
//! still had to cross loopback), from the handler's return a little long
//! (the response had yet to be written).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use courteous_peers::clock::mono_ns;
use courteous_peers::response::{self, get_request};

use crate::idle::{EndCounts, IdleClients};
use crate::procs::{Peer, Server};
use crate::table::{dur, Table};
use crate::{progress, Ctx, Result, SETTLE, STOP_TIMEOUT};

/// Requests in flight when the drain starts, each sleeping this long.
const IN_FLIGHT: usize = 8;
const SLEEP_MS: u64 = 300;
/// When the drain starts, after the requests were sent.
const DRAIN_AFTER: Duration = Duration::from_millis(100);

/// The server's `drain-report` line.
struct Report {
    returned_ns: u64,
    last_handler_ns: u64,
    killed: u64,
}

fn report(server: &Server) -> Result<Report> {
    let line = server.line_starting("drain-report", STOP_TIMEOUT)?;
    let field = |key: &str| -> Result<u64> {
        let value = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| format!("no {key} in `{line}`"))?;
        Ok(value.parse()?)
    };
    Ok(Report {
        returned_ns: field("returned_ns")?,
        last_handler_ns: field("last_handler_ns")?,
        killed: field("killed")?,
    })
}

fn gap(from_ns: u64, to_ns: u64) -> Duration {
    Duration::from_nanos(to_ns.saturating_sub(from_ns))
}

struct InFlight {
    /// Last response read by the client → `serve` returned.
    client_gap: Duration,
    /// Last handler returned → `serve` returned.
    server_gap: Duration,
    /// Responses with `Connection: close` followed by a clean EOF.
    clean: usize,
    killed: u64,
}

/// What a client does with its socket once it has read its response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Reads on to the EOF, and closes.
    ReadsEof,
    /// Keeps it open, reading nothing, until `serve` returned.
    Holds,
}

/// Sends a slow request; returns when its response was read, whether the
/// connection then ended as a drain should (`close`, then EOF), and, for
/// a client that holds its socket, the socket (its end is read later).
fn slow_request(addr: SocketAddr, after: After) -> Result<(u64, bool, Option<TcpStream>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(STOP_TIMEOUT))?;
    s.write_all(&get_request(
        &format!("/sleep?ms={SLEEP_MS}"),
        &addr.to_string(),
        false,
    ))?;
    let mut buf = Vec::new();
    let resp = response::read_blocking(&mut s, &mut buf)?;
    let done = mono_ns();
    if resp.status != 200 {
        return Err(format!("in-flight request got {}", resp.status).into());
    }
    if after == After::Holds {
        return Ok((done, resp.close && buf.is_empty(), Some(s)));
    }
    let clean = resp.close && buf.is_empty() && matches!(s.read(&mut [0u8; 64]), Ok(0));
    Ok((done, clean, None))
}

/// Whether a socket nobody read ended with the server's FIN (not a reset).
fn ended_with_fin(s: &TcpStream) -> bool {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(STOP_TIMEOUT));
    let mut scratch = [0u8; 4096];
    loop {
        match (&mut &*s).read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

fn in_flight_once(cx: &Ctx, after: After) -> Result<InFlight> {
    let mut server = cx.bins.start(Peer::Courteous, &["--drain-report"])?;
    let addr = server.addr;
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| thread::spawn(move || slow_request(addr, after)))
        .collect();
    thread::sleep(DRAIN_AFTER);
    server.terminate()?;
    let mut last_response = 0;
    let mut clean = 0;
    let mut held = Vec::new();
    for c in clients {
        let (done, ok, socket) = c.join().map_err(|_| "client thread panicked")??;
        last_response = last_response.max(done);
        clean += usize::from(ok);
        held.extend(socket);
    }
    let r = report(&server)?;
    server.wait(STOP_TIMEOUT)?;
    // Only now does a holding client look: its socket must end in a FIN.
    if !held.is_empty() {
        let fins = held.iter().filter(|s| ended_with_fin(s)).count();
        clean = clean.min(fins);
    }
    Ok(InFlight {
        client_gap: gap(last_response, r.returned_ns),
        server_gap: gap(r.last_handler_ns, r.returned_ns),
        clean,
        killed: r.killed,
    })
}

/// SIGTERM → `serve` returned, with `n` pooled keep-alive sockets that
/// nobody reads; then how each ended (FIN or reset), read only after.
fn pooled_close_once(cx: &Ctx, n: usize) -> Result<(Duration, usize, u64)> {
    let mut server = cx.bins.start(Peer::Courteous, &["--drain-report"])?;
    let addr = server.addr;
    let request = get_request("/hello", &addr.to_string(), false);
    let mut pool = Vec::with_capacity(n);
    let mut buf = Vec::new();
    for i in 0..n {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(&request)?;
        let resp = response::read_blocking(&mut s, &mut buf)?;
        if resp.status != 200 || resp.close {
            return Err(format!("pooled client {i}: status {}", resp.status).into());
        }
        pool.push(s);
    }
    thread::sleep(SETTLE);
    let sent = mono_ns();
    server.terminate()?;
    let r = report(&server)?;
    server.wait(STOP_TIMEOUT)?;
    let fins = pool.iter().filter(|s| ended_with_fin(s)).count();
    Ok((gap(sent, r.returned_ns), fins, r.killed))
}

/// SIGTERM → `serve` returned, with `n` idle keep-alive connections open.
fn idle_close_once(cx: &Ctx, n: usize) -> Result<(Duration, EndCounts, u64)> {
    let mut server = cx.bins.start(Peer::Courteous, &["--drain-report"])?;
    let idle = IdleClients::open(server.addr, n)?;
    thread::sleep(SETTLE);
    let sent = mono_ns();
    server.terminate()?;
    let r = report(&server)?;
    let ends = idle.wait_all_ended(Duration::from_secs(1));
    server.wait(STOP_TIMEOUT)?;
    Ok((gap(sent, r.returned_ns), ends, r.killed))
}

/// Median and maximum.
fn spread(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

pub fn run(cx: &mut Ctx) -> Result<()> {
    let runs = cx.opts.sizes.drain_runs.max(1);
    let n = cx.opts.sizes.drain_idle;
    progress(&format!(
        "{runs} drains with {IN_FLIGHT} requests in flight"
    ));
    let flights = (0..runs)
        .map(|_| in_flight_once(cx, After::ReadsEof))
        .collect::<Result<Vec<_>>>()?;
    progress(&format!(
        "{runs} drains with {IN_FLIGHT} requests in flight, clients holding their sockets"
    ));
    let holds = (0..runs)
        .map(|_| in_flight_once(cx, After::Holds))
        .collect::<Result<Vec<_>>>()?;
    progress(&format!("{runs} drains with {n} idle connections"));
    let closes = (0..runs)
        .map(|_| idle_close_once(cx, n))
        .collect::<Result<Vec<_>>>()?;
    progress(&format!(
        "{runs} drains with {n} pooled sockets nobody reads"
    ));
    let pooled = (0..runs)
        .map(|_| pooled_close_once(cx, n))
        .collect::<Result<Vec<_>>>()?;

    let client = spread(flights.iter().map(|f| f.client_gap).collect());
    let server = spread(flights.iter().map(|f| f.server_gap).collect());
    let close = spread(closes.iter().map(|c| c.0).collect());
    let held = spread(holds.iter().map(|f| f.client_gap).collect());
    let pool = spread(pooled.iter().map(|c| c.0).collect());
    let mut t = Table::new(
        &format!("drain latency: courteous, default config, {runs} runs each"),
        &["measure", "median", "max"],
    );
    let rows = [
        (
            format!("last response read by the client → serve returned ({IN_FLIGHT} in flight)"),
            client,
        ),
        ("last handler returned → serve returned".into(), server),
        (
            "last response read → serve returned, clients holding their sockets".into(),
            held,
        ),
        (
            format!("SIGTERM → serve returned, {n} idle keep-alive conns (close at EOF)"),
            close,
        ),
        (
            format!("SIGTERM → serve returned, {n} pooled sockets nobody reads"),
            pool,
        ),
    ];
    for (what, (median, max)) in rows {
        t.row(vec![what, dur(median), dur(max)]);
    }
    print!("{t}");
    let clean: usize = flights.iter().map(|f| f.clean).sum();
    let held_clean: usize = holds.iter().map(|f| f.clean).sum();
    let pooled_fins: usize = pooled.iter().map(|c| c.1).sum();
    let ended = closes.iter().fold((0, 0, 0), |(c, r, o), (_, e, _)| {
        (c + e.clean, r + e.reset, o + e.open)
    });
    let killed: u64 = flights.iter().map(|f| f.killed).sum::<u64>()
        + holds.iter().map(|f| f.killed).sum::<u64>()
        + closes.iter().map(|c| c.2).sum::<u64>()
        + pooled.iter().map(|c| c.2).sum::<u64>();
    println!(
        "in-flight responses with `Connection: close` then a clean EOF: {clean}/{}",
        runs * IN_FLIGHT
    );
    println!(
        "held sockets: `Connection: close`, then a FIN when finally read: {held_clean}/{}",
        runs * IN_FLIGHT
    );
    println!(
        "pooled sockets nobody read ended with a FIN: {pooled_fins}/{}",
        runs * n
    );
    println!(
        "idle connections ended with a FIN: {}/{}, with a reset: {}, left open: {}; force-closed: {killed}",
        ended.0,
        runs * n,
        ended.1,
        ended.2
    );

    cx.targets.check(
        "serve returns within 2 ms of the last response (handler side, worst run)",
        dur(server.1),
        server.1 <= Duration::from_millis(2),
    );
    cx.targets.check(
        "serve returns within 20 ms of the last response, clients holding their sockets (worst run)",
        dur(held.1),
        held.1 <= Duration::from_millis(20),
    );
    cx.targets.check(
        &format!("close → serve returns < 50 ms with {n} pooled sockets nobody reads (worst run)"),
        dur(pool.1),
        pool.1 < Duration::from_millis(50),
    );
    cx.targets.check(
        &format!("close → serve returns < 50 ms with {n} idle conns (worst run)"),
        dur(close.1),
        close.1 < Duration::from_millis(50),
    );
    Ok(())
}
