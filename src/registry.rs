//! The connection registry: every open connection, its state, and a handle
//! on its socket, so that a drain can see what is left and a deadline can
//! force-close it. The states and who changes them: [`conn`](crate::conn),
//! the one owner of a connection's life (its module docs have the diagram).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::conn_info::{ConnInfo, ConnState};
use crate::net::Stream;

pub(crate) struct Entry {
    pub(crate) info: Arc<ConnInfo>,
    pub(crate) state: ConnState,
    pub(crate) stream: Arc<Stream>,
    /// Our FIN is sent; only the linger is left.
    pub(crate) closing: bool,
}

/// A state's place in [`Registry`]'s counts.
fn slot(state: ConnState) -> usize {
    match state {
        ConnState::New => 0,
        ConnState::Active => 1,
        ConnState::Idle => 2,
        ConnState::Hijacked => 3,
        // Never stored: a closed connection leaves the registry.
        ConnState::Closed => 4,
    }
}

/// Open connections by id, with a count per state kept in step.
#[derive(Default)]
pub(crate) struct Registry {
    map: HashMap<u64, Entry, BuildHasherDefault<IdHasher>>,
    counts: [usize; 5],
    closing: usize,
}

impl Registry {
    pub(crate) fn insert(&mut self, info: Arc<ConnInfo>, stream: Arc<Stream>) {
        self.counts[slot(ConnState::New)] += 1;
        self.map.insert(
            info.id,
            Entry {
                info,
                state: ConnState::New,
                stream,
                closing: false,
            },
        );
    }

    /// Moves a connection to `new`; returns the old state, or `None` when
    /// the connection is gone (force-closed) or already there.
    pub(crate) fn set(&mut self, id: u64, new: ConnState) -> Option<ConnState> {
        let e = self.map.get_mut(&id)?;
        let old = e.state;
        if old == new {
            return None;
        }
        self.counts[slot(old)] -= 1;
        self.counts[slot(new)] += 1;
        e.state = new;
        Some(old)
    }

    /// Marks a connection as closing (FIN sent, lingering).
    pub(crate) fn set_closing(&mut self, id: u64) {
        if let Some(e) = self.map.get_mut(&id) {
            if !e.closing {
                e.closing = true;
                self.closing += 1;
            }
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.map.remove(&id)?;
        self.counts[slot(e.state)] -= 1;
        if e.closing {
            self.closing -= 1;
        }
        Some(e)
    }

    pub(crate) fn drain_all(&mut self) -> Vec<Entry> {
        self.counts = [0; 5];
        self.closing = 0;
        self.map.drain().map(|(_, e)| e).collect()
    }

    /// Connections that sent their FIN and are lingering.
    pub(crate) fn closing(&self) -> usize {
        self.closing
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn count(&self, state: ConnState) -> usize {
        self.counts[slot(state)]
    }
}

/// The registry's keys are connection ids, unique and handed out in
/// order: no adversary chooses them, so SipHash's protection buys nothing,
/// and it cost two hashes per request. One multiply spreads consecutive
/// ids over the table (the top bits pick the control byte).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; any other input still hashes.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn stream() -> Arc<Stream> {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        Arc::new(Stream::Tcp(s))
    }

    fn info(id: u64) -> Arc<ConnInfo> {
        Arc::new(ConnInfo::bare(id))
    }

    #[test]
    fn counts_follow_states() {
        let mut r = Registry::default();
        r.insert(info(1), stream());
        r.insert(info(2), stream());
        assert_eq!(r.count(ConnState::New), 2);
        assert_eq!(r.set(1, ConnState::Active), Some(ConnState::New));
        assert_eq!(r.set(1, ConnState::Active), None, "no change, no event");
        assert_eq!(r.set(1, ConnState::Idle), Some(ConnState::Active));
        assert_eq!(r.count(ConnState::Idle), 1);
        assert_eq!(r.count(ConnState::New), 1);
        r.set_closing(1);
        r.set_closing(1);
        assert_eq!(r.closing(), 1, "closing counts once");
        assert!(r.remove(1).is_some());
        assert!(r.remove(1).is_none(), "removed once");
        assert_eq!(r.set(1, ConnState::Active), None, "gone stays gone");
        assert_eq!(r.len(), 1);
        assert_eq!(r.drain_all().len(), 1);
        assert!(r.is_empty());
        assert_eq!(r.count(ConnState::New), 0);
    }
}
