//! The server's phase: where one server is in its cycle of serving and
//! draining. One value, changed only by its methods, each of which the
//! server calls under its state lock: a transition is one lock hold, so
//! `close`, `force_close`, `close_within`, signals and `serve` cannot
//! interleave between a check and a change.
//!
//! ```text
//!              serve()                 close()                        drain over
//!   Ready ─────────────► Serving ──────────────────────► Draining ─────────────► Ready
//!     │                     │                              ▲   ▲
//!     │                     │ close(), with a drain delay  │   │ force / close_within
//!     │                     └──────────► Delaying ─────────┘   │ (from Serving or Delaying)
//!     │                                   delay over, or a     │
//!     │                                   second close         │
//!     └─ close() before serve(): pending; the next serve() returns at once
//!        (not after a drain: a late close belongs to the run that ended)
//! ```
//!
//! Exactly one close starts a drain (or, before `serve`, makes the next
//! `serve` return at once) and is told so; every later close is told it
//! did not. This module is pure: it reads no clock (callers pass `now`)
//! and does no I/O, so each transition has a unit test below.

use std::time::{Duration, Instant};

/// Which phase, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not serving: `serve` may start.
    Ready,
    /// `serve` runs and no close was accepted.
    Serving,
    /// Closed, but within the drain delay: still accepting, health checks
    /// fail, responses say `Connection: close`.
    Delaying,
    /// The listener is closed (or closing) and the drain runs.
    Draining,
}

/// Why `serve` cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotReady {
    /// It already runs.
    Serving,
    /// A drain is still running.
    Draining,
}

/// How `serve` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Begin {
    /// Serve.
    Serve,
    /// A close came first: return at once.
    ClosedFirst,
}

/// What a close did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Before `serve`: the next `serve` returns at once.
    Pending,
    /// The drain delay began.
    Delaying,
    /// The drain began.
    Draining,
    /// A close was already accepted; it cut a drain delay short (the
    /// drain began now).
    CutDelay,
    /// A close was already accepted; nothing changed.
    Already,
}

impl Close {
    /// True for the one close that was accepted.
    pub(crate) fn accepted(self) -> bool {
        matches!(self, Close::Pending | Close::Delaying | Close::Draining)
    }

    /// True when the drain proper began with this call.
    pub(crate) fn began_drain(self) -> bool {
        matches!(self, Close::Draining | Close::CutDelay)
    }
}

/// The drain's timing, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// `drain_delay`: how long a close keeps the listener open first.
    pub(crate) delay: Duration,
    /// `shutdown_timeout`: how long a drain may run before it force-closes.
    pub(crate) timeout: Option<Duration>,
}

/// The phase and what belongs to it.
#[derive(Debug)]
pub(crate) struct Phase {
    kind: Kind,
    /// `close()` came before `serve()`.
    close_pending: bool,
    /// Ready after a drain: a close now belongs to the run that ended
    /// (one accepted close per run), until the next `serve`.
    after_drain: bool,
    /// The signal that started the last drain.
    signal: Option<i32>,
    /// When the drain proper began.
    drain_started: Option<Instant>,
    /// The end of the drain delay, while it runs.
    delay_until: Option<Instant>,
    /// Force-close what is left now.
    force: bool,
    /// When this drain force-closes what is left.
    deadline: Option<Instant>,
}

impl Default for Phase {
    fn default() -> Self {
        Phase {
            kind: Kind::Ready,
            close_pending: false,
            after_drain: false,
            signal: None,
            drain_started: None,
            delay_until: None,
            force: false,
            deadline: None,
        }
    }
}

impl Phase {
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// From an accepted close until `serve` returns (delay included).
    pub(crate) fn is_draining(&self) -> bool {
        matches!(self.kind, Kind::Delaying | Kind::Draining)
    }

    /// The drain proper, after any delay.
    pub(crate) fn is_closing(&self) -> bool {
        self.kind == Kind::Draining
    }

    pub(crate) fn signal(&self) -> Option<i32> {
        self.signal
    }

    pub(crate) fn drain_started(&self) -> Option<Instant> {
        self.drain_started
    }

    pub(crate) fn delay_until(&self) -> Option<Instant> {
        self.delay_until
    }

