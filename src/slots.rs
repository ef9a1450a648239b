//! The idle set's table: one slot per file descriptor its epoll watches.
//!
//! A connection is registered with the epoll once, edge-triggered, for as
//! long as its socket is open, with its file descriptor as the event's
//! data: parking it again is a write to its slot, not an `epoll_ctl`. A
//! slot says where the connection is:
//!
//! ```text
//!          watch / put                      take (an event)
//!   ──────────────────────► Held(conn) ──────────────────────► Out
//!                              ▲       ◄──────────────────────  │ an event while out:
//!                              │            put                 ▼ remembered
//!                              │                           Out { pending }
//!                              └── put is refused (the caller ──┘
//!                                  looks at the socket again)
//! ```
//!
//! Because an edge-triggered event is reported once, an event that
//! arrives while a worker holds the connection must not be lost: the slot
//! remembers it, and the connection's next `put` is refused, so that
//! whoever parks it reads the socket once more first. Events may also be
//! stale (for bytes a worker already read, or for a descriptor closed and
//! reused since): whoever takes a connection reads without waiting, and
//! an empty read parks it again. A closed descriptor leaves its slot
//! `Out` until a new connection gets the number: no key outlives its
//! meaning for more than one harmless wake.

/// Where the connection on one descriptor is.
enum Slot<T> {
    /// No connection on this descriptor is watched.
    Empty,
    /// Waiting here for an event.
    Held(T),
    /// Taken out (a worker, the timer thread, or the ready list has it);
    /// `pending`: an event came since; `urgent`: one of them said the
    /// peer sent urgent data.
    Out { pending: bool, urgent: bool },
}

/// Connections by file descriptor.
pub(crate) struct Slots<T> {
    slots: Vec<Slot<T>>,
    held: usize,
}

impl<T> Slots<T> {
    pub(crate) fn new() -> Slots<T> {
        Slots {
            slots: Vec::new(),
            held: 0,
        }
    }

    fn slot(&mut self, fd: usize) -> &mut Slot<T> {
        if fd >= self.slots.len() {
            self.slots.resize_with(fd + 1, || Slot::Empty);
        }
        &mut self.slots[fd]
    }

    /// A connection newly registered on `fd`: held, whatever the slot
    /// said of an earlier connection on the same number.
    pub(crate) fn watch(&mut self, fd: usize, value: T) {
        let old = std::mem::replace(self.slot(fd), Slot::Held(value));
        if matches!(old, Slot::Held(_)) {
            // Cannot happen (a held connection owns its descriptor); keep
            // the count right if it did.
            self.held -= 1;
        }
        self.held += 1;
    }

    /// A watched connection comes back. Refused (given back, with whether
    /// an event said urgent data came) when an event came while it was
    /// out: the caller looks at it again first. The slot is `Out` with no
    /// event then.
    pub(crate) fn put(&mut self, fd: usize, value: T) -> Result<(), (T, bool)> {
        let slot = self.slot(fd);
        match *slot {
            Slot::Out {
                pending: true,
                urgent,
            } => {
                *slot = Slot::Out {
                    pending: false,
                    urgent: false,
                };
                Err((value, urgent))
            }
            Slot::Held(_) => Err((value, false)),
            _ => {
                *slot = Slot::Held(value);
                self.held += 1;
                Ok(())
            }
        }
    }

    /// An event for `fd` (`urgent`: it says the peer sent urgent data):
    /// the held connection, now out; `None` if it is out already (the
    /// event is remembered) or nothing is watched there.
    pub(crate) fn take(&mut self, fd: usize, urgent: bool) -> Option<T> {
        let slot = self.slots.get_mut(fd)?;
        match slot {
            Slot::Empty => None,
            Slot::Out { pending, urgent: u } => {
                *pending = true;
                *u |= urgent;
                None
            }
            Slot::Held(_) => {
                let out = Slot::Out {
                    pending: false,
                    urgent: false,
                };
                let Slot::Held(v) = std::mem::replace(slot, out) else {
                    unreachable!()
                };
                self.held -= 1;
                Some(v)
            }
        }
    }

    /// Takes out the held connection on `fd` without an event (its
    /// deadline passed): `Out` with no event.
    pub(crate) fn take_held(&mut self, fd: usize) -> Option<T> {
        match self.slots.get(fd) {
            Some(Slot::Held(_)) => self.take(fd, false),
            _ => None,
        }
    }

