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

#[derive(Debug, Default)]
pub struct BanList {
    bans: HashMap<IpAddr, Ban>,
}

impl BanList {
    /// Is `ip` banned at `now_ms`? An expired ban is forgotten here.
    pub fn contains(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        match self.bans.get(&ip) {
            Some(b) if b.expires_at_ms > now_ms => true,
            Some(_) => {
                self.bans.remove(&ip);
                false
            }
            None => false,
        }
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

    pub fn expire(&mut self, now_ms: u64) {
        self.bans.retain(|_, b| b.expires_at_ms > now_ms);
    }

    /// Bans in force at `now_ms`.
    pub fn active(&self, now_ms: u64) -> impl Iterator<Item = &Ban> {
        self.bans.values().filter(move |b| b.expires_at_ms > now_ms)
    }
}
