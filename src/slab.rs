//! A slab: values by key, where a key is an index and a generation, so
//! that a key outlives its value harmlessly: once the value is removed
//! the key names nothing, even after its slot is reused. The idle set
//! uses the key as the epoll event's data, so an event for a connection
//! already taken out finds nothing.

enum Entry<T> {
    Vacant { gen: u32 },
    Occupied { gen: u32, value: T },
}

/// Values by key: an index and a generation, so that a key outlives its
/// value harmlessly (it names nothing once removed, even after the slot
/// is reused).
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> u64 {
        if let Some(i) = self.free.pop() {
            let e = &mut self.entries[i as usize];
            if let Entry::Vacant { gen } = *e {
                let gen = gen.wrapping_add(1);
                *e = Entry::Occupied { gen, value };
                return key(i, gen);
            }
        }
        let i = self.entries.len() as u32;
        self.entries.push(Entry::Occupied { gen: 0, value });
        key(i, 0)
    }

    pub(crate) fn remove(&mut self, k: u64) -> Option<T> {
        let (i, g) = ((k & 0xffff_ffff) as usize, (k >> 32) as u32);
        match self.entries.get(i) {
            Some(Entry::Occupied { gen, .. }) if *gen == g => {}
            _ => return None,
        }
        let old = std::mem::replace(&mut self.entries[i], Entry::Vacant { gen: g });
        self.free.push(i as u32);
        match old {
            Entry::Occupied { value, .. } => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    /// Every value with its key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied { gen, value } => Some((key(i as u32, *gen), value)),
                Entry::Vacant { .. } => None,
            })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Removes every value (the keys may name new values after this: for
    /// the end of a run only).
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        self.free.clear();
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Occupied { value, .. } => Some(value),
                Entry::Vacant { .. } => None,
            })
            .collect()
    }
}

fn key(index: u32, gen: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_key_names_nothing_even_after_its_slot_is_reused() {
        let mut slab = Slab::new();
        let a = slab.insert("a");
        let b = slab.insert("b");
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None, "removed once");
        let c = slab.insert("c");
        assert_eq!(c & 0xffff_ffff, a & 0xffff_ffff, "the slot is reused");
        assert_ne!(c, a, "under a new generation");
        assert_eq!(slab.remove(a), None, "the old key names nothing");
        let keys: Vec<u64> = slab.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![c, b]);
        assert_eq!(slab.take_all(), vec!["c", "b"]);
        assert_eq!(slab.len(), 0);
        assert_eq!(slab.remove(b), None);
    }
}
