//! Rate-limit buckets across shards: every key of every rule has one real
//! bucket, on its owner shard (`owner::shard_of(key)`), and the other
//! shards spend tokens the owner lent them (leases).
//!
//! - On the owner a request takes a token from the bucket: no message.
//! - Elsewhere it takes one from the shard's lease of that key. When the
//!   lease is spent (or expired) the shard asks the owner for a batch
//!   (`LeaseAsk`, `batch()` tokens: burst/shards, at least 1, at most
//!   `MAX_BATCH`, handing back what an expired lease left) and the request
//!   waits (parked by the edge); requests for the same key that arrive
//!   meanwhile queue behind that one ask. The owner takes what it has, up
//!   to the batch, from the real bucket (`grant`).
//! - An answer that could not give every waiter a token says the bucket is
//!   empty and when its next token comes: the waiters left are over the
//!   limit, and the shard refuses the key locally until then (no message
//!   per refused request during a flood).
//! - A lease is good for `LEASE_TTL_MS` from its answer. Tokens it did not
//!   spend by then go back to the owner, with the next ask or on the
//!   shard's per-second tick (`MeshMsg::LeaseReturn`), so no key's tokens
//!   stay stranded on a shard its traffic left.
//!
//! Tolerance. Every admitted request spent a token the owner took from the
//! key's bucket, at most `LEASE_TTL_MS` before (tokens are taken from the
//! bucket when lent, spent later): in any window of `t` seconds the edge
//! admits at most `burst + rate × (t + 0.2)` (plus the mesh hop of the
//! answer, which the lease's time starts after), and never more than the
//! tokens the bucket gave out in all. It admits fewer than a single bucket
//! would by at most the tokens lent and unspent: (shards − 1) × batch, for
//! at most `LEASE_TTL_MS` plus a tick; and a refusal held on a shard until
//! the owner's next token may end late when another shard gives tokens
//! back meanwhile.

use super::bucket::Bucket;
use super::rules::Rule;
use super::MAX_KEYS;
use crate::core::owner;
use std::collections::HashMap;

/// The most tokens one lease asks for.
pub const MAX_BATCH: u32 = 64;
/// How long a lease is good for, from its answer; what is left then goes back to the owner.
pub const LEASE_TTL_MS: u64 = 200;

/// A batch of tokens to ask the owner of a key for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseAsk {
    pub owner: u16,
    pub want: u32,
    /// Unspent tokens of an expired lease, handed back with the ask.
    pub returning: u32,
}

/// What a shard holds of a key it does not own.
#[derive(Debug, Default)]
struct Lease {
    tokens: u32,
    /// An ask is in flight.
    asking: bool,
    /// Requests parked until it is answered (their pending tokens), oldest first.
    waiters: Vec<u64>,
    /// The owner had none left: refused here until then.
    denied_until_ms: u64,
    /// The tokens are not spent from then on, but given back.
    expires_ms: u64,
}

impl Lease {
    fn busy(&self) -> bool {
        self.asking || !self.waiters.is_empty()
    }
}

/// A request's fate under one rule.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    Ok,
    /// Over the limit: Retry-After in seconds.
    Over(u32),
    /// Park the request (`Limits::wait`), and send the ask when there is one.
    Wait(Option<LeaseAsk>),
}

/// What an answer to a lease ask decides for the requests that waited.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Admitted under this rule, oldest first.
    pub pass: Vec<u64>,
    /// Over the limit.
    pub over: Vec<u64>,
    pub retry_after: u32,
    /// More waited than the batch held and the owner has more: ask again.
    pub ask: Option<LeaseAsk>,
}

/// Unspent tokens going back to the owner of `key`.
#[derive(Debug, PartialEq, Eq)]
pub struct Returned {
    pub owner: u16,
    pub rule: usize,
    pub key: Vec<u8>,
    pub tokens: u32,
}

