//! A hash map split into 256 parts: the proxy's transaction keys (server
//! keys, client keys), hundreds of thousands of entries that come and go at
//! the call rate.
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

pub struct SplitMap<K, V> {
    hasher: RandomState,
    parts: Box<[HashTable<(K, V)>]>,
    len: usize,
}

impl<K: Hash + Eq, V> Default for SplitMap<K, V> {
    fn default() -> Self {
        SplitMap { hasher: RandomState::new(), parts: (0..PARTS).map(|_| HashTable::new()).collect(), len: 0 }
    }
}

impl<K: Hash + Eq, V> SplitMap<K, V> {
    fn locate(&self, k: &K) -> (u64, usize) {
        let h = self.hasher.hash_one(k);
        (h, (h >> 48) as usize % PARTS)
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        let (h, p) = self.locate(k);
        self.parts[p].find(h, |(key, _)| key == k).map(|(_, v)| v)
    }

    /// Inserts or replaces; the value replaced.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let (h, p) = self.locate(&k);
        if let Some((_, old)) = self.parts[p].find_mut(h, |(key, _)| *key == k) {
            return Some(std::mem::replace(old, v));
        }
        let hasher = &self.hasher;
        self.parts[p].insert_unique(h, (k, v), |(key, _)| hasher.hash_one(key));
        self.len += 1;
        None
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let (h, p) = self.locate(k);
        let ((_, v), _) = self.parts[p].find_entry(h, |(key, _)| key == k).ok()?.remove();
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