    /// The descriptor is no longer watched (the connection was handed to
    /// someone else's code with its socket still open).
    pub(crate) fn forget(&mut self, fd: usize) {
        if let Some(slot) = self.slots.get_mut(fd) {
            if matches!(slot, Slot::Held(_)) {
                self.held -= 1;
            }
            *slot = Slot::Empty;
        }
    }

    /// Every held connection with its descriptor.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.slots.iter().enumerate().filter_map(|(fd, s)| match s {
            Slot::Held(v) => Some((fd, v)),
            _ => None,
        })
    }

    /// How many are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held
    }

    /// Every held connection (for the end of a run); the table is empty.
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        self.held = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .filter_map(|s| match s {
                Slot::Held(v) => Some(v),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_takes_a_held_connection_out() {
        let mut t = Slots::new();
        t.watch(7, "a");
        assert_eq!(t.len(), 1);
        assert_eq!(t.take(7, false), Some("a"));
        assert_eq!(t.len(), 0);
        assert_eq!(t.put(7, "a"), Ok(()), "no event came while it was out");
        assert_eq!(t.take(7, false), Some("a"));
    }

    #[test]
    fn an_event_while_out_refuses_the_next_put_once() {
        let mut t = Slots::new();
        t.watch(3, "a");
        assert_eq!(t.take(3, false), Some("a"));
        assert_eq!(t.take(3, false), None, "out: remembered, not delivered");
        assert_eq!(
            t.put(3, "a"),
            Err(("a", false)),
            "look at the socket again first"
        );
        assert_eq!(t.put(3, "a"), Ok(()), "the event was seen once");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn an_urgent_event_while_out_is_reported_with_the_refusal() {
        let mut t = Slots::new();
        t.watch(3, "a");
        assert_eq!(t.take(3, false), Some("a"));
        assert_eq!(t.take(3, true), None);
        assert_eq!(t.take(3, false), None, "a later plain event keeps it");
        assert_eq!(t.put(3, "a"), Err(("a", true)));
        assert_eq!(t.put(3, "a"), Ok(()));
        assert_eq!(t.take(3, false), Some("a"));
        assert_eq!(t.take(3, false), None);
        assert_eq!(t.put(3, "a"), Err(("a", false)), "reported once");
    }

    #[test]
    fn a_deadline_takes_it_out_without_an_event() {
        let mut t = Slots::new();
        assert_eq!(t.take_held(5), None, "nothing there");
        t.watch(5, "a");
        assert_eq!(t.take_held(5), Some("a"));
        assert_eq!(
            t.take_held(5),
            None,
            "out already; and no event is recorded"
        );
        assert_eq!(t.put(5, "a"), Ok(()));
    }

    #[test]
    fn events_for_nothing_are_ignored() {
        let mut t: Slots<&str> = Slots::new();
        assert_eq!(t.take(1000, false), None, "never watched");
        t.watch(2, "a");
        t.forget(2);
        assert_eq!(t.len(), 0);
        assert_eq!(t.take(2, false), None, "forgotten");
    }

    #[test]
    fn a_reused_descriptor_starts_afresh() {
        let mut t = Slots::new();
        t.watch(4, "old");
        assert_eq!(t.take(4, false), Some("old"));
        assert_eq!(
            t.take(4, false),
            None,
            "an event for the old one, while out"
        );
        // The old connection closed; a new one got descriptor 4.
        t.watch(4, "new");
        assert_eq!(t.len(), 1);
        assert_eq!(t.take(4, false), Some("new"));
    }

    #[test]
    fn iteration_and_take_all_see_only_held_ones() {
        let mut t = Slots::new();
        t.watch(1, "a");
        t.watch(9, "b");
        t.watch(4, "c");
        assert_eq!(t.take(4, false), Some("c"));
        let seen: Vec<(usize, &str)> = t.iter().map(|(fd, v)| (fd, *v)).collect();
        assert_eq!(seen, vec![(1, "a"), (9, "b")]);
        assert_eq!(t.take_all(), vec!["a", "b"]);
        assert_eq!(t.len(), 0);
        assert_eq!(t.iter().count(), 0);
    }
}
