//! A hashed timing wheel whose entries can be cancelled: the proxy's
//! transaction timers (one entry per transaction, at its earliest deadline;
//! see `core::proxy::wake`).
//!
//! Owns: "what is due by now" and "when is the next one due" like
//! [`super::Wheel`], plus [`CancellableWheel::cancel`]: an entry whose owner
//! is gone, or whose deadline moved, leaves the wheel at once instead of
//! waiting in its bucket until it would have fired. That is what keeps the
//! wheel's size equal to the live timers: with lazy cancellation a call's
//! Timer C (180 s, four revolutions of a 41 s wheel) stayed behind every
//! completed call, and the wheel grew by the call rate times 180 s.
//!
//! Shape: `slots` buckets, each a doubly linked list (FIFO) of nodes; an
//! entry further than one revolution ahead waits in its bucket with its
//! absolute due time and is skipped until then (only live entries do so).
//! Nodes live in a [`Chunked`] slab with a free list: growing never copies
//! the nodes, and a freed node is reused by the next `schedule`. A
//! [`TimerHandle`] is the node's index and generation; the generation
//! changes whenever a node is freed, so a handle of an entry that fired or
//! was cancelled finds nothing.
//!
//! Cost: `schedule` and `cancel` O(1); `advance` visits each bucket passed
//! once (at most `slots` of them however long the gap) and touches only the
//! entries in those buckets. Memory: 32 bytes per entry for a key of up to
//! 16 bytes, kept for reuse once allocated (the peak number of entries).
//!
//! The entries may also be the owner's records (the proxy's lingering
//! transactions, `core::proxy::lingering`): [`CancellableWheel::due`] hands
//! out the handles of what is due without taking it out, the owner reads
//! or changes the record ([`CancellableWheel::get`]) and moves it to its
//! next deadline ([`CancellableWheel::reschedule`]) or takes it out; the
//! handle names the record for as long as it lives, and the node is its
//! slot: no table beside the wheel.

use crate::core::chunked::Chunked;

const NIL: u32 = u32::MAX;

/// Names one scheduled entry, for [`CancellableWheel::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerHandle {
    idx: u32,
    gen: u32,
}

impl TimerHandle {
    /// Its node's number, for an index kept elsewhere (see
    /// [`CancellableWheel::handle_at`]).
    pub fn node(self) -> u32 {
        self.idx
    }
}

/// Due units are kept in 40 bits (10 ms units: 348 years of unix time);
/// a later one is clamped to the last of them.
const DUE_MAX: u64 = (1 << 40) - 1;

struct Node<K> {
    /// Absolute due unit (low 40 bits; meaningless while free) and the
    /// generation (high 24 bits), which changes when the node is freed:
    /// stale handles miss. One word: a node holding a 16-byte key (the
    /// proxy's lingering records) is 32 bytes, not 40.
    stamp: u64,
    prev: u32,
    /// Next in the bucket, or in the free list while free.
    next: u32,
    /// None while free.
    key: Option<K>,
}

/// First and last node of one bucket's list.
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List { head: NIL, tail: NIL };

impl<K> Node<K> {
    fn due(&self) -> u64 {
        self.stamp & DUE_MAX
    }

    fn gen(&self) -> u32 {
        (self.stamp >> 40) as u32
    }

    fn set_due(&mut self, at: u64) {
        self.stamp = (self.stamp & !DUE_MAX) | at.min(DUE_MAX);
    }

    /// The next generation (24 bits, wrapping).
    fn bump_gen(&mut self) {
        self.stamp = self.stamp.wrapping_add(1 << 40);
    }
}

pub struct CancellableWheel<K> {
    /// Everything due at or before `now` has been handed out.
    now: u64,
    /// `slots` buckets, then one more: the entries scheduled at or before
    /// `now` (handed out by the next `advance`).
    lists: Box<[List]>,
    nodes: Chunked<Node<K>>,
    free: u32,
    len: usize,
}

impl<K> CancellableWheel<K> {
    /// A wheel whose present is `now`, with `slots` buckets (at least 1).
    pub fn new(now: u64, slots: usize) -> Self {
        let slots = slots.max(1);
        CancellableWheel { now, lists: vec![EMPTY; slots + 1].into(), nodes: Chunked::default(), free: NIL, len: 0 }
    }

    /// Schedules `key` for unit `at`; a time at or before the present is
    /// handed out by the next `advance`. O(1).
    pub fn schedule(&mut self, at: u64, key: K) -> TimerHandle {
        let at = at.min(DUE_MAX);
        let list = self.list_of(at);
        let idx = match self.free {
            NIL => self.nodes.push(Node { stamp: at.min(DUE_MAX), prev: NIL, next: NIL, key: Some(key) }) as u32,
            idx => {
                let n = &mut self.nodes[idx as usize];
                self.free = n.next;
                n.set_due(at);
                n.key = Some(key);
                idx
            }
        };
        self.link(list, idx);
        self.len += 1;
        TimerHandle { idx, gen: self.nodes[idx as usize].gen() }
    }

