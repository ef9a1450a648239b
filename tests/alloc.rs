//! No heap allocation per keep-alive request for a small fixed response,
//! beyond what the handler itself does: counted by a global allocator that
//! keeps a per-thread tally. Its own test binary (the allocator is global).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use courteous::testing::{RawClient, TestServer};
use courteous::{Request, Response, Server};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// A number for this thread (0: not yet given one).
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

static THREADS: AtomicU64 = AtomicU64::new(0);

fn thread_number() -> u64 {
    THREAD.with(|t| {
        if t.get() == 0 {
            t.set(THREADS.fetch_add(1, Ordering::SeqCst) + 1);
        }
        t.get()
    })
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

mod common;
use common::T;
const ROUNDS: usize = 200;

#[test]
fn keep_alive_requests_allocate_nothing_on_the_server() {
    // The handler notes its thread and the thread's allocation count at
    // every request on one kept-alive connection. Between two requests it
    // served, a worker did everything the server does for one request
    // cycle: write the response, park the connection, wait for the next
    // request, read and parse its head, build the request. (The connection
    // may move between workers: only one thread's own counts are compared.)
    let marks: Arc<Vec<(AtomicU64, AtomicU64)>> = Arc::new(
        (0..ROUNDS)
            .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
            .collect(),
    );
    let next = Arc::new(AtomicU64::new(0));
    let (m, n) = (marks.clone(), next.clone());
    let server = TestServer::start(Server::builder(), move |_: &mut Request| {
        let i = n.fetch_add(1, Ordering::SeqCst) as usize;
        if let Some((thread, count)) = m.get(i) {
            thread.store(thread_number(), Ordering::SeqCst);
            count.store(ALLOCS.with(|a| a.get()), Ordering::SeqCst);
        }
        // A fixed body, no headers: the handler allocates nothing itself.
        Response::bytes(b"hello\n".as_slice())
    });
    let mut c = RawClient::connect(server.local_addr()).expect("connect");
    let request =
        b"GET /hello HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
    for _ in 0..ROUNDS {
        c.send(request).expect("send");
        let r = c.read_response(T).expect("response");
        assert_eq!(r.body, b"hello\n");
    }
    let marks: Vec<(u64, u64)> = marks
        .iter()
        .map(|(t, c)| (t.load(Ordering::SeqCst), c.load(Ordering::SeqCst)))
        .collect();
    // Skip the warm-up (buffers reach their size on the first requests),
    // then compare each request with the last one its thread served.
    let mut last = std::collections::HashMap::new();
    let mut steady: Vec<(u64, u64)> = Vec::new();
    for (i, &(thread, count)) in marks.iter().enumerate() {
        if let Some(before) = last.insert(thread, count) {
            if i >= 20 {
                steady.push((thread, count - before));
            }
        }
    }
    assert!(
        steady.len() >= ROUNDS / 2,
        "enough cycles compared: {} of {ROUNDS}",
        steady.len()
    );
    // A thread that blocks on a lock or a condition variable for the first
    // time may allocate once (parking_lot's per-thread parking data), and
    // that first time can come late for a worker that rarely waits. So a
    // thread may show one cycle with an allocation or two; anything per
    // request would show in most of its cycles.
    let mut with: std::collections::HashMap<u64, Vec<u64>> = Default::default();
    for &(thread, d) in steady.iter().filter(|&&(_, d)| d > 0) {
        with.entry(thread).or_default().push(d);
    }
    for (thread, allocs) in &with {
        assert!(
            allocs.len() <= 1 && allocs.iter().all(|&d| d <= 2),
            "allocations per keep-alive request cycle after warm-up, thread {thread}: {steady:?}"
        );
    }
    server.stop().expect("stop");
}
