//! No heap allocation per keep-alive request for a small fixed response,
//! beyond what the handler itself does: counted by a global allocator that
//! keeps a per-thread tally. Its own test binary (the allocator is global).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use courteous::testing::{RawClient, TestServer};
use courteous::{Request, Response, Server};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
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

const T: Duration = Duration::from_secs(10);
const ROUNDS: usize = 200;

#[test]
fn keep_alive_requests_allocate_nothing_on_the_server() {
    // The handler notes its thread's allocation count at every request:
    // the difference between two requests on one kept-alive connection
    // (served by one worker) is everything the server allocated for one
    // request cycle: reading and parsing the head, building the request,
    // writing the response, waiting for the next one.
    let marks: Arc<Vec<AtomicU64>> = Arc::new((0..ROUNDS).map(|_| AtomicU64::new(0)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let (m, n) = (marks.clone(), next.clone());
    let server = TestServer::start(Server::builder(), move |_: &mut Request| {
        let i = n.fetch_add(1, Ordering::SeqCst) as usize;
        if let Some(slot) = m.get(i) {
            slot.store(ALLOCS.with(|a| a.get()), Ordering::SeqCst);
        }
        // A fixed body, no headers: the handler allocates nothing itself.
        Response::bytes(b"hello\n".as_slice())
    });
    let mut c = RawClient::connect(server.addr()).expect("connect");
    let request =
        b"GET /hello HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n";
    for _ in 0..ROUNDS {
        c.send(request).expect("send");
        let r = c.read_response(T).expect("response");
        assert_eq!(r.body, b"hello\n");
    }
    let marks: Vec<u64> = marks.iter().map(|m| m.load(Ordering::SeqCst)).collect();
    // Skip the warm-up (buffers reach their size on the first requests).
    let steady: Vec<u64> = marks.windows(2).skip(10).map(|w| w[1] - w[0]).collect();
    assert!(
        steady.iter().all(|&d| d == 0),
        "allocations per keep-alive request after warm-up: {steady:?}"
    );
    server.stop().expect("stop");
}
