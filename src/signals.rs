//! Closing on signals, through signal-hook: it composes with other
//! handlers in the process and says which signal arrived.

use std::sync::Arc;
use std::thread;

use signal_hook::iterator::Signals;

use crate::drain::Shared;
use crate::error::Error;

/// A signal number (from `signal-hook`), for
/// [`Handle::close_on_signals`](crate::Handle::close_on_signals),
/// [`Handle::restart_on_signal`](crate::Handle::restart_on_signal) and
/// [`close_on_interrupt`](crate::close_on_interrupt), and to compare with
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

/// signal-hook panics on SIGKILL, SIGSTOP and the fault signals a handler
/// must not swallow; refuse them with an error instead.
pub(crate) fn check_catchable(signals: &[i32]) -> Result<(), Error> {
    match signals
        .iter()
        .find(|s| signal_hook::consts::FORBIDDEN.contains(s))
    {
        Some(bad) => Err(Error::Signal(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("signal {bad} cannot be handled"),
        ))),
        None => Ok(()),
    }
}

pub(crate) fn close_on(shared: &Arc<Shared>, signals: &[i32]) -> Result<(), Error> {
    check_catchable(signals)?;
    let mut sigs = Signals::new(signals).map_err(Error::Signal)?;
    let handle = sigs.handle();
    let weak = Arc::downgrade(shared);
    thread::Builder::new()
        .name("courteous-signals".into())
        .spawn(move || {
            for sig in sigs.forever() {
                let Some(shared) = weak.upgrade() else { break };
                log::info!("courteous: signal {sig} received");
                shared.on_signal(sig);
            }
        })
        .map_err(Error::Signal)?;
    shared.signals.lock().push(handle);
    Ok(())
}
