//! Protection of the edge, sans-IO (time passed in): the allowlist, bans
//! (flood tripwire and authentication failures), scanner recognition by
//! User-Agent, per-method size limits and token-bucket rate-limit rules.
//! `core::edge::guard` calls it for every request; the shard only performs
//! what comes out (answers, drops, mesh messages).
//!
//! **Across shards.** The kernel spreads UDP datagrams over the shards by a
//! hash of source and destination address and port (SO_REUSEPORT), and a
//! TCP connection stays on the shard that accepted it. So a source IP that
//! uses several ports reaches several shards, and one IP:port reaches one.
//! The choices:
//!
//! - Rate-limit buckets are per shard, with each rule's rate and burst
//!   divided by the number of shards. What the edge lets through for one key
//!   never exceeds the configured rate and burst, whatever the spread (the
//!   guarantee an operator protecting the core needs), and no message crosses
//!   the mesh per request. The price: a key whose traffic reaches one shard
//!   only (one phone on one UDP port, one TCP connection) gets 1/shards of
//!   the configured figures. Configure rates with that in mind, or run one
//!   shard per edge where exact per-key figures matter more than cores.
//!   Routing every keyed check to an owner shard over the mesh would make the
//!   figure exact but cost a mesh round trip per request, or admit requests
//!   before the owner had counted them.
//! - Authentication failures are rare, so they are counted exactly: each
//!   failure goes to the shard owning the source IP (`owner::shard_of`),
//!   which bans at the threshold whatever ports the guesser spreads over.
//! - The flood tripwire counts what each shard sees (no mesh traffic per
//!   request): a source is banned when any shard sees `requests` from it in
//!   the window, so a source spread over N shards may send up to N times
//!   that before the ban. It is a tripwire against floods, not a limit.
//! - A ban is broadcast to every shard when decided and lifted on every
//!   shard by the admin API (through the control thread), so a banned
//!   address is dropped on whichever shard reads it, before its message is
//!   scanned.
//!
//! Allowlisted addresses (`[protect] allow` and `proxy.trusted`) bypass all
//! of it and are never banned.

mod bans;
mod bucket;
mod rules;
mod scanner;
mod window;

pub use bans::{Ban, BanList, BanReason};
pub use bucket::Bucket;
pub use rules::{event_package, Action, Facts, Rule, RuleKey};
pub use scanner::{contains_ci, Scanners};
pub use window::WindowCounts;

use crate::core::net::Cidr;
use std::collections::HashMap;
use std::net::IpAddr;

/// Keys one rule tracks per shard; past this, full buckets are forgotten,
/// and a new key finds no room only when every tracked one is in use.
pub const MAX_KEYS: usize = 262_144;

/// Events in a window that trigger a ban of `ban_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trip {
    pub count: u32,
    pub window_ms: u64,
    pub ban_ms: u64,
}

#[derive(Clone, Debug)]
pub struct ProtectConfig {
    /// Never limited, never banned (`[protect] allow` and `proxy.trusted`).
    pub allow: Vec<Cidr>,
    pub scanners: Scanners,
    /// Requests from one source IP seen by one shard.
    pub flood: Option<Trip>,
    /// Authentication failures from one source IP, counted on its owner shard.
    pub auth_failures: Option<Trip>,
    pub rules: Vec<Rule>,
    /// Largest request per method (upper-case name, bytes): larger gets 513.
    pub max_size: Vec<(Vec<u8>, usize)>,
    /// A request forwarded to a UDP next hop larger than this goes over TCP (RFC 3261 §18.1.1).
    pub udp_mtu: usize,
}

/// Everything off: what unit tests of other rules start from (a test
/// fixture; the product's settings come from `config` through `shard::build`).
#[cfg(test)]
impl Default for ProtectConfig {
    fn default() -> Self {
        ProtectConfig {
            allow: Vec::new(),
            scanners: Scanners::default(),
            flood: None,
            auth_failures: None,
            rules: Vec::new(),
            max_size: Vec::new(),
            udp_mtu: usize::MAX,
        }
    }
}

/// What the rate-limit rules say about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Answer 503 with this Retry-After (seconds); `rule` is the index.
    Reject {
        rule: usize,
        retry_after: u32,
    },
    Drop {
        rule: usize,
    },
}

/// What a shard counts here (published as metrics).
#[derive(Clone, Debug, Default)]
pub struct ProtectStats {
    /// Requests over each rule's limit, by rule index.
    pub rule_hits: Vec<u64>,
    pub scanner_drops: u64,
    /// Bans this shard decided, by reason.
    pub bans_total: crate::reason::Tally<BanReason>,
    /// Requests refused (513) over their method's size limit, by method.
    pub oversize: crate::reason::Tally<crate::core::counters::MethodName>,
    /// Requests sent over TCP because they were too large for UDP.
    pub udp_to_tcp: u64,
}

pub struct Protect {
    pub cfg: ProtectConfig,
    shard: u16,
    /// (rate, burst) of each rule on this shard: the configured figures / shards.
    shares: Vec<(f64, f64)>,
    buckets: Vec<HashMap<Vec<u8>, Bucket>>,
    flood: WindowCounts,
    auth: WindowCounts,
    pub bans: BanList,
    pub stats: ProtectStats,
    key: Vec<u8>,
}

