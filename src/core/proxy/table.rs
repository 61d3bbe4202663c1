//! A slab with generation-checked ids: the shard's transactions live here,
//! and timers and pending lookups name them by `Id`. A stale id (its slot
//! freed, perhaps reused) finds nothing, so lazily cancelled timers are safe.
//! An entry can be taken out for a while and put back ([`Table::take`]):
//! the proxy holds a transaction that way for one step.
//!
//! The slots live in a [`Chunked`] array: the table grows a chunk at a time
//! and never copies its entries (a `Vec` of 200k transactions doubling
//! stalled the shard for tens of milliseconds).

use crate::core::chunked::Chunked;

/// Slot index plus the generation the slot had when the entry went in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Id {
    pub idx: u32,
    pub gen: u32,
}

impl Id {
    /// Names no slot: what a lingering transaction's steps get for an id
    /// (it is not in the table; nothing can be filed under it).
    pub const NONE: Id = Id { idx: u32::MAX, gen: u32::MAX };
}

pub struct Table<T> {
    slots: Chunked<(u32, Option<T>)>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { slots: Chunked::default(), free: Vec::new(), len: 0 }
    }
}

impl<T> Table<T> {
    pub fn insert(&mut self, v: T) -> Id {
        self.len += 1;
        match self.free.pop() {
            Some(idx) => {
                let slot = &mut self.slots[idx as usize];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(v);
                Id { idx, gen: slot.0 }
            }
            None => Id { idx: self.slots.push((0, Some(v))) as u32, gen: 0 },
        }
    }

    pub fn get(&self, id: Id) -> Option<&T> {
        match self.slots.get(id.idx as usize) {
            Some((g, Some(v))) if *g == id.gen => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        self.slot_mut(id)?.as_mut()
    }

    /// Takes the entry out, its slot and id kept (not freed, still
    /// counted): `get` finds nothing until [`Table::put_back`] returns it.
    pub fn take(&mut self, id: Id) -> Option<T> {
        self.slot_mut(id)?.take()
    }

    /// Returns what [`Table::take`] took; nothing happens if the slot is
    /// not empty under that id.
    pub fn put_back(&mut self, id: Id, v: T) {
        if let Some(slot @ None) = self.slot_mut(id) {
            *slot = Some(v);
        }
    }

    fn slot_mut(&mut self, id: Id) -> Option<&mut Option<T>> {
        match self.slots.get_mut(id.idx as usize) {
            Some((g, v)) if *g == id.gen => Some(v),
            _ => None,
        }
    }

    pub fn remove(&mut self, id: Id) -> Option<T> {
        match self.slots.get_mut(id.idx as usize) {
            Some((g, v @ Some(_))) if *g == id.gen => {
                self.free.push(id.idx);
                self.len -= 1;
                v.take()
            }
            _ => None,
        }
    }

    /// Every entry in the table (not those taken out for a step).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.slots.len()).filter_map(|i| self.slots[i].1.as_ref())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_find_nothing() {
        let mut t = Table::default();
        let a = t.insert("a");
        assert_eq!(t.get(a), Some(&"a"));
        assert_eq!(t.remove(a), Some("a"));
        let b = t.insert("b");
        assert_eq!(b.idx, a.idx, "slot reused");
        assert_eq!(t.get(a), None, "old id does not see the new entry");
        assert_eq!(t.remove(a), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.get_mut(b).map(|v| *v), Some("b"));
    }

    #[test]
    fn taken_entries_keep_their_slot() {
        let mut t = Table::default();
        let a = t.insert("a");
        assert_eq!(t.take(a), Some("a"));
        assert_eq!(t.get(a), None, "out while taken");
        assert_eq!(t.len(), 1, "still counted");
        let b = t.insert("b");
        assert_ne!(b.idx, a.idx, "a taken slot is not reused");
        t.put_back(a, "a2");
        assert_eq!(t.get(a), Some(&"a2"));
        t.put_back(a, "a3");
        assert_eq!(t.get(a), Some(&"a2"), "put_back never overwrites");
        assert_eq!(t.remove(a), Some("a2"));
        assert_eq!(t.take(a), None);
    }
}
