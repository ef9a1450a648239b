//! Signals, through signal-hook: it composes with other handlers in the
//! process and says which signal arrived.
//!
//! Each server has one signal table and at most one signal thread: a
//! signal is registered once, for one purpose (close or restart), however
//! many times it is asked for. Registered twice as two handlers, one
//! delivery would count as two signals, and the second one force-closes
//! the drain the first began. A number is checked before signal-hook
//! sees it (signal-hook panics on numbers out of its range).
//!
//! This module knows nothing of the server: what a delivery does is a
//! [`Dispatch`] the server's handle gives it.

use std::io;
use std::sync::Arc;
use std::thread;

use signal_hook::iterator::Signals;

use parking_lot::Mutex;

use crate::error::Error;

/// A signal number (from `signal-hook`), for
/// [`Handle::close_on_signals`](crate::Handle::close_on_signals),
/// [`Handle::restart_on_signal`](crate::Handle::restart_on_signal) and
/// [`close_on_interrupt`](crate::compat::close_on_interrupt), and to compare with
/// [`Handle::signal_received`](crate::Handle::signal_received).
///
/// # Examples
///
/// ```
/// use courteous::{SIGINT, SIGTERM};
///
/// let server = courteous::Server::bind("127.0.0.1:0")?;
/// server.handle().close_on_signals(&[SIGTERM, SIGINT])?;
/// # Ok::<(), courteous::Error>(())
/// ```
pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// The signals a server drains on by default: SIGINT (Ctrl-C), SIGTERM
/// (what supervisors send), SIGHUP, SIGQUIT and SIGUSR1. SIGKILL cannot be
/// caught by anyone.
///
/// # Examples
///
/// ```
/// use courteous::{DEFAULT_SIGNALS, SIGTERM, SIGUSR2};
///
/// let server = courteous::Server::bind("127.0.0.1:0")?;
/// server.handle().close_on_signals(DEFAULT_SIGNALS)?;
/// assert!(DEFAULT_SIGNALS.contains(&SIGTERM));
/// assert!(!DEFAULT_SIGNALS.contains(&SIGUSR2), "left free for restarts");
/// # Ok::<(), courteous::Error>(())
/// ```
pub const DEFAULT_SIGNALS: &[i32] = &[SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1];

/// What a signal does to its server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Purpose {
    /// Drain (a second delivery during the drain force-closes).
    Close,
    /// Re-execute the program with the listener, then drain.
    Restart,
}

impl Purpose {
    fn verb(self) -> &'static str {
        match self {
            Purpose::Close => "close",
            Purpose::Restart => "restart",
        }
    }

    fn verb_s(self) -> &'static str {
        match self {
            Purpose::Close => "closes",
            Purpose::Restart => "restarts",
        }
    }
}

/// What a delivery does: acts on the server for `signal`'s purpose, or
/// says `false` when the server is gone (the signal thread then ends).
pub(crate) type Dispatch = Arc<dyn Fn(i32, Purpose) -> bool + Send + Sync>;

/// What one server does on which signal.
#[derive(Default)]
pub(crate) struct Table {
    purposes: Vec<(i32, Purpose)>,
    /// The signal thread's iterator, once there is one.
    handle: Option<signal_hook::iterator::Handle>,
}

impl Table {
    fn purpose(&self, sig: i32) -> Option<Purpose> {
        self.purposes
            .iter()
            .find(|(s, _)| *s == sig)
            .map(|(_, p)| *p)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // Ends the signal thread. signal-hook does not restore the
        // default disposition: its handler stays installed, and a signal
        // that no one handles any more does nothing.
        if let Some(h) = self.handle.take() {
            h.close();
        }
    }
}

/// The highest signal number the system has (Linux: SIGRTMAX, 64).
fn max_signal() -> i32 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::SIGRTMAX()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        31
    }
}

fn refuse(signal: i32, why: String) -> Error {
    Error::Signal {
        signal,
        source: io::Error::new(io::ErrorKind::InvalidInput, why),
    }
}

