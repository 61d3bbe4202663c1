//! A shard's memory of names: what each resolved to, for how long, who
//! waits for a lookup in flight, and which targets just failed.
//!
//! Rules (times are the core's milliseconds):
//! - A good answer is fresh for its TTL (the resolver applied the floor and
//!   ceiling), then stale for `stale_ms` more. A name used in its last fifth
//!   of freshness is refreshed in the background (no request waits).
//! - An expired name makes the request wait for one lookup; every request
//!   for the same name meanwhile waits for the same lookup (merged).
//! - A negative answer (no such name, no records) is kept for its TTL and
//!   replaces what was known: the name is gone.
//! - A failure (timeout, SERVFAIL, refused, over budget) is kept only
//!   `failure_ms`, and never over good data: while it lasts, a name with
//!   stale data is served stale (RFC 8767), one without fails at once.
//! - At most `entries` names; expired ones go first, then any not waited on.
//! - A target that failed (timeout, transport error, 503 with Retry-After)
//!   is blocklisted for a while: tried after the others, never skipped, so
//!   one failed call cannot make the next one fail.

use super::{select, Dest, Failure, Resolved};
use crate::core::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamesConfig {
    pub stale_ms: u64,
    pub failure_ms: u64,
    pub entries: usize,
    pub blocklist_ms: u64,
    pub prefer_v6: bool,
}

impl Default for NamesConfig {
    fn default() -> Self {
        NamesConfig { stale_ms: 300_000, failure_ms: 1_000, entries: 10_000, blocklist_ms: 30_000, prefer_v6: false }
    }
}

/// What a request gets for a name now.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// These targets, in the order to try them.
    Targets(Vec<(Transport, SocketAddr)>),
    /// A lookup is under way; the waiter is resumed by `answered`.
    Wait,
    /// No targets: the name failed, and nothing stale is left.
    Failed(Failure),
}

/// What the shard counts of its names (published as `sipedge_dns_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameStats {
    pub hits: u64,
    pub misses: u64,
    pub stale_served: u64,
    pub merged: u64,
    pub refreshes: u64,
    pub failed: u64,
    pub evicted: u64,
    pub blocklisted: u64,
}

struct Good {
    resolved: Resolved,
    refresh_at: u64,
    fresh_until: u64,
    stale_until: u64,
}

struct Entry<W> {
    good: Option<Good>,
    /// A negative answer or a brief failure, and until when.
    bad: Option<(Failure, u64)>,
    waiters: Vec<W>,
    asking: bool,
}

impl<W> Default for Entry<W> {
    fn default() -> Self {
        Entry { good: None, bad: None, waiters: Vec::new(), asking: false }
    }
}

impl<W> Entry<W> {
    fn keep(&self, now: u64) -> bool {
        self.asking
            || !self.waiters.is_empty()
            || self.good.as_ref().is_some_and(|g| now < g.stale_until)
            || self.bad.is_some_and(|(_, until)| now < until)
    }
}

pub struct Names<W> {
    cfg: NamesConfig,
    entries: HashMap<Dest, Entry<W>>,
    /// Names to ask the resolver for (drained by the edge after each step).
    asks: Vec<Dest>,
    blocked: HashMap<SocketAddr, u64>,
    rng: u64,
    pub stats: NameStats,
}

