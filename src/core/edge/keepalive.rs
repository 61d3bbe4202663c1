//! NAT keepalives the edge sends (a profile's `keepalive_secs`): a device
//! class that registers over UDP from behind a NAT whose mapping would
//! expire between its own refreshes gets an empty datagram (`CRLF CRLF`,
//! which RFC 3261 §7.5 lets a receiver ignore, as Kamailio's nathelper
//! sends) from the edge's listener every `keepalive_secs`, so requests to
//! it still get through. Kept per source address (many AORs behind one NAT
//! mapping need one keepalive), by the shard that answered the REGISTER
//! (SO_REUSEPORT keeps a source on one shard), until the last binding that
//! REGISTER left would expire; a REGISTER that leaves none stops them.
//! Devices on connections keep their own flows alive (Flow-Timer).

use super::{Dest, Edge, Output};
use crate::core::registrar::BindingView;
use crate::core::{Origin, Transport};
use crate::sip::Message;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

/// Addresses one shard keeps alive at most; more are counted, not kept.
const MAX_PEERS: usize = 1 << 20;
/// Keepalives one shard sends per second at most; the rest wait a second.
const MAX_PER_SECOND: usize = 20_000;
/// What is sent: two CRLFs, no SIP message.
pub const PING: &[u8] = b"\r\n\r\n";

struct Peer {
    listener: u16,
    interval: u64,
    /// Unix seconds after which it is no longer kept alive.
    until: u64,
    /// When it is next due (a due entry naming another time is stale).
    next: u64,
}

/// One shard's kept-alive addresses, and when each is next due.
#[derive(Default)]
pub(crate) struct Keepalives {
    peers: HashMap<SocketAddr, Peer>,
    due: BinaryHeap<Reverse<(u64, SocketAddr)>>,
    pub sent: u64,
    /// Addresses not kept because the table was full.
    pub refused: u64,
}

impl Keepalives {
    pub fn peers(&self) -> usize {
        self.peers.len()
    }

    /// Keeps `peer` alive every `interval` s until `until` (0: stop).
    fn keep(&mut self, peer: SocketAddr, listener: u16, interval: u64, until: u64, now: u64) {
        if until <= now {
            self.peers.remove(&peer);
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            (p.listener, p.until) = (listener, until);
            if p.interval != interval {
                (p.interval, p.next) = (interval, now + interval);
                self.due.push(Reverse((p.next, peer)));
            }
            return;
        }
        if self.peers.len() >= MAX_PEERS {
            self.refused += 1;
            return;
        }
        self.peers.insert(peer, Peer { listener, interval, until, next: now + interval });
        self.due.push(Reverse((now + interval, peer)));
    }

    /// The keepalives due at `now`: (listener, address) each.
    fn due(&mut self, now: u64, mut send: impl FnMut(u16, SocketAddr)) {
        let mut sent = 0;
        while let Some(&Reverse((at, addr))) = self.due.peek() {
            if at > now || sent >= MAX_PER_SECOND {
                break;
            }
            self.due.pop();
            let Some(p) = self.peers.get_mut(&addr) else { continue };
            if p.next != at {
                continue; // its interval changed: a later entry stands for it
            }
            if p.until <= now {
                self.peers.remove(&addr);
                continue;
            }
            send(p.listener, addr);
            sent += 1;
            p.next = now + p.interval;
            self.due.push(Reverse((p.next, addr)));
        }
        self.sent += sent as u64;
        if self.due.len() > 2 * self.peers.len() + 1024 {
            self.due.retain(|Reverse((at, a))| self.peers.get(a).is_some_and(|p| p.next == *at));
        }
    }
}

impl Edge {
    /// After a 200 to a REGISTER: when its sender's profile has keepalives,
    /// keep its UDP source alive while the bindings listed last.
    pub(super) fn keep_alive(&mut self, origin: Origin, msg: &Message<'_>, bindings: &[BindingView]) {
        if origin.transport != Transport::Udp || self.cfg.profiles.is_empty() {
            return;
        }
        let Some(interval) = self.sender_profile(origin, msg).map(|p| p.keepalive_secs).filter(|&k| k > 0) else {
            return;
        };
        let until = bindings.iter().map(|b| b.expires_at).max().unwrap_or(0);
        self.keepalives.keep(origin.peer, origin.listener, interval as u64, until, self.now);
    }

    /// The keepalives due this second.
    pub(super) fn send_keepalives(&mut self, out: &mut Vec<Output>) {
        self.keepalives.due(self.now, |listener, peer| {
            out.push(Output::Send { dest: Dest::Udp { listener, peer }, bytes: PING.to_vec() })
        });
    }

    /// Addresses kept alive, keepalives sent, addresses refused (table full).
    pub fn nat_keepalives(&self) -> (usize, u64, u64) {
        (self.keepalives.peers(), self.keepalives.sent, self.keepalives.refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_pinged_every_interval_until_its_bindings_expire() {
        let mut k = Keepalives::default();
        let a: SocketAddr = "198.51.100.7:5060".parse().unwrap();
        k.keep(a, 0, 20, 1_000 + 65, 1_000);
        let mut seen = Vec::new();
        for now in 1_000..1_100 {
            k.due(now, |_, p| seen.push((now, p)));
        }
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1_020, 1_040, 1_060], "until 1065");
        assert_eq!((k.peers(), k.sent), (0, 3));
    }

    #[test]
    fn a_registration_that_leaves_nothing_stops_them_and_a_new_interval_takes_over() {
        let mut k = Keepalives::default();
        let a: SocketAddr = "198.51.100.7:5060".parse().unwrap();
        k.keep(a, 0, 20, 5_000, 1_000);
        k.keep(a, 0, 30, 5_000, 1_005);
        let mut seen = Vec::new();
        for now in 1_000..1_040 {
            k.due(now, |_, _| seen.push(now));
        }
        assert_eq!(seen, vec![1_035], "the old 1020 entry is stale");
        k.keep(a, 0, 30, 0, 1_040);
        k.due(1_065, |_, _| panic!("stopped"));
        assert_eq!(k.peers(), 0);
    }
}