    /// Takes the entry out of the wheel; its key, or None when it already
    /// fired or was cancelled. O(1).
    pub fn cancel(&mut self, h: TimerHandle) -> Option<K> {
        let n = self.nodes.get(h.idx as usize)?;
        if n.gen() != h.gen || n.key.is_none() {
            return None;
        }
        let list = self.list_of(n.due());
        self.unlink(list, h.idx);
        Some(self.release(h.idx))
    }

    /// Appends to `out` every key due at or before `now` and makes `now` the
    /// present. O(due + buckets passed), buckets passed <= `slots`.
    pub fn advance(&mut self, now: u64, out: &mut Vec<K>) {
        let overdue = self.overdue();
        self.take_due(overdue, u64::MAX, &mut |w, i| out.push(w.release(i)));
        self.pass(now, |w, i| out.push(w.release(i)));
    }

    /// Like [`CancellableWheel::advance`], but what is due stays in the
    /// wheel: every entry due at or before `now` is handed out by its
    /// handle, at each call, until its owner moves it
    /// ([`CancellableWheel::reschedule`]) or takes it out
    /// ([`CancellableWheel::cancel`]). For a wheel whose entries are the
    /// owner's records (the proxy's lingering transactions): the handle is
    /// the record's name and never changes while it lives.
    pub fn due(&mut self, now: u64, out: &mut Vec<TimerHandle>) {
        let overdue = self.overdue();
        self.pass(now, |w, i| w.link(overdue, i));
        let mut i = self.lists[overdue].head;
        while i != NIL {
            let n = &self.nodes[i as usize];
            out.push(TimerHandle { idx: i, gen: n.gen() });
            i = n.next;
        }
    }

    /// Makes `now` the present, taking every entry of the buckets passed
    /// that is due by then out of its bucket (`f` gets its node).
    fn pass(&mut self, now: u64, mut f: impl FnMut(&mut Self, u32)) {
        if now <= self.now {
            return;
        }
        let slots = (self.lists.len() - 1) as u64;
        let steps = (now - self.now).min(slots);
        for t in self.now + 1..=self.now + steps {
            let slot = self.slot_of(t);
            self.take_due(slot, now, &mut f);
        }
        self.now = now;
    }

    /// The entry `h` names, if it is still there.
    pub fn get(&self, h: TimerHandle) -> Option<&K> {
        self.nodes.get(h.idx as usize).filter(|n| n.gen() == h.gen)?.key.as_ref()
    }

    pub fn get_mut(&mut self, h: TimerHandle) -> Option<&mut K> {
        self.nodes.get_mut(h.idx as usize).filter(|n| n.gen() == h.gen)?.key.as_mut()
    }

    /// The handle of the entry in node `idx`, if it holds one (for an index
    /// kept elsewhere that stores node numbers).
    pub fn handle_at(&self, idx: u32) -> Option<TimerHandle> {
        let n = self.nodes.get(idx as usize)?;
        n.key.as_ref().map(|_| TimerHandle { idx, gen: n.gen() })
    }

    /// Moves entry `h` to unit `at` (at or before the present: handed out
    /// by the next `advance` or `due`); false when it is gone. O(1).
    pub fn reschedule(&mut self, h: TimerHandle, at: u64) -> bool {
        let Some(n) = self.nodes.get(h.idx as usize).filter(|n| n.gen() == h.gen && n.key.is_some()) else {
            return false;
        };
        let at = at.min(DUE_MAX);
        let (from, to) = (self.list_of(n.due()), self.list_of(at));
        self.unlink(from, h.idx);
        self.nodes[h.idx as usize].set_due(at);
        self.link(to, h.idx);
        true
    }

    /// The earliest unit at which `advance` would hand something out: the
    /// present when something is overdue, None when the wheel is empty.
    /// Looks at most one revolution ahead (an entry further away answers
    /// "one revolution from now", early rather than late).
    pub fn next_due(&self) -> Option<u64> {
        if self.lists[self.overdue()].head != NIL {
            return Some(self.now);
        }
        if self.len == 0 {
            return None;
        }
        let slots = (self.lists.len() - 1) as u64;
        for t in self.now + 1..=self.now + slots {
            let mut i = self.lists[self.slot_of(t)].head;
            while i != NIL {
                let n = &self.nodes[i as usize];
                if n.due() <= t {
                    return Some(t);
                }
                i = n.next;
            }
        }
        Some(self.now + slots)
    }

