//! The idle set: where connections wait for their next request while no
//! worker holds them, watched by one epoll instance that every free worker
//! waits on.
//!
//! A connection is registered with the epoll once, edge-triggered, for
//! its socket's life ([`Slots`](crate::slots) says why that is safe), so
//! a worker that finished a response parks its connection with no system
//! call (and, when its last read came back short, with no read either:
//! what arrives later is owed an event; urgent data, which a read stops
//! short at, is watched for as `EPOLLPRI` so that such a socket is read
//! until empty), and asks the set for the next thing to do: a connection whose
//! request arrived, or a wake of the doorbell (the accept queue holds new
//! connections, or the ready list does), or the end of the run. One
//! `epoll_wait` takes up to [`EVENTS`] events; the connections they name
//! go on the ready list, which every free worker looks at before the
//! kernel, and another free worker is rung when more than one was found.
//! Under load the answer is usually ready, so a worker goes from
//! connection to connection without sleeping: a few workers serve many
//! connections, as an event loop would, and a slow handler holds only its
//! own.
//!
//! ```text
//!   accept ──park────┐ (a new connection, its request not here yet)
//!                    ▼
//!   worker ──park──► Waiting (watched) ──readable──► ready list ──► a free worker
//!                      │                                 │ (every worker held up)
//!                      │ deadline (idle / header timeout, drain grace), in either
//!                      ▼                                 ▼
//!                    the timer thread: serve it if its request is here, else ─┐
//!                                                                             ▼
//!   worker ──close──► FIN sent ──peer's FIN already here──► closed          close
//!                      │ not yet
//!                      ▼
//!                    Lingering (watched) ──readable: read, discard; FIN──► closed
//!                      │ a look (the timer thread): our FIN acknowledged and
//!                      │ quiet for a margin, or `linger` over
//!                      ▼
//!                    closed
//! ```
//!
//! A deadline holds wherever the connection waits: in the table, or on
//! the ready list, where it can wait long while every worker is held up
//! by slow handlers. The timer thread looks at both; a waiting connection
//! it takes off the ready list was named by an event, and its request is
//! served if it is there.
//!
//! A close is clean only if nothing the peer sent is left unread: a close
//! with unread input makes the kernel answer with a reset (manners' issue
//! 13). So every close sends our FIN, then the connection lingers here,
//! its input read and discarded by whichever free worker sees it, until
//! the peer's own FIN, or until the peer acknowledged our FIN and nothing
//! came for a few round-trip times ([`Linger`]), at most
//! [`linger`](crate::Builder::linger).
//!
//! One free worker, the sleeper, waits in `epoll_wait`: with two, each
//! event woke a sleeping thread while a running one was about to take
//! it, a context switch per request on both sides of the socket (on two
//! cores, a tenth of the throughput). The other free workers sit on the
//! bench (a condition variable); when turns are long (a pipeline, a slow
//! handler) they wait one tick more for work in `epoll_wait` first (a
//! blocking handler's worker, back from it, usually finds its
//! connection's next request then). More workers come to the work by
//! three rules, all judged by the recent time a worker spends on a
//! connection (its turn, [`record_service`](IdleSet::record_service)):
//! - the sleeper, leaving with work while turns are long, brings another
//!   to watch the kernel in its place;
//! - a worker that leaves others on the ready list (or found a full
//!   batch) brings one more if they would wait long for it
//!   ([`help_with`](IdleSet::help_with));
//! - the timer thread watches the crew while workers are out serving:
//!   when for a whole tick no turn ended and no worker came back free
//!   (every one in circulation is held by a slow handler, a slow client,
//!   or a long body), it calls one in from the bench.
//!
//! So a fast load is served by one worker, as an event loop would serve
//! it, and a slow one gets a worker per connection that needs one.
//!
//! Watched connections live in a table by file descriptor, the event's
//! data; an event for a connection that is out (on a worker, with the
//! timer thread, on the ready list) is remembered there, and its next
//! park puts it on the ready list instead (or, for the worker that served
//! it, gives it back to be read at once:
//! [`park_or_give_back`](IdleSet::park_or_give_back)). The doorbell is an
//! edge-triggered eventfd, never read: each ring wakes one waiter, and the
//! worker that takes a connection from the queue rings again if more wait.
//! The stop bell is a level-triggered socket pair never emptied: every
//! waiter, in turn, sees it and leaves.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustix::event::epoll;

use crate::conn::Conn;
use crate::net::{read_now, Got, Waker};
use crate::slots::Slots;

/// The doorbell's event key: the accept queue holds connections.
const DOORBELL: u64 = u64::MAX;
/// The stop bell's event key: the run is over.
const STOP: u64 = u64::MAX - 1;

/// How often the timer thread looks at the crew while workers are out serving.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// [`TICK`], for `epoll_wait`.
const TICK_SPEC: rustix::event::Timespec = rustix::event::Timespec {
    tv_sec: 0,
    tv_nsec: TICK.as_nanos() as i64,
};
/// Connections on the ready list are left to the worker that found them
/// unless they would wait this long for it.
const RING_AFTER: Duration = Duration::from_micros(250);
/// A free worker that is not the sleeper waits a tick in `epoll_wait`
/// before the bench only when turns take this long: then a second worker
/// in circulation is worth the wake-ups it costs (pipelined requests, slow
/// handlers); with short turns the one sleeper keeps up, and a second
/// would only take events from it, a context switch each.
const LINGER_AFTER: Duration = Duration::from_micros(50);
/// See [`IdleSet::record_service`].
const SAMPLE_SLACK_NS: u64 = 50_000;
/// The most events one `epoll_wait` takes.
const EVENTS: usize = 32;
/// What a connection's socket is watched for, edge-triggered: input,
/// and urgent data (`EPOLLPRI`), which a read stops short at, so that the
/// worker knows a short read no longer proves the socket empty.
fn watch_flags() -> epoll::EventFlags {
    epoll::EventFlags::IN | epoll::EventFlags::PRI | epoll::EventFlags::ET
}

/// No wait at all, for `epoll_wait`.
const NO_WAIT: rustix::event::Timespec = rustix::event::Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// The timer thread keeps ticking this many ticks after the crew came home, so
/// that a light but steady load does not have to wake it for every request.
const QUIET_TICKS: u32 = 20;

/// The timer thread's longest sleep while connections are parked: a connection
/// parked with an earlier deadline wakes it.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// A connection no worker holds.
struct Held {
    conn: Conn,
    /// Lingering after our FIN; `None`: waiting for a request.
    linger: Option<Linger>,
}

