//! Accept errors (EMFILE) are survived with a back-off: no busy loop, no
//! exit. Its own test binary: it lowers the process's file limit.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use courteous::testing::{wait_until, RawClient, TestServer};
use courteous::{Request, Server};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

const T: Duration = Duration::from_secs(10);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
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
    let mut first = RawClient::connect(server.addr()).expect("connect");
    assert_eq!(first.get("/", T).expect("served").status, 200);

    let old = getrlimit(Resource::Nofile);
    let limit = (open_fds() + 8) as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .expect("lower the fd limit");

    // Fill the table with client sockets; the kernel completes their
    // handshakes, so the server's accept runs into EMFILE.
    let mut clients = Vec::new();
    while let Ok(c) = TcpStream::connect(server.addr()) {
        clients.push(c);
        if clients.len() > 64 {
            break;
        }
    }
    let accepted = handle.stats().accepted;
    let cpu_before = cpu_time();
    let wall = Instant::now();
    std::thread::sleep(Duration::from_millis(500)); // a window to measure, not to order
    let cpu = cpu_time() - cpu_before;
    let elapsed = wall.elapsed();

    setrlimit(Resource::Nofile, old).expect("restore the fd limit");
    assert!(
        cpu < elapsed / 2,
        "accept loop spun on EMFILE: {cpu:?} CPU in {elapsed:?}"
    );
    assert!(!clients.is_empty());
    drop(clients);

    // The server is still there: it accepts the backlog and new clients.
    wait_until(&handle, |s| s.accepted > accepted, T).expect("accepting again");
    let mut again = RawClient::connect(server.addr()).expect("connect");
    assert_eq!(again.get("/", T).expect("served after EMFILE").status, 200);
    server.stop().expect("clean stop");
}
