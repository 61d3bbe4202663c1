//! Hash tables split into 256 parts: the proxy's transaction keys, a map
//! for the live transactions (`SplitMap`: server keys, client keys) and an
//! index of record numbers for the lingering ones (`SplitTable`), hundreds
//! of thousands of entries that come and go at the call rate.
//!
//! Owns: growth and clean-up in small steps. A single hash table of 200k
//! entries grows by rehashing all of them at once, and under steady churn
//! (one insert and one remove per transaction) it fills with tombstones
//! until it rehashes everything in place, again at once: tens of
//! milliseconds during which the shard answers nothing, recurring for as
//! long as the load lasts. Split 256 ways, each of those lumps is a 256th
//! of the table (under 1k entries at 3k calls/s), spread over time.
//!
//! The key is hashed once (SipHash with a random key, as `std`'s maps: the
//! keys are branches chosen by peers); bits 48..56 pick the part, the part's
//! table uses the same hash (hashbrown reads its low bits and top 7 bits,
//! which the part choice leaves free).

use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash, RandomState};

const PARTS: usize = 256;

/// Entries found by a hash their owner computes, in 256 parts: the shape
/// under [`SplitMap`], and the index of the lingering transactions
/// (`core::proxy::lingering`), whose entries are record numbers and whose
/// keys live in the records. A part's table asks `hash` for the hash of
/// every entry when it grows or clears its tombstones: an entry that can
/// give it without a cold read elsewhere (the lingering index keeps 32
/// bits of it) keeps that lump short.
pub struct SplitTable<T> {
    parts: Box<[HashTable<T>]>,
    len: usize,
}

impl<T> Default for SplitTable<T> {
    fn default() -> Self {
        SplitTable::with_parts(PARTS)
    }
}

impl<T> SplitTable<T> {
    /// A table in `parts` parts (1 to 256; each holds its own allocation
    /// once it has had an entry, so a small table wants fewer).
    pub fn with_parts(parts: usize) -> Self {
        SplitTable { parts: (0..parts.clamp(1, PARTS)).map(|_| HashTable::new()).collect(), len: 0 }
    }

    /// Bits 48..56 pick the part; the part's table reads the low bits and
    /// the top 7.
    fn part(&self, h: u64) -> usize {
        (h >> 48) as usize % self.parts.len()
    }

    pub fn find(&self, h: u64, eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.parts[self.part(h)].find(h, eq)
    }

    pub fn find_mut(&mut self, h: u64, eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        let p = self.part(h);
        self.parts[p].find_mut(h, eq)
    }

    /// Adds `v`, which no entry equals.
    pub fn insert_unique(&mut self, h: u64, v: T, hash: impl Fn(&T) -> u64) {
        let p = self.part(h);
        self.parts[p].insert_unique(h, v, hash);
        self.len += 1;
    }

    pub fn remove(&mut self, h: u64, eq: impl FnMut(&T) -> bool) -> Option<T> {
        let p = self.part(h);
        let (v, _) = self.parts[p].find_entry(h, eq).ok()?.remove();
        self.len -= 1;
        Some(v)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The largest part's number of entries (a measure of the lumps).
    pub fn largest_part(&self) -> usize {
        self.parts.iter().map(HashTable::len).max().unwrap_or(0)
    }

    /// Bytes the parts' tables hold (their buckets and control bytes).
    pub fn allocated(&self) -> usize {
        self.parts.iter().map(|p| p.allocation_size()).sum()
    }
}

pub struct SplitMap<K, V> {
    hasher: RandomState,
    table: SplitTable<(K, V)>,
}

impl<K: Hash + Eq, V> Default for SplitMap<K, V> {
    fn default() -> Self {
        SplitMap::with_parts(PARTS)
    }
}

impl<K: Hash + Eq, V> SplitMap<K, V> {
    /// A map in `parts` parts (see [`SplitTable::with_parts`]).
    pub fn with_parts(parts: usize) -> Self {
        SplitMap { hasher: RandomState::new(), table: SplitTable::with_parts(parts) }
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.table.find(self.hasher.hash_one(k), |(key, _)| key == k).map(|(_, v)| v)
    }

    /// Inserts or replaces; the value replaced.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let h = self.hasher.hash_one(&k);
        if let Some((_, old)) = self.table.find_mut(h, |(key, _)| *key == k) {
            return Some(std::mem::replace(old, v));
        }
        let hasher = &self.hasher;
        self.table.insert_unique(h, (k, v), |(key, _)| hasher.hash_one(key));
        None
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        self.table.remove(self.hasher.hash_one(k), |(key, _)| key == k).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The largest part's number of entries (a measure of the lumps).
    pub fn largest_part(&self) -> usize {
        self.table.largest_part()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_map() {
        let mut m: SplitMap<String, u32> = SplitMap::default();
        assert!(m.is_empty());
        for k in 0..10_000u32 {
            assert_eq!(m.insert(format!("z9hG4bK-{k}"), k), None);
        }
        assert_eq!(m.insert("z9hG4bK-7".into(), 70), Some(7), "replaced");
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&"z9hG4bK-7".to_string()), Some(&70));
        assert_eq!(m.get(&"z9hG4bK-x".to_string()), None);
        for k in (0..10_000u32).step_by(2) {
            assert!(m.remove(&format!("z9hG4bK-{k}")).is_some());
        }
        assert_eq!(m.remove(&"z9hG4bK-0".to_string()), None);
        assert_eq!(m.len(), 5_000);
        assert_eq!(m.get(&"z9hG4bK-9999".to_string()), Some(&9999));
    }

    #[test]
    fn entries_spread_over_the_parts() {
        let mut m: SplitMap<u64, ()> = SplitMap::default();
        for k in 0..256_000u64 {
            m.insert(k, ());
        }
        // 1,000 per part on average; a part twice that would mean a skewed split.
        assert!(m.largest_part() < 2_000, "largest part {}", m.largest_part());
    }
}
