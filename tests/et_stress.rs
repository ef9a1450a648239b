//! The edge-triggered idle set under stress: input that is already in
//! the kernel when a connection parks must still be read, a lingering
//! close must not keep a worker from the rest, pipelined bursts that end
//! on buffer boundaries must be answered while connections churn, and a
//! hijacked socket must not confuse the connection that gets its
//! descriptor next.
//!
//! Real sockets on loopback; every wait bounded; nothing ordered by a
//! sleep (the polls below only bound how long a condition may take).
//! `COURTEOUS_ROUNDS` scales the churn tests.

use std::io::{IoSlice, Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courteous::testing::{in_thread, Gate, RawClient, Socket, TempDir, TestServer};
use courteous::{Request, Response, Server};

mod common;
use common::T;

fn rounds(default: usize) -> usize {
    std::env::var("COURTEOUS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A tiny deterministic generator (no `rand` in the dev-dependencies).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A GET for `path` padded with a header to exactly `size` bytes.
fn get_of_size(path: &str, size: usize, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    let bare = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{conn}X-Pad: \r\n\r\n");
    let pad = size.checked_sub(bare.len()).expect("room for the padding");
    format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\n{conn}X-Pad: {}\r\n\r\n",
        "p".repeat(pad)
    )
    .into_bytes()
}

fn hello_or_hold(gate: Gate) -> impl Fn(&mut Request) -> Response + Send + Sync + 'static {
    move |req: &mut Request| {
        if req.uri().path() == "/hold" {
            gate.wait();
        }
        Response::text(format!("{}\n", req.uri().path()))
    }
}

// ----- input already in the kernel when the connection parks ----------------

/// TCP urgent data ends a read short (the kernel stops at the urgent
/// mark) with the rest of the input still queued: no event is owed for
/// it. A request pipelined behind an urgent byte must be answered at
/// once, not when the idle timeout's look finds it readable.
/// Opens the gate (the held worker answers `/hold`), then `c`'s two
/// requests are answered: `/a`, and `/b`, behind `what`, within 5 s (the
/// idle timeout is 60 s).
fn expect_both_answered<H: Socket, S: Socket>(
    gate: &Gate,
    holder: &mut RawClient<H>,
    c: &mut RawClient<S>,
    what: &str,
) {
    gate.open();
    assert_eq!(holder.read_response(T).expect("held").text(), "/hold\n");
    assert_eq!(c.read_response(T).expect("/a").text(), "/a\n");
    let t0 = Instant::now();
    let b = c.read_response(Duration::from_secs(5));
    assert!(
        matches!(&b, Ok(r) if r.text() == "/b\n"),
        "the request behind {what}: {b:?} after {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_request_behind_urgent_data_is_answered_without_waiting_for_the_idle_timeout() {
    let gate = Gate::new();
    let server = TestServer::start(
        Server::builder()
            .workers(1)
            .idle_timeout(Duration::from_secs(30)),
        hello_or_hold(gate.clone()),
    );
    let _open = gate.open_on_drop();
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    // Served once and parked: watched by the idle set from now.
    assert_eq!(c.get("/warm", T).expect("warm-up").text(), "/warm\n");

    // The only worker is held while everything arrives at once.
    let mut holder = RawClient::connect(server.local_addr()).expect("connect");
    holder
        .send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert!(gate.wait_parked(1, T), "the handler holds the worker");
    let mut first = b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    first.push(b'!'); // the urgent byte (out of band: not in the stream)
    rustix::net::send(c.stream(), &first, rustix::net::SendFlags::OOB).expect("send OOB");
    c.send(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    expect_both_answered(&gate, &mut holder, &mut c, "the urgent byte");
    server.stop().expect("stop");
}

/// A Unix stream read stops after a message that carried descriptors
/// (`SCM_RIGHTS`), with the rest still queued: as above, on a Unix socket.
#[test]
fn a_request_behind_a_message_with_descriptors_is_answered_at_once() {
    let dir = TempDir::new("et-scm");
    let gate = Gate::new();
    let server = TestServer::serve(
        Server::builder()
            .workers(1)
            .idle_timeout(Duration::from_secs(30))
            .bind_unix(dir.join("s.sock"))
            .expect("bind"),
        hello_or_hold(gate.clone()),
    );
    let _open = gate.open_on_drop();
    let mut c = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    assert_eq!(c.get("/warm", T).expect("warm-up").text(), "/warm\n");

    let mut holder = RawClient::connect_unix(dir.join("s.sock")).expect("connect");
    holder
        .send(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert!(gate.wait_parked(1, T), "the handler holds the worker");
    let first = b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n";
    let passed = std::fs::File::open("/dev/null").unwrap();
    let fds = [passed.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
    let n = rustix::net::sendmsg(
        c.stream(),
        &[IoSlice::new(first)],
        &mut control,
        rustix::net::SendFlags::empty(),
    )
    .expect("sendmsg");
    assert_eq!(n, first.len());
    c.send(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    expect_both_answered(&gate, &mut holder, &mut c, "the descriptors");
    server.stop().expect("stop");
}

// ----- a lingering close that never runs dry ---------------------------------

/// Opens a connection whose request asks for `Connection: close`, reads
/// the response and the server's FIN (the server lingers on it now), and
/// floods it from a thread until `stop`. Returns how long the response took.
fn flooded_close(
    addr: std::net::SocketAddr,
    stop: &Arc<AtomicBool>,
    sent: &Arc<AtomicUsize>,
) -> (Duration, std::sync::mpsc::Receiver<()>) {
    let t0 = Instant::now();
    let mut flood = TcpStream::connect(addr).unwrap();
    flood
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    flood.set_read_timeout(Some(T)).unwrap();
    let mut got = Vec::new();
    flood
        .read_to_end(&mut got)
        .expect("the response, then the server's FIN");
    assert!(
        got.ends_with(b"hello\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let took = t0.elapsed();
    let (stop, sent) = (stop.clone(), sent.clone());
    let done = in_thread(move || {
        flood.set_write_timeout(Some(T)).unwrap();
        let chunk = vec![b'x'; 256 * 1024];
        while !stop.load(Ordering::SeqCst) {
            match flood.write(&chunk) {
                Ok(n) => {
                    sent.fetch_add(n, Ordering::SeqCst);
                }
                Err(_) => break,
            }
        }
        let _ = flood.shutdown(Shutdown::Write);
    });
    (took, done)
}

/// Peers that keep sending after our FIN keep their sockets' queues over
/// the 64 KiB one look discards, so each is requeued at once, again and
/// again. That must not keep the workers from the accept queue (and the
/// other connections) for the whole linger: every new connection below
/// is answered within a second, though each linger lasts five.
#[test]
fn peers_flooding_their_lingering_closes_do_not_hold_up_new_connections() {
    const FLOODERS: usize = 4;
    for workers in [1usize, 2] {
        let linger = Duration::from_secs(5);
        let server = TestServer::start(
            Server::builder().workers(workers).linger(linger),
            |_: &mut Request| Response::text("hello\n"),
        );
        let addr = server.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let mut waits = Vec::new();
        let mut flooders = Vec::new();
        for _ in 0..FLOODERS {
            // Each one after the first is a new connection behind a flood.
            let (took, done) = flooded_close(addr, &stop, &sent);
            waits.push(took);
            flooders.push(done);
        }
        // Well past what the sockets buffer: the server is discarding.
        let t0 = Instant::now();
        while sent.load(Ordering::SeqCst) < 64 << 20 {
            assert!(t0.elapsed() < T, "the server discards the floods");
            std::thread::sleep(Duration::from_millis(1));
        }
        let start = Instant::now();
        let mut c = RawClient::connect(addr).expect("connect");
        let r = c.get("/", T);
        waits.push(start.elapsed());
        stop.store(true, Ordering::SeqCst);
        for f in flooders {
            f.recv_timeout(T).expect("a flooder stops");
        }
        assert_eq!(r.expect("served").status, 200);
        let worst = waits[1..].iter().max().copied().unwrap_or_default();
        assert!(
            worst < Duration::from_secs(1),
            "workers({workers}): new connections behind flooded lingering closes waited \
             {waits:?} (linger {linger:?}; {} MiB discarded)",
            sent.load(Ordering::SeqCst) >> 20
        );
        server.stop().expect("stop");
    }
}

// ----- pipelined bursts on buffer boundaries, with churn ----------------------

/// Many clients, each sending bursts of pipelined requests whose sizes
/// divide (or just miss) the read buffer, split at random points into
/// writes, while connections churn: some reconnect after a burst, some
/// end a burst with `Connection: close` (a lingering close), and the
/// descriptors are reused all the time. Every response comes, in order.
#[test]
fn pipelined_bursts_on_buffer_boundaries_with_keep_alive_churn() {
    const SIZES: [usize; 9] = [256, 512, 1024, 2048, 4096, 8192, 8191, 8193, 16384];
    for workers in [1usize, 2] {
        let server = TestServer::start(Server::builder().workers(workers), |req: &mut Request| {
            Response::text(format!("{}\n", req.uri().path()))
        });
        let addr = server.local_addr();
        let clients = 6;
        let per_client = rounds(300) / 10 + 5;
        let done: Vec<_> = (0..clients)
            .map(|id| {
                in_thread(move || {
                    let mut rng =
                        Lcg(0x9e3779b97f4a7c15 ^ (id as u64 + 1) ^ (workers as u64) << 40);
                    let mut c = RawClient::connect(addr).expect("connect");
                    for round in 0..per_client {
                        let size = SIZES[rng.below(SIZES.len() as u64) as usize];
                        let n = 1 + rng.below((64 * 1024 / size) as u64) as usize;
                        let close = rng.below(6) == 0;
                        let mut burst = Vec::new();
                        for i in 0..n {
                            let last = i + 1 == n;
                            burst.extend(get_of_size(
                                &format!("/{id}/{round}/{i}"),
                                size,
                                close && last,
                            ));
                        }
                        // One to three writes, cut anywhere.
                        let mut cuts: Vec<usize> = (0..rng.below(3))
                            .map(|_| rng.below(burst.len() as u64) as usize)
                            .collect();
                        cuts.push(0);
                        cuts.push(burst.len());
                        cuts.sort();
                        for w in cuts.windows(2) {
                            c.send(&burst[w[0]..w[1]]).expect("send");
                        }
                        for i in 0..n {
                            let r = c.read_response(T).unwrap_or_else(|e| {
                                panic!(
                                    "workers({workers}) client {id} round {round}: \
                                     response {i} of {n} ({size}-byte requests): {e:?}"
                                )
                            });
                            assert_eq!(r.text(), format!("/{id}/{round}/{i}\n"));
                        }
                        if close {
                            let _ = c.read_end(T);
                            c = RawClient::connect(addr).expect("connect");
                        } else if rng.below(3) == 0 {
                            c = RawClient::connect(addr).expect("connect");
                        }
                    }
                })
            })
            .collect();
        for (id, rx) in done.into_iter().enumerate() {
            rx.recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|e| panic!("workers({workers}) client {id} finished: {e:?}"));
        }
        server.stop().expect("stop");
    }
}

// ----- a hijacked socket, and the connection that gets its number next -------

/// Connections are served and parked (watched), then hijacked; the
/// handler's session goes on over its own descriptor on another thread
/// while the old number is reused by new connections at once. The
/// session's traffic must not wake or starve those, and every one of them
/// is answered.
#[test]
fn hijacked_sockets_and_the_connections_that_reuse_their_descriptors() {
    for workers in [1usize, 2] {
        let server = TestServer::start(Server::builder().workers(workers), |req: &mut Request| {
            if req.uri().path() == "/up" {
                let raw = req.hijack().expect("plain TCP");
                std::thread::spawn(move || {
                    let mut s = raw.stream;
                    let _ = s.write_all(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n",
                    );
                    let _ = s.set_read_timeout(Some(T));
                    let mut buf = [0u8; 4096];
                    // Echo until the client's FIN.
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            Response::text(format!("{}\n", req.uri().path()))
        });
        let addr = server.local_addr();
        let per_client = rounds(300) / 10 + 5;
        let upgraders: Vec<_> = (0..3)
            .map(|id| {
                in_thread(move || {
                    for round in 0..per_client {
                        let mut c = RawClient::connect(addr).expect("connect");
                        // Served, parked (registered), then hijacked.
                        assert_eq!(c.get("/first", T).expect("first").text(), "/first\n");
                        c.send(b"GET /up HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
                            .unwrap();
                        let (mut s, mut buffered) = c.into_parts();
                        s.set_read_timeout(Some(T)).unwrap();
                        let head_end = loop {
                            if let Some(p) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                                break p + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            let n = s.read(&mut chunk).expect("the 101");
                            assert!(n > 0, "client {id} round {round}: EOF before the 101");
                            buffered.extend_from_slice(&chunk[..n]);
                        };
                        assert!(buffered.starts_with(b"HTTP/1.1 101"), "client {id} round {round}");
                        let mut echoed = buffered[head_end..].to_vec();
                        // Traffic on the hijacked socket while others reuse descriptors.
                        let msg = vec![b'e'; 3000];
                        for _ in 0..8 {
                            s.write_all(&msg).unwrap();
                        }
                        while echoed.len() < 8 * msg.len() {
                            let mut chunk = [0u8; 16384];
                            let n = s.read(&mut chunk).expect("echo");
                            assert!(n > 0, "client {id} round {round}: EOF in the echo");
                            echoed.extend_from_slice(&chunk[..n]);
                        }
                        let _ = s.shutdown(Shutdown::Write);
                    }
                })
            })
            .collect();
        let churners: Vec<_> = (0..3)
            .map(|id| {
                in_thread(move || {
                    for round in 0..per_client * 4 {
                        let mut c = RawClient::connect(addr).expect("connect");
                        for i in 0..3 {
                            let r = c.get(&format!("/c{id}/{round}/{i}"), T).unwrap_or_else(|e| {
                                panic!("workers({workers}) churner {id} round {round} request {i}: {e:?}")
                            });
                            assert_eq!(r.text(), format!("/c{id}/{round}/{i}\n"));
                        }
                    }
                })
            })
            .collect();
        for rx in upgraders.into_iter().chain(churners) {
            rx.recv_timeout(Duration::from_secs(120))
                .expect("a client finished");
        }
        server.stop().expect("stop");
    }
}
