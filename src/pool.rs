//! The fixed worker pool. Workers take new connections from one bounded
//! queue, which the accept loop fills, and connections whose next request
//! arrived from the idle set, where every connection no worker holds waits.
//! A worker keeps a connection while requests are buffered (pipelined, or
//! TLS plaintext); between requests it parks it and takes whatever is ready
//! next, so under load a worker serves many connections without sleeping
//! and a slow handler holds only its own.
//!
//! ```text
//!  accept ── queue (bounded) + doorbell ──► worker ──response sent──► idle set
//!                                             ▲                          │
//!                                             └──── request arrives ─────┘
//! ```

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};

use crate::conn::{Conn, Next};
use crate::conn_info::ConnState;
use crate::handler::Handler;
use crate::idle::{IdleSet, Wake};
use crate::net::{Got, Protocol, Waker};
use crate::state::ServerState;
use crate::step::{StepContext, StepFn};

/// A worker thread: what it lends each protocol step, and where it
/// finds work.
pub(crate) struct Worker {
    ctx: StepContext,
    queue: Receiver<Conn>,
    idle: Arc<IdleSet>,
}

/// How a worker is done with a connection.
pub(crate) enum Outcome {
    /// Closed (cleanly, or dropped after an error).
    Done,
    /// Waiting for its next request: hand it to the idle set.
    Park(Conn),
}

impl Worker {
    /// Serves requests on `conn`, one `step` each, whatever the protocol,
    /// while its input is at hand; parks it when it has to wait.
    ///
    /// Before each request its socket is read without waiting (an event
    /// may be stale: for bytes read already, or for an earlier socket on
    /// the same descriptor); nothing there parks it. After the first
    /// request, a plain TCP socket whose last read came back short parks
    /// without that read ([`Conn::input_drained`]).
    pub(crate) fn run_conn(&mut self, mut conn: Conn, step: StepFn) -> Outcome {
        // What woke it is read whatever an earlier read said.
        let mut fresh = true;
        loop {
            if self.ctx.buf.is_empty() {
                let plain = !conn.is_tls() && conn.proto() == Protocol::Http1;
                // The edge-triggered epoll owes no event for bytes that were
                // already queued when the last one came, so the socket is
                // read before it parks, unless the last read came back
                // short: that emptied the queue, and what came since is owed
                // an event (the idle set sees it, and the park puts the
                // connection on the ready list). A short read proves that
                // only on plain TCP with no urgent data
                // ([`Conn::input_drained`]). The read costs one system call
                // per keep-alive request that reports nothing.
                if !std::mem::take(&mut fresh) && conn.input_drained() {
                    return Outcome::Park(conn);
                }
                let here = if plain {
                    // The read that the request needs anyway.
                    match self.ctx.buf.fill_now(&mut conn.io()) {
                        Ok(Got::Data(_)) => true,
                        // (A read that does not wait is never TimedOut or Woken.)
                        Ok(Got::WouldBlock | Got::TimedOut | Got::Woken) => false,
                        // Gone: nothing to answer.
                        Ok(Got::Eof) | Err(_) => return Outcome::Done,
                    }
                } else {
                    conn.io().readable_now()
                };
                if !here {
                    return Outcome::Park(conn);
                }
            }
            match step(&mut self.ctx, &mut conn) {
                Next::KeepAlive => {}
                Next::Close => {
                    self.idle.close(conn);
                    return Outcome::Done;
                }
                Next::Drop => {
                    if conn.state() == ConnState::Hijacked {
                        self.idle.forget(&conn);
                    }
                    return Outcome::Done;
                }
            }
        }
    }

    fn run(mut self) {
        loop {
            match self.queue.try_recv() {
                Ok(conn) => {
                    self.serve(conn);
                    continue;
                }
                // The accept loop and the timer thread are gone: the run is over.
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {}
            }
            match self.idle.wait() {
                Wake::Conn(conn) => self.serve(conn),
                Wake::Queue => {
                    // One ring woke one worker: more connections waiting
                    // are announced to the others.
                    if let Ok(conn) = self.queue.try_recv() {
                        if !self.queue.is_empty() {
                            self.idle.ring();
                        }
                        self.serve(conn);
                    }
                }
                Wake::Stop => return,
            }
        }
    }

    fn serve(&mut self, mut conn: Conn) {
        let step = match conn.proto() {
            Protocol::Http1 => crate::http1::conn::one_request,
            Protocol::FastCgi => crate::fastcgi::conn::one_request,
        };
        loop {
            let began = std::time::Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| self.run_conn(conn, step)));
            self.idle.record_service(began.elapsed());
            self.ctx.buf.reset();
            match outcome {
                Ok(Outcome::Done) => return,
                Ok(Outcome::Park(c)) => match self.idle.park_or_give_back(c) {
                    // Its next request crossed the response: read it now.
                    Some(c) => conn = c,
                    None => return,
                },
                Err(_) => {
                    // Handler panics are caught closer to the handler; this is
                    // the net under the server's own code. The connection was
                    // dropped (and deregistered) while unwinding.
                    log::error!("courteous: internal panic while serving a connection");
                    return;
                }
            }
        }
    }
}

/// The running pool.
pub(crate) struct Pool {
    queue: Sender<Conn>,
    pub(crate) idle: Arc<IdleSet>,
}

impl Pool {
    /// Starts the workers on the queue (`queue` and `rx` are its two ends;
    /// the timer thread holds another sender) and the idle set.
    pub(crate) fn start(
        shared: &Arc<ServerState>,
        handler: Arc<dyn Handler>,
        wakers: Vec<Arc<Waker>>,
        (queue, rx): (Sender<Conn>, Receiver<Conn>),
        idle: Arc<IdleSet>,
    ) -> io::Result<Pool> {
        for (i, waker) in wakers.into_iter().enumerate() {
            let worker = Worker {
                ctx: StepContext::new(shared.clone(), handler.clone(), waker),
                queue: rx.clone(),
                idle: idle.clone(),
            };
            // Detached: see `stop`.
            if let Err(e) = thread::Builder::new()
                .name(format!("courteous-worker-{i}"))
                .spawn(move || worker.run())
            {
                idle.stop();
                return Err(e);
            }
        }
        Ok(Pool { queue, idle })
    }

    /// Hands a new connection to the workers; gives it back when the queue
    /// is full.
    pub(crate) fn offer(&self, conn: Conn) -> Result<(), TrySendError<Conn>> {
        self.queue.try_send(conn)?;
        self.idle.ring();
        Ok(())
    }

    /// Waits for room in the queue, unless `closed` fires first (then the
    /// connection is given back).
    pub(crate) fn send_or(&self, conn: Conn, closed: &Receiver<()>) -> Option<Conn> {
        let mut sel = crossbeam_channel::Select::new();
        let send = sel.send(&self.queue);
        let _close = sel.recv(closed);
        let op = sel.select();
        if op.index() == send {
            if op.send(&self.queue, conn).is_ok() {
                self.idle.ring();
            }
            return None;
        }
        let _ = op.recv(closed);
        Some(conn)
    }

    /// Stops taking work: the workers, idle once a drain completed, exit
    /// on their own; after a forced close one may still be inside a
    /// handler and finishes it first. `serve` does not wait for them:
    /// joining a large pool's threads one by one took milliseconds past
    /// the last response.
    pub(crate) fn stop(self) {
        self.idle.stop();
        drop(self.queue);
    }
}
