//! The server's state: what every thread of one server shares, under one
//! `parking_lot` Mutex + Condvar. It holds the [phase](crate::phase) (the
//! drain's state machine), the wait group (requests in flight and tracked
//! routines), the connection [registry](crate::registry) and the
//! listener; the lock-free `draining`/`closing` flags mirror the phase for
//! the serving path. Every change that can end a drain notifies the
//! condvar, so `serve` wakes the moment the last request finishes: no
//! polling interval anywhere.
//!
//! Below it are plain values and the transport; above it, the connection
//! state machine ([`conn`](crate::conn), the only caller of its
//! connection bookkeeping), the scheduling (pool, idle set, timer) and
//! the public `Server` and `Handle`.

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::config::Config;
use crate::conn_info::{ConnInfo, ConnState};
use crate::net::{Stream, Waker};
use crate::phase::{Begin, Kind, NotReady, Phase, Timing};
use crate::registry::Registry;

pub(crate) struct State {
    /// Where the server is in its serve/drain cycle: changed only by its
    /// methods, in one lock hold with what goes with the change.
    pub(crate) phase: Phase,
    /// Requests of this run in flight: a drain waits for them.
    pub(crate) in_flight: usize,
    /// Requests of earlier runs still in their handlers: a forced close
    /// ended their connections, and no drain waits for them.
    pub(crate) orphans: usize,
    /// Numbers the runs (a forced close starts a new one too), so that a
    /// request ends in the count it started in.
    pub(crate) run: u64,
    pub(crate) routines: usize,
    pub(crate) registry: Registry,
    pub(crate) accepted: u64,
    pub(crate) served: u64,
    pub(crate) killed: u64,
    /// The listener is open (accepting, or queueing connects for us).
    pub(crate) listening: bool,
    /// The listener while serving, for hand-off (a clone for another
    /// server or process).
    pub(crate) listener: Option<Arc<crate::net::Listener>>,
    /// The thread running the accept loop.
    pub(crate) serve_thread: Option<std::thread::ThreadId>,
    /// What to wake when a drain starts: the accept loop, workers (reading a
    /// head), the timer thread.
    pub(crate) wakers: Vec<Arc<Waker>>,
    /// Dropped when a drain starts: wakes an accept loop blocked on a full
    /// queue.
    pub(crate) close_tx: Option<crossbeam_channel::Sender<()>>,
}

impl State {
    fn drained(&self) -> bool {
        self.in_flight == 0 && self.routines == 0 && self.registry.is_empty()
    }

    /// Requests in flight now leave this run's count: nothing waits for
    /// them any more (a forced close ended their connections, or a new run
    /// begins).
    fn retire_run(&mut self) {
        self.orphans += std::mem::take(&mut self.in_flight);
        self.run += 1;
    }

    /// A request of `run` is done.
    fn end_request(&mut self, run: u64) {
        if run == self.run {
            self.in_flight -= 1;
        } else {
            self.orphans -= 1;
        }
    }
}

/// What every thread of one server shares (see the module docs).
pub(crate) struct ServerState {
    pub(crate) config: Config,
    state: Mutex<State>,
    cond: Condvar,
    /// From a close until `serve` returns (drain delay included).
    draining: AtomicBool,
    /// From the start of the real drain (listener closed) until `serve`
    /// returns.
    closing: AtomicBool,
    /// Rung when a drain begins: a long-lived session (a WebSocket read)
    /// waits on its bell and the socket together, so it sees the drain at
    /// once, with no thread or timer of its own.
    drain_bells: Mutex<Vec<std::sync::Weak<Waker>>>,
    /// A weak handle on ourselves, for threads that must not keep us alive.
    self_ref: Mutex<std::sync::Weak<ServerState>>,
    /// What this server does on which signal (one signal thread at most).
    pub(crate) signals: Arc<Mutex<crate::signals::Table>>,
    /// The socket a `Server` was bound with, until its `serve` takes it:
    /// here rather than in the `Server`, so that a handle can hand it over
    /// before `serve` as well as during it.
    bound: Mutex<Option<crate::net::Listener>>,
}

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

