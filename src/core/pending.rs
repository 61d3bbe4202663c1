//! The one table of work the core has parked while it waits for the outside
//! world: `token → (work, since, expiry)`. Whatever the core asks of
//! someone else (another shard today; Redis, DNS, a lease of rate-limit
//! tokens later) is parked here under a fresh token, goes out as
//! `Output::Ask { token, .. }`, and resumes when `Input::Answer { token, .. }`
//! comes back (`take`). Work whose answer never comes is handed back by
//! `expire` once its deadline passes; work that no longer wants its answer
//! (a transaction that ended) is `cancel`led, and a late answer then finds
//! nothing. Tokens come from one counter and are never reused, so a late
//! answer can never resume the wrong work.
//!
//! Generic over the work so the table knows nothing of what is parked; the
//! edge's kinds of work are `edge::waiting::Parked`. Times are milliseconds
//! of the core's clock.

use std::collections::{BTreeSet, HashMap};

struct Entry<W> {
    work: W,
    since_ms: u64,
    expires_ms: u64,
}

pub struct Pending<W> {
    entries: HashMap<u64, Entry<W>>,
    /// `(expires_ms, token)` of every entry: the next to expire first.
    deadlines: BTreeSet<(u64, u64)>,
    last_token: u64,
}

impl<W> Default for Pending<W> {
    fn default() -> Self {
        Pending { entries: HashMap::new(), deadlines: BTreeSet::new(), last_token: 0 }
    }
}

impl<W> Pending<W> {
    pub fn new() -> Pending<W> {
        Pending::default()
    }

    /// Parks `work` at `now_ms` until `expires_ms` at the latest; the token
    /// its answer will carry.
    pub fn park(&mut self, work: W, now_ms: u64, expires_ms: u64) -> u64 {
        self.last_token += 1;
        let token = self.last_token;
        self.entries.insert(token, Entry { work, since_ms: now_ms, expires_ms });
        self.deadlines.insert((expires_ms, token));
        token
    }

    /// The work an answer resumes (None: expired, cancelled, or never parked).
    pub fn take(&mut self, token: u64) -> Option<W> {
        let e = self.entries.remove(&token)?;
        self.deadlines.remove(&(e.expires_ms, token));
        Some(e.work)
    }

    /// Forgets parked work that no longer wants its answer; whether it was there.
    pub fn cancel(&mut self, token: u64) -> bool {
        self.take(token).is_some()
    }

    /// Takes out every entry whose expiry is at or before `now_ms`, the
    /// earliest first (equal expiries in the order they were parked).
    pub fn expire(&mut self, now_ms: u64) -> Vec<W> {
        let mut expired = Vec::new();
        while let Some(&(at, token)) = self.deadlines.first() {
            if at > now_ms {
                break;
            }
            self.deadlines.pop_first();
            if let Some(e) = self.entries.remove(&token) {
                expired.push(e.work);
            }
        }
        expired
    }

    /// When the work under `token` was parked.
    pub fn since_ms(&self, token: u64) -> Option<u64> {
        self.entries.get(&token).map(|e| e.since_ms)
    }

    /// The earliest expiry of anything parked (when the core next has
    /// something to expire).
    pub fn next_expiry(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_takes_its_work_once() {
        let mut p = Pending::new();
        let a = p.park("a", 1_000, 6_000);
        let b = p.park("b", 1_000, 6_000);
        assert_ne!(a, b);
        assert_eq!((p.len(), p.since_ms(a)), (2, Some(1_000)));
        assert_eq!(p.take(b), Some("b"));
        assert_eq!(p.take(b), None, "a second answer finds nothing");
        assert_eq!(p.take(99), None);
        assert_eq!(p.len(), 1);
        assert_eq!(p.next_expiry(), Some(6_000));
    }

    #[test]
    fn expiry_hands_back_the_earliest_first_and_only_what_is_due() {
        let mut p = Pending::new();
        let late = p.park("late", 0, 9_000);
        p.park("first", 0, 5_000);
        p.park("second", 100, 5_000);
        p.park("third", 0, 7_000);
        assert_eq!(p.next_expiry(), Some(5_000));
        assert!(p.expire(4_999).is_empty());
        assert_eq!(p.expire(7_000), ["first", "second", "third"]);
        assert_eq!((p.len(), p.next_expiry()), (1, Some(9_000)));
        assert_eq!(p.take(late), Some("late"));
        assert!(p.expire(u64::MAX).is_empty());
        assert_eq!((p.len(), p.next_expiry()), (0, None));
        assert!(p.is_empty());
    }

    #[test]
    fn cancelled_work_neither_expires_nor_answers_and_tokens_are_not_reused() {
        let mut p = Pending::new();
        let a = p.park(1, 0, 5_000);
        assert!(p.cancel(a));
        assert!(!p.cancel(a));
        assert_eq!(p.next_expiry(), None);
        assert!(p.expire(10_000).is_empty());
        let b = p.park(2, 0, 5_000);
        assert!(b > a);
        assert_eq!(p.take(a), None);
        assert_eq!(p.take(b), Some(2));
    }
}
