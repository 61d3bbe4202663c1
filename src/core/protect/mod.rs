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
//! Nothing here pins a source to a shard (a trunk keeps its spread); what
//! is counted per key is counted on the key's owner shard
//! (`owner::shard_of`, the same function that owns AORs):
//!
//! - Rate limits mean what the config says on any number of shards: each
//!   key of each rule has one bucket, on its owner; other shards spend
//!   leases, batches of tokens the owner takes from that bucket, and ask
//!   for more when theirs is spent (the request waits for the answer,
//!   parked like a cross-shard lookup). No message per request; never more
//!   than `burst + rate × (t + 0.2 s)` in any window of `t` s (a lease is
//!   good for 0.2 s), fewer by at most the tokens lent and not spent yet,
//!   which go back to the owner when their lease expires (`lease.rs`).
//! - Authentication failures are rare, so they are counted exactly: each
//!   failure goes to the shard owning the source IP, which bans at the
//!   threshold whatever ports the guesser spreads over.
//! - The flood tripwire counts per source IP over every shard: each shard
//!   counts locally and reports its counts to the IP's owner in batches on
//!   its tick; the owner bans at the threshold, within one report of it
//!   (`flood.rs`).
//! - A ban is broadcast to every shard when decided and lifted on every
//!   shard by the admin API (through the control thread), so a banned
//!   address is dropped on whichever shard reads it, before its message is
//!   scanned.
//!
//! Allowlisted addresses (`[protect] allow` and `proxy.trusted`) bypass all
//! of it and are never banned.

mod bans;
mod bucket;
mod flood;
mod lease;
mod rules;
mod scanner;
mod window;

pub use bans::{Ban, BanList, BanNews, BanReason};
pub use bucket::Bucket;
pub use flood::{ip_key, ip_owner, Flood, REPORT_MS};
pub use lease::{KeyView, LeaseAsk, Limits, Resumed, Returned, Take, LEASE_TTL_MS, MAX_BATCH};
pub use rules::{event_package, Action, Facts, Rule, RuleKey};
pub use scanner::{contains_ci, Scanners};
pub use window::WindowCounts;

use crate::core::net::Cidr;
use std::net::IpAddr;

/// Keys one rule tracks per shard (owned and leased apart); past this, full buckets are forgotten,
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
    /// Requests from one source IP over every shard.
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The key's lease is spent: park the request (`Protect::wait`) until
    /// the owner answers, asking it when `ask` says so.
    Wait {
        rule: usize,
        key: Vec<u8>,
        ask: Option<LeaseAsk>,
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
    /// Lease messages: asks sent to owners, asks served (as owner), leases returned.
    pub lease_asks: u64,
    pub lease_grants: u64,
    pub lease_returns: u64,
    /// Batches of flood counts sent to the owners of the counted IPs.
    pub flood_reports: u64,
}

pub struct Protect {
    pub cfg: ProtectConfig,
    shard: u16,
    shards: u16,
    limits: Limits,
    flood: Flood,
    auth: WindowCounts,
    pub bans: BanList,
    /// Bans this shard decided that ran out, for the log (`take_ended`).
    ended: Vec<Ban>,
    pub stats: ProtectStats,
    key: Vec<u8>,
}