impl<W> Names<W> {
    pub fn new(cfg: NamesConfig, seed: u64) -> Names<W> {
        Names {
            cfg,
            entries: HashMap::new(),
            asks: Vec::new(),
            blocked: HashMap::new(),
            rng: seed | 1,
            stats: NameStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The targets of `dest` for one request, or `Wait` (and `waiter` is
    /// remembered), or the failure that stands.
    pub fn lookup(&mut self, now: u64, dest: &Dest, waiter: W) -> Lookup {
        if !self.entries.contains_key(dest) {
            self.make_room(now);
            self.entries.insert(dest.clone(), Entry::default());
        }
        let e = self.entries.get_mut(dest).expect("inserted above when absent");
        let mut draw = Draw { rng: &mut self.rng, blocked: &self.blocked, prefer_v6: self.cfg.prefer_v6, now };
        if let Some(g) = e.good.as_ref().filter(|g| now < g.fresh_until) {
            self.stats.hits += 1;
            if now >= g.refresh_at && !e.asking {
                e.asking = true;
                self.stats.refreshes += 1;
                self.asks.push(dest.clone());
            }
            return Lookup::Targets(draw.order(&g.resolved));
        }
        if let Some((failure, _)) = e.bad.filter(|&(_, until)| now < until) {
            if let Some(g) = e.good.as_ref().filter(|g| now < g.stale_until) {
                self.stats.stale_served += 1;
                return Lookup::Targets(draw.order(&g.resolved));
            }
            self.stats.failed += 1;
            return Lookup::Failed(failure);
        }
        self.stats.misses += 1;
        e.waiters.push(waiter);
        if e.asking {
            self.stats.merged += 1;
        } else {
            e.asking = true;
            self.asks.push(dest.clone());
        }
        Lookup::Wait
    }

    /// The first target of `dest` if it is known now (fresh or stale), with
    /// no waiting and no lookup: for what cannot wait (a stateless ACK).
    pub fn peek(&mut self, now: u64, dest: &Dest) -> Option<(Transport, SocketAddr)> {
        let good = self.entries.get(dest)?.good.as_ref().filter(|g| now < g.stale_until)?;
        let mut draw = Draw { rng: &mut self.rng, blocked: &self.blocked, prefer_v6: self.cfg.prefer_v6, now };
        draw.order(&good.resolved).into_iter().next()
    }

    /// The resolver's answer for `dest`: remembered by the rules above; the
    /// waiters to resume (each looks the name up again).
    pub fn answered(&mut self, now: u64, dest: &Dest, result: Result<Resolved, Failure>) -> Vec<W> {
        let Some(e) = self.entries.get_mut(dest) else { return Vec::new() };
        e.asking = false;
        match result {
            Ok(resolved) => {
                let ttl = resolved.ttl_ms;
                e.good = Some(Good {
                    resolved,
                    refresh_at: now + ttl * 4 / 5,
                    fresh_until: now + ttl,
                    stale_until: now + ttl + self.cfg.stale_ms,
                });
                e.bad = None;
            }
            Err(f @ Failure::NotFound { ttl_ms }) => {
                e.good = None;
                e.bad = Some((f, now + ttl_ms));
            }
            Err(f) => e.bad = Some((f, now + self.cfg.failure_ms)),
        }
        std::mem::take(&mut e.waiters)
    }

    /// Names to ask the resolver for, once each.
    pub fn take_asks(&mut self) -> Vec<Dest> {
        std::mem::take(&mut self.asks)
    }

    /// `addr` failed: tried last for `for_ms` (a Retry-After, at most an
    /// hour), else for the configured time.
    pub fn block(&mut self, now: u64, addr: SocketAddr, for_ms: Option<u64>) {
        if self.blocked.len() >= 4096 {
            self.blocked.retain(|_, until| *until > now);
        }
        let until = now + for_ms.map_or(self.cfg.blocklist_ms, |ms| ms.min(3_600_000));
        let was = self.blocked.insert(addr, until);
        self.stats.blocklisted += u64::from(was.is_none_or(|w| w <= now));
    }

    pub fn is_blocked(&self, now: u64, addr: SocketAddr) -> bool {
        is_blocked(&self.blocked, now, addr)
    }

    /// Targets blocklisted now.
    pub fn blocked_now(&self, now: u64) -> usize {
        self.blocked.values().filter(|&&until| until > now).count()
    }

    /// Keeps the table under its bound before a new name goes in.
    fn make_room(&mut self, now: u64) {
        if self.entries.len() < self.cfg.entries {
            return;
        }
        let before = self.entries.len();
        self.entries.retain(|_, e| e.keep(now));
        if self.entries.len() >= self.cfg.entries {
            let idle: Vec<Dest> = self
                .entries
                .iter()
                .filter(|(_, e)| !e.asking && e.waiters.is_empty())
                .map(|(d, _)| d.clone())
                .take(self.entries.len() + 1 - self.cfg.entries)
                .collect();
            for d in idle {
                self.entries.remove(&d);
            }
        }
        self.stats.evicted += (before - self.entries.len()) as u64;
    }
}

/// What one request's order is drawn with, borrowed from `Names` beside
/// the entry being read (so the answer is not copied to draw from it).
struct Draw<'a> {
    rng: &'a mut u64,
    blocked: &'a HashMap<SocketAddr, u64>,
    prefer_v6: bool,
    now: u64,
}

impl Draw<'_> {
    /// RFC 2782's draw, then blocklisted targets moved behind the others
    /// (their order kept).
    fn order(&mut self, resolved: &Resolved) -> Vec<(Transport, SocketAddr)> {
        let rng = &mut *self.rng;
        let mut list = select::order(&resolved.candidates, self.prefer_v6, || {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng >> 32) as u32
        });
        list.sort_by_key(|(_, a)| is_blocked(self.blocked, self.now, *a));
        list
    }
}

