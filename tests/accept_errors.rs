//! Accept errors (EMFILE) are survived with a back-off: no busy loop, no
//! exit. Its own test binary: it lowers the process's file limit.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use courteous::testing::{wait_until, RawClient, TestServer};
use courteous::{Request, Server};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

mod common;
use common::T;

/// Fills every hole in the descriptor table and returns the one number
/// left free below all the others (RLIMIT_NOFILE caps descriptor numbers,
/// not their count). The fillers stay open: this binary has one test.
fn fill_descriptor_holes() -> u64 {
    use std::os::fd::{AsRawFd, IntoRawFd};
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap_or(0);
    loop {
        let f = std::fs::File::open("/dev/null").expect("/dev/null");
        let fd = f.as_raw_fd();
        if fd > highest {
            // Every number up to `highest` is taken; free this one again.
            drop(f);
            return fd as u64;
        }
        let _ = f.into_raw_fd();
    }
}

/// CPU time (user + system) this process has used, from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the ')'.
    let hz = 100; // USER_HZ is 100 on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

#[test]
fn emfile_is_survived_without_spinning() {
    let server = TestServer::start(Server::builder().workers(2), |_: &mut Request| "hi\n");
    let handle = server.handle();
    let mut first = RawClient::connect(server.local_addr()).expect("connect");
    assert_eq!(first.get("/", T).expect("served").status, 200);

    // Leave exactly one free descriptor: the client's connect takes it,
    // the kernel completes the handshake, and the server's accept has
    // none left: EMFILE, for certain.
    let old = getrlimit(Resource::Nofile);
    let accepted = handle.stats().accepted;
    let free = fill_descriptor_holes();
    let limit = free + 1;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .expect("lower the fd limit");
    let pending = TcpStream::connect(server.local_addr());
    let cpu_before = cpu_time();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_millis(500)); // a window to measure, not to order
    let cpu = cpu_time() - cpu_before;
    let elapsed = wall.elapsed();
    let during = handle.stats().accepted;
    setrlimit(Resource::Nofile, old).expect("restore the fd limit");

    let pending = pending.expect("the client's connect had its descriptor");
    assert_eq!(during, accepted, "nothing could be accepted at the limit");
    assert!(
        cpu < elapsed / 2,
        "accept loop spun on EMFILE: {cpu:?} CPU in {elapsed:?}"
    );
    // The accept loop backs off (at most 1 s), then takes the pending one.
    wait_until(&handle, |s| s.accepted > accepted, T).expect("accepting again");
    drop(pending);

    // The server is still there for new clients.
    let mut again = RawClient::connect(server.local_addr()).expect("connect");
    assert_eq!(again.get("/", T).expect("served after EMFILE").status, 200);
    server.stop().expect("clean stop");
}
