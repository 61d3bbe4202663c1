//! Hashed timing wheel, time passed in, one tick per unit of the caller's
//! choosing: seconds for the location table's binding expiry, 10 ms slots
//! for the proxy's transaction timers (`core::proxy::state::WHEEL_MS`).
//!
//! Owns: "what is due by now" for per-shard timers whose count is large and
//! whose precision need is one unit, and "when is the next one due" (so a
//! shard sleeps until then). It never reads a clock: `new`, `schedule`,
//! `advance` and `next_due` take the caller's time.
//!
//! Shape: `slots` buckets, bucket of second `t` is `t % slots`. An entry due
//! more than one revolution ahead simply stays in its bucket and is skipped
//! (kept) each time the bucket is visited before it is due: that is the
//! classic "round count" wheel, with the absolute due time stored instead of
//! a counter so nothing is rewritten per revolution. Size the wheel to the
//! usual horizon (the location table uses 4096 s, above the common 3600 s
//! registration) and far entries are rare, so a single level is enough.
//!
//! Cost: `schedule` O(1) amortised (a push); `advance` visits each bucket
//! passed once (at most `slots` of them, however long the gap) and touches
//! only the entries in those buckets: the due ones plus the rare entries of a
//! later revolution sharing them. Nothing else is scanned.
//!
//! Order: entries come out in due order within one revolution, and in
//! scheduling order within one second. After a gap of a whole revolution or
//! more, each bucket is emptied of everything due once, so the output is
//! grouped by bucket rather than sorted (expiry does not care).
//!
//! Cancellation is lazy: there is no `cancel`; the owner checks on firing
//! whether the thing is still due (see `location.rs`). Where cancelled
//! entries would pile up (the proxy's transaction timers: a completed call's
//! Timer C is due minutes later), [`cancellable::CancellableWheel`] takes
//! them out at once.
//!
//! Memory: an entry is the key plus a `u32` due time relative to the wheel's
//! origin (8 bytes for a `u32` key). Due times more than `u32::MAX` seconds
//! (136 years) past the origin are clamped to that horizon.

pub mod cancellable;

/// One scheduled key. `due` is seconds since `Wheel::origin`.
#[derive(Clone, Debug)]
struct Entry<K> {
    due: u32,
    key: K,
}

/// Second-resolution hashed wheel of `slots` buckets (single level, entries
/// further than one revolution keep their absolute due time and wait in
/// their bucket).
#[derive(Debug)]
pub struct Wheel<K> {
    /// Unix seconds of `new`; stored due times are relative to it.
    origin: u64,
    /// Everything due at or before `now` has been handed out.
    now: u64,
    buckets: Box<[Vec<Entry<K>>]>,
    /// Scheduled at or before `now`: handed out by the next `advance`.
    overdue: Vec<K>,
    len: usize,
}

impl<K: Clone> Wheel<K> {
    /// A wheel whose present is `now`, with `slots` buckets (at least 1).
    pub fn new(now: u64, slots: usize) -> Self {
        let slots = slots.max(1);
        Wheel { origin: now, now, buckets: (0..slots).map(|_| Vec::new()).collect(), overdue: Vec::new(), len: 0 }
    }

    /// Schedules `key` for second `at` (unix seconds). A time at or before
    /// the wheel's present is handed out by the next `advance`. O(1).
    pub fn schedule(&mut self, at: u64, key: K) {
        self.len += 1;
        if at <= self.now {
            self.overdue.push(key);
            return;
        }
        let rel = (at - self.origin).min(u64::from(u32::MAX));
        let at = self.origin + rel;
        let slot = self.slot_of(at);
        self.buckets[slot].push(Entry { due: rel as u32, key });
    }

    /// Appends to `out` every key due at or before `now` and makes `now` the
    /// wheel's present. A `now` in the past only flushes what was scheduled
    /// in the past. O(due + buckets passed), buckets passed <= `slots`.
    pub fn advance(&mut self, now: u64, out: &mut Vec<K>) {
        self.len -= self.overdue.len();
        out.append(&mut self.overdue);
        if now <= self.now {
            return;
        }
        let slots = self.buckets.len() as u64;
        let steps = (now - self.now).min(slots);
        let limit = (now - self.origin).min(u64::from(u32::MAX)) as u32;
        for t in self.now + 1..=self.now + steps {
            let slot = self.slot_of(t);
            let bucket = &mut self.buckets[slot];
            if bucket.is_empty() {
                continue;
            }
            let before = bucket.len();
            if bucket.iter().all(|e| e.due <= limit) {
                out.extend(bucket.drain(..).map(|e| e.key));
            } else {
                out.extend(bucket.extract_if(.., |e| e.due <= limit).map(|e| e.key));
            }
            self.len -= before - bucket.len();
            // Give back the memory of a burst (e.g. a mass re-registration
            // after an outage) once its bucket has drained.
            if bucket.capacity() > 64 && bucket.len() < bucket.capacity() / 4 {
                bucket.shrink_to(bucket.len() * 2);
            }
        }
        self.now = now;
    }

    /// The earliest unit at which `advance` would hand something out: the
    /// present when something is overdue, None when the wheel is empty.
    /// Looks at most one revolution ahead (an entry further away answers
    /// "one revolution from now", early rather than late). O(buckets passed
    /// + entries in them); for the shard's sleep, not for every message.
    pub fn next_due(&self) -> Option<u64> {
        if !self.overdue.is_empty() {
            return Some(self.now);
        }
        if self.len == 0 {
            return None;
        }
        let slots = self.buckets.len() as u64;
        for t in self.now + 1..=self.now + slots {
            let limit = (t - self.origin).min(u64::from(u32::MAX)) as u32;
            if self.buckets[self.slot_of(t)].iter().any(|e| e.due <= limit) {
                return Some(t);
            }
        }
        Some(self.now + slots)
    }