impl Held {
    fn deadline(&self, draining: bool) -> Instant {
        match &self.linger {
            Some(l) => l.next_look.min(l.until),
            None => self.conn.wait_deadline(draining),
        }
    }
}

/// A lingering close: our FIN is sent, and what the peer still sends is
/// read and discarded, so that the close cannot turn into a reset that
/// erases a response the peer has not read yet (RFC 9112 §9.6). The risk
/// is over once every byte of ours before the FIN is acknowledged (the
/// response is in the peer's kernel: a reset can no longer cost it), the
/// FIN has left, and nothing came for a margin of a few round-trip times
/// since: what the peer sent before our FIN reached it has arrived by
/// then, and was read. (The FIN's own acknowledgement is not awaited: a
/// peer that reads nothing delays it by its delayed-ACK timer, 40 ms on
/// Linux.) The margin is at least a fiftieth of the configured `linger`
/// (10 ms by default, [`quiet_floor`]), so that a client whose request
/// crossed our FIN on a busy machine is still heard. A peer that
/// did send after our FIN is in the middle of a request: the linger then
/// lasts until its FIN (it reads our EOF and closes), so a slow upload is
/// never cut off by a reset. The configured `linger` is only the upper
/// bound. So a client that keeps its socket open after the response, or a
/// pool that never reads an idle socket, does not hold the drain: a
/// linger ends about 10 ms after our FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Linger {
    /// The upper bound (`linger` after our FIN).
    until: Instant,
    /// When to look at the socket next.
    next_look: Instant,
    /// Since when nothing came from the peer.
    quiet_since: Instant,
    /// The wait between looks while the response is not yet acknowledged.
    step: Duration,
    /// The peer sent after our FIN: only its FIN (or the bound) ends this.
    talking: bool,
    /// The shortest quiet margin ([`quiet_floor`]).
    floor: Duration,
}

/// The first look at a lingering close.
const SETTLE_MIN: Duration = Duration::from_millis(1);
/// The shortest quiet margin after our FIN, for a `linger` bound: a
/// fiftieth of it (10 ms for the default 500 ms), at least [`SETTLE_MIN`].
/// A longer linger buys a longer watch for late bytes.
fn quiet_floor(bound: Duration) -> Duration {
    (bound / 50).max(SETTLE_MIN)
}
/// The longest wait between looks while our FIN is unacknowledged.
const SETTLE_MAX_STEP: Duration = Duration::from_millis(50);

/// What a look at a lingering close decided.
#[derive(Debug, PartialEq, Eq)]
enum Settle {
    /// Close it now.
    Done,
    /// Look again then.
    Again(Linger),
}

impl Linger {
    fn new(now: Instant, bound: Duration) -> Linger {
        Linger {
            until: now + bound,
            next_look: now + SETTLE_MIN,
            quiet_since: now,
            step: SETTLE_MIN,
            talking: false,
            floor: quiet_floor(bound),
        }
    }

    /// Bytes came from the peer after our FIN (and were discarded).
    fn heard(&mut self, now: Instant) {
        self.quiet_since = now;
        self.talking = true;
    }

    /// The margin after the acknowledgement with nothing read: twice the
    /// smoothed round-trip time plus four times its variation (a segment
    /// merely delayed or reordered arrives within that), at least the
    /// floor.
    fn margin(&self, rtt: Duration, rtt_var: Duration) -> Duration {
        (rtt * 2 + rtt_var * 4).max(self.floor)
    }

    /// A look at `now`: `input` says what reading the socket found, `fin`
    /// what the kernel says of our FIN (`None`: not TCP, a Unix socket,
    /// where a close never resets).
    fn look(
        mut self,
        now: Instant,
        input: Input,
        fin: Option<crate::tcp_info::AfterFin>,
    ) -> Settle {
        match input {
            Input::Closed => return Settle::Done,
            Input::Came | Input::More => self.heard(now),
            Input::Quiet => {}
        }
        if now >= self.until {
            return Settle::Done;
        }
        if self.talking {
            // Its FIN wakes a worker (the socket is watched); else the bound.
            self.next_look = self.until;
            return Settle::Again(self);
        }
        let settled_at = match fin {
            Some(f) if !f.delivered => {
                self.next_look = now + self.step;
                self.step = (self.step * 2).min(SETTLE_MAX_STEP);
                return Settle::Again(self);
            }
            Some(f) => self.quiet_since + self.margin(f.rtt, f.rtt_var),
            None => self.quiet_since + self.floor,
        };
        if now >= settled_at {
            Settle::Done
        } else {
            self.next_look = settled_at;
            Settle::Again(self)
        }
    }
}

/// What [`IdleSet::hold_inner`] did with a connection.
enum Hold {
    /// Watched, or on the ready list.
    Done,
    /// An event came while it was out: back to the worker that asked.
    GivenBack(Conn),
    /// The kernel would not watch it.
    Refused(Conn),
}

impl Hold {
    /// For callers that never ask for it back.
    fn into_result(self) -> Result<(), Conn> {
        match self {
            Hold::Done => Ok(()),
            Hold::Refused(conn) | Hold::GivenBack(conn) => Err(conn),
        }
    }
}

/// Who waits where.
struct Crew {
    /// Workers out of circulation, on the condition variable.
    benched: usize,
    /// A worker was called in from the bench and is on its way.
    called: bool,
    stopped: bool,
}

/// What a free worker got from [`IdleSet::wait`].
pub(crate) enum Wake {
    /// A parked connection whose next request (or end) arrived.
    Conn(Conn),
    /// The doorbell rang: look at the accept queue.
    Queue,
    /// The run is over.
    Stop,
}

/// The parked connections, and when the timer thread next looks at them.
struct Parked {
    /// Watched connections, by descriptor.
    slots: Slots<Held>,
    /// Connections an event named (or that came back with an event
    /// pending), waiting for the next free worker: one `epoll_wait` takes
    /// up to [`EVENTS`] events, and the workers share what it found.
    ready: VecDeque<Held>,
    /// When the timer thread next looks at deadlines (`None`: not before a wake).
    timer_next: Option<Instant>,
}