    /// The present: everything due at or before it has been handed out.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Entries scheduled, not yet handed out and not cancelled.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes allocated (live and free): the peak number of entries.
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    fn overdue(&self) -> usize {
        self.lists.len() - 1
    }

    fn slot_of(&self, t: u64) -> usize {
        (t % (self.lists.len() - 1) as u64) as usize
    }

    /// The list an entry due at `due` is in. Invariant: an entry in a
    /// bucket is due after the present (`advance` and `due` take out
    /// everything due up to it), one in the overdue list at or before it.
    fn list_of(&self, due: u64) -> usize {
        if due <= self.now {
            self.overdue()
        } else {
            self.slot_of(due)
        }
    }

    /// Takes every entry of list `l` due at or before `limit` out of it
    /// (`f` gets its node, unlinked).
    fn take_due(&mut self, l: usize, limit: u64, f: &mut impl FnMut(&mut Self, u32)) {
        let mut i = self.lists[l].head;
        while i != NIL {
            let n = &self.nodes[i as usize];
            let (next, due) = (n.next, n.due());
            if due <= limit {
                self.unlink(l, i);
                f(self, i);
            }
            i = next;
        }
    }

    fn link(&mut self, l: usize, idx: u32) {
        let tail = self.lists[l].tail;
        {
            let n = &mut self.nodes[idx as usize];
            n.prev = tail;
            n.next = NIL;
        }
        match tail {
            NIL => self.lists[l].head = idx,
            t => self.nodes[t as usize].next = idx,
        }
        self.lists[l].tail = idx;
    }

    fn unlink(&mut self, l: usize, idx: u32) {
        let (prev, next) = {
            let n = &self.nodes[idx as usize];
            (n.prev, n.next)
        };
        match prev {
            NIL => self.lists[l].head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => self.lists[l].tail = prev,
            x => self.nodes[x as usize].prev = prev,
        }
    }

