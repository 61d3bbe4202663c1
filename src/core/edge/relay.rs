//! What the proxy relays and how it leaves: the copy of a request for one
//! target (§16.6, plus what `[hygiene]`, topology hiding and NAT aliases
//! change in it), a request too big for UDP sent over TCP instead (RFC
//! 3261 §18.1.1), a 2xx's ACK forwarded without state, a branch's response
//! made ready for the sender (§16.7 step 3), a 2xx that outlived its
//! transaction relayed on (RFC 6026), and the one place that sends to a
//! next hop. Which response goes upstream and when is `branch.rs`'s.

use super::hygiene::with_body;
use super::nat::alias_contact;
use super::step::Ctx;
use super::{Dest, Edge, Output};
use crate::core::counters::Counters;
use crate::core::counters::Drop;
use crate::core::mesh::MeshMsg;
use crate::core::profile::Nat;
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::{ProxyState, Target, Tx};
use crate::core::proxy::{forward_request, Hop};
use crate::core::{Origin, Transport};
use crate::sip::{self, Editor, Framing, HeaderName, Message, Status, Stored};

/// Why a request cannot be forwarded: the answer the edge gives instead.
pub(super) type Refusal = (u16, &'static str);

/// Where a forwarded copy comes from, besides the message itself.
#[derive(Clone, Copy)]
pub(super) struct Forward {
    pub origin: Origin,
    /// The sender is inside (trusted).
    pub inside: bool,
    pub record_route: bool,
    /// The branch number (`proxy.seq`) the copy's Via carries.
    pub seq: u64,
    /// The sender's profile (its NAT handling).
    pub profile: Option<u16>,
}

impl ProxyState {
    /// §16.6 for one target, plus hygiene and topology hiding (or a NAT
    /// alias on a device's Contact).
    pub(super) fn forward_copy(
        &mut self,
        cx: &mut Ctx<'_>,
        f: &Forward,
        msg: &Message<'_>,
        target: &Target,
    ) -> Result<Vec<u8>, Refusal> {
        let lin = cx.listener(f.origin.listener, f.origin.transport);
        let lout = cx.listener_for(&target.hop);
        let nat = f.profile.and_then(|p| cx.profiles.0.get(p as usize)).map_or(Nat::Auto, |p| p.nat);
        let hop = Hop {
            shard: cx.shard,
            seq: f.seq,
            transport: lout.via_transport(),
            host: &lout.host,
            port: lout.port,
            in_transport: lin.via_transport(),
            in_host: &lin.host,
            in_port: lin.port,
            record_route: f.record_route,
            source: Some(f.origin.peer),
            force_rport: nat == Nat::Always && !f.inside,
        };
        let path: Vec<&[u8]> = target.routes.iter().map(Vec::as_slice).collect();
        let mut bytes = Vec::with_capacity(msg.buf.len() + 256);
        forward_request(msg, &target.uri, &path, &hop, &mut bytes).map_err(|r| (r.code(), r.reason()))?;
        // The edge checked them: nobody behind it needs a device's credentials.
        let credentials = !f.inside && cx.auth && msg.position(HeaderName::ProxyAuthorization).is_some();
        if credentials || self.cfg.hygiene.strip(target.inside).any_in(msg) {
            bytes = self.without_headers(cx.counters, &bytes, credentials, target.inside);
        }
        let source = NextHop { transport: f.origin.transport, addr: f.origin.peer, flow: f.origin.flow };
        if self.cfg.topology_hiding {
            bytes = self.hide_request(cx, &bytes, f.inside && !target.inside, (!f.inside).then_some(source));
        } else if !f.inside && nat != Nat::Never {
            bytes = alias_contact(&bytes, source, nat == Nat::Always).unwrap_or(bytes);
        }
        if let Some(p) = cx.profiles.of_peer(target.hop.addr.ip(), target.hop.transport) {
            bytes = profile_headers(cx.counters, &bytes, p);
        }
        Ok(bytes)
    }

    /// [`Self::forward_copy`] for a branch: a copy too close to the MTU for
    /// UDP goes over TCP instead (RFC 3261 §18.1.1), `target` changed to say
    /// so (and the copy's Via).
    pub(super) fn branch_copy(
        &mut self,
        cx: &mut Ctx<'_>,
        f: &Forward,
        msg: &Message<'_>,
        target: &mut Target,
    ) -> Result<Vec<u8>, Refusal> {
        match self.forward_copy(cx, f, msg, target) {
            Ok(bytes) if cx.too_big_for_udp(&target.hop, bytes.len()) => {
                target.hop.transport = Transport::Tcp;
                cx.protect.udp_to_tcp += 1;
                self.forward_copy(cx, f, msg, target)
            }
            copy => copy,
        }
    }

    /// A 2xx's ACK (or any request without a transaction): one copy, no
    /// state; its SDP (a late offer's answer) filtered.
    pub(super) fn forward_stateless(
        &mut self,
        cx: &mut Ctx<'_>,
        origin: Origin,
        profile: Option<u16>,
        msg: &Message<'_>,
        target: &Target,
    ) {
        self.seq += 1;
        let inside = self.cfg.trusts(origin.peer.ip());
        let f = Forward { origin, inside, record_route: false, seq: self.seq, profile };
        let copy = match self.sdp_body_relayed(cx.counters, msg) {
            None => self.forward_copy(cx, &f, msg, target),
            Some(body) => {
                let filtered = with_body(msg, &body);
                match sip::scan(&filtered, Framing::Datagram) {
                    Ok(Status::Complete(m)) => self.forward_copy(cx, &f, &m, target),
                    _ => Err((500, "Server Internal Error")),
                }
            }
        };
        match copy {
            Ok(bytes) => cx.send_hop(target.hop, bytes),
            Err(_) => cx.counters.wire.drops.add(Drop::StatelessForwardRefused),
        }
    }

    /// Branch `b`'s response made ready for the sender: our Via off, and
    /// the inside hidden or restored when topology hiding is on.
    pub(super) fn upstream_response(&mut self, cx: &mut Ctx<'_>, tx: &Tx, b: usize, msg: &Message<'_>) -> Vec<u8> {
        let mut bytes = self.relayed_response(cx.counters, msg, tx.inside);
        let target = &tx.branches[b].target;
        if self.cfg.topology_hiding {
            let (to_outside, restore) = (!tx.inside && target.inside, tx.inside && !target.inside);
            let dest = (!target.inside).then_some(target.hop);
            bytes = self.hide_response(
                cx,
                &bytes,
                to_outside,
                if restore { tx.request.as_ref().map(Stored::bytes) } else { None },
                dest,
            );
        } else if !target.inside {
            bytes = alias_contact(&bytes, target.hop, false).unwrap_or(bytes);
        }
        match tx.profile.and_then(|p| cx.profiles.0.get(p as usize)).filter(|p| p.edits_headers()) {
            Some(p) => profile_headers(cx.counters, &bytes, p),
            None => bytes,
        }
    }

    /// A 2xx that matched no transaction: our Via off, on to the next Via.
    pub(super) fn forward_late_2xx(&self, cx: &mut Ctx<'_>, msg: &Message<'_>) {
        let Some((second, _)) = msg.values(HeaderName::Via).nth(1) else {
            return cx.counters.wire.drops.add(Drop::Late2xxWithoutVia);
        };
        let Ok(via) = sip::parse_via(second) else {
            return cx.counters.wire.drops.add(Drop::Late2xxBadVia);
        };
        let host = via.received().unwrap_or(via.host);
        let port = match via.rport() {
            Some(Some(p)) => p,
            _ => via.port.unwrap_or(5060),
        };
        let uri = [b"sip:", host, b":", port.to_string().as_bytes()].concat();
        let Some(mut hop) = sip::parse_uri(&uri).ok().and_then(|u| crate::core::proxy::route::hop_of_uri(&u)) else {
            return;
        };
        if via.transport.eq_ignore_ascii_case(b"TCP") {
            hop.transport = Transport::Tcp;
        }
        let bytes = self.relayed_response(cx.counters, msg, self.cfg.trusts(hop.addr.ip()));
        cx.send_hop(hop, bytes);
    }

    /// A response without its top Via value (ours: its branch found the
    /// transaction), every other byte as it came (§16.7 step 3) but for
    /// hygiene: its SDP filtered, the header patterns for where it goes
    /// (`to_inside`: the core) removed. One pass.
    fn relayed_response(&self, counters: &mut Counters, msg: &Message<'_>, to_inside: bool) -> Vec<u8> {
        let body = self.sdp_body_relayed(counters, msg);
        let mut e = Editor::new(msg);
        e.remove_first_value(HeaderName::Via);
        self.strip_headers(counters, &mut e, to_inside);
        if let Some(b) = &body {
            e.set_body(b);
        }
        let mut out = Vec::with_capacity(msg.buf.len());
        e.write(&mut out);
        out
    }

    /// `bytes` (a request to forward) without the header lines hygiene
    /// removes towards `to_inside`, and without Proxy-Authorization when
    /// `credentials`.
    fn without_headers(&self, counters: &mut Counters, bytes: &[u8], credentials: bool, to_inside: bool) -> Vec<u8> {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else {
            return bytes.to_vec();
        };
        let mut e = Editor::new(&msg);
        if credentials {
            e.remove_header_lines(HeaderName::ProxyAuthorization, 0);
        }
        self.strip_headers(counters, &mut e, to_inside);
        let mut out = Vec::with_capacity(bytes.len());
        e.write(&mut out);
        out
    }
}

/// A message for a peer of profile `p` (an answer to its device, a
/// request to its address): its `strip_headers` removed, its `add_headers` added.
pub(super) fn profile_headers(counters: &mut Counters, bytes: &[u8], p: &crate::core::profile::Profile) -> Vec<u8> {
    let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else {
        return bytes.to_vec();
    };
    let mut e = Editor::new(&msg);
    counters.proxy.headers_removed += e.remove_matching(&p.strip_headers) as u64;
    for (name, value) in &p.add_headers {
        e.insert_header_first(name, value);
    }
    let mut out = Vec::with_capacity(bytes.len() + 64);
    e.write(&mut out);
    out
}

impl Ctx<'_> {
    /// A request of `len` bytes for a UDP next hop above `protect.udp_mtu`,
    /// when the edge has a TCP listener to send it from instead.
    fn too_big_for_udp(&self, hop: &NextHop, len: usize) -> bool {
        hop.transport == Transport::Udp
            && hop.flow.is_none()
            && len > self.udp_mtu
            && self.listeners.iter().any(|l| l.transport == Transport::Tcp)
    }

    /// Tells the shard which name `target`'s certificate must carry, when
    /// the branch may open a TLS connection to it (RFC 5922 §4).
    pub(super) fn name_tls_peer(&mut self, target: &Target) {
        let hop = &target.hop;
        if let (Transport::Tls, None, Some(name)) = (hop.transport, hop.flow, &target.tls_name) {
            self.out.push(Output::TlsName { peer: hop.addr, name: name.clone() });
        }
    }

    /// Sends to a next hop: a datagram, the connection it names (through
    /// the shard that owns it), or a connection to its address.
    pub(super) fn send_hop(&mut self, hop: NextHop, bytes: Vec<u8>) {
        let dest = match (hop.transport, hop.flow) {
            (Transport::Udp, _) => Dest::Udp { listener: self.listener_index_for(&hop), peer: hop.addr },
            (_, Some(f)) if f.shard != self.shard => {
                self.counters.wire.mesh_sent += 1;
                return self.out.push(Output::ToShard {
                    shard: f.shard,
                    msg: MeshMsg::FlowSend { flow: f, peer: hop.addr, bytes },
                });
            }
            (_, Some(f)) => Dest::Flow(f),
            (Transport::Tcp | Transport::Tls, None) => {
                Dest::Tcp { peer: hop.addr, tls: hop.transport == Transport::Tls }
            }
            (Transport::Ws | Transport::Wss, None) => return self.counters.wire.drops.add(Drop::NoOutgoingWebSocket),
        };
        self.counters.proxy.relayed += 1;
        self.out.push(Output::Send { dest, bytes });
    }
}

impl Edge {
    /// Sends to a next hop (a connection of this shard another shard asked
    /// it to write, `MeshMsg::FlowSend`).
    pub(super) fn send_hop(&mut self, hop: NextHop, bytes: Vec<u8>, out: &mut Vec<Output>) {
        self.proxy_cx(out).1.send_hop(hop, bytes)
    }
}
