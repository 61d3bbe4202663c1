//! The flood tripwire across shards: requests per source IP counted over
//! every shard, decided on the IP's owner shard (`owner::shard_of`).
//!
//! Each shard counts what it reads in its own window (`WindowCounts`) with
//! no message per request. On a shard that does not own the IP the window
//! counts its own requests only, and what it counted since its last report
//! goes to the owner in one batch per owner every `REPORT_MS` (from the
//! shard's tick, `MeshMsg::FloodCounts`); the owner adds the reports to
//! its own window of that IP and bans at the threshold. A shard that sees
//! the threshold alone bans at once.
//!
//! Tolerance: a source spread over shards is banned once the requests of
//! all shards reach the threshold, within one report (`REPORT_MS`, or the
//! shard's next tick when it sleeps longer: at most its command poll, 100
//! ms) plus a mesh hop; what it sends in that time is served. The owner
//! counts a report in the window open when it arrives.

use super::window::{WindowCounts, MAX_SOURCES};
use super::Trip;
use crate::core::owner;
use std::collections::HashMap;
use std::net::IpAddr;

/// The shortest time between two reports of a shard.
pub const REPORT_MS: u64 = 10;

#[derive(Debug, Default)]
pub struct Flood {
    /// On the owner of an IP: every shard's requests; elsewhere this shard's.
    counts: WindowCounts,
    /// Requests of IPs other shards own, not reported yet.
    unreported: HashMap<IpAddr, u32>,
    last_report_ms: u64,
    /// When the first count since the last report was made: the shard must
    /// wake by then to report it (`take_wake`).
    wake: Option<u64>,
}

impl Flood {
    /// One request of `ip` read on `shard` of `shards`: true when it trips the wire.
    pub fn count(&mut self, t: Trip, ip: IpAddr, shard: u16, shards: u16, now_ms: u64) -> bool {
        if ip_owner(ip, shards) != shard && (self.unreported.len() < MAX_SOURCES || self.unreported.contains_key(&ip)) {
            if self.unreported.is_empty() {
                self.wake = Some(self.next_report(now_ms));
            }
            *self.unreported.entry(ip).or_insert(0) += 1;
        }
        self.counts.hit_n(ip, now_ms, t.window_ms, t.count, 1)
    }

    /// On the owner of `ip`: `n` requests another shard read; true when they trip the wire.
    pub fn reported(&mut self, t: Trip, ip: IpAddr, n: u32, now_ms: u64) -> bool {
        self.counts.hit_n(ip, now_ms, t.window_ms, t.count, n)
    }

    /// What to report to whom (one batch per owner), when it is time.
    pub fn reports(&mut self, shards: u16, now_ms: u64) -> Vec<(u16, Vec<(IpAddr, u32)>)> {
        if self.unreported.is_empty() || now_ms < self.last_report_ms + REPORT_MS {
            return Vec::new();
        }
        self.last_report_ms = now_ms;
        let mut by_owner: Vec<(u16, Vec<(IpAddr, u32)>)> = Vec::new();
        for (ip, n) in self.unreported.drain() {
            let owner = ip_owner(ip, shards);
            match by_owner.iter_mut().find(|(o, _)| *o == owner) {
                Some((_, batch)) => batch.push((ip, n)),
                None => by_owner.push((owner, vec![(ip, n)])),
            }
        }
        by_owner
    }

    /// When the counts not reported yet are due (None: there are none).
    pub fn report_due(&self) -> Option<u64> {
        (!self.unreported.is_empty()).then_some(self.last_report_ms + REPORT_MS)
    }

    fn next_report(&self, now_ms: u64) -> u64 {
        now_ms.max(self.last_report_ms + REPORT_MS)
    }

    /// A report that became due since the last call: when (the shard wakes then).
    pub fn take_wake(&mut self) -> Option<u64> {
        self.wake.take()
    }

    pub fn prune(&mut self, now_ms: u64, window_ms: u64) {
        self.counts.prune(now_ms, window_ms);
    }

    pub fn forget(&mut self, ip: IpAddr) {
        self.counts.forget(ip);
        self.unreported.remove(&ip);
    }

    pub fn len(&self) -> usize {
        self.counts.len() + self.unreported.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bytes an IP is owned by (and keyed by in `ip` rules).
pub fn ip_key(ip: IpAddr, buf: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
    }
}

/// The shard owning a source IP: its flood count, its authentication failures.
pub fn ip_owner(ip: IpAddr, shards: u16) -> u16 {
    let n = shards as usize;
    match ip {
        IpAddr::V4(a) => owner::shard_of(&a.octets(), n) as u16,
        IpAddr::V6(a) => owner::shard_of(&a.octets(), n) as u16,
    }
}