    /// Entries scheduled and not yet handed out (stale ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The wheel's present: everything due at or before it has been handed out.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of buckets (seconds in one revolution).
    pub fn slots(&self) -> usize {
        self.buckets.len()
    }

    fn slot_of(&self, t: u64) -> usize {
        (t % self.buckets.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(w: &mut Wheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        out
    }

    #[test]
    fn fires_in_due_order_and_fifo_within_a_second() {
        let mut w = Wheel::new(1000, 16);
        w.schedule(1005, 5);
        w.schedule(1002, 2);
        w.schedule(1009, 9);
        w.schedule(1002, 22);
        w.schedule(1001, 1);
        assert_eq!(w.len(), 5);
        assert_eq!(adv(&mut w, 1000), Vec::<u32>::new());
        assert_eq!(adv(&mut w, 1001), vec![1]);
        assert_eq!(adv(&mut w, 1008), vec![2, 22, 5]);
        assert_eq!(w.len(), 1);
        assert_eq!(adv(&mut w, 1008), Vec::<u32>::new());
        assert_eq!(adv(&mut w, 1009), vec![9]);
        assert!(w.is_empty());
    }

    #[test]
    fn far_future_entries_wait_whole_revolutions() {
        let mut w = Wheel::new(0, 8);
        w.schedule(3, 3);
        w.schedule(3 + 8, 11); // same bucket, one revolution later
        w.schedule(3 + 80, 83); // ten revolutions later
        assert_eq!(adv(&mut w, 3), vec![3]);
        assert_eq!(w.len(), 2);
        for t in 4..11 {
            assert_eq!(adv(&mut w, t), Vec::<u32>::new(), "t={t}");
        }
        assert_eq!(adv(&mut w, 11), vec![11]);
        for t in (12..83).step_by(5) {
            assert_eq!(adv(&mut w, t), Vec::<u32>::new(), "t={t}");
        }
        assert_eq!(adv(&mut w, 82), Vec::<u32>::new());
        assert_eq!(adv(&mut w, 83), vec![83]);
        assert!(w.is_empty());
    }

    #[test]
    fn long_gap_hands_out_everything_due_and_keeps_the_rest() {
        let mut w = Wheel::new(100, 8);
        for k in 0..50u32 {
            w.schedule(101 + u64::from(k) * 3, k); // spans ~19 revolutions
        }
        let out = adv(&mut w, 200); // gap of 12 revolutions
        let mut sorted = out.clone();
        sorted.sort();
        let expected: Vec<u32> = (0..50).filter(|k| 101 + k * 3 <= 200).collect();
        assert_eq!(sorted, expected);
        assert_eq!(w.len(), 50 - expected.len());
        // Nothing due is left behind and nothing is handed out twice.
        let rest = adv(&mut w, 10_000);
        let mut all: Vec<u32> = out.into_iter().chain(rest).collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert!(w.is_empty());
    }

    #[test]
    fn past_and_present_times_fire_on_next_advance() {
        let mut w = Wheel::new(500, 8);
        w.schedule(10, 1);
        w.schedule(500, 2);
        assert_eq!(w.len(), 2);
        assert_eq!(adv(&mut w, 500), vec![1, 2]);
        let _ = adv(&mut w, 510);
        w.schedule(505, 3); // in the wheel's past now
        assert_eq!(adv(&mut w, 505), vec![3]); // a stale `now` still flushes
        assert!(w.is_empty());
    }

    #[test]
    fn lazy_cancellation_by_rescheduling() {
        // The owner keeps the authoritative due time; a refresh schedules a
        // new entry and the old one fires harmlessly.
        let mut due_at = std::collections::HashMap::new();
        let mut w = Wheel::new(0, 4);
        due_at.insert(7u32, 10u64);
        w.schedule(10, 7);
        due_at.insert(7, 25); // refresh
        w.schedule(25, 7);
        let mut expired = Vec::new();
        for now in 1..=30 {
            for k in adv(&mut w, now) {
                if due_at.get(&k).is_some_and(|&at| at <= now) {
                    due_at.remove(&k);
                    expired.push((k, now));
                }
            }
        }
        assert_eq!(expired, vec![(7, 25)]);
        assert!(w.is_empty());
    }

    #[test]
    fn horizon_is_clamped_not_wrapped() {
        let mut w = Wheel::new(0, 8);
        w.schedule(u64::MAX, 1);
        assert_eq!(adv(&mut w, 1 << 20), Vec::<u32>::new());
        assert_eq!(adv(&mut w, u64::from(u32::MAX)), vec![1]);
    }

    #[test]
    fn next_due_is_the_earliest_entry_or_the_present_when_overdue() {
        let mut w: Wheel<u32> = Wheel::new(100, 8);
        assert_eq!(w.next_due(), None);
        w.schedule(105, 1);
        w.schedule(103, 2);
        // A later revolution sharing bucket 103 % 8 does not count for this one.
        w.schedule(111, 3);
        assert_eq!(w.next_due(), Some(103));
        let mut out = Vec::new();
        w.advance(103, &mut out);
        assert_eq!((out, w.next_due()), (vec![2], Some(105)));
        w.schedule(90, 4);
        assert_eq!(w.next_due(), Some(103), "overdue: due now");
        let mut out = Vec::new();
        w.advance(106, &mut out);
        assert_eq!(w.next_due(), Some(111));
        // Only entries more than a revolution away: answered one revolution ahead.
        let mut w: Wheel<u32> = Wheel::new(0, 4);
        w.schedule(10, 1);
        assert_eq!(w.next_due(), Some(4));
    }
}