/// Checks that `signal` is a number this server may handle for `purpose`.
pub(crate) fn check(table: &Table, signal: i32, purpose: Purpose) -> Result<(), Error> {
    let max = max_signal();
    if !(1..=max).contains(&signal) {
        return Err(refuse(
            signal,
            format!("{signal} is not a signal number (1 to {max})"),
        ));
    }
    if signal_hook::consts::FORBIDDEN.contains(&signal) {
        return Err(refuse(
            signal,
            format!("signal {signal} cannot be caught or must not be (SIGKILL, SIGSTOP, a fault)"),
        ));
    }
    match table.purpose(signal) {
        Some(p) if p != purpose => Err(refuse(
            signal,
            format!(
                "signal {signal} already {} this server; it cannot also {} it",
                p.verb_s(),
                purpose.verb()
            ),
        )),
        _ => Ok(()),
    }
}

/// Handles each of `signals` for `purpose` on the server whose `table`
/// this is: all of them, or (on an error) none that were not already.
/// `dispatch` is used if this starts the server's signal thread.
pub(crate) fn handle(
    table: &Arc<Mutex<Table>>,
    signals: &[i32],
    purpose: Purpose,
    dispatch: impl FnOnce() -> Dispatch,
) -> Result<(), Error> {
    let weak = Arc::downgrade(table);
    let mut table = table.lock();
    for &sig in signals {
        check(&table, sig, purpose)?;
    }
    let mut fresh: Vec<i32> = signals
        .iter()
        .copied()
        .filter(|s| table.purpose(*s).is_none())
        .collect();
    fresh.sort_unstable();
    fresh.dedup();
    if fresh.is_empty() {
        return Ok(());
    }
    match &table.handle {
        Some(h) => {
            for (i, &sig) in fresh.iter().enumerate() {
                if let Err(source) = h.add_signal(sig) {
                    // Those added before stay handled (a signal-hook
                    // registration cannot be taken back alone); record them.
                    for &s in &fresh[..i] {
                        table.purposes.push((s, purpose));
                    }
                    return Err(Error::Signal {
                        signal: sig,
                        source,
                    });
                }
            }
        }
        None => {
            let sigs = Signals::new(&fresh).map_err(|source| Error::Signal {
                signal: fresh[0],
                source,
            })?;
            table.handle = Some(sigs.handle());
            spawn_thread(weak, sigs, dispatch()).inspect_err(|_| {
                if let Some(h) = table.handle.take() {
                    h.close();
                }
            })?;
        }
    }
    for sig in fresh {
        table.purposes.push((sig, purpose));
    }
    Ok(())
}

fn spawn_thread(
    table: std::sync::Weak<Mutex<Table>>,
    mut sigs: Signals,
    dispatch: Dispatch,
) -> Result<(), Error> {
    thread::Builder::new()
        .name("courteous-signals".into())
        .spawn(move || {
            for sig in sigs.forever() {
                let Some(table) = table.upgrade() else { break };
                let purpose = table.lock().purpose(sig);
                drop(table);
                log::info!("courteous: signal {sig} received");
                if let Some(p) = purpose {
                    if !dispatch(sig, p) {
                        break;
                    }
                }
            }
        })
        .map(drop)
        .map_err(Error::Spawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(signal: i32) -> String {
        match check(&Table::default(), signal, Purpose::Close) {
            Err(Error::Signal { signal: s, source }) => {
                assert_eq!(s, signal);
                source.to_string()
            }
            other => panic!("{signal}: {other:?}"),
        }
    }

    #[test]
    fn numbers_that_are_not_signals_are_refused() {
        for bad in [0, -1, -15, i32::MIN, 65, 128, 999, i32::MAX] {
            assert!(refused(bad).contains("not a signal number"), "{bad}");
        }
    }

    #[test]
    fn signals_no_program_may_catch_are_refused() {
        for bad in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
        ] {
            assert!(refused(bad).contains("cannot be caught"), "{bad}");
        }
    }

    #[test]
    fn a_signal_has_one_purpose() {
        let mut table = Table::default();
        table.purposes.push((SIGUSR2, Purpose::Restart));
        assert!(
            check(&table, SIGUSR2, Purpose::Restart).is_ok(),
            "again: idempotent"
        );
        assert!(matches!(
            check(&table, SIGUSR2, Purpose::Close),
            Err(Error::Signal {
                signal: SIGUSR2,
                ..
            })
        ));
        assert!(check(&table, SIGTERM, Purpose::Close).is_ok());
    }
}