/// The connections no worker holds, and the bells free workers wait on.
pub(crate) struct IdleSet {
    epoll: OwnedFd,
    parked: Mutex<Parked>,
    doorbell: OwnedFd,
    stop: Waker,
    /// The timer thread's wake-up, rung when a connection parks with a deadline
    /// before the timer thread's next look, or when it should watch the crew.
    timer: Arc<Waker>,
    crew: Mutex<Crew>,
    bench: Condvar,
    /// Workers in circulation and looking for work.
    free: AtomicUsize,
    /// Counts the times a worker came back free or ended a turn.
    progress: AtomicU64,
    /// A worker holds the one place in a blocking `epoll_wait`.
    sleeper: AtomicBool,
    /// Workers in an `epoll_wait` that may block (the sleeper, and those
    /// waiting a tick before the bench): who a ring reaches.
    waiting: AtomicUsize,
    /// The ready list's length, read without its lock.
    ready_len: AtomicUsize,
    /// How long a worker recently spent on one connection, in
    /// nanoseconds (a moving average).
    service_ns: AtomicU64,
    workers: usize,
    /// The timer thread ticks (watches the crew).
    ticking: AtomicBool,
}

impl IdleSet {
    /// A set for a pool of `workers`.
    pub(crate) fn new(timer: Arc<Waker>, workers: usize) -> io::Result<IdleSet> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let doorbell = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        let stop = Waker::new()?;
        epoll::add(
            &epoll,
            &doorbell,
            epoll::EventData::new_u64(DOORBELL),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        epoll::add(
            &epoll,
            &stop,
            epoll::EventData::new_u64(STOP),
            epoll::EventFlags::IN,
        )?;
        Ok(IdleSet {
            epoll,
            parked: Mutex::new(Parked {
                slots: Slots::new(),
                ready: VecDeque::new(),
                timer_next: None,
            }),
            doorbell,
            stop,
            timer,
            crew: Mutex::new(Crew {
                benched: 0,
                called: false,
                stopped: false,
            }),
            bench: Condvar::new(),
            free: AtomicUsize::new(0),
            progress: AtomicU64::new(0),
            sleeper: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            ready_len: AtomicUsize::new(0),
            service_ns: AtomicU64::new(0),
            workers,
            ticking: AtomicBool::new(false),
        })
    }

    /// Parks `conn` until its next request arrives (or the timer thread's
    /// deadline for it); closes it if the kernel refuses to watch it.
    pub(crate) fn park(&self, conn: Conn) {
        match self.hold_inner(Held { conn, linger: None }, true, false) {
            Hold::Done => {}
            Hold::Refused(conn) => self.close(conn),
            Hold::GivenBack(_) => unreachable!("not asked for"),
        }
    }

    /// [`park`](Self::park) for the worker that served `conn`: when an
    /// event came for it while the worker held it (its next request
    /// crossed the response), it is given back for the worker to read at
    /// once, as a read before parking would have found it, rather than
    /// queued on the ready list for another worker rung to take it.
    pub(crate) fn park_or_give_back(&self, conn: Conn) -> Option<Conn> {
        match self.hold_inner(Held { conn, linger: None }, true, true) {
            Hold::Done => None,
            Hold::Refused(conn) => {
                self.close(conn);
                None
            }
            Hold::GivenBack(conn) => Some(conn),
        }
    }

    /// Closes `conn` cleanly: our FIN now; then, unless the peer's FIN is
    /// already here, it lingers until the peer's FIN or the linger bound.
    /// No worker waits for it. For a worker: a TLS `close_notify` may wait
    /// for room in the socket, as the response before it did.
    pub(crate) fn close(&self, conn: Conn) {
        self.close_with(conn, true);
    }

    /// [`close`](Self::close) for the timer thread, which must never wait on one
    /// connection: a TLS `close_notify` that does not fit in the socket now
    /// (the peer stopped reading) is left out.
    pub(crate) fn close_now(&self, conn: Conn) {
        self.close_with(conn, false);
    }

    fn close_with(&self, mut conn: Conn, wait: bool) {
        conn.close_write(wait);
        let linger = conn.shared().config.drain.linger;
        if linger.is_zero() {
            return;
        }
        let input = discard_input(&conn);
        if input == Input::Closed {
            return;
        }
        let linger = Linger::new(Instant::now(), linger);
        let held = Held {
            conn,
            linger: Some(linger),
        };
        if self.linger_on(held, input, true).is_err() {
            log::warn!("courteous: closing a connection without its linger");
        }
    }

    /// A lingering connection whose input was just read: watched again
    /// (`wake_timer`: false for the timer thread itself, which reads the
    /// planned look after its turn), or, when the read stopped at its bound with more there (no event
    /// is owed for that), on the ready list.
    fn linger_on(&self, held: Held, input: Input, wake_timer: bool) -> Result<(), Conn> {
        if input != Input::More || !held.conn.watched() {
            // (Not registered yet: the registration reports a readable socket.)
            return self.hold_inner(held, wake_timer, false).into_result();
        }
        // No event is owed for what is still queued. Watched again, and the
        // kernel asked to look (a MOD re-polls the socket and queues an event
        // if it is readable): it waits its turn behind the doorbell and the
        // other sockets rather than cycling on the ready list. The handle
        // keeps the descriptor ours until the MOD.
        let stream = held.conn.stream_handle();
        let fd = fd_of(&held.conn);
        self.hold_inner(held, wake_timer, false).into_result()?;
        let data = epoll::EventData::new_u64(fd as u64);
        let _ = epoll::modify(&self.epoll, &*stream, data, watch_flags());
        Ok(())
    }