/// How long `close` waits for the accept loop to close the listener.
const LISTENER_CLOSE_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

impl ServerState {
    pub(crate) fn new(config: Config) -> Arc<ServerState> {
        let shared = Arc::new(ServerState {
            config,
            state: Mutex::new(State {
                phase: Phase::default(),
                in_flight: 0,
                orphans: 0,
                run: 0,
                routines: 0,
                registry: Registry::default(),
                accepted: 0,
                served: 0,
                killed: 0,
                listening: false,
                listener: None,
                serve_thread: None,
                wakers: Vec::new(),
                close_tx: None,
            }),
            cond: Condvar::new(),
            draining: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            drain_bells: Mutex::new(Vec::new()),
            self_ref: Mutex::new(std::sync::Weak::new()),
            signals: Arc::default(),
            bound: Mutex::new(None),
        });
        *shared.self_ref.lock() = Arc::downgrade(&shared);
        shared
    }

    /// True once a close was accepted (drain delay included), until `serve`
    /// returns. Lock-free: the serving path reads it on every response.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// True once the listener is closing and connections are being closed:
    /// the drain proper, after any delay.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn drain_started(&self) -> Option<Instant> {
        self.state.lock().phase.drain_started()
    }

    // ----- lifecycle -------------------------------------------------------

    fn timing(&self) -> Timing {
        Timing {
            delay: self.config.drain.delay,
            timeout: self.config.drain.timeout,
        }
    }

    /// Mirrors the phase in the lock-free flags; called at the end of every
    /// lock hold that changed it.
    fn publish(&self, st: &State) {
        self.draining
            .store(st.phase.is_draining(), Ordering::Release);
        self.closing.store(st.phase.is_closing(), Ordering::Release);
    }

    /// Ready → Serving. `Ok(None)`: a close came first, serve returns at
    /// once. `Ok(Some(closed))`: `closed` disconnects when a drain starts.
    pub(crate) fn begin_serving(
        &self,
        wakers: Vec<Arc<Waker>>,
    ) -> Result<Option<crossbeam_channel::Receiver<()>>, crate::Error> {
        let mut st = self.state.lock();
        match st.phase.begin_serving() {
            Err(NotReady::Serving) => Err(crate::Error::AlreadyServing),
            Err(NotReady::Draining) => Err(crate::Error::StillDraining),
            Ok(Begin::ClosedFirst) => Ok(None),
            Ok(Begin::Serve) => {
                let (tx, rx) = crossbeam_channel::bounded(0);
                st.retire_run();
                st.wakers = wakers;
                st.close_tx = Some(tx);
                st.serve_thread = Some(std::thread::current().id());
                self.publish(&st);
                Ok(Some(rx))
            }
        }
    }

    /// Starts a drain; true only for the call that started it. With a
    /// drain delay the listener stays open for the delay first (a second
    /// close skips the rest of it). A `before_shutdown` veto keeps serving.
    pub(crate) fn close(&self, signal: Option<i32>) -> bool {
        if !self.veto_passed() {
            return false;
        }
        let (done, followup) = {
            let mut st = self.state.lock();
            let done = st.phase.close(Instant::now(), signal, self.timing());
            let f = self.after_change(&mut st, done.accepted(), done.began_drain());
            (done, f)
        };
        self.after_unlock(followup);
        done.accepted()
    }

    /// Asks the `before_shutdown` veto, when a close would start a drain
    /// now; it runs outside the lock (it is the user's code), so a
    /// concurrent close may win meanwhile: the transition after it decides.
    fn veto_passed(&self) -> bool {
        let Some(veto) = &self.config.before_shutdown else {
            return true;
        };
        if self.state.lock().phase.kind() != Kind::Serving {
            return true;
        }
        if veto() {
            return true;
        }
        log::info!("courteous: close vetoed by before_shutdown");
        false
    }

    /// What goes with a phase change, in the same lock hold: the shutdown
    /// hooks are counted as routines when a close was `accepted` while
    /// serving, and a drain that `began` drops the close channel. Says
    /// what is left to do once the lock is released.
    fn after_change(&self, st: &mut State, accepted: bool, began: bool) -> Followup {
        let hooks = accepted && st.phase.kind() != Kind::Ready;
        if hooks {
            st.routines += self.config.on_shutdown.len();
        }
        if began {
            st.close_tx = None;
        }
        self.publish(st);
        self.cond.notify_all();
        Followup {
            hooks,
            delayed: hooks && !began,
            began,
        }
    }

    /// What follows a phase change, outside the lock: the shutdown hooks
    /// run, the threads that must see the change are woken, and when the
    /// drain began, we wait until the listener is closed.
    fn after_unlock(&self, f: Followup) {
        if f.hooks {
            self.run_shutdown_hooks();
        }
        if f.delayed {
            log::info!(
                "courteous: drain delay of {:?} started: health checks fail, the listener stays open",
                self.config.drain.delay
            );
        }
        if f.began {
            log::info!("courteous: drain started");
        }
        if f.hooks || f.began {
            // The accept loop times its wait to the end of a delay, or
            // closes the listener; workers apply the drain's bounds.
            self.wake_all();
        }
        if f.began {
            self.wait_listener_closed();
        }
    }

    /// Returns once the listener is closed, so that a connect made after
    /// `close()` returns is refused. The accept loop does that at once when
    /// woken (it never blocks while draining); the bound only guards
    /// against a close() made on the accept thread itself, from a state
    /// hook.
    fn wait_listener_closed(&self) {
        let mut st = self.state.lock();
        if st.serve_thread != Some(std::thread::current().id()) {
            let deadline = Instant::now() + LISTENER_CLOSE_BOUND;
            while st.listening && st.phase.is_closing() {
                if self.cond.wait_until(&mut st, deadline).timed_out() {
                    break;
                }
            }
        }
    }

    /// The end of the drain delay: the real drain begins (the listener
    /// closes, idle connections go). Called by the accept loop.
    pub(crate) fn start_drain(&self) {
        let followup = {
            let mut st = self.state.lock();
            let began = st.phase.start_drain(Instant::now(), self.timing());
            self.after_change(&mut st, false, began)
        };
        self.after_unlock(followup);
    }

    /// The end of a drain delay, if one runs.
    pub(crate) fn delay_until(&self) -> Option<Instant> {
        self.state.lock().phase.delay_until()
    }

    /// Force-closes what is left now, as the shutdown deadline would (a
    /// second signal during a drain), starting the drain first if needed,
    /// without its delay. False when the server is not serving.
    pub(crate) fn force(&self) -> bool {
        if !self.veto_passed() {
            return false;
        }
        let (forced, followup) = {
            let mut st = self.state.lock();
            let was = st.phase.kind();
            let forced = st.phase.force(Instant::now(), self.timing());
            let accepted = was == Kind::Serving;
            let began = matches!(was, Kind::Serving | Kind::Delaying);
            (forced, self.after_change(&mut st, accepted, began))
        };
        self.after_unlock(followup);
        forced
    }

    /// Starts the drain (if needed) with a deadline `timeout` from now, or
    /// brings an existing deadline forward (tylerb/graceful's
    /// `Stop(timeout)`, Go's `Shutdown(ctx)`). False when not serving.
    pub(crate) fn close_within(&self, timeout: std::time::Duration) -> bool {
        if !self.veto_passed() {
            return false;
        }
        let (ok, followup) = {
            let mut st = self.state.lock();
            let was = st.phase.kind();
            let ok = st
                .phase
                .close_within(Instant::now(), timeout, self.timing());
            let accepted = was == Kind::Serving;
            let began = was != Kind::Draining && st.phase.is_closing();
            (ok, self.after_change(&mut st, accepted, began))
        };
        self.after_unlock(followup);
        ok
    }

    /// A signal arrived: the first closes, the next one skips a drain delay
    /// or, during the drain, forces the deadline now.
    pub(crate) fn on_signal(&self, sig: i32) {
        let kind = self.state.lock().phase.kind();
        match kind {
            Kind::Ready | Kind::Serving => {
                self.close(Some(sig));
            }
            Kind::Delaying => {
                log::info!("courteous: signal {sig} again: the drain delay is cut short");
                self.close(Some(sig));
            }
            Kind::Draining => {
                log::warn!("courteous: signal {sig} again: force-closing what is left");
                self.force();
            }
        }
    }

    fn wake_all(&self) {
        let wakers = self.state.lock().wakers.clone();
        for w in wakers {
            w.wake();
        }
        if self.is_draining() {
            let mut bells = self.drain_bells.lock();
            // Rung once: a bell is for one drain; dropped ones go too.
            for bell in bells.drain(..) {
                if let Some(bell) = bell.upgrade() {
                    bell.wake();
                }
            }
        }
    }

    /// A bell that rings when a drain begins (at once, if one runs). Its
    /// registration is dropped with the last `Arc`.
    #[cfg(feature = "websocket")]
    pub(crate) fn drain_bell(&self) -> std::io::Result<Arc<Waker>> {
        let bell = Arc::new(Waker::new()?);
        {
            let mut bells = self.drain_bells.lock();
            bells.retain(|b| b.strong_count() > 0);
            bells.push(Arc::downgrade(&bell));
        }
        // Read after the push: a drain that began before it rang the bells
        // without this one, and set the flag first.
        if self.is_draining() {
            bell.wake();
        }
        Ok(bell)
    }

    /// Runs the `on_shutdown` callbacks, each on a thread of its own and
    /// tracked as a routine (counted when the close was accepted): the
    /// drain does not end before they do.
    fn run_shutdown_hooks(&self) {
        for hook in &self.config.on_shutdown {
            let hook = hook.clone();
            let guard = RoutineDone(self);
            let weak = self.self_ref.lock().clone();
            let spawned = std::thread::Builder::new()
                .name("courteous-on-shutdown".into())
                .spawn(move || {
                    // Finished on every path, a panicking hook's too: a
                    // routine left counted would hold every later drain.
                    struct Finish(std::sync::Weak<ServerState>);
                    impl Drop for Finish {
                        fn drop(&mut self) {
                            if let Some(shared) = self.0.upgrade() {
                                shared.routine_finished();
                            }
                        }
                    }
                    let _finish = Finish(weak);
                    hook();
                });
            match spawned {
                Ok(_) => std::mem::forget(guard),
                Err(e) => log::error!("courteous: cannot run an on_shutdown hook: {e}"),
            }
        }
    }

    /// Draining → Ready, after the drain finished or was cut short.
    pub(crate) fn finish(&self) {
        let mut st = self.state.lock();
        st.phase.finish();
        st.listening = false;
        st.listener = None;
        st.serve_thread = None;
        st.wakers.clear();
        st.close_tx = None;
        self.publish(&st);
        self.cond.notify_all();
    }

    /// Waits until the drain is over: every request done, every tracked
    /// routine finished and every connection closed; or, past `deadline`,
    /// force-closes what is left. Returns how many connections it killed.
    pub(crate) fn wait_drained(&self) -> usize {
        let mut st = self.state.lock();
        loop {
            if st.drained() {
                return 0;
            }
            if st.phase.forced() {
                break;
            }
            match st.phase.deadline() {
                Some(d) => {
                    if Instant::now() >= d {
                        break;
                    }
                    self.cond.wait_until(&mut st, d);
                }
                None => self.cond.wait(&mut st),
            }
        }
        // Connections already closing (FIN sent, lingering) finished their
        // business: they are closed, but not counted as killed.
        let left = st.registry.drain_all();
        let killed = left.iter().filter(|e| !e.closing).count();
        st.killed += killed as u64;
        // Handlers still running go on, but the next run's drain does not
        // wait for them.
        st.retire_run();
        drop(st);
        for e in &left {
            let _ = e.stream.shutdown(Shutdown::Both);
        }
        // Hijacked is the hook's last word on a connection, even a killed one.
        for e in left.iter().filter(|e| e.state != ConnState::Hijacked) {
            self.report(&e.info, e.state, ConnState::Closed);
        }
        killed
    }

    /// Blocks until a drain begins (a close was accepted: the drain delay
    /// counts) or `timeout` passes; true when it did.
    pub(crate) fn wait_draining(&self, timeout: std::time::Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock();
        while !st.phase.is_draining() {
            if self.cond.wait_until(&mut st, deadline).timed_out() {
                return st.phase.is_draining();
            }
        }
        true
    }

    /// Blocks until the server is not serving (returns at once if it is not).
    pub(crate) fn wait_stopped(&self) {
        let mut st = self.state.lock();
        while st.phase.kind() != Kind::Ready {
            self.cond.wait(&mut st);
        }
    }

    pub(crate) fn stats(&self) -> crate::stats::Stats {
        let st = self.state.lock();
        crate::stats::Stats {
            in_flight: st.in_flight + st.orphans,
            routines: st.routines,
            connections: st.registry.len(),
            new: st.registry.count(ConnState::New),
            active: st.registry.count(ConnState::Active),
            idle: st.registry.count(ConnState::Idle),
            hijacked: st.registry.count(ConnState::Hijacked),
            closing: st.registry.closing(),
            accepted: st.accepted,
            served: st.served,
            killed: st.killed,
            serving: st.phase.kind() != Kind::Ready,
            listening: st.listening,
            draining: st.phase.is_draining(),
        }
    }

    /// The listener opened (`Some`) or closed (`None`).
    pub(crate) fn set_listener(&self, listener: Option<Arc<crate::net::Listener>>) {
        let mut st = self.state.lock();
        st.listening = listener.is_some();
        st.listener = listener;
        if !st.listening {
            self.cond.notify_all();
        }
    }

    /// Takes the listener out, leaving `listening` as it is.
    pub(crate) fn take_listener(&self) -> Option<Arc<crate::net::Listener>> {
        self.state.lock().listener.take()
    }

    /// The listener, while serving.
    pub(crate) fn listener(&self) -> Option<Arc<crate::net::Listener>> {
        self.state.lock().listener.clone()
    }

    /// Keeps the socket a server was bound with until `serve` takes it
    /// ([`take_bound`](ServerState::take_bound)).
    pub(crate) fn keep_bound(&self, listener: crate::net::Listener) {
        *self.bound.lock() = Some(listener);
    }

    /// The socket the server was bound with, if `serve` has not taken it.
    pub(crate) fn take_bound(&self) -> Option<crate::net::Listener> {
        self.bound.lock().take()
    }

    /// `f` of the listening socket: the bound one before `serve`, the
    /// serving one during it; `None` when there is neither.
    pub(crate) fn with_listener<R>(&self, f: impl FnOnce(&crate::net::Listener) -> R) -> Option<R> {
        if let Some(l) = self.bound.lock().as_ref() {
            return Some(f(l));
        }
        self.listener().map(|l| f(&l))
    }

    pub(crate) fn signal(&self) -> Option<i32> {
        self.state.lock().phase.signal()
    }

    // ----- connections ------------------------------------------------------

    /// Connection ids are unique in the process, across servers and runs.
    pub(crate) fn next_conn_id(&self) -> u64 {
        NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register(&self, info: &Arc<ConnInfo>, stream: &Arc<Stream>) {
        {
            let mut st = self.state.lock();
            st.accepted += 1;
            st.registry.insert(info.clone(), stream.clone());
        }
        if let Some(hook) = &self.config.on_state {
            // Go reports StateNew on accept; so do we, as (New, New): the
            // one report whose old and new states are the same.
            hook(info, ConnState::New, ConnState::New);
        }
    }

    /// Moves a connection to a new state, reporting the change.
    pub(crate) fn transition(&self, info: &ConnInfo, new: ConnState) {
        let old = self.state.lock().registry.set(info.id, new);
        if let Some(old) = old {
            self.report(info, old, new);
        }
    }

    /// A request head was read: the request is in flight, and its
    /// connection Active (one lock for both). Returns the run it counts in.
    pub(crate) fn request_started(&self, info: &ConnInfo) -> u64 {
        let (old, run) = {
            let mut st = self.state.lock();
            st.in_flight += 1;
            (st.registry.set(info.id, ConnState::Active), st.run)
        };
        if let Some(old) = old {
            self.report(info, old, ConnState::Active);
        }
        run
    }

    /// A request is done (its response written, or abandoned).
    pub(crate) fn request_finished(&self, served: bool, run: u64) {
        let mut st = self.state.lock();
        st.end_request(run);
        if served {
            st.served += 1;
        }
        if st.phase.is_closing() && st.drained() {
            self.cond.notify_all();
        }
    }

    /// A response is written: the request leaves the count and, when the
    /// connection stays open, it turns `next` (Idle), under one lock.
    pub(crate) fn request_done(&self, info: &ConnInfo, next: Option<ConnState>, run: u64) {
        let old = {
            let mut st = self.state.lock();
            st.end_request(run);
            st.served += 1;
            let old = next.and_then(|s| st.registry.set(info.id, s));
            if st.phase.is_closing() && st.drained() {
                self.cond.notify_all();
            }
            old
        };
        if let (Some(old), Some(new)) = (old, next) {
            self.report(info, old, new);
        }
    }

    /// Our FIN went out: the connection only lingers now.
    pub(crate) fn closing(&self, info: &ConnInfo) {
        self.state.lock().registry.set_closing(info.id);
    }

    /// A hijacked connection's handler is done with it: forget it, without
    /// a report (Hijacked is the hook's last word).
    pub(crate) fn forget(&self, info: &ConnInfo) {
        let mut st = self.state.lock();
        st.registry.remove(info.id);
        if st.phase.is_closing() && st.drained() {
            self.cond.notify_all();
        }
    }

    /// The connection is closed: forget it.
    pub(crate) fn deregister(&self, info: &ConnInfo, last: ConnState) {
        let removed = {
            let mut st = self.state.lock();
            let e = st.registry.remove(info.id);
            if st.phase.is_closing() && st.drained() {
                self.cond.notify_all();
            }
            e
        };
        if let Some(e) = removed {
            self.report(info, e.state, last);
        }
    }

    fn report(&self, info: &ConnInfo, old: ConnState, new: ConnState) {
        if let Some(hook) = &self.config.on_state {
            hook(info, old, new);
        }
    }

    // ----- routines ---------------------------------------------------------

    pub(crate) fn routine_started(&self) {
        self.state.lock().routines += 1;
    }

    pub(crate) fn routine_finished(&self) {
        let mut st = self.state.lock();
        st.routines -= 1;
        if st.phase.is_closing() && st.drained() {
            self.cond.notify_all();
        }
    }
}

/// What is left to do after a phase change, once the lock is released.
#[derive(Clone, Copy)]
struct Followup {
    /// Run the shutdown hooks (already counted as routines).
    hooks: bool,
    /// The drain delay began.
    delayed: bool,
    /// The drain proper began.
    began: bool,
}

/// Finishes a routine that could not be handed to its thread.
struct RoutineDone<'a>(&'a ServerState);

impl Drop for RoutineDone<'_> {
    fn drop(&mut self) {
        self.0.routine_finished();
    }
}