impl Protect {
    pub fn new(cfg: ProtectConfig, shard: u16, shards: u16) -> Protect {
        let n = shards.max(1) as f64;
        let shares = cfg.rules.iter().map(|r| (r.rate / n, (r.burst / n).max(1.0))).collect();
        let buckets = cfg.rules.iter().map(|_| HashMap::new()).collect();
        let stats = ProtectStats { rule_hits: vec![0; cfg.rules.len()], ..Default::default() };
        Protect {
            cfg,
            shard,
            shares,
            buckets,
            flood: WindowCounts::default(),
            auth: WindowCounts::default(),
            bans: BanList::default(),
            stats,
            key: Vec::new(),
        }
    }

    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.cfg.allow.iter().any(|c| c.contains(ip))
    }

    pub fn banned(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        self.bans.contains(ip, now_ms)
    }

    /// A request's User-Agent names a scanner (counted).
    pub fn scanner(&mut self, user_agent: Option<&[u8]>) -> bool {
        let hit = user_agent.is_some_and(|ua| self.cfg.scanners.matches(ua));
        self.stats.scanner_drops += hit as u64;
        hit
    }

    /// The size limit of a method, if one is configured.
    pub fn max_size(&self, method: &[u8]) -> Option<usize> {
        self.cfg.max_size.iter().find(|(m, _)| m.as_slice() == method).map(|(_, n)| *n)
    }

    /// Counts a request of a (not allowlisted) source: a ban when it trips the flood wire.
    pub fn count_request(&mut self, ip: IpAddr, now_ms: u64) -> Option<Ban> {
        let t = self.cfg.flood?;
        self.flood.hit(ip, now_ms, t.window_ms, t.count).then(|| self.decide(ip, BanReason::Flood, t, now_ms)).flatten()
    }

    /// On the shard owning `ip`: one more authentication failure; a ban at the threshold.
    pub fn auth_failed(&mut self, ip: IpAddr, now_ms: u64) -> Option<Ban> {
        let t = self.cfg.auth_failures?;
        self.auth
            .hit(ip, now_ms, t.window_ms, t.count)
            .then(|| self.decide(ip, BanReason::AuthFailures, t, now_ms))
            .flatten()
    }

    fn decide(&mut self, ip: IpAddr, reason: BanReason, t: Trip, now_ms: u64) -> Option<Ban> {
        if self.allowed(ip) {
            return None;
        }
        let ban = Ban { ip, reason, expires_at_ms: now_ms + t.ban_ms, shard: self.shard };
        self.bans.insert(ban);
        self.stats.bans_total.add(reason);
        Some(ban)
    }

    /// A ban decided by another shard.
    pub fn learn(&mut self, ban: Ban) {
        if !self.allowed(ban.ip) {
            self.bans.insert(ban);
        }
    }

    /// Lifts a ban (and forgets what counted towards one); true if there was one.
    pub fn lift(&mut self, ip: IpAddr) -> bool {
        self.flood.forget(ip);
        self.auth.forget(ip);
        self.bans.remove(ip)
    }

    /// Bans this shard decided that are in force, by reason (for the gauge).
    pub fn active_by_reason(&self, now_ms: u64) -> crate::reason::Tally<BanReason> {
        let mut by_reason = crate::reason::Tally::default();
        for b in self.bans.active(now_ms).filter(|b| b.shard == self.shard) {
            by_reason.add(b.reason);
        }
        by_reason
    }

    /// The rate-limit rules, in order; the first over its limit decides.
    pub fn limit(&mut self, f: &Facts<'_>, now_ms: u64) -> Verdict {
        for (i, rule) in self.cfg.rules.iter().enumerate() {
            if !rule.applies(f) || !rule.key_of(f, &mut self.key) {
                continue;
            }
            let (rate, burst) = self.shares[i];
            let map = &mut self.buckets[i];
            if map.len() >= MAX_KEYS && !map.contains_key(&self.key) {
                map.retain(|_, b| !b.is_full(now_ms, rate, burst));
                if map.len() >= MAX_KEYS {
                    continue;
                }
            }
            let bucket = map.entry(self.key.clone()).or_insert_with(|| Bucket::full(burst, now_ms));
            if let Err(retry_after) = bucket.take(now_ms, rate, burst) {
                self.stats.rule_hits[i] += 1;
                return match rule.action {
                    Action::Reject => Verdict::Reject { rule: i, retry_after },
                    Action::Drop => Verdict::Drop { rule: i },
                };
            }
        }
        Verdict::Pass
    }

    /// Once a second: forgets expired bans, passed windows and full buckets.
    pub fn tick(&mut self, now_ms: u64) {
        self.bans.expire(now_ms);
        if let Some(t) = self.cfg.flood {
            self.flood.prune(now_ms, t.window_ms);
        }
        if let Some(t) = self.cfg.auth_failures {
            self.auth.prune(now_ms, t.window_ms);
        }
        for (i, map) in self.buckets.iter_mut().enumerate() {
            let (rate, burst) = self.shares[i];
            map.retain(|_, b| !b.is_full(now_ms, rate, burst));
        }
    }

    /// Keys tracked by every rule (tests, memory).
    pub fn tracked(&self) -> usize {
        self.buckets.iter().map(HashMap::len).sum::<usize>() + self.flood.len() + self.auth.len()
    }
}

#[cfg(test)]
mod tests;