    /// Watches a connection no worker holds (`give_back`: unless an event
    /// came for it while it was out, for a waiting one).
    fn hold_inner(&self, mut held: Held, wake_timer: bool, give_back: bool) -> Hold {
        let fd = fd_of(&held.conn);
        let register = !held.conn.watched();
        held.conn.set_watched(true);
        let stream = held.conn.stream_handle();
        #[cfg(test)]
        if let Some(f) = tests::BEFORE_LOCK.with(|h| h.take()) {
            f();
        }
        let mut parked = self.parked.lock();
        // Whether a drain began is read under the lock: a timer that saw
        // the drain begin and looked at the table before this (missing this
        // connection) made this read see it too, so this connection's
        // deadline is the drain's and it wakes the timer thread if that is
        // sooner than planned. Read before the lock, a drain could begin
        // unseen by both, and the connection wait out its idle timeout.
        let deadline = held.deadline(held.conn.shared().is_closing());
        let mut queued = false;
        if register {
            parked.slots.watch(fd, held);
            // Registered under the lock: an event can only name a
            // connection that is in the table. Edge-triggered, once for
            // the socket's life; a socket readable already reports at once.
            let data = epoll::EventData::new_u64(fd as u64);
            let flags = watch_flags();
            let done = match epoll::add(&self.epoll, &*stream, data, flags) {
                Err(rustix::io::Errno::EXIST) => epoll::modify(&self.epoll, &*stream, data, flags),
                r => r,
            };
            if let Err(e) = done {
                log::warn!("courteous: cannot watch an idle connection: {e}");
                let mut held = parked.slots.take_held(fd).expect("just held");
                parked.slots.forget(fd);
                held.conn.set_watched(false);
                return Hold::Refused(held.conn);
            }
        } else if let Err((mut held, urgent)) = parked.slots.put(fd, held) {
            // An event came while it was out: it may have input already,
            // so it goes to the next free worker, which looks. Its
            // deadline holds there too (the timer thread looks at the
            // ready list): every worker may be held up.
            if urgent {
                held.conn.set_urgent();
            }
            if give_back && held.linger.is_none() {
                // Out again, with the worker: its slot says so already.
                return Hold::GivenBack(held.conn);
            }
            parked.ready.push_back(held);
            self.ready_len.store(parked.ready.len(), SeqCst);
            queued = true;
        }
        let wake = parked.timer_next.map_or(true, |n| deadline < n);
        if wake {
            // Sooner than the timer thread planned to look: it looks again.
            parked.timer_next = Some(deadline);
        }
        drop(parked);
        if queued {
            self.announce_ready();
        }
        if wake && wake_timer {
            self.timer.wake();
        }
        Hold::Done
    }

    /// The ready list gained connections: a worker waiting in
    /// `epoll_wait` (or about to) is rung. With none waiting, the next
    /// worker back takes them, and a worker called in from the bench does
    /// when every one is held up.
    fn announce_ready(&self) {
        // Pairs with the fence in `wait_events`: either this sees a worker
        // waiting, or that worker sees the ready list.
        std::sync::atomic::fence(SeqCst);
        if self.waiting.load(SeqCst) > 0 {
            self.ring();
        }
    }

    /// `left` connections wait on the ready list behind the one this
    /// worker takes (and, when `more` says an `epoll_wait` came back full,
    /// as many again in the kernel): another worker joins only if they
    /// would wait long for this one, [`RING_AFTER`] by the recent time a
    /// worker spends on a connection. One rung if it waits in
    /// `epoll_wait`, else one called in from the bench: so a load that
    /// one worker cannot keep up with gets as many as it needs, one at a
    /// time. A fast handler's worker is back before a woken worker would
    /// be running (on two cores, waking it cost a third of the
    /// throughput); a slow handler's next requests get workers of their
    /// own at once. A misjudged slow one is rescued at the timer thread's
    /// next tick ([`watch`](Self::watch)).
    fn help_with(&self, left: usize, more: bool) {
        let backlog = left + if more { EVENTS } else { 0 };
        if backlog == 0 {
            return;
        }
        if self.service().saturating_mul(backlog as u32) >= RING_AFTER {
            self.recruit();
        }
    }

    /// Brings another worker to the work: one waiting in `epoll_wait` is
    /// rung, else one is called in from the bench.
    fn recruit(&self) {
        // Pairs with the fence in `wait_events`, as in `announce_ready`.
        std::sync::atomic::fence(SeqCst);
        if self.waiting.load(SeqCst) > 0 {
            self.ring();
        } else {
            self.call_in();
        }
    }

    /// The recent time a worker spends on one connection.
    fn service(&self) -> Duration {
        Duration::from_nanos(self.service_ns.load(Relaxed))
    }

    /// A worker spent `took` on one connection (from taking it to parking
    /// or closing it): progress for the timer thread's watch, and the
    /// running estimate the crew's rules use, a moving average over the
    /// last eight or so. A sample counts for at most twice the estimate
    /// (plus [`SAMPLE_SLACK_NS`]): one turn stretched by a preempted thread
    /// must not make a fast load look slow and wake workers for it, while
    /// a load that turned slow is believed within a couple dozen turns
    /// (and is rescued at the timer thread's tick until then).
    pub(crate) fn record_service(&self, took: Duration) {
        self.progress.fetch_add(1, SeqCst);
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.service_ns.load(Relaxed);
        let sample = sample.min(old.saturating_mul(2).saturating_add(SAMPLE_SLACK_NS));
        // Racy on purpose: a lost update only ages the estimate.
        let new = old - old / 8 + sample / 8;
        self.service_ns.store(new, Relaxed);
    }

    /// A hijacked connection's socket stays open in the handler's hands:
    /// the epoll stops watching it.
    pub(crate) fn forget(&self, conn: &Conn) {
        if !conn.watched() {
            return;
        }
        let fd = fd_of(conn);
        let mut parked = self.parked.lock();
        let _ = epoll::delete(&self.epoll, conn.stream());
        parked.slots.forget(fd);
    }

    /// Blocks until there is something for a free worker.
    pub(crate) fn wait(&self) -> Wake {
        self.free.fetch_add(1, SeqCst);
        self.progress.fetch_add(1, SeqCst);
        let got = self.find();
        self.free.fetch_sub(1, SeqCst);
        if matches!(got, Wake::Stop) {
            return got;
        }
        if !self.ticking.load(SeqCst) {
            // Out serving: the timer thread watches until the crew is home.
            self.ticking.store(true, SeqCst);
            self.timer.wake();
        }
        got
    }

    /// What there is to do.
    fn find(&self) -> Wake {
        let mut lingered = false;
        loop {
            // Work already waiting is taken without sleeping: what an
            // earlier `epoll_wait` found first.
            if let Some(w) = self.take_ready() {
                return w;
            }
            // Then the kernel's: with the sleeper's place, one
            // `epoll_wait` that returns at once if events are there.
            if self.take_sleeper_place() {
                let got = self.wait_events(None);
                self.sleeper.store(false, SeqCst);
                match got {
                    Some(w) => {
                        // Nobody watches the kernel while this worker is
                        // out: if it will be out long, another takes over.
                        if self.service() >= RING_AFTER {
                            self.recruit();
                        }
                        return w;
                    }
                    None => continue,
                }
            }
            if let Some(w) = self.poll(Some(&NO_WAIT)) {
                return w;
            }
            let mut crew = self.crew.lock();
            if crew.stopped {
                return Wake::Stop;
            }
            if !lingered && self.service() >= LINGER_AFTER {
                lingered = true;
                // Long turns: wait a tick more for work before the bench
                // (work that comes now is likely a blocking handler's next
                // request, or a backlog a second worker is worth waking for).
                drop(crew);
                if let Some(w) = self.wait_events(Some(&TICK_SPEC)) {
                    return w;
                }
            } else {
                self.free.fetch_sub(1, SeqCst);
                crew.benched += 1;
                while !crew.stopped && !std::mem::take(&mut crew.called) {
                    self.bench.wait(&mut crew);
                }
                crew.benched -= 1;
                drop(crew);
                self.free.fetch_add(1, SeqCst);
                self.progress.fetch_add(1, SeqCst);
                lingered = false;
            }
        }
    }