/// What one shard knows of a key (`GET /limits/{rule}/{key}` adds up every shard's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyView {
    pub shard: u16,
    pub owner: bool,
    /// In the bucket (on the owner) or the lease, expired or not (elsewhere).
    pub tokens: f64,
}

pub struct Limits {
    shard: u16,
    shards: u16,
    /// Buckets of keys this shard owns, per rule.
    owned: Vec<HashMap<Vec<u8>, Bucket>>,
    /// Leases of keys other shards own, per rule.
    leases: Vec<HashMap<Vec<u8>, Lease>>,
}

impl Limits {
    pub fn new(rules: usize, shard: u16, shards: u16) -> Limits {
        Limits {
            shard,
            shards: shards.max(1),
            owned: (0..rules).map(|_| HashMap::new()).collect(),
            leases: (0..rules).map(|_| HashMap::new()).collect(),
        }
    }

    /// The shard owning a key's bucket.
    pub fn owner(&self, key: &[u8]) -> u16 {
        owner::shard_of(key, self.shards as usize) as u16
    }

    /// Tokens one lease asks for.
    pub fn batch(&self, rule: &Rule) -> u32 {
        ((rule.burst / self.shards as f64).floor() as u32).clamp(1, MAX_BATCH)
    }

    /// One request of `key` under rule `i`.
    pub fn take(&mut self, i: usize, rule: &Rule, key: &[u8], now_ms: u64) -> Take {
        let owner = self.owner(key);
        if owner == self.shard {
            let map = &mut self.owned[i];
            if map.len() >= MAX_KEYS && !map.contains_key(key) {
                map.retain(|_, b| !b.is_full(now_ms, rule.rate, rule.burst));
                if map.len() >= MAX_KEYS {
                    return Take::Ok;
                }
            }
            let bucket = match map.get_mut(key) {
                Some(b) => b,
                None => map.entry(key.to_vec()).or_insert_with(|| Bucket::full(rule.burst, now_ms)),
            };
            return match bucket.take(now_ms, rule.rate, rule.burst) {
                Ok(()) => Take::Ok,
                Err(secs) => Take::Over(secs),
            };
        }
        let want = self.batch(rule);
        let map = &mut self.leases[i];
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, l| l.busy() || l.tokens > 0);
            if map.len() >= MAX_KEYS {
                return Take::Ok;
            }
        }
        let lease = match map.get_mut(key) {
            Some(l) => l,
            None => map.entry(key.to_vec()).or_default(),
        };
        if lease.busy() {
            return Take::Wait(None);
        }
        if lease.tokens > 0 && now_ms < lease.expires_ms {
            lease.tokens -= 1;
            return Take::Ok;
        }
        if lease.denied_until_ms > now_ms {
            return Take::Over(secs(lease.denied_until_ms - now_ms));
        }
        lease.asking = true;
        let returning = std::mem::take(&mut lease.tokens);
        Take::Wait(Some(LeaseAsk { owner, want, returning }))
    }

    /// A request parked under `waiter` until the lease ask of `key` is answered.
    pub fn wait(&mut self, i: usize, key: &[u8], waiter: u64) {
        if let Some(l) = self.leases[i].get_mut(key) {
            l.waiters.push(waiter);
        }
    }

    /// On the owner: takes back `returning` unspent tokens, then lends up
    /// to `want` tokens of `key` to another shard; (tokens, 0 or the
    /// milliseconds until the bucket has a token again).
    pub fn grant(&mut self, i: usize, rule: &Rule, key: &[u8], want: u32, returning: u32, now_ms: u64) -> (u32, u64) {
        let Some(map) = self.owned.get_mut(i) else { return (0, 1_000) };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, b| !b.is_full(now_ms, rule.rate, rule.burst));
        }
        let bucket = map.entry(key.to_vec()).or_insert_with(|| Bucket::full(rule.burst, now_ms));
        if returning > 0 {
            bucket.give_back(returning, now_ms, rule.rate, rule.burst);
        }
        bucket.take_up_to(want, now_ms, rule.rate, rule.burst)
    }

    /// On the owner: tokens a lease did not spend.
    pub fn give_back(&mut self, i: usize, rule: &Rule, key: &[u8], tokens: u32, now_ms: u64) {
        if let Some(b) = self.owned.get_mut(i).and_then(|m| m.get_mut(key)) {
            b.give_back(tokens, now_ms, rule.rate, rule.burst);
        }
    }

    /// The owner's answer to the lease ask of `key` (None: no answer came).
    /// No answer fails closed: the waiters are refused (Retry-After 1).
    pub fn leased(&mut self, i: usize, rule: &Rule, key: &[u8], answer: Option<(u32, u64)>, now_ms: u64) -> Resumed {
        let want = self.batch(rule);
        let owner = self.owner(key);
        let Some(l) = self.leases.get_mut(i).and_then(|m| m.get_mut(key)) else { return Resumed::default() };
        l.asking = false;
        let mut waiters = std::mem::take(&mut l.waiters);
        let Some((tokens, wait_ms)) = answer else {
            return Resumed { over: waiters, retry_after: 1, ..Default::default() };
        };
        let n = (tokens as usize).min(waiters.len());
        let rest = waiters.split_off(n);
        l.tokens += tokens - n as u32;
        l.expires_ms = now_ms + LEASE_TTL_MS;
        let mut r = Resumed { pass: waiters, ..Default::default() };
        if wait_ms > 0 {
            l.denied_until_ms = now_ms + wait_ms;
            r.retry_after = secs(wait_ms);
            r.over = rest;
        } else if !rest.is_empty() {
            l.asking = true;
            r.ask = Some(LeaseAsk { owner, want: want.max(rest.len() as u32), returning: 0 });
            l.waiters = rest;
        }
        r
    }

    /// A token handed to a waiter that was no longer there: back to the lease.
    pub fn unspent(&mut self, i: usize, key: &[u8]) {
        if let Some(l) = self.leases.get_mut(i).and_then(|m| m.get_mut(key)) {
            l.tokens += 1;
        }
    }

    /// Forgets full buckets and spent leases; expired ones go back to their owners.
    pub fn tick(&mut self, rules: &[Rule], now_ms: u64) -> Vec<Returned> {
        for (map, r) in self.owned.iter_mut().zip(rules) {
            map.retain(|_, b| !b.is_full(now_ms, r.rate, r.burst));
        }
        let mut back = Vec::new();
        let shards = self.shards as usize;
        for (rule, map) in self.leases.iter_mut().enumerate() {
            map.retain(|key, l| {
                if l.busy() {
                    return true;
                }
                if l.tokens > 0 && now_ms >= l.expires_ms {
                    let owner = owner::shard_of(key, shards) as u16;
                    back.push(Returned { owner, rule, key: key.clone(), tokens: l.tokens });
                    return false;
                }
                l.tokens > 0 || l.denied_until_ms > now_ms
            });
        }
        back
    }

    /// What this shard holds of `key` under rule `i`.
    pub fn view(&self, i: usize, rule: &Rule, key: &[u8], now_ms: u64) -> KeyView {
        let owner = self.owner(key) == self.shard;
        let tokens = if owner {
            self.owned[i].get(key).map_or(rule.burst, |b| b.tokens(now_ms, rule.rate, rule.burst))
        } else {
            self.leases[i].get(key).map_or(0.0, |l| l.tokens as f64)
        };
        KeyView { shard: self.shard, owner, tokens }
    }

    /// Keys tracked (tests, memory).
    pub fn len(&self) -> usize {
        self.owned.iter().map(HashMap::len).sum::<usize>() + self.leases.iter().map(HashMap::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whole seconds (at least 1) for a Retry-After of `ms`.
fn secs(ms: u64) -> u32 {
    ms.div_ceil(1000).clamp(1, u32::MAX as u64) as u32
}
