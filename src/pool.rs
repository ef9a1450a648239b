//! The fixed worker pool. Workers take connections from one bounded queue,
//! which the accept loop fills with new connections and the parker with
//! idle ones whose next request arrived. A worker keeps a busy
//! connection (the fast path: no hand-off between requests) until it goes
//! idle while other connections wait; then it parks it and takes the next.
//!
//! ```text
//!  accept ──┐
//!           ├─ queue (bounded) ──► worker ──idle, others waiting──► parker
//!  parker ──┘                        ▲                               │
//!                                    └────── next request arrives ───┘
//! ```

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use crate::conn::Conn;
use crate::drain::Shared;
use crate::handler::Handler;
use crate::http1::buf::ReadBuf;
use crate::net::{wait_readable, Protocol, Ready, Waker};
use crate::parker::ParkerHandle;

/// One worker's doorbell: rung when a drain starts, or when a connection
/// waits for a worker while this one sits on an idle connection.
pub(crate) struct Slot {
    pub(crate) waker: Arc<Waker>,
    /// Set while the worker waits on an idle connection.
    pub(crate) idle_wait: AtomicBool,
}

impl Slot {
    pub(crate) fn new() -> io::Result<Slot> {
        Ok(Slot {
            waker: Arc::new(Waker::new()?),
            idle_wait: AtomicBool::new(false),
        })
    }
}

/// What the accept loop, the parker and the workers share about the queues.
pub(crate) struct Queues {
    queue: Receiver<Conn>,
    slots: Vec<Arc<Slot>>,
    /// Workers blocked waiting for a connection.
    free: AtomicUsize,
}

impl Queues {
    /// Connections waiting for a worker.
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// After queueing a connection: if no worker is free to take it, ask
    /// one worker that sits on an idle connection to park it.
    pub(crate) fn nudge(&self) {
        if self.waiting() <= self.free.load(Ordering::SeqCst) {
            return;
        }
        for s in &self.slots {
            if s.idle_wait
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                s.waker.wake();
                return;
            }
        }
    }
}

/// A worker thread's state.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) slot: Arc<Slot>,
    pub(crate) queues: Arc<Queues>,
    pub(crate) parker: ParkerHandle,
    pub(crate) buf: ReadBuf,
    pub(crate) wbuf: Vec<u8>,
    /// What head parsing reuses between requests.
    pub(crate) scratch: crate::http1::head::Scratch,
    /// FastCGI's record buffer, reused across connections.
    pub(crate) records: crate::fastcgi::record::RecordReader,
}

/// How a worker is done with a connection.
pub(crate) enum Outcome {
    /// Closed (cleanly, or dropped after an error).
    Done,
    /// Idle while others wait: hand it to the parker.
    Park(Conn),
}

/// What one request left the connection fit for.
pub(crate) enum Next {
    /// Another request may follow.
    KeepAlive,
    /// Close cleanly: FIN, linger, close.
    Close,
    /// The peer is gone or the socket failed (or it was hijacked): drop.
    Drop,
}

/// What [`Worker::await_request`] decided.
pub(crate) enum Await {
    /// Bytes of the next request are here.
    Ready,
    /// Idle while others wait for a worker: hand it to the parker.
    Park,
    /// Timed out, or past its drain grace: close it cleanly.
    Close,
}

impl Worker {
    /// Waits for the first byte of a connection's next request, whatever
    /// its protocol: until its idle (or header) timeout, in a drain until
    /// its grace ends; parks it instead when other connections wait for a
    /// worker.
    pub(crate) fn await_request(&mut self, conn: &mut Conn) -> Await {
        if conn.io().buffered() {
            // TLS already holds the next request's plaintext.
            return Await::Ready;
        }
        loop {
            let deadline = conn.wait_deadline(self.shared.is_closing());
            self.slot.idle_wait.store(true, Ordering::SeqCst);
            if self.queues.waiting() > 0 {
                self.slot.idle_wait.store(false, Ordering::SeqCst);
                return if conn.io().readable_now() {
                    Await::Ready
                } else {
                    Await::Park
                };
            }
            let r = wait_readable(&*conn.stream, Some(&self.slot.waker), Some(deadline));
            self.slot.idle_wait.store(false, Ordering::SeqCst);
            match r {
                Ok(Ready::Readable) => return Await::Ready,
                Ok(Ready::Woken) => continue,
                Ok(Ready::TimedOut) | Err(_) => return Await::Close,
            }
        }
    }