    /// The one place in a blocking `epoll_wait`.
    fn take_sleeper_place(&self) -> bool {
        !self.sleeper.swap(true, SeqCst)
    }

    /// A `poll` that may block: counted in `waiting`, so that work put on
    /// the ready list rings for it, and given up at once if the ready list
    /// filled just before (the ring was not meant for this worker then).
    fn wait_events(&self, timeout: Option<&rustix::event::Timespec>) -> Option<Wake> {
        self.waiting.fetch_add(1, SeqCst);
        // Pairs with the fence in `announce_ready`: either that one sees
        // this worker waiting and rings, or this one sees the ready list.
        std::sync::atomic::fence(SeqCst);
        let got = if self.ready_len.load(SeqCst) > 0 {
            None
        } else {
            self.poll(timeout)
        };
        self.waiting.fetch_sub(1, SeqCst);
        got
    }

    /// The next connection on the ready list, if any.
    fn take_ready(&self) -> Option<Wake> {
        loop {
            let (held, left) = {
                let mut parked = self.parked.lock();
                let held = parked.ready.pop_front()?;
                self.ready_len.store(parked.ready.len(), SeqCst);
                (held, parked.ready.len())
            };
            self.help_with(left, false);
            if let Some(w) = self.deliver(held) {
                return Some(w);
            }
        }
    }