    /// Force-close now (a second signal, or `force_close`).
    pub(crate) fn forced(&self) -> bool {
        self.force
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Ready → Serving, unless a close came first.
    pub(crate) fn begin_serving(&mut self) -> Result<Begin, NotReady> {
        match self.kind {
            Kind::Serving => Err(NotReady::Serving),
            Kind::Delaying | Kind::Draining => Err(NotReady::Draining),
            Kind::Ready if self.close_pending => {
                self.close_pending = false;
                // That close was this run's: a later one, before the next
                // serve, belongs to it too.
                self.after_drain = true;
                Ok(Begin::ClosedFirst)
            }
            Kind::Ready => {
                self.kind = Kind::Serving;
                self.after_drain = false;
                self.drain_started = None;
                self.delay_until = None;
                self.force = false;
                self.deadline = None;
                Ok(Begin::Serve)
            }
        }
    }

    /// A close (by a call, or by `signal`).
    pub(crate) fn close(&mut self, now: Instant, signal: Option<i32>, timing: Timing) -> Close {
        match self.kind {
            Kind::Ready if self.close_pending || self.after_drain => Close::Already,
            Kind::Ready => {
                self.close_pending = true;
                self.set_signal(signal);
                Close::Pending
            }
            Kind::Serving => {
                self.set_signal(signal);
                if timing.delay.is_zero() {
                    self.begin_drain(now, timing);
                    Close::Draining
                } else {
                    self.kind = Kind::Delaying;
                    self.delay_until = Some(now + timing.delay);
                    Close::Delaying
                }
            }
            Kind::Delaying => {
                self.begin_drain(now, timing);
                Close::CutDelay
            }
            Kind::Draining => Close::Already,
        }
    }

    /// The drain proper begins, if a close was accepted or `serve` runs
    /// (the end of the drain delay). True when it began now.
    pub(crate) fn start_drain(&mut self, now: Instant, timing: Timing) -> bool {
        match self.kind {
            Kind::Serving | Kind::Delaying => {
                self.begin_drain(now, timing);
                true
            }
            Kind::Ready | Kind::Draining => false,
        }
    }

    /// Force-close what is left now, starting the drain (without a delay)
    /// if needed. False when not serving.
    pub(crate) fn force(&mut self, now: Instant, timing: Timing) -> bool {
        if self.kind == Kind::Ready {
            return false;
        }
        self.start_drain(now, timing);
        self.force = true;
        true
    }

    /// A close with a deadline `timeout` from `now`: starts the drain as a
    /// close would (a drain delay included), or brings an existing
    /// deadline forward; a running delay is cut short. False when not
    /// serving.
    pub(crate) fn close_within(&mut self, now: Instant, timeout: Duration, timing: Timing) -> bool {
        if self.kind == Kind::Ready {
            return false;
        }
        let d = now + timeout;
        self.deadline = Some(self.deadline.map_or(d, |e| e.min(d)));
        self.close(now, None, timing);
        true
    }

    /// The drain is over (or `serve` failed to start): back to Ready.
    pub(crate) fn finish(&mut self) {
        self.after_drain = self.is_draining();
        self.kind = Kind::Ready;
        self.delay_until = None;
        self.force = false;
        self.deadline = None;
    }

    fn set_signal(&mut self, signal: Option<i32>) {
        if signal.is_some() {
            self.signal = signal;
        }
    }

    fn begin_drain(&mut self, now: Instant, timing: Timing) {
        self.kind = Kind::Draining;
        self.delay_until = None;
        self.drain_started = Some(now);
        // The configured deadline, unless a close_within set a sooner one.
        if let Some(t) = timing.timeout {
            let d = now + t;
            self.deadline = Some(self.deadline.map_or(d, |e| e.min(d)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_DELAY: Timing = Timing {
        delay: Duration::ZERO,
        timeout: None,
    };
    const DELAY: Timing = Timing {
        delay: Duration::from_secs(5),
        timeout: Some(Duration::from_secs(10)),
    };

    fn serving() -> Phase {
        let mut p = Phase::default();
        assert_eq!(p.begin_serving(), Ok(Begin::Serve));
        p
    }

    #[test]
    fn ready_to_serving() {
        let p = serving();
        assert_eq!(p.kind(), Kind::Serving);
        assert!(!p.is_draining() && !p.is_closing());
    }

    #[test]
    fn serving_twice_is_not_ready() {
        let mut p = serving();
        assert_eq!(p.begin_serving(), Err(NotReady::Serving));
        p.close(Instant::now(), None, NO_DELAY);
        assert_eq!(p.begin_serving(), Err(NotReady::Draining));
    }

    #[test]
    fn a_close_before_serve_is_pending_once() {
        let mut p = Phase::default();
        let now = Instant::now();
        assert_eq!(p.close(now, Some(15), NO_DELAY), Close::Pending);
        assert_eq!(p.close(now, None, NO_DELAY), Close::Already);
        assert_eq!(p.signal(), Some(15));
        assert_eq!(p.begin_serving(), Ok(Begin::ClosedFirst));
        assert_eq!(p.kind(), Kind::Ready);
        assert_eq!(
            p.close(now, None, NO_DELAY),
            Close::Already,
            "a close after that serve returned belongs to its run"
        );
        assert_eq!(p.begin_serving(), Ok(Begin::Serve), "pending was used up");
    }

    #[test]
    fn serving_to_draining_is_accepted_once() {
        let mut p = serving();
        let now = Instant::now();
        let first = p.close(now, None, NO_DELAY);
        assert_eq!(first, Close::Draining);
        assert!(first.accepted() && first.began_drain());
        assert!(p.is_closing() && p.is_draining());
        assert_eq!(p.drain_started(), Some(now));
        assert_eq!(p.deadline(), None, "no shutdown timeout");
        let second = p.close(now, None, NO_DELAY);
        assert_eq!(second, Close::Already);
        assert!(!second.accepted() && !second.began_drain());
    }

    #[test]
    fn serving_to_delaying_then_draining() {
        let mut p = serving();
        let now = Instant::now();
        assert_eq!(p.close(now, Some(2), DELAY), Close::Delaying);
        assert!(p.is_draining() && !p.is_closing());
        assert_eq!(p.delay_until(), Some(now + DELAY.delay));
        // The accept loop at the delay's end.
        let later = now + DELAY.delay;
        assert!(p.start_drain(later, DELAY));
        assert!(p.is_closing());
        assert_eq!(p.delay_until(), None);
        assert_eq!(p.deadline(), Some(later + Duration::from_secs(10)));
        assert!(!p.start_drain(later, DELAY), "once");
    }

    #[test]
    fn a_second_close_cuts_the_delay_short() {
        let mut p = serving();
        let now = Instant::now();
        assert_eq!(p.close(now, None, DELAY), Close::Delaying);
        let second = p.close(now, None, DELAY);
        assert_eq!(second, Close::CutDelay);
        assert!(!second.accepted() && second.began_drain());
        assert!(p.is_closing());
    }

    #[test]
    fn force_starts_the_drain_without_its_delay() {
        let now = Instant::now();
        assert!(!Phase::default().force(now, DELAY), "not serving");
        let mut p = serving();
        assert!(p.force(now, DELAY));
        assert!(p.is_closing() && p.forced());
        let mut p = serving();
        p.close(now, None, NO_DELAY);
        assert!(p.force(now, NO_DELAY), "during the drain");
        assert!(p.forced());
    }

    #[test]
    fn close_within_sets_or_brings_forward_the_deadline() {
        let now = Instant::now();
        assert!(!Phase::default().close_within(now, Duration::from_secs(1), NO_DELAY));
        let mut p = serving();
        assert!(p.close_within(now, Duration::from_secs(3), DELAY));
        assert_eq!(p.kind(), Kind::Delaying, "a close: the delay applies");
        assert_eq!(p.deadline(), Some(now + Duration::from_secs(3)));
        assert!(p.close_within(now, Duration::from_secs(1), DELAY));
        assert!(p.is_closing(), "the delay was cut short");
        assert_eq!(p.deadline(), Some(now + Duration::from_secs(1)));
        assert!(p.close_within(now, Duration::from_secs(30), DELAY));
        assert_eq!(
            p.deadline(),
            Some(now + Duration::from_secs(1)),
            "never later"
        );
    }

    #[test]
    fn finish_goes_back_to_ready_and_keeps_the_signal() {
        let mut p = serving();
        p.close(Instant::now(), Some(15), NO_DELAY);
        p.force(Instant::now(), NO_DELAY);
        p.finish();
        assert_eq!(p.kind(), Kind::Ready);
        assert!(!p.forced() && p.deadline().is_none());
        assert_eq!(p.signal(), Some(15));
        assert_eq!(
            p.close(Instant::now(), None, NO_DELAY),
            Close::Already,
            "a late close belongs to the run that ended"
        );
        assert_eq!(p.begin_serving(), Ok(Begin::Serve), "serves again");
        assert!(!p.forced());
        assert_eq!(p.close(Instant::now(), None, NO_DELAY), Close::Draining);
    }

    #[test]
    fn a_serve_that_failed_to_start_leaves_close_pending_possible() {
        let mut p = serving();
        p.finish(); // e.g. the listener could not be bound
        assert_eq!(p.close(Instant::now(), None, NO_DELAY), Close::Pending);
    }

    /// Every order of up to four operations from every starting phase:
    /// at most one close is accepted per run, and a drain never starts
    /// without an accepted close or a force.
    #[test]
    fn at_most_one_close_is_accepted_in_any_order() {
        #[derive(Clone, Copy, Debug)]
        enum Op {
            Close,
            Force,
            Within,
            DelayOver,
        }
        let ops = [Op::Close, Op::Force, Op::Within, Op::DelayOver];
        let now = Instant::now();
        for timing in [NO_DELAY, DELAY] {
            for a in ops {
                for b in ops {
                    for c in ops {
                        for d in ops {
                            let mut p = serving();
                            let mut accepted = 0;
                            for op in [a, b, c, d] {
                                match op {
                                    Op::Close => {
                                        accepted +=
                                            usize::from(p.close(now, None, timing).accepted())
                                    }
                                    Op::Force => assert!(p.force(now, timing)),
                                    Op::Within => {
                                        assert!(p.close_within(now, Duration::from_secs(1), timing))
                                    }
                                    Op::DelayOver => {
                                        if p.kind() == Kind::Delaying {
                                            p.start_drain(now, timing);
                                        }
                                    }
                                }
                            }
                            assert!(accepted <= 1, "{timing:?} {:?}", [a, b, c, d]);
                            assert_ne!(p.kind(), Kind::Ready);
                        }
                    }
                }
            }
        }
    }
}
