//! Feeding the core and performing what it asks for: the one place where a
//! core `Output` becomes a socket write, a flow write, a mesh message, or
//! an ask on its way (`services`).

use super::mesh::Outbox;
use super::stats::IoDrop;
use super::Shard;
use crate::core::{Dest, Input, Output};
use std::rc::Rc;
use std::time::Instant;

/// Hands one input to the core at `now` (`clock::now_ms`, read once per
/// batch by the caller), records how long the core took, then performs its
/// outputs, then lets the core settle (`Edge::settle`). The `RefCell`
/// borrow of the core ends before any await.
pub async fn feed(shard: &Rc<Shard>, now: u64, input: Input<'_>) {
    let mut outs = Vec::new();
    handle(shard, now, input, &mut outs);
    perform(shard, outs).await;
    shard.edge.borrow_mut().settle();
}

/// The synchronous half of `feed`: the core's decision, timed.
/// Messages in and out are offered to HEP capture here (`capture`).
pub fn handle(shard: &Shard, now: u64, input: Input<'_>, outs: &mut Vec<Output>) {
    super::capture::received(shard, &input);
    let first = outs.len();
    let start = Instant::now();
    let wake = {
        let mut edge = shard.edge.borrow_mut();
        edge.handle(now, input, outs);
        edge.take_wake()
    };
    let _ = shard.hist.borrow_mut().record(start.elapsed().as_nanos().max(1) as u64);
    if let Some(at) = wake {
        shard.alarm.wake_by(at);
    }
    super::capture::sent(shard, &outs[first..]);
}

/// Performs outputs one by one (sockets, flows, mesh). A request whose
/// flow is gone goes back to the core (`Input::Undeliverable`), and what
/// the core makes of it is performed in turn.
pub async fn perform(shard: &Rc<Shard>, mut outs: Vec<Output>) {
    // Each round can only fail branches, never create flows: two suffice.
    for _ in 0..3 {
        let mut failed = Vec::new();
        for o in outs {
            match o {
                Output::Trace(t) => crate::telemetry::logger::trace(&t),
                Output::Ban(news) => shard.ban_log.borrow_mut().log(super::clock::unix_now_ms(), &news),
                Output::Send { dest: Dest::Udp { listener, peer }, bytes } => {
                    let sock =
                        shard.udp.get(listener as usize).and_then(Option::as_ref).or_else(|| any_udp(shard, peer));
                    let ok = match sock {
                        Some(s) => s.send_to(&bytes, peer).await.is_ok(),
                        None => false,
                    };
                    if !ok {
                        shard.stats.borrow_mut().drops.add(IoDrop::UdpSendFailed);
                    }
                }
                Output::Send { dest: Dest::Tcp { peer, tls }, bytes } => {
                    if !super::conn::send_to_peer(shard, peer, tls, bytes) {
                        shard.stats.borrow_mut().drops.add(IoDrop::ConnectionQueueFull);
                    }
                }
                Output::Send { dest: Dest::Flow(flow), bytes } => {
                    let gone = !shard.flows.borrow().contains(flow);
                    if gone {
                        shard.stats.borrow_mut().drops.add(IoDrop::FlowGone);
                        failed.push(bytes);
                    } else if !shard.flows.borrow().send(flow, bytes) {
                        shard.stats.borrow_mut().drops.add(IoDrop::FlowQueueFull);
                    }
                }
                Output::ToShard { shard: to, msg } => Outbox::push(shard, to, msg),
                Output::Ask { token, ask } => super::services::route(shard, token, ask),
                Output::Close(flow) => shard.flows.borrow_mut().close(flow),
                Output::TlsName { peer, name } => shard.flows.borrow_mut().name_tls_peer(peer, name),
            }
        }
        if failed.is_empty() {
            return;
        }
        outs = Vec::new();
        let now = super::clock::now_ms();
        for bytes in &failed {
            handle(shard, now, Input::Undeliverable(bytes), &mut outs);
        }
    }
}

/// A UDP socket of the right address family, for answers to a request that
/// has no socket of its own listener (never expected, but never a panic).
fn any_udp(shard: &Shard, peer: std::net::SocketAddr) -> Option<&Rc<glommio::net::UdpSocket>> {
    shard.udp.iter().flatten().find(|s| s.local_addr().map(|a| a.is_ipv4() == peer.is_ipv4()).unwrap_or(false))
}
