//! Banned source addresses: why, until when, and which shard decided. Every
//! shard holds every ban (a ban is broadcast over the mesh when decided), so
//! the check on each datagram is one hash lookup on the shard that reads it.

use std::collections::HashMap;
use std::net::IpAddr;

crate::reasons! {
    /// Why an address was banned.
    pub enum BanReason {
        /// Over the flood threshold (requests in a window).
        Flood => "flood",
        /// Too many authentication failures (password guessing).
        AuthFailures => "auth failures",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    pub reason: BanReason,
    /// Unix milliseconds.
    pub expires_at_ms: u64,
    /// The shard that decided it.
    pub shard: u16,
}

/// What an operator reads in the log: a ban decided (on the shard that
/// decided it) or ended (its time ran out; lifted by hand is the admin
/// face's line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BanNews {
    Banned(Ban),
    Ended(Ban),
}

#[derive(Debug, Default)]
pub struct BanList {
    bans: HashMap<IpAddr, Ban>,
}

impl BanList {
    /// Is `ip` banned at `now_ms`? (An expired ban waits for `expire`.)
    pub fn contains(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        self.bans.get(&ip).is_some_and(|b| b.expires_at_ms > now_ms)
    }

    /// Adds or extends a ban (the later expiry wins).
    pub fn insert(&mut self, ban: Ban) {
        match self.bans.get_mut(&ban.ip) {
            Some(b) if b.expires_at_ms >= ban.expires_at_ms => {}
            Some(b) => *b = ban,
            None => {
                self.bans.insert(ban.ip, ban);
            }
        }
    }

    pub fn remove(&mut self, ip: IpAddr) -> bool {
        self.bans.remove(&ip).is_some()
    }

    /// Forgets the bans that ran out; which they were.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Ban> {
        let mut ended = Vec::new();
        self.bans.retain(|_, b| {
            let keep = b.expires_at_ms > now_ms;
            if !keep {
                ended.push(*b);
            }
            keep
        });
        ended
    }

    /// Bans in force at `now_ms`.
    pub fn active(&self, now_ms: u64) -> impl Iterator<Item = &Ban> {
        self.bans.values().filter(move |b| b.expires_at_ms > now_ms)
    }
}