impl Protect {
    pub fn new(cfg: ProtectConfig, shard: u16, shards: u16) -> Protect {
        let shards = shards.max(1);
        let stats = ProtectStats { rule_hits: vec![0; cfg.rules.len()], ..Default::default() };
        Protect {
            limits: Limits::new(cfg.rules.len(), shard, shards),
            cfg,
            shard,
            shards,
            flood: Flood::default(),
            auth: WindowCounts::default(),
            bans: BanList::default(),
            ended: Vec::new(),
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
        self.flood
            .count(t, ip, self.shard, self.shards, now_ms)
            .then(|| self.decide(ip, BanReason::Flood, t, now_ms))
            .flatten()
    }

    /// On the shard owning `ip`: `n` requests another shard read from it.
    pub fn flood_reported(&mut self, ip: IpAddr, n: u32, now_ms: u64) -> Option<Ban> {
        let t = self.cfg.flood?;
        self.flood.reported(t, ip, n, now_ms).then(|| self.decide(ip, BanReason::Flood, t, now_ms)).flatten()
    }

    /// Flood counts due to the owners of their IPs (one batch per owner), when it is time.
    pub fn flood_reports(&mut self, now_ms: u64) -> Vec<(u16, Vec<(IpAddr, u32)>)> {
        let r = self.flood.reports(self.shards, now_ms);
        self.stats.flood_reports += r.len() as u64;
        r
    }

    /// When the flood counts not reported yet are due (the shard's tick sends them).
    pub fn report_due(&self) -> Option<u64> {
        self.flood.report_due()
    }

    /// A flood report that became due since the last call: when.
    pub fn take_wake(&mut self) -> Option<u64> {
        self.flood.take_wake()
    }

    /// On the shard owning `ip`: one more authentication failure; a ban at the threshold.
    pub fn auth_failed(&mut self, ip: IpAddr, now_ms: u64) -> Option<Ban> {
        let t = self.cfg.auth_failures?;
        self.auth
            .hit(ip, now_ms, t.window_ms, t.count)
            .then(|| self.decide(ip, BanReason::AuthFailures, t, now_ms))
            .flatten()
    }

    /// The shard owning a source IP.
    pub fn ip_owner(&self, ip: IpAddr) -> u16 {
        ip_owner(ip, self.shards)
    }

    /// A ban of `ip`, unless it is allowlisted or banned already (a shard
    /// that saw a flood alone banned it, and the owner then counts the
    /// same requests in that shard's report: one ban, not two).
    fn decide(&mut self, ip: IpAddr, reason: BanReason, t: Trip, now_ms: u64) -> Option<Ban> {
        if self.allowed(ip) || self.bans.contains(ip, now_ms) {
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

    /// The rate-limit rules from rule `from` on, in order; the first over
    /// its limit decides, and one whose lease is spent makes the request wait.
    pub fn limit(&mut self, f: &Facts<'_>, now_ms: u64, from: usize) -> Verdict {
        for (i, rule) in self.cfg.rules.iter().enumerate().skip(from) {
            if !rule.applies(f) || !rule.key_of(f, &mut self.key) {
                continue;
            }
            match self.limits.take(i, rule, &self.key, now_ms) {
                Take::Ok => {}
                Take::Over(retry_after) => {
                    self.stats.rule_hits[i] += 1;
                    return over(rule.action, i, retry_after);
                }
                Take::Wait(ask) => {
                    self.stats.lease_asks += ask.is_some() as u64;
                    return Verdict::Wait { rule: i, key: self.key.clone(), ask };
                }
            }
        }
        Verdict::Pass
    }

    /// A request parked under `waiter` for the lease of `key` (after `Verdict::Wait`).
    pub fn wait(&mut self, rule: usize, key: &[u8], waiter: u64) {
        self.limits.wait(rule, key, waiter)
    }

    /// On a key's owner: takes back the `returning` tokens of an expired
    /// lease and lends up to `want` to another shard; (tokens, 0 or ms
    /// until the bucket has one again).
    pub fn grant(&mut self, rule: usize, key: &[u8], want: u32, returning: u32, now_ms: u64) -> (u32, u64) {
        let Some(r) = self.cfg.rules.get(rule) else { return (0, 1_000) };
        self.stats.lease_grants += 1;
        self.limits.grant(rule, r, key, want, returning, now_ms)
    }

    /// The owner's answer to a lease ask (None: none came): which waiters
    /// pass this rule, which are over it (counted as hits), and whether to ask again.
    pub fn leased(&mut self, rule: usize, key: &[u8], answer: Option<(u32, u64)>, now_ms: u64) -> (Resumed, Action) {
        let Some(r) = self.cfg.rules.get(rule) else { return (Resumed::default(), Action::Drop) };
        let resumed = self.limits.leased(rule, r, key, answer, now_ms);
        self.stats.rule_hits[rule] += resumed.over.len() as u64;
        self.stats.lease_asks += resumed.ask.is_some() as u64;
        (resumed, r.action)
    }

    /// A token handed to a waiter that was gone: back to the lease.
    pub fn unspent(&mut self, rule: usize, key: &[u8]) {
        self.limits.unspent(rule, key)
    }

    /// On a key's owner: tokens a lease did not spend.
    pub fn give_back(&mut self, rule: usize, key: &[u8], tokens: u32, now_ms: u64) {
        if let Some(r) = self.cfg.rules.get(rule) {
            self.limits.give_back(rule, r, key, tokens, now_ms)
        }
    }

    /// What this shard holds of a key, by rule name and the key as text
    /// (`GET /limits/{rule}/{key}`); None: no such rule, or not a key of it.
    pub fn view(&self, rule: &str, key: &str, now_ms: u64) -> Option<KeyView> {
        let i = self.cfg.rules.iter().position(|r| r.name == rule)?;
        let r = &self.cfg.rules[i];
        let key = r.key.parse(key)?;
        Some(self.limits.view(i, r, &key, now_ms))
    }

    /// Bans this shard decided that ran out since the last call.
    pub fn take_ended(&mut self) -> Vec<Ban> {
        std::mem::take(&mut self.ended)
    }

    /// Once a second: forgets expired bans, passed windows and full buckets;
    /// the unspent tokens of expired leases, to give back to their owners.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Returned> {
        let shard = self.shard;
        self.ended.extend(self.bans.expire(now_ms).into_iter().filter(|b| b.shard == shard));
        if let Some(t) = self.cfg.flood {
            self.flood.prune(now_ms, t.window_ms);
        }
        if let Some(t) = self.cfg.auth_failures {
            self.auth.prune(now_ms, t.window_ms);
        }
        let back = self.limits.tick(&self.cfg.rules, now_ms);
        self.stats.lease_returns += back.len() as u64;
        back
    }

    /// Keys tracked by every rule (tests, memory).
    pub fn tracked(&self) -> usize {
        self.limits.len() + self.flood.len() + self.auth.len()
    }
}

fn over(action: Action, rule: usize, retry_after: u32) -> Verdict {
    match action {
        Action::Reject => Verdict::Reject { rule, retry_after },
        Action::Drop => Verdict::Drop { rule },
    }
}

#[cfg(test)]
pub(crate) mod tests;