    /// One `epoll_wait`, for up to [`EVENTS`] events: the connections
    /// they name go to the ready list, and this worker takes the first.
    /// `None` when it timed out, or found nothing to serve.
    fn poll(&self, timeout: Option<&rustix::event::Timespec>) -> Option<Wake> {
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); EVENTS];
        let ready = match epoll::wait(&self.epoll, &mut events, timeout) {
            Ok((ready, _)) => ready,
            Err(rustix::io::Errno::INTR) => return None,
            Err(e) => {
                // Cannot happen with a valid epoll and buffer; never spin.
                log::error!("courteous: epoll_wait failed: {e}");
                return Some(Wake::Stop);
            }
        };
        if ready.is_empty() {
            return None;
        }
        let (mut doorbell, mut stop) = (false, false);
        let (first, left) = {
            let mut parked = self.parked.lock();
            for e in ready.iter() {
                match e.data.u64() {
                    DOORBELL => doorbell = true,
                    STOP => stop = true,
                    // `None`: out already (the event is remembered), or
                    // an old event for a descriptor no longer watched.
                    fd => {
                        let flags = e.flags;
                        let urgent = flags.contains(epoll::EventFlags::PRI);
                        if let Some(mut held) = parked.slots.take(fd as usize, urgent) {
                            if urgent {
                                held.conn.set_urgent();
                            }
                            parked.ready.push_back(held);
                        }
                    }
                }
            }
            // At the stop, what was found stays for `clear`.
            let first = if stop { None } else { parked.ready.pop_front() };
            self.ready_len.store(parked.ready.len(), SeqCst);
            (first, parked.ready.len())
        };
        if stop {
            // Keep the bell loud for the next waiter.
            self.stop.wake();
            return Some(Wake::Stop);
        }
        if doorbell {
            // The accept queue first: events that keep coming must not keep
            // passing the ring on past it. What was found waits at the front.
            let queued = first.is_some() || left > 0;
            if let Some(held) = first {
                let mut parked = self.parked.lock();
                parked.ready.push_front(held);
                self.ready_len.store(parked.ready.len(), SeqCst);
            }
            if queued {
                self.announce_ready();
            }
            return Some(Wake::Queue);
        }
        self.help_with(left, ready.len() == EVENTS);
        match first {
            Some(held) => self.deliver(held),
            None if doorbell => Some(Wake::Queue),
            None => None,
        }
    }

    /// A connection an event named: a waiting one goes to the worker,
    /// which reads what came (or finds that nothing did, and parks it
    /// again); a lingering one has its input discarded here, and is done
    /// at the peer's FIN. (The timer thread decides the rest of a linger
    /// at its next look.)
    fn deliver(&self, held: Held) -> Option<Wake> {
        let Some(mut linger) = held.linger else {
            return Some(Wake::Conn(held.conn));
        };
        let now = Instant::now();
        if now >= linger.until {
            // A peer that never stops sending: the bound ends it.
            return None;
        }
        let input = discard_input(&held.conn);
        match input {
            Input::Closed => return None,
            Input::Came | Input::More => linger.heard(now),
            Input::Quiet => {}
        }
        let held = Held {
            conn: held.conn,
            linger: Some(linger),
        };
        let _ = self.linger_on(held, input, true);
        None
    }

    /// The timer thread's look at the crew, every [`TICK`] while it ticks: when
    /// no turn ended and no worker came back free since the last look and none is free, all
    /// in circulation are held up, so one comes in from the bench. Returns
    /// whether to keep ticking (workers are out, or were a moment ago).
    pub(crate) fn watch(&self, last_progress: &mut u64, quiet: &mut u32) -> bool {
        if !self.ticking.load(SeqCst) {
            return false;
        }
        let progress = self.progress.load(SeqCst);
        let stuck = progress == *last_progress;
        if stuck && self.ready_len.load(SeqCst) > 0 {
            // Connections wait on the ready list and no worker came back
            // for a tick: the one they waited for is slow. A waiting
            // worker takes them (and the bench helps if none waits).
            self.announce_ready();
        }
        let out = {
            let mut crew = self.crew.lock();
            if self.free.load(SeqCst) == 0 && stuck {
                Self::call_in_locked(&mut crew, &self.bench);
            }
            self.any_out(&crew)
        };
        *last_progress = progress;
        if out {
            *quiet = 0;
            return true;
        }
        *quiet += 1;
        if *quiet < QUIET_TICKS {
            return true;
        }
        self.ticking.store(false, SeqCst);
        // A worker that went out just now saw `ticking` still set.
        let out = self.any_out(&self.crew.lock());
        if out {
            self.ticking.store(true, SeqCst);
        }
        out
    }

    /// Whether any worker is out serving (neither free nor benched).
    fn any_out(&self, crew: &Crew) -> bool {
        crew.benched + self.free.load(SeqCst) < self.workers
    }

    /// Whether the timer thread should tick: workers went out since it stopped.
    pub(crate) fn ticking(&self) -> bool {
        self.ticking.load(SeqCst)
    }

    /// How many times a worker came back free so far.
    pub(crate) fn progress(&self) -> u64 {
        self.progress.load(SeqCst)
    }

    /// Calls a worker in from the bench, unless one is on its way.
    fn call_in(&self) {
        Self::call_in_locked(&mut self.crew.lock(), &self.bench);
    }

    fn call_in_locked(crew: &mut Crew, bench: &Condvar) {
        if crew.benched > 0 && !crew.called {
            crew.called = true;
            bench.notify_one();
        }
    }

    /// Says the accept queue holds connections: wakes one waiter. (The
    /// count is never read; it would take 2^64 rings to fill it.)
    pub(crate) fn ring(&self) {
        let _ = rustix::io::write(&self.doorbell, &1u64.to_ne_bytes());
    }

    /// Ends the run for every waiting worker.
    pub(crate) fn stop(&self) {
        self.crew.lock().stopped = true;
        self.bench.notify_all();
        self.stop.wake();
    }

    /// When the timer thread must next look at the deadlines: its own plan, or
    /// sooner if a connection parked since with an earlier deadline. (It
    /// moves the plan forward rather than look at once: a stream of
    /// closes, each lingering 500 ms, costs one look per 500 ms, not a
    /// look over every held connection per close.)
    pub(crate) fn next_look(&self) -> Option<Instant> {
        self.parked.lock().timer_next
    }

    /// The timer thread's look: takes out the connections whose deadline passed
    /// (for the drain's rules when `draining`), watched ones and those on
    /// the ready list alike: waiting ones go to `out` (the caller serves
    /// one whose request is there, else closes it); lingering ones are
    /// looked at (closed once the risk of a reset is over, else held for
    /// another look). Says when to look next: the earliest deadline of
    /// those left, at most a [`HEARTBEAT`] away.
    pub(crate) fn expire(&self, now: Instant, draining: bool, out: &mut Vec<Conn>) -> Instant {
        let mut lingering = Vec::new();
        {
            let mut parked = self.parked.lock();
            let mut next: Option<Instant> = None;
            let mut expired = Vec::new();
            for (k, held) in parked.slots.iter() {
                let d = held.deadline(draining);
                if d <= now {
                    expired.push(k);
                } else {
                    next = Some(next.map_or(d, |n: Instant| n.min(d)));
                }
            }
            let mut taken = Vec::new();
            // Still registered: an event while it is out is remembered,
            // and parking it again is no system call.
            for k in expired {
                if let Some(held) = parked.slots.take_held(k) {
                    taken.push(held);
                }
            }
            // The ready list too: while every worker is held up (slow
            // handlers), a connection can wait there past its deadline. It
            // is out of the table already (its slot says so), and the
            // timer thread now has it instead of the next free worker. A
            // waiting one was named by an event, so its request may well
            // be here: the timer thread looks at the socket (and TLS's
            // plaintext) before it closes anything (`readable_now`), and
            // hands a connection whose request is here to a worker.
            if !parked.ready.is_empty() {
                let before = parked.ready.len();
                let ready = std::mem::take(&mut parked.ready);
                for held in ready {
                    let d = held.deadline(draining);
                    if d <= now {
                        taken.push(held);
                    } else {
                        next = Some(next.map_or(d, |n: Instant| n.min(d)));
                        parked.ready.push_back(held);
                    }
                }
                if parked.ready.len() != before {
                    self.ready_len.store(parked.ready.len(), SeqCst);
                }
            }
            for held in taken {
                match held.linger {
                    None => out.push(held.conn),
                    Some(l) => lingering.push((held.conn, l)),
                }
            }
            let next = next.map_or(now + HEARTBEAT, |n| n.min(now + HEARTBEAT));
            parked.timer_next = Some(next);
        }
        // Outside the lock: reading the socket, and a close reports to the
        // registry. One held again moves the planned look forward itself.
        for (conn, linger) in lingering {
            let input = discard_input(&conn);
            let fin = match conn.stream() {
                crate::net::Stream::Tcp(s) => crate::tcp_info::after_fin(s).ok(),
                _ => None,
            };
            if let Settle::Again(l) = linger.look(Instant::now(), input, fin) {
                let held = Held {
                    conn,
                    linger: Some(l),
                };
                let _ = self.linger_on(held, input, false);
            }
        }
        let planned = self.parked.lock().timer_next;
        planned.unwrap_or(now + HEARTBEAT)
    }

    /// Everything still held, when the run ends.
    pub(crate) fn clear(&self) -> Vec<Conn> {
        let all = {
            let mut parked = self.parked.lock();
            let mut all = parked.slots.take_all();
            all.extend(parked.ready.drain(..));
            self.ready_len.store(0, SeqCst);
            all
        };
        all.into_iter().map(|h| h.conn).collect()
    }
}

/// The descriptor a connection is watched by.
fn fd_of(conn: &Conn) -> usize {
    conn.stream().as_fd().as_raw_fd() as usize
}

/// What reading a lingering connection's input found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// The peer's FIN (or an error): the close is over.
    Closed,
    /// Bytes came (and were discarded).
    Came,
    /// Bytes came, and more may be there: the read stopped at its bound.
    /// No event is owed for those, so the connection goes on the ready
    /// list rather than wait for one.
    More,
    /// Nothing.
    Quiet,
}

