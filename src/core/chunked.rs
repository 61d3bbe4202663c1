//! A growable array stored in fixed-size chunks: what the shard's large
//! per-entry tables (the transaction slab, the transaction timer wheel's
//! nodes) keep their entries in.
//!
//! Owns: growth without a lump. A `Vec` doubles, copying every entry at once;
//! with 200k transactions of a few hundred bytes each that is a 60 MB copy
//! and tens of milliseconds during which a shard answers nothing. Here
//! growing allocates one more chunk of [`CHUNK`] entries and moves nothing
//! (only the small list of chunks doubles: 24 bytes per chunk). Entries
//! never move once pushed, and indexing is a division by a power of two.
//!
//! Memory is never given back (a slab reuses its freed slots instead).

/// Entries per chunk (a power of two).
pub const CHUNK: usize = 1024;

pub struct Chunked<T> {
    /// Every chunk was made with capacity CHUNK and never holds more, so
    /// none ever reallocates; all but the last are full.
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T> Chunked<T> {
    pub fn len(&self) -> usize {
        match self.chunks.last() {
            None => 0,
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Appends `v`; returns its index. Moves no entry already there.
    pub fn push(&mut self, v: T) -> usize {
        let i = self.len();
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(v),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(v);
                self.chunks.push(chunk);
            }
        }
        i
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_never_move_as_it_grows() {
        let mut c = Chunked::default();
        assert!(c.is_empty());
        let first = c.push(7u64);
        let addr = &c[first] as *const u64;
        for k in 1..(3 * CHUNK as u64 + 5) {
            assert_eq!(c.push(k), k as usize);
        }
        assert_eq!(c.len(), 3 * CHUNK + 5);
        assert_eq!(&c[first] as *const u64, addr, "the first entry stayed where it was");
        assert_eq!(c.get(CHUNK), Some(&(CHUNK as u64)));
        assert_eq!(c.get(3 * CHUNK + 5), None);
        c[CHUNK + 1] = 0;
        assert_eq!(c.get_mut(CHUNK + 1).copied(), Some(0));
        assert!(c.chunks.iter().all(|ch| ch.capacity() == CHUNK), "no chunk reallocated");
    }
}
