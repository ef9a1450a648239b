//! The timer thread: one thread that keeps the time of every connection no
//! worker holds, and watches the crew of workers.
//!
//! Connections wait in the [idle set](crate::idle) for their next request
//! (watched, or on its ready list for a free worker), or linger there
//! after our FIN. When a waiting one's timeout (or, in a
//! drain, its grace) passes, the timer thread takes it out and closes it
//! cleanly, or, if its request arrived just then, queues it for a worker;
//! a lingering one whose linger is over is closed. While workers are out
//! serving it ticks, and calls one in from the bench when every worker in
//! circulation is held up.
//!
//! ```text
//!   idle set ──deadline──► timer ──request here──► queue (a worker)
//!                            │ silent
//!                            ▼
//!                          close: FIN, linger in the idle set
//! ```

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::conn::Conn;
use crate::idle::{IdleSet, TICK};
use crate::net::Waker;
use crate::state::ServerState;

/// How the server stops the timer thread.
pub(crate) struct TimerHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl TimerHandle {
    pub(crate) fn stop(&self) {
        self.stop.store(true, SeqCst);
        self.waker.wake();
    }
}

pub(crate) struct TimerThread {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    /// The workers' queue.
    ready: Sender<Conn>,
    /// Connections whose request arrived while the queue was full: sent
    /// again on the next turn (the timer thread never blocks on the queue).
    pending: std::collections::VecDeque<Conn>,
    idle: Arc<IdleSet>,
    shared: Arc<ServerState>,
}

/// Creates the timer thread, which sends connections back to the workers on
/// `ready`, and its handle.
pub(crate) fn new(
    shared: &Arc<ServerState>,
    waker: Arc<Waker>,
    ready: Sender<Conn>,
    idle: Arc<IdleSet>,
) -> (TimerHandle, TimerThread) {
    let stop = Arc::new(AtomicBool::new(false));
    (
        TimerHandle {
            stop: stop.clone(),
            waker: waker.clone(),
        },
        TimerThread {
            stop,
            waker,
            ready,
            pending: Default::default(),
            idle,
            shared: shared.clone(),
        },
    )
}

impl TimerThread {
    pub(crate) fn start(self) -> io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("courteous-timer".into())
            .spawn(move || self.run())
    }

    fn run(mut self) {
        let mut expired = Vec::new();
        let mut progress = 0;
        let mut quiet = 0;
        let mut next_tick: Option<Instant> = None;
        // When the held connections' deadlines are next looked at, and
        // whether that look applied the drain's rules.
        let mut planned: Option<Instant> = None;
        let mut planned_draining = false;
        while !self.stop.load(SeqCst) {
            while let Some(c) = self.pending.pop_front() {
                if let Err(c) = self.dispatch(c) {
                    self.pending.push_front(c);
                    break;
                }
            }
            let now = Instant::now();
            let draining = self.shared.is_closing();
            // Deadlines are looked at only when one may have passed: at
            // the planned time (brought forward by a connection that parked
            // with an earlier deadline), or when the drain began.
            if let Some(t) = self.idle.next_look() {
                planned = Some(planned.map_or(t, |p| p.min(t)));
            }
            let due = planned.map_or(true, |t| now >= t) || draining != planned_draining;
            if due {
                planned = Some(self.idle.expire(now, draining, &mut expired));
                planned_draining = draining;
            }
            for mut c in expired.drain(..) {
                if c.io().readable_now() {
                    // Its request arrived just as its time ran out (or it
                    // waited on the ready list, named by an event, while
                    // every worker was held up): serve it.
                    self.hand_back(c);
                } else {
                    self.idle.close_now(c);
                }
            }

            // While workers are out serving, look at the crew every tick
            // (starting one tick after they went out).
            match next_tick {
                None if self.idle.ticking() => {
                    quiet = 0;
                    progress = self.idle.progress();
                    next_tick = Some(now + TICK);
                }
                Some(t) if now >= t => {
                    next_tick = self
                        .idle
                        .watch(&mut progress, &mut quiet)
                        .then_some(now + TICK);
                }
                _ => {}
            }
            let tick = next_tick;
            // Connections the full queue refused are retried soon.
            let retry = (!self.pending.is_empty()).then_some(now + Duration::from_millis(1));
            let next = [planned, tick, retry].into_iter().flatten().min();
            // Timed from now, not from the turn's start: closing many
            // connections (or being preempted) took time the sleep must not
            // add to the next deadline.
            let now = Instant::now();
            let timeout = next.map(|d| {
                Timespec::try_from(d.saturating_duration_since(now)).unwrap_or(Timespec {
                    tv_sec: i64::MAX / 2,
                    tv_nsec: 0,
                })
            });
            let mut fds = [PollFd::new(&*self.waker, PollFlags::IN)];
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => log::error!("courteous: timer poll failed: {e}"),
            }
            if !fds[0].revents().is_empty() {
                self.waker.drain();
            }
        }
    }

    /// Back to the workers: its next request is here. A full queue keeps
    /// it pending for the next turn.
    fn hand_back(&mut self, c: Conn) {
        if let Err(c) = self.dispatch(c) {
            self.pending.push_back(c);
        }
    }

    fn dispatch(&self, c: Conn) -> Result<(), Conn> {
        match self.ready.try_send(c) {
            Ok(()) => {
                self.idle.ring();
                Ok(())
            }
            Err(crossbeam_channel::TrySendError::Full(c)) => Err(c),
            // The run is over; dropping the connection closes it.
            Err(crossbeam_channel::TrySendError::Disconnected(_)) => Ok(()),
        }
    }
}
