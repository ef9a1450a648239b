//! A clock shared by every process on the machine.
//!
//! `CLOCK_MONOTONIC` is system-wide on Linux, so an instant read in a peer
//! server and one read in the runner can be subtracted: that is how the
//! drain benchmark times "last response seen by the client → `serve`
//! returned" across two processes.

use rustix::time::{clock_gettime, ClockId};

/// Nanoseconds on the system-wide monotonic clock.
pub fn mono_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    // Both fields are non-negative for CLOCK_MONOTONIC.
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}