    /// Serves requests on `conn`, one `step` each, whatever the protocol,
    /// until it closes or is parked.
    pub(crate) fn run_conn(
        &mut self,
        mut conn: Conn,
        step: fn(&mut Worker, &mut Conn) -> Next,
    ) -> Outcome {
        loop {
            if self.buf.is_empty() {
                match self.await_request(&mut conn) {
                    Await::Ready => {}
                    Await::Park => return Outcome::Park(conn),
                    Await::Close => {
                        self.parker.close(conn);
                        return Outcome::Done;
                    }
                }
            }
            match step(self, &mut conn) {
                Next::KeepAlive => conn.last_active = std::time::Instant::now(),
                Next::Close => {
                    self.parker.close(conn);
                    return Outcome::Done;
                }
                Next::Drop => return Outcome::Done,
            }
        }
    }

    fn run(mut self) {
        let queue = self.queues.queue.clone();
        loop {
            self.queues.free.fetch_add(1, Ordering::SeqCst);
            let got = queue.recv();
            self.queues.free.fetch_sub(1, Ordering::SeqCst);
            match got {
                Ok(conn) => self.serve(conn),
                // The accept loop and the parker are gone: the run is over.
                Err(_) => return,
            }
        }
    }

    fn serve(&mut self, conn: Conn) {
        let step = match conn.proto {
            Protocol::Http1 => crate::http1::conn::one_request,
            Protocol::FastCgi => crate::fastcgi::conn::one_request,
        };
        match catch_unwind(AssertUnwindSafe(|| self.run_conn(conn, step))) {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Park(conn)) => self.parker.park(conn),
            Err(_) => {
                // Handler panics are caught closer to the handler; this is
                // the net under the server's own code. The connection was
                // dropped (and deregistered) while unwinding.
                log::error!("courteous: internal panic while serving a connection");
            }
        }
        self.buf.reset();
        self.slot.idle_wait.store(false, Ordering::SeqCst);
    }
}

/// The running pool.
pub(crate) struct Pool {
    pub(crate) queue: Sender<Conn>,
    pub(crate) queues: Arc<Queues>,
}

impl Pool {
    /// Starts the workers on the queue (`queue` and `rx` are its two ends;
    /// the parker holds another sender).
    pub(crate) fn start(
        shared: &Arc<Shared>,
        handler: Arc<dyn Handler>,
        slots: Vec<Arc<Slot>>,
        (queue, rx): (Sender<Conn>, Receiver<Conn>),
        parker: &ParkerHandle,
    ) -> io::Result<Pool> {
        let queues = Arc::new(Queues {
            queue: rx,
            slots: slots.clone(),
            free: AtomicUsize::new(0),
        });
        for (i, slot) in slots.into_iter().enumerate() {
            let worker = Worker {
                shared: shared.clone(),
                handler: handler.clone(),
                slot,
                queues: queues.clone(),
                parker: parker.clone(),
                buf: ReadBuf::new(),
                wbuf: Vec::with_capacity(1024),
                records: Default::default(),
                scratch: Default::default(),
            };
            // Detached: see `stop`.
            thread::Builder::new()
                .name(format!("courteous-worker-{i}"))
                .spawn(move || worker.run())?;
        }
        Ok(Pool { queue, queues })
    }

    /// Stops taking work: the workers, idle once a drain completed, exit
    /// on their own as the queues disconnect; after a forced close one may
    /// still be inside a handler and finishes it first. `serve` does not
    /// wait for them: joining a large pool's threads one by one took
    /// milliseconds past the last response.
    pub(crate) fn stop(self) {
        drop(self.queue);
    }
}