/// Reads (and discards) what is already there, up to 64 KiB a call so that
/// a peer that keeps sending cannot hold the thread ([`Input::More`]).
fn discard_input(conn: &Conn) -> Input {
    let mut scratch = [0u8; 4096];
    let mut got = Input::Quiet;
    for _ in 0..16 {
        match read_now(conn.stream(), &mut scratch) {
            Ok(Got::Data(_)) => got = Input::More,
            // (A read that does not wait is never TimedOut or Woken.)
            Ok(Got::WouldBlock | Got::TimedOut | Got::Woken) => {
                return match got {
                    Input::More => Input::Came,
                    g => g,
                }
            }
            Ok(Got::Eof) | Err(_) => return Input::Closed,
        }
    }
    got
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::conn_info::ConnState;
    use crate::state::ServerState;

    thread_local! {
        /// Runs once in `hold` just before it takes the lock: a test's way
        /// into the race between a worker parking and a drain beginning.
        pub(super) static BEFORE_LOCK: std::cell::Cell<Option<Box<dyn FnOnce()>>> =
            const { std::cell::Cell::new(None) };
    }

    #[test]
    fn a_drain_that_begins_while_a_connection_parks_gives_it_the_drain_deadline() {
        let shared = ServerState::new(Config::default());
        let _closed = shared.begin_serving(Vec::new()).unwrap().unwrap();
        let idle = Arc::new(IdleSet::new(Arc::new(Waker::new().unwrap()), 2).unwrap());
        let (mut conn, _theirs) = Conn::accept_pair(&shared);
        // Kept alive after a response: outside a drain it may wait the idle
        // timeout (60 s), longer than the timer thread's heartbeat.
        let flight = crate::conn::InFlight::start(&shared, &mut conn);
        flight.finish(&mut conn, true);
        assert_eq!(conn.state(), ConnState::Idle);
        let drain_deadline = conn.last_active() + shared.config.drain.grace;

        // The drain begins, and the timer thread looks at the (empty) set, just
        // as this connection is about to park.
        let (s, i) = (shared.clone(), idle.clone());
        BEFORE_LOCK.with(|h| {
            h.set(Some(Box::new(move || {
                assert!(s.close(None));
                assert!(s.is_closing());
                let mut out = Vec::new();
                i.expire(Instant::now(), true, &mut out);
                assert!(out.is_empty());
            })))
        });
        idle.park(conn);
        assert!(BEFORE_LOCK.with(|h| h.take()).is_none(), "the hook ran");

        // The timer thread's next look is at the drain's deadline, not at its
        // heartbeat nor at the idle timeout.
        let next = idle.next_look().expect("a planned look");
        assert!(next <= drain_deadline, "{next:?} > {drain_deadline:?}");
        let mut out = Vec::new();
        idle.expire(drain_deadline, true, &mut out);
        assert_eq!(out.len(), 1, "the drain's deadline took it out");
        drop(out);
        drop(idle.clear());
        shared.finish();
    }

    #[test]
    fn the_timer_sees_deadlines_on_the_ready_list() {
        use std::io::Read;
        let mut config = Config::default();
        config.timeouts.header_read = Duration::from_secs(1);
        config.timeouts.idle = Duration::from_secs(2);
        let shared = ServerState::new(config);
        let _closed = shared.begin_serving(Vec::new()).unwrap().unwrap();
        let idle = IdleSet::new(Arc::new(Waker::new().unwrap()), 2).unwrap();
        // New: its deadline is the header timeout (1 s).
        let (new, _new_peer) = Conn::accept_pair(&shared);
        // Kept alive after a response: the idle timeout (2 s).
        let (mut kept, _kept_peer) = Conn::accept_pair(&shared);
        let flight = crate::conn::InFlight::start(&shared, &mut kept);
        flight.finish(&mut kept, true);
        assert_eq!(kept.state(), ConnState::Idle);
        let kept_deadline = kept.wait_deadline(false);
        // Lingering; its peer's FIN is here.
        let (lingering, mut lingering_peer) = Conn::accept_pair(&shared);
        let linger = Linger::new(Instant::now(), Duration::from_millis(1));
        lingering_peer.shutdown(std::net::Shutdown::Write).unwrap();
        let new_deadline = new.wait_deadline(false);
        assert!(new_deadline < kept_deadline);

        // All three on the ready list, as events left them while every
        // worker was held up.
        {
            let mut parked = idle.parked.lock();
            for held in [
                Held {
                    conn: new,
                    linger: None,
                },
                Held {
                    conn: kept,
                    linger: None,
                },
                Held {
                    conn: lingering,
                    linger: Some(linger),
                },
            ] {
                parked.ready.push_back(held);
            }
            idle.ready_len.store(parked.ready.len(), SeqCst);
        }

        let now = new_deadline + Duration::from_millis(100);
        let mut out = Vec::new();
        let next = idle.expire(now, false, &mut out);
        assert_eq!(out.len(), 1, "the new connection's header timeout passed");
        assert_eq!(out[0].state(), ConnState::New);
        assert_eq!(next, kept_deadline, "the kept-alive one's deadline is next");
        assert_eq!(idle.next_look(), Some(kept_deadline));
        assert_eq!(
            idle.parked.lock().ready.len(),
            1,
            "the kept-alive one stays"
        );
        assert_eq!(idle.ready_len.load(SeqCst), 1);
        // The lingering one was looked at: the peer's FIN ended it.
        lingering_peer.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(lingering_peer.read(&mut byte).unwrap(), 0, "closed");

        let mut later = Vec::new();
        idle.expire(kept_deadline, false, &mut later);
        assert_eq!(later.len(), 1, "the idle timeout took the other out");
        assert_eq!(idle.ready_len.load(SeqCst), 0);
        assert!(idle.parked.lock().ready.is_empty());
        drop((out, later));
        drop(idle.clear());
        shared.finish();
    }

    #[test]
    fn a_connection_parked_onto_the_ready_list_brings_the_timers_look_forward() {
        let mut config = Config::default();
        config.timeouts.header_read = Duration::from_secs(1);
        let shared = ServerState::new(config);
        let _closed = shared.begin_serving(Vec::new()).unwrap().unwrap();
        let idle = IdleSet::new(Arc::new(Waker::new().unwrap()), 2).unwrap();
        let (conn, _peer) = Conn::accept_pair(&shared);
        let fd = fd_of(&conn);
        let deadline = conn.wait_deadline(false);
        idle.park(conn);
        // An event took it out to a worker, and another came while it was
        // out; the timer thread planned a later look meanwhile.
        let conn = {
            let mut parked = idle.parked.lock();
            let held = parked.slots.take(fd, false).expect("held");
            assert!(parked.slots.take(fd, false).is_none(), "remembered");
            parked.timer_next = Some(deadline + HEARTBEAT);
            held.conn
        };
        // The worker parks it again: refused, onto the ready list.
        idle.park(conn);
        assert_eq!(idle.ready_len.load(SeqCst), 1);
        assert_eq!(idle.next_look(), Some(deadline), "its deadline counts");
        let mut out = Vec::new();
        idle.expire(deadline, false, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(idle.ready_len.load(SeqCst), 0);
        drop(out);
        drop(idle.clear());
        shared.finish();
    }

    #[test]
    fn a_worker_gets_back_a_connection_whose_event_came_while_it_served_it() {
        let shared = ServerState::new(Config::default());
        let _closed = shared.begin_serving(Vec::new()).unwrap().unwrap();
        let idle = IdleSet::new(Arc::new(Waker::new().unwrap()), 2).unwrap();
        let (conn, _peer) = Conn::accept_pair(&shared);
        let fd = fd_of(&conn);
        assert!(idle.park_or_give_back(conn).is_none(), "watched");
        let take_with_event = || {
            let mut parked = idle.parked.lock();
            let held = parked.slots.take(fd, false).expect("held");
            assert!(parked.slots.take(fd, false).is_none(), "remembered");
            held.conn
        };
        let conn = take_with_event();
        let conn = idle
            .park_or_give_back(conn)
            .expect("given back, not queued");
        assert_eq!(idle.ready_len.load(SeqCst), 0);
        // The event was handed over with it: the next park is watched.
        assert!(idle.park_or_give_back(conn).is_none());
        assert_eq!(idle.parked.lock().slots.len(), 1);
        // Any other park queues it for the next free worker.
        let conn = take_with_event();
        idle.park(conn);
        assert_eq!(idle.ready_len.load(SeqCst), 1);
        drop(idle.clear());
        shared.finish();
    }

    fn acked(yes: bool) -> Option<crate::tcp_info::AfterFin> {
        Some(crate::tcp_info::AfterFin {
            acked: yes,
            delivered: yes,
            rtt: Duration::from_micros(50),
            rtt_var: Duration::from_micros(25),
        })
    }

    #[test]
    fn a_linger_ends_once_our_fin_is_acknowledged_and_nothing_came() {
        let t0 = Instant::now();
        let l = Linger::new(t0, Duration::from_millis(500));
        assert_eq!(
            l.next_look,
            t0 + SETTLE_MIN,
            "first look a millisecond after the FIN"
        );
        let Settle::Again(l) = l.look(t0 + SETTLE_MIN, Input::Quiet, acked(true)) else {
            panic!("the quiet margin is not over")
        };
        assert_eq!(l.next_look, t0 + Duration::from_millis(10));
        assert_eq!(
            l.look(t0 + Duration::from_millis(10), Input::Quiet, acked(true)),
            Settle::Done
        );
    }

    #[test]
    fn a_linger_waits_for_the_acknowledgement_backing_off() {
        let t0 = Instant::now();
        let mut l = Linger::new(t0, Duration::from_millis(500));
        let mut now = t0 + SETTLE_MIN;
        let mut looks = 0;
        while let Settle::Again(next) = l.look(now, Input::Quiet, acked(false)) {
            assert!(next.next_look > now);
            assert!(next.next_look - now <= SETTLE_MAX_STEP);
            now = next.next_look;
            l = next;
            looks += 1;
        }
        assert!(
            now >= t0 + Duration::from_millis(500),
            "only the bound ends it"
        );
        assert!(looks < 20, "a few looks, not a poll: {looks}");
    }

    #[test]
    fn a_peer_that_sends_after_our_fin_keeps_the_linger_until_its_fin() {
        let t0 = Instant::now();
        let l = Linger::new(t0, Duration::from_millis(500));
        // A request crossed our FIN: read, discarded; the peer is mid-request
        // and will read our EOF and close. No quiet margin ends this.
        let t1 = t0 + Duration::from_millis(3);
        let Settle::Again(l) = l.look(t1, Input::Came, acked(true)) else {
            panic!("input just came: not yet")
        };
        assert!(l.talking);
        assert_eq!(l.next_look, l.until, "only the bound, or its FIN");
        let later = t1 + Duration::from_millis(100);
        assert!(matches!(
            l.look(later, Input::Quiet, acked(true)),
            Settle::Again(_)
        ));
        assert_eq!(l.look(later, Input::Closed, acked(true)), Settle::Done);
    }

    #[test]
    fn the_margin_grows_with_the_round_trip_time() {
        let slow = Some(crate::tcp_info::AfterFin {
            acked: true,
            delivered: true,
            rtt: Duration::from_millis(40),
            rtt_var: Duration::from_millis(5),
        });
        let t0 = Instant::now();
        let l = Linger::new(t0, Duration::from_millis(500));
        let Settle::Again(l) = l.look(t0 + SETTLE_MIN, Input::Quiet, slow) else {
            panic!("a 40 ms path needs more than a millisecond")
        };
        assert_eq!(l.next_look, t0 + Duration::from_millis(100));
        assert_eq!(l.look(l.next_look, Input::Quiet, slow), Settle::Done);
    }

    #[test]
    fn the_peers_fin_or_the_bound_end_a_linger() {
        let t0 = Instant::now();
        let l = Linger::new(t0, Duration::from_millis(500));
        assert_eq!(l.look(t0, Input::Closed, acked(false)), Settle::Done);
        let end = t0 + Duration::from_millis(500);
        assert_eq!(l.look(end, Input::Came, acked(false)), Settle::Done);
        // A Unix socket: no TCP state; a close never resets there.
        assert_eq!(
            l.look(t0 + Duration::from_millis(10), Input::Quiet, None),
            Settle::Done
        );
    }

    #[test]
    fn one_stretched_turn_does_not_make_a_fast_load_look_slow() {
        let idle = IdleSet::new(Arc::new(Waker::new().unwrap()), 4).unwrap();
        for _ in 0..100 {
            idle.record_service(Duration::from_micros(10));
        }
        let fast = idle.service();
        assert!(fast <= Duration::from_micros(10), "{fast:?}");
        // A preempted thread: one turn of 5 ms among the fast ones.
        idle.record_service(Duration::from_millis(5));
        let after = idle.service();
        assert!(after < LINGER_AFTER, "{after:?}");
        assert!(after < fast * 2, "{after:?}");
        // A load that turned slow is believed within a couple dozen turns.
        let mut turns = 0;
        while idle.service() < RING_AFTER {
            idle.record_service(Duration::from_millis(10));
            turns += 1;
            assert!(turns <= 30, "{:?} after {turns} slow turns", idle.service());
        }
    }

    #[test]
    fn the_bells_keys_are_never_a_descriptor() {
        // Descriptors are non-negative `c_int`s.
        assert!(DOORBELL > i32::MAX as u64);
        assert!(STOP > i32::MAX as u64);
    }
}