    /// Frees an unlinked node; its key.
    fn release(&mut self, idx: u32) -> K {
        self.len -= 1;
        let free = self.free;
        let n = &mut self.nodes[idx as usize];
        n.bump_gen();
        n.next = free;
        n.prev = NIL;
        self.free = idx;
        n.key.take().expect("a live node")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(w: &mut CancellableWheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        out
    }

    #[test]
    fn fires_in_due_order_and_fifo_within_a_unit() {
        let mut w = CancellableWheel::new(1000, 16);
        for (at, k) in [(1005, 5), (1002, 2), (1009, 9), (1002, 22), (1001, 1)] {
            w.schedule(at, k);
        }
        assert_eq!(w.len(), 5);
        assert_eq!(adv(&mut w, 1000), Vec::<u32>::new());
        assert_eq!(adv(&mut w, 1001), vec![1]);
        assert_eq!(adv(&mut w, 1008), vec![2, 22, 5]);
        assert_eq!(adv(&mut w, 1009), vec![9]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_cancelled_entry_leaves_at_once_and_its_handle_goes_stale() {
        let mut w = CancellableWheel::new(0, 8);
        let far = w.schedule(180, 1); // many revolutions ahead
        let near = w.schedule(3, 2);
        let past = w.schedule(0, 3); // overdue
        assert_eq!(w.len(), 3);
        assert_eq!(w.cancel(far), Some(1));
        assert_eq!(w.cancel(past), Some(3));
        assert_eq!(w.len(), 1, "gone from the wheel, not waiting for their slot");
        assert_eq!(w.cancel(far), None, "a handle cancels once");
        assert_eq!(adv(&mut w, 200), vec![2]);
        assert_eq!(w.cancel(near), None, "fired: its handle is stale");
        // A freed node is reused; the old handle does not reach the new entry.
        let again = w.schedule(205, 4);
        assert_eq!(w.capacity(), 3);
        assert_eq!(w.cancel(far), None);
        assert_eq!(w.cancel(near), None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.cancel(again), Some(4));
        assert!(w.is_empty());
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn cancelling_from_the_middle_keeps_each_bucket_linked() {
        let mut w = CancellableWheel::new(0, 4);
        let hs: Vec<TimerHandle> = (0..6).map(|k| w.schedule(1 + 4 * u64::from(k % 2), k)).collect();
        // bucket 1 holds 0, 2, 4 (due 1) and 1, 3, 5 (due 5)
        assert_eq!(w.cancel(hs[2]), Some(2));
        assert_eq!(w.cancel(hs[0]), Some(0), "the head");
        assert_eq!(w.cancel(hs[5]), Some(5), "the tail");
        assert_eq!(adv(&mut w, 1), vec![4]);
        w.schedule(5, 6);
        assert_eq!(adv(&mut w, 5), vec![1, 3, 6]);
        assert!(w.is_empty());
    }

    #[test]
    fn far_entries_wait_whole_revolutions_and_a_long_gap_hands_out_everything_due() {
        let mut w = CancellableWheel::new(100, 8);
        for k in 0..50u32 {
            w.schedule(101 + u64::from(k) * 3, k);
        }
        let out = adv(&mut w, 200);
        let expected: Vec<u32> = (0..50).filter(|k| 101 + k * 3 <= 200).collect();
        let mut sorted = out.clone();
        sorted.sort();
        assert_eq!(sorted, expected);
        assert_eq!(w.len(), 50 - expected.len());
        assert_eq!(w.next_due(), Some(203), "101 + 34 * 3");
        let rest = adv(&mut w, 10_000);
        assert_eq!(out.len() + rest.len(), 50);
        assert!(w.is_empty());
    }

    #[test]
    fn next_due_is_the_earliest_entry_or_the_present_when_overdue() {
        let mut w: CancellableWheel<u32> = CancellableWheel::new(100, 8);
        assert_eq!(w.next_due(), None);
        let h = w.schedule(103, 2);
        w.schedule(105, 1);
        w.schedule(111, 3); // same bucket as 103, a revolution later
        assert_eq!(w.next_due(), Some(103));
        w.cancel(h);
        assert_eq!(w.next_due(), Some(105));
        w.schedule(90, 4);
        assert_eq!(w.next_due(), Some(100), "overdue: due now");
        assert_eq!(adv(&mut w, 100), vec![4]);
        assert_eq!(adv(&mut w, 106), vec![1]);
        assert_eq!(w.next_due(), Some(111));
    }

    #[test]
    fn due_entries_stay_until_moved_or_taken_out_and_keep_their_handle() {
        let mut w: CancellableWheel<&str> = CancellableWheel::new(0, 8);
        let a = w.schedule(3, "a");
        let b = w.schedule(20, "b"); // two revolutions ahead
        let mut due = Vec::new();
        w.due(2, &mut due);
        assert!(due.is_empty());
        w.due(3, &mut due);
        assert_eq!(due, vec![a]);
        due.clear();
        w.due(4, &mut due);
        assert_eq!(due, vec![a], "handed out again: not moved yet");
        assert_eq!(w.get(a), Some(&"a"), "still there, same handle");
        *w.get_mut(a).unwrap() = "a2";
        assert!(w.reschedule(a, 12));
        assert_eq!(w.len(), 2);
        due.clear();
        w.due(11, &mut due);
        assert!(due.is_empty(), "moved ahead");
        w.due(12, &mut due);
        assert_eq!(due, vec![a]);
        assert!(w.reschedule(b, 5), "into the past: due at once");
        due.clear();
        w.due(12, &mut due);
        assert_eq!(due, vec![a, b]);
        assert_eq!(w.handle_at(b.idx), Some(b));
        assert_eq!(w.cancel(a), Some("a2"));
        assert_eq!(w.handle_at(a.idx), None);
        assert!(!w.reschedule(a, 30), "gone");
        assert_eq!(w.get(a), None);
        assert!(w.reschedule(b, 100));
        assert_eq!(w.next_due(), Some(20), "one revolution ahead at most");
        let mut fired = Vec::new();
        w.advance(100, &mut fired);
        assert_eq!(fired, vec!["b"]);
        assert!(w.is_empty());
    }

    #[test]
    fn a_node_is_one_word_and_two_links_beside_its_key_and_far_times_are_clamped() {
        assert_eq!(std::mem::size_of::<Node<Box<[u8]>>>(), 32);
        let mut w: CancellableWheel<u32> = CancellableWheel::new(0, 8);
        let h = w.schedule(u64::MAX, 1);
        assert_eq!(adv(&mut w, 1 << 39), Vec::<u32>::new());
        assert!(w.reschedule(h, u64::MAX - 1));
        assert_eq!(adv(&mut w, DUE_MAX), vec![1]);
    }

    #[test]
    fn churn_keeps_the_wheel_at_the_live_entries() {
        // Every unit: 10 new entries far ahead, the 10 of the unit before cancelled.
        let mut w = CancellableWheel::new(0, 64);
        let mut live: Vec<TimerHandle> = Vec::new();
        for now in 1..10_000u64 {
            for h in live.drain(..) {
                assert!(w.cancel(h).is_some());
            }
            live.extend((0..10).map(|k| w.schedule(now + 500 + k, k as u32)));
            assert!(adv(&mut w, now).is_empty());
            assert_eq!(w.len(), 10);
        }
        assert_eq!(w.capacity(), 10, "nodes are reused, not piled up");
    }
}
