//! A shard's UDP listener loop: one datagram at a time into the core.

use super::Shard;
use crate::core::{Input, Origin, Packet, Transport};
use glommio::net::UdpSocket;
use std::rc::Rc;

/// Largest datagram read; the core answers 513 to requests over its limit.
const MAX_DATAGRAM: usize = 65535;

pub async fn serve(shard: Rc<Shard>, listener: u16, sock: Rc<UdpSocket>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                log::debug!("shard {}: udp recv: {e}", shard.id);
                shard.edge.borrow_mut().counters.drops.add("udp recv error");
                continue;
            }
        };
        if shard.stopping.get() {
            return;
        }
        let origin = Origin { transport: Transport::Udp, listener, peer, flow: None };
        super::io::feed(&shard, Input::Packet(Packet { origin, bytes: &buf[..n] })).await;
    }
}
