//! HEP capture hooks: where SIP messages cross the core's boundary, as
//! plaintext (after TLS decryption and WebSocket deframing on the way in,
//! before framing and encryption on the way out). `received` sees each
//! packet the shard feeds the core from a socket or connection; `sent` sees
//! each message the core asks the shard to send. With capture off each is
//! one branch on `shard.hep`. Filtering, encoding and queueing are the
//! `Tap`'s (`telemetry::hep_sender`).
//!
//! Addresses: the edge's side of a message is its listener's configured
//! address (for a connection the edge opened, the listener of that
//! transport; the ephemeral port is not looked up). A response that another
//! shard received and passed over the mesh was captured by that shard.

use super::Shard;
use crate::core::{Dest, Input, Output, Transport};
use crate::telemetry::hep::{PROTO_TCP, PROTO_UDP};
use crate::telemetry::hep_sender::{Seen, Tap};
use std::net::SocketAddr;

/// A packet the shard is about to hand to the core.
#[inline]
pub fn received(shard: &Shard, input: &Input<'_>) {
    if let (Some(tap), Input::Packet(p)) = (&shard.hep, input) {
        let local = local_addr(shard, p.origin.listener);
        let proto = if p.origin.transport == Transport::Udp { PROTO_UDP } else { PROTO_TCP };
        let seen =
            Seen { src: p.origin.peer, dst: local, proto, peer: p.origin.peer.ip(), time_us: now_us(), bytes: p.bytes };
        tap.capture(&seen);
    }
}

/// Messages the core has just asked the shard to send.
#[inline]
pub fn sent(shard: &Shard, outs: &[Output]) {
    if let Some(tap) = &shard.hep {
        capture_sent(shard, tap, outs);
    }
}

fn capture_sent(shard: &Shard, tap: &Tap, outs: &[Output]) {
    let time_us = now_us();
    for o in outs {
        let Output::Send { dest, bytes } = o else { continue };
        let (peer, local, proto) = match *dest {
            Dest::Udp { listener, peer } => (peer, local_addr(shard, listener), PROTO_UDP),
            Dest::Tcp { peer, tls } => {
                let t = if tls { crate::config::Transport::Tls } else { crate::config::Transport::Tcp };
                let listener = shard.config.listen.iter().position(|l| l.transport == t).unwrap_or(0);
                (peer, local_addr(shard, listener as u16), PROTO_TCP)
            }
            Dest::Flow(flow) => {
                let Some((peer, listener)) = shard.flows.borrow().peer(flow) else { continue };
                (peer, local_addr(shard, listener), PROTO_TCP)
            }
        };
        tap.capture(&Seen { src: local, dst: peer, proto, peer: peer.ip(), time_us, bytes });
    }
}

fn local_addr(shard: &Shard, listener: u16) -> SocketAddr {
    shard.config.listen.get(listener as usize).map(|l| l.addr).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}