fn is_blocked(blocked: &HashMap<SocketAddr, u64>, now: u64, addr: SocketAddr) -> bool {
    blocked.get(&addr).is_some_and(|&until| until > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::resolve::Candidate;

    fn dest(h: &str) -> Dest {
        Dest::named(h, None, None, false).unwrap()
    }

    fn resolved(ttl_ms: u64, octets: &[u8]) -> Resolved {
        Resolved {
            candidates: octets
                .iter()
                .map(|&o| Candidate {
                    priority: u32::from(o),
                    weight: 0,
                    transport: Transport::Udp,
                    port: 5060,
                    addrs: vec![[10, 0, 0, o].into()],
                })
                .collect(),
            ttl_ms,
        }
    }

    fn names() -> Names<u32> {
        Names::new(
            NamesConfig { stale_ms: 10_000, failure_ms: 1_000, entries: 3, blocklist_ms: 5_000, prefer_v6: false },
            7,
        )
    }

    fn first(l: Lookup) -> u8 {
        match l {
            Lookup::Targets(t) => match t[0].1.ip() {
                std::net::IpAddr::V4(v) => v.octets()[3],
                _ => 0,
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_lookup_for_many_waiters_then_hits_then_refresh() {
        let mut n = names();
        let d = dest("core.example");
        assert_eq!(n.lookup(0, &d, 1), Lookup::Wait);
        assert_eq!(n.lookup(1, &d, 2), Lookup::Wait);
        assert_eq!(n.take_asks(), std::slice::from_ref(&d), "merged");
        assert_eq!(n.answered(5, &d, Ok(resolved(1000, &[1]))), [1, 2]);
        assert_eq!(first(n.lookup(6, &d, 3)), 1);
        assert!(n.take_asks().is_empty(), "fresh: no query");
        assert_eq!(first(n.lookup(900, &d, 4)), 1, "served while refreshed");
        assert_eq!(n.take_asks(), std::slice::from_ref(&d), "refreshed before expiry");
        assert_eq!(first(n.lookup(950, &d, 5)), 1);
        assert!(n.take_asks().is_empty(), "one refresh at a time");
        assert_eq!(n.answered(960, &d, Ok(resolved(1000, &[2]))), Vec::<u32>::new());
        assert_eq!(first(n.lookup(1500, &d, 6)), 2, "the new answer");
        assert_eq!((n.stats.misses, n.stats.merged, n.stats.refreshes), (2, 1, 1));
    }

    #[test]
    fn failures_are_brief_and_never_hide_good_data() {
        let mut n = names();
        let d = dest("core.example");
        n.lookup(0, &d, 1);
        n.answered(0, &d, Ok(resolved(1000, &[1])));
        assert_eq!(n.lookup(2000, &d, 2), Lookup::Wait, "expired: ask again");
        assert_eq!(n.answered(2100, &d, Err(Failure::Timeout)), [2]);
        assert_eq!(first(n.lookup(2100, &d, 2)), 1, "stale served while DNS fails");
        assert_eq!(n.stats.stale_served, 1);
        assert_eq!(n.lookup(3200, &d, 3), Lookup::Wait, "the failure was brief: asked again");
        n.answered(3300, &d, Err(Failure::ServerFailed));
        assert_eq!(n.lookup(20_000, &d, 4), Lookup::Wait, "past the stale limit");
        n.answered(20_100, &d, Err(Failure::Timeout));
        assert_eq!(n.lookup(20_100, &d, 4), Lookup::Failed(Failure::Timeout));
        assert_eq!(n.lookup(21_200, &d, 5), Lookup::Wait, "a failure is not kept long");
    }

    #[test]
    fn negative_answers_replace_and_last_their_ttl() {
        let mut n = names();
        let d = dest("gone.example");
        n.lookup(0, &d, 1);
        n.answered(0, &d, Ok(resolved(1000, &[1])));
        n.lookup(1500, &d, 2);
        n.answered(1500, &d, Err(Failure::NotFound { ttl_ms: 4000 }));
        assert_eq!(n.lookup(3000, &d, 3), Lookup::Failed(Failure::NotFound { ttl_ms: 4000 }), "not stale: gone");
        assert_eq!(n.lookup(5600, &d, 4), Lookup::Wait);
    }

    #[test]
    fn blocklisted_targets_go_last_not_away() {
        let mut n = names();
        let d = dest("core.example");
        n.lookup(0, &d, 1);
        n.answered(0, &d, Ok(resolved(60_000, &[1, 2])));
        assert_eq!(first(n.lookup(1, &d, 2)), 1);
        n.block(1, "10.0.0.1:5060".parse().unwrap(), None);
        let Lookup::Targets(t) = n.lookup(2, &d, 3) else { panic!() };
        assert_eq!(t.len(), 2, "still tried");
        assert_eq!(t[0].1, "10.0.0.2:5060".parse().unwrap());
        assert_eq!(first(n.lookup(5002, &d, 4)), 1, "the block ended");
        assert_eq!(n.stats.blocklisted, 1);
    }

    #[test]
    fn bounded() {
        let mut n = names();
        for (i, h) in ["a.example", "b.example", "c.example", "d.example", "e.example"].iter().enumerate() {
            let d = dest(h);
            n.lookup(i as u64, &d, 0);
            n.answered(i as u64, &d, Ok(resolved(1, &[1])));
        }
        assert!(n.len() <= 3, "{}", n.len());
        assert!(n.stats.evicted >= 2);
    }
}
