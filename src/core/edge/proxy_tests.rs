//! The transaction-stateful proxy of the edge (`proxy.rs`, `branch.rs`,
//! `hide.rs`) end to end, sans-IO and deterministic: simulated peers (a
//! caller, phones registered at the edge, the core's upstreams: just
//! addresses) hand the edge bytes, what it sends comes out as `Output`s and
//! is answered by the test, and a virtual millisecond clock drives the
//! transaction timers. Several `Edge`s form a multi-shard edge, with
//! `Output::ToShard` delivered as `Input::Mesh`, and asks routed as
//! `shard::services` does: to the shard they name, whose answer comes back
//! as `Input::Answer` (or answered `Unreachable`, or held, as a test says).
//!
//! Owns: forwarding to bindings (Request-URI, Via, Max-Forwards,
//! Record-Route, parallel forking, `max_branches`), the answers (relay,
//! retransmissions, CANCEL of losing branches, hop-by-hop ACK), CANCEL from
//! the caller, the 2xx's ACK and in-dialog requests, routes to the core with
//! failover and `map_answers`, the §16.3 checks (483, 482, Route trust,
//! relaying, 407), topology hiding and cross-shard lookups. Message
//! hygiene (SDP codecs, header patterns) is `proxy_tests/hygiene.rs`, the
//! registrar `register_tests.rs`, the stateless rewriting `core::proxy::tests`.

use super::tests::NOW;
use super::*;
use crate::core::auth::{Algorithm, Users};
use crate::core::net::Cidr;
use crate::core::proxy::route::{Route, RouteUpstream};
use crate::core::proxy::state::ProxyConfig;
use crate::core::registrar::{RegistrarConfig, Terms};
use crate::core::transaction::Timers;
use crate::core::{Answer, Ask, Origin, Transport};
use crate::sip::{parse_name_addr, parse_via, Framing, HeaderName as H};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

// ---------------------------------------------------------------- the network

/// The edge's one listener, and the Record-Route it writes.
pub(super) const EDGE: &str = "192.0.2.1:5060";
pub(super) const EDGE_RR: &str = "<sip:192.0.2.1:5060;transport=udp;lr>";
pub(super) const DOMAIN: &str = "example.com";
/// T1 of these tests: Timers B and F (64·T1) are 3.2 s of virtual time.
pub(super) const T1: u64 = 50;
/// Inside (trusted, 10.0.0.0/8): a softswitch and the two upstreams of the
/// route to `carrier.example` (the second is backup only).
pub(super) const CORE: &str = "10.0.0.5:5060";
const UP_A: &str = "10.0.1.1:5060";
const UP_B: &str = "10.0.1.2:5060";
pub(super) const CARRIER: &str = "sip:+15551234@carrier.example";
/// Outside: Bob's phones (public side of their NAT) and Alice, a local user.
const BOB_1: &str = "203.0.113.10:40000";
const BOB_2: &str = "203.0.113.11:40000";
const BOB_3: &str = "203.0.113.12:40000";
pub(super) const ALICE: &str = "203.0.113.20:5060";

/// One UDP listener, registrar for example.com, the core trusted, T1 = 50 ms,
/// the carrier route. No auth, no topology hiding.
pub(super) fn config() -> EdgeConfig {
    let edge: SocketAddr = EDGE.parse().unwrap();
    EdgeConfig {
        shard: 0,
        shards: 1,
        local_hosts: local_hosts(edge, ""),
        local_ports: vec![5060],
        max_message_bytes: 8192,
        protect: Default::default(),
        registrar: RegistrarConfig {
            domains: vec![DOMAIN.as_bytes().to_vec()],
            terms: Terms {
                default_expires: 3600,
                min_expires: 60,
                max_expires: 7200,
                max_contacts: 5,
                flow_timer: 120,
            },
            replace_oldest: false,
            mid: None,
        },
        auth: None,
        listeners: vec![Listener::new(Transport::Udp, edge, "")],
        proxy: ProxyConfig {
            timers: Timers { t1: T1, t2: 8 * T1, t4: 10 * T1 },
            trusted: vec![Cidr { net: "10.0.0.0".parse().unwrap(), bits: 8 }],
            routes: vec![carrier_route()],
            ..ProxyConfig::default()
        },
        cluster: None,
        profiles: Default::default(),
    }
}

/// The route to `carrier.example`: UP_A, then UP_B (backup only).
fn carrier_route() -> Route {
    let up = |addr: &str, weight| RouteUpstream {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
        name: None,
        weight,
        tls_name: None,
    };
    Route { domain: b"carrier.example".to_vec(), prefix: Vec::new(), upstreams: vec![up(UP_A, 1), up(UP_B, 0)] }
}

/// One message the edge sent: from which shard, where to, the bytes.
pub(super) struct Sent {
    pub shard: u16,
    pub dest: Dest,
    pub bytes: Vec<u8>,
}

impl Sent {
    pub(super) fn peer(&self) -> Option<SocketAddr> {
        match self.dest {
            Dest::Udp { peer, .. } | Dest::Tcp { peer, .. } => Some(peer),
            Dest::Flow(_) => None,
        }
    }

    pub(super) fn msg(&self) -> crate::sip::Message<'_> {
        crate::sip::scan(&self.bytes, Framing::Datagram)
            .ok()
            .and_then(|s| s.complete())
            .unwrap_or_else(|| panic!("does not scan: {}", self.text()))
    }

    pub(super) fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap()
    }

    pub(super) fn status(&self) -> u16 {
        self.msg().code().unwrap_or_else(|| panic!("not a response: {}", self.text()))
    }

    pub(super) fn method(&self) -> String {
        let m = self.msg().method().unwrap_or_else(|| panic!("not a request: {}", self.text()));
        String::from_utf8(m.as_bytes().to_vec()).unwrap()
    }

    pub(super) fn ruri(&self) -> String {
        match self.msg().start {
            crate::sip::StartLine::Request { uri, .. } => String::from_utf8(uri.to_vec()).unwrap(),
            _ => panic!("not a request: {}", self.text()),
        }
    }

    /// The first `name` line's value; panics when there is none.
    pub(super) fn header(&self, name: H) -> String {
        let v = self.msg().header(name).unwrap_or_else(|| panic!("no {name:?}: {}", self.text()));
        String::from_utf8(v.to_vec()).unwrap()
    }

    /// Every value of `name`, list headers split at commas.
    pub(super) fn values(&self, name: H) -> Vec<String> {
        self.msg().values(name).map(|(v, _)| String::from_utf8(v.to_vec()).unwrap()).collect()
    }

    /// The branch of the top Via.
    pub(super) fn branch(&self) -> String {
        let top = self.values(H::Via).into_iter().next().expect("a Via");
        String::from_utf8(parse_via(top.as_bytes()).unwrap().branch().unwrap().to_vec()).unwrap()
    }

    /// A response a UAS (or the next hop) sends to this request: Via, From,
    /// To (tag added), Call-ID and CSeq copied; for 101–299 its
    /// Record-Route too (§12.1.1); then `extra`.
    pub(super) fn reply(&self, code: u16, to_tag: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let msg = self.msg();
        let rr = if (101..300).contains(&code) { self.values(H::RecordRoute) } else { Vec::new() };
        let mut lines: Vec<(&str, &[u8])> = rr.iter().map(|v| ("Record-Route", v.as_bytes())).collect();
        lines.extend(extra.iter().map(|(n, v)| (*n, v.as_bytes())));
        let mut out = Vec::new();
        crate::sip::write_response(
            &msg,
            None,
            code,
            reason(code),
            Some(to_tag.as_bytes()),
            None,
            &lines,
            b"",
            &mut out,
        );
        out
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        486 => "Busy Here",
        487 => "Request Terminated",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// The edge's shards, the clock, and what went on the wire.
pub(super) struct Net {
    pub edges: Vec<Edge>,
    /// Unix milliseconds.
    pub now: u64,
    /// Sent by the edge and not looked at yet, in order.
    pub wire: Vec<Sent>,
    /// Mesh traffic, as "from->to Kind".
    pub mesh: Vec<String>,
    /// Numbers the branches of the REGISTERs the harness sends.
    pub seq: u32,
    /// Connections that are gone: what a shard writes to them comes back
    /// to it as `Input::Undeliverable`, as `shard::io` does.
    pub dead: Vec<crate::core::FlowId>,
    /// What becomes of asks.
    pub asks: Asks,
    /// Asks held back (`Asks::Hold`): asking shard, token, question.
    pub held: Vec<(u16, u64, Ask)>,
    /// Trace records the shards emitted (`core::trace`).
    pub traces: Vec<crate::core::trace::Trace>,
    /// The names TLS peers' certificates must carry (`Output::TlsName`).
    pub tls_names: Vec<(std::net::SocketAddr, String)>,
}

/// What the simulated mesh does with an ask.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Asks {
    /// Served by the shard it names at once.
    Deliver,
    /// The mesh is full: answered `Unreachable` at once.
    Unreachable,
    /// Kept in `Net::held` until the test releases them.
    Hold,
}

impl Net {
    pub(super) fn new(cfg: EdgeConfig) -> Net {
        Net::shards(cfg, 1)
    }

    pub(super) fn shards(cfg: EdgeConfig, n: u16) -> Net {
        let edges =
            (0..n).map(|shard| Edge::new(EdgeConfig { shard, shards: n, ..cfg.clone() }, NOW * 1000, 0)).collect();
        Net {
            edges,
            now: NOW * 1000,
            wire: Vec::new(),
            mesh: Vec::new(),
            seq: 0,
            dead: Vec::new(),
            asks: Asks::Deliver,
            held: Vec::new(),
            traces: Vec::new(),
            tls_names: Vec::new(),
        }
    }

    /// `bytes` sent by `from` to the edge: shard 0's socket gets them.
    pub(super) fn send(&mut self, from: &str, bytes: &[u8]) {
        self.deliver(0, from, bytes)
    }

    /// `bytes` from `from`, received by shard `shard`.
    pub(super) fn deliver(&mut self, shard: u16, from: &str, bytes: &[u8]) {
        let origin = Origin { transport: Transport::Udp, listener: 0, peer: from.parse().unwrap(), flow: None };
        self.deliver_from(shard, origin, bytes)
    }

    /// `bytes` that arrived at shard `shard` from `origin` (a flow, say).
    pub(super) fn deliver_from(&mut self, shard: u16, origin: Origin, bytes: &[u8]) {
        let mut out = Vec::new();
        self.edges[shard as usize].handle(self.now, Input::Packet(Packet { origin, bytes }), &mut out);
        self.settle(shard, out);
    }

    /// Performs what a shard asked for: sends go on the wire, mesh messages
    /// are handled by their shard at once (and what that asks for in turn);
    /// then every shard settles (`Edge::settle`: quiet transactions linger).
    pub(super) fn settle(&mut self, shard: u16, out: Vec<Output>) {
        let mut queue: VecDeque<(u16, Output)> = out.into_iter().map(|o| (shard, o)).collect();
        while let Some((from, o)) = queue.pop_front() {
            match o {
                Output::Trace(t) => self.traces.push(*t),
                Output::Ban(_) => {}
                Output::TlsName { peer, name } => self.tls_names.push((peer, name.to_string())),
                Output::Send { dest: Dest::Flow(f), bytes } if self.dead.contains(&f) => {
                    let mut more = Vec::new();
                    self.edges[from as usize].handle(self.now, Input::Undeliverable(&bytes), &mut more);
                    queue.extend(more.into_iter().map(|o| (from, o)));
                }
                Output::Send { dest, bytes } => self.wire.push(Sent { shard: from, dest, bytes }),
                Output::Ask { token, ask } => {
                    let Some(to) = ask.shard() else {
                        // A room's ask (DNS): held for the test to answer (`answer_held`).
                        self.held.push((from, token, ask));
                        continue;
                    };
                    self.mesh.push(format!("{from}->{to} Ask {}", kind(&ask)));
                    let (at, input) = match self.asks {
                        Asks::Deliver => (to, Input::Mesh(MeshMsg::Ask { reply_to: from, token, ask })),
                        Asks::Unreachable => (from, Input::Answer { token, answer: Answer::Unreachable }),
                        Asks::Hold => {
                            self.held.push((from, token, ask));
                            continue;
                        }
                    };
                    let mut more = Vec::new();
                    self.edges[at as usize].handle(self.now, input, &mut more);
                    queue.extend(more.into_iter().map(|o| (at, o)));
                }
                Output::ToShard { shard: to, msg: MeshMsg::Answer { token, answer } } => {
                    self.mesh.push(format!("{from}->{to} Answer {}", kind(&answer)));
                    let mut more = Vec::new();
                    self.edges[to as usize].handle(self.now, Input::Answer { token, answer }, &mut more);
                    queue.extend(more.into_iter().map(|o| (to, o)));
                }
                Output::ToShard { shard: to, msg } => {
                    self.mesh.push(format!("{from}->{to} {}", kind(&msg)));
                    let mut more = Vec::new();
                    self.edges[to as usize].handle(self.now, Input::Mesh(msg), &mut more);
                    queue.extend(more.into_iter().map(|o| (to, o)));
                }
                Output::Close(flow) => panic!("no connection to close here: {flow:?}"),
            }
        }
        // As a shard does once a batch's outputs are out.
        for edge in &mut self.edges {
            edge.settle();
        }
    }

    /// Answers every held ask that `pick` takes with what it returns.
    pub(super) fn answer_held(&mut self, mut pick: impl FnMut(&Ask) -> Option<Answer>) -> usize {
        let mut n = 0;
        for (from, token, ask) in std::mem::take(&mut self.held) {
            let Some(answer) = pick(&ask) else {
                self.held.push((from, token, ask));
                continue;
            };
            n += 1;
            let mut out = Vec::new();
            self.edges[from as usize].handle(self.now, Input::Answer { token, answer }, &mut out);
            self.settle(from, out);
        }
        n
    }

    /// Delivers the held asks to the shards they name (their answers come back).
    pub(super) fn release(&mut self) {
        for (from, token, ask) in std::mem::take(&mut self.held) {
            let to = ask.shard().expect("a shard's ask");
            let mut out = Vec::new();
            self.edges[to as usize].handle(
                self.now,
                Input::Mesh(MeshMsg::Ask { reply_to: from, token, ask }),
                &mut out,
            );
            self.settle(to, out);
        }
    }

    /// Moves the clock `ms` on in 10 ms steps, running every shard's timers.
    pub(super) fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + 10).min(end);
            for s in 0..self.edges.len() {
                let mut out = Vec::new();
                self.edges[s].tick(self.now, &mut out);
                self.settle(s as u16, out);
            }
        }
    }

    /// Everything sent to `peer` and not looked at yet, in order.
    pub(super) fn take(&mut self, peer: &str) -> Vec<Sent> {
        let peer: SocketAddr = peer.parse().unwrap();
        let (to, rest) = std::mem::take(&mut self.wire).into_iter().partition(|s| s.peer() == Some(peer));
        self.wire = rest;
        to
    }

    /// Everything written to `flow` and not looked at yet, in order.
    pub(super) fn on_flow(&mut self, flow: crate::core::FlowId) -> Vec<Sent> {
        let (to, rest) = std::mem::take(&mut self.wire).into_iter().partition(|s| s.dest == Dest::Flow(flow));
        self.wire = rest;
        to
    }

    /// The one message sent to `peer`.
    pub(super) fn one(&mut self, peer: &str) -> Sent {
        let mut all = self.take(peer);
        let texts: Vec<&str> = all.iter().map(Sent::text).collect();
        assert_eq!(all.len(), 1, "expected one message to {peer}, got {texts:#?}\nelsewhere: {:#?}", self.pending());
        all.pop().unwrap()
    }

    /// Nothing was sent that the test has not looked at.
    pub(super) fn quiet(&self) {
        assert!(self.wire.is_empty(), "unexpected: {:#?}", self.pending());
    }

    pub(super) fn pending(&self) -> Vec<String> {
        self.wire.iter().map(|s| format!("to {:?}: {}", s.peer(), s.text())).collect()
    }

    /// `user` registers `contact` from `from` (no auth); asserts the 200.
    pub(super) fn register(&mut self, user: &str, from: &str, contact: &str) {
        let req = self.register_request(user, from, contact, "UDP");
        self.send(from, &req);
        let ok = self.one(from);
        assert_eq!(ok.status(), 200, "{}", ok.text());
    }

    /// `user` registers `contact` over connection `flow` from `from`, which
    /// shard `flow.shard` accepted; asserts the 200 written to that flow.
    pub(super) fn register_on_flow(&mut self, user: &str, from: &str, contact: &str, flow: crate::core::FlowId) {
        let origin = Origin { transport: Transport::Tcp, listener: 0, peer: from.parse().unwrap(), flow: Some(flow) };
        let req = self.register_request(user, from, contact, "TCP");
        self.deliver_from(flow.shard, origin, &req);
        let at = self.wire.iter().position(|s| s.dest == Dest::Flow(flow)).expect("an answer on the flow");
        let ok = self.wire.remove(at);
        assert_eq!(ok.status(), 200, "{}", ok.text());
    }

    pub(super) fn register_request(&mut self, user: &str, from: &str, contact: &str, via: &str) -> Vec<u8> {
        self.seq += 1;
        let n = self.seq;
        format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/{via} {from};branch=z9hG4bKreg{n};rport\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@{DOMAIN}>;tag=r{n}\r\nTo: <sip:{user}@{DOMAIN}>\r\nCall-ID: reg-{n}\r\nCSeq: 1 REGISTER\r\n\
             Contact: <{contact}>\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    pub(super) fn counters(&self) -> &crate::core::Counters {
        &self.edges[0].counters
    }
}

/// The variant name of a message, as the mesh log writes it.
fn kind(x: &dyn std::fmt::Debug) -> String {
    format!("{x:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string()
}

/// One side of a call as it writes its requests.
#[derive(Clone)]
pub(super) struct Call {
    /// Where it sends from (also its Via sent-by).
    pub at: String,
    pub from: String,
    /// To, with the remote tag once the dialog exists.
    pub to: String,
    pub call_id: String,
}

impl Call {
    pub(super) fn new(at: &str, from_uri: &str, to_uri: &str, call_id: &str) -> Call {
        Call {
            at: at.into(),
            from: format!("<{from_uri}>;tag=t-{call_id}"),
            to: format!("<{to_uri}>"),
            call_id: call_id.into(),
        }
    }

    /// The same call once the far end's To tag is known (from its answer).
    pub(super) fn in_dialog(&self, answer: &Sent) -> Call {
        Call { to: answer.header(H::To), ..self.clone() }
    }

    /// A request of this call: one Via (branch `branch`), Max-Forwards 70,
    /// From, To, Call-ID, CSeq, then `extra` lines.
    pub(super) fn request(&self, method: &str, ruri: &str, branch: &str, cseq: u32, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\n",
            self.at, self.from, self.to, self.call_id
        );
        for (name, value) in extra {
            s.push_str(&format!("{name}: {value}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s.into_bytes()
    }

    /// The INVITE to the To URI, CSeq 1, with a Contact.
    pub(super) fn invite(&self, branch: &str) -> Vec<u8> {
        let ruri = parse_name_addr(self.to.as_bytes()).unwrap().uri_raw.to_vec();
        let contact = format!("<sip:caller@{}>", self.at);
        self.request("INVITE", std::str::from_utf8(&ruri).unwrap(), branch, 1, &[("Contact", &contact)])
    }

    /// The INVITE's CANCEL (same branch, same Request-URI, CSeq 1 CANCEL).
    pub(super) fn cancel(&self, branch: &str) -> Vec<u8> {
        let ruri = parse_name_addr(self.to.as_bytes()).unwrap().uri_raw.to_vec();
        self.request("CANCEL", std::str::from_utf8(&ruri).unwrap(), branch, 1, &[])
    }
}

/// The caller's INVITE has gone in: its 100 Trying, and the one copy `to` got.
pub(super) fn trying_then_forwarded(net: &mut Net, caller: &str, to: &str) -> Sent {
    let trying = net.one(caller);
    assert_eq!(trying.status(), 100, "{}", trying.text());
    let inv = net.one(to);
    assert_eq!(inv.method(), "INVITE", "{}", inv.text());
    inv
}

/// The edge's ACK of a 3xx–6xx on a branch: hop by hop, same branch and
/// Request-URI as the INVITE it acknowledges, To of the response.
pub(super) fn assert_hop_ack(ack: &Sent, invite: &Sent, to_tag: &str) {
    assert_eq!(ack.method(), "ACK", "{}", ack.text());
    assert_eq!(ack.branch(), invite.branch());
    assert_eq!(ack.ruri(), invite.ruri());
    assert_eq!(ack.header(H::CSeq), "1 ACK");
    assert!(ack.header(H::To).ends_with(&format!(";tag={to_tag}")), "{}", ack.text());
}

pub(super) fn is_ours(branch: &str, shard: u16) -> bool {
    branch.starts_with(&format!("z9hG4bK-{shard:x}-"))
}

// ---------------------------------------------------------------- calls to a registered phone

#[test]
fn a_call_from_the_core_reaches_the_registered_phone_behind_nat_and_the_dialog_follows_the_record_route() {
    let mut net = Net::new(config());
    // The phone listens on 5062; its REGISTER left by the NAT's port 40000.
    let contact = "sip:bob@203.0.113.10:5062";
    net.register("bob", BOB_1, contact);

    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c1");
    net.send(CORE, &call.invite("z9hG4bKc1"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    assert_eq!(inv.ruri(), contact);
    let vias = inv.values(H::Via);
    assert_eq!(vias.len(), 2, "{}", inv.text());
    assert!(vias[0].starts_with("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-0-"), "{}", vias[0]);
    assert!(vias[1].starts_with("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKc1"), "{}", vias[1]);
    assert_eq!(inv.header(H::MaxForwards), "69");
    assert_eq!(inv.values(H::RecordRoute), vec![EDGE_RR]);
    assert_eq!(inv.header(H::CallId), "c1");
    net.quiet();

    // 180 and 200 reach the caller with the edge's Via taken off.
    // Its Via as the edge relayed it: rport filled, received added (RFC 3581).
    let caller_via = [format!("SIP/2.0/UDP {CORE};branch=z9hG4bKc1;rport=5060;received=10.0.0.5")];
    net.send(BOB_1, &inv.reply(180, "bob1", &[]));
    let ringing = net.one(CORE);
    assert_eq!(ringing.status(), 180);
    assert_eq!(ringing.values(H::Via), caller_via);
    net.send(BOB_1, &inv.reply(200, "bob1", &[("Contact", &format!("<{contact}>"))]));
    let ok = net.one(CORE);
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.values(H::Via), caller_via);
    assert_eq!(ok.values(H::RecordRoute), vec![EDGE_RR], "the core's route set is the edge");
    assert!(ok.header(H::To).ends_with(";tag=bob1"));
    net.quiet();

    // The phone's Contact is not where it is (NAT): the edge says where, in an alias.
    let remote_target = parse_name_addr(ok.header(H::Contact).as_bytes()).unwrap().uri_raw.to_vec();
    let remote_target = String::from_utf8(remote_target).unwrap();
    assert_eq!(remote_target, format!("{contact};alias=203.0.113.10~40000~1"));

    // The 2xx's ACK (a new transaction) goes end to end through the edge, to the NAT's address.
    let dialog = call.in_dialog(&ok);
    net.send(CORE, &dialog.request("ACK", &remote_target, "z9hG4bKc1ack", 1, &[("Route", EDGE_RR)]));
    let ack = net.one(BOB_1);
    assert_eq!((ack.method(), ack.ruri()), ("ACK".to_string(), contact.to_string()), "alias taken off");
    assert!(ack.values(H::Route).is_empty(), "the edge's Route is consumed: {}", ack.text());
    assert!(is_ours(&ack.branch(), 0) && ack.branch() != inv.branch());
    assert_eq!(ack.header(H::MaxForwards), "69");
    assert!(ack.header(H::To).ends_with(";tag=bob1"));
    net.quiet();

    // So does the BYE, and its 200 comes back.
    net.send(CORE, &dialog.request("BYE", &remote_target, "z9hG4bKc1bye", 2, &[("Route", EDGE_RR)]));
    let bye = net.one(BOB_1);
    assert_eq!((bye.method(), bye.ruri()), ("BYE".to_string(), contact.to_string()));
    assert!(bye.values(H::RecordRoute).is_empty(), "only dialog-creating requests are record-routed");
    assert_eq!(bye.values(H::Via).len(), 2);
    net.send(BOB_1, &bye.reply(200, "bob1", &[]));
    let bye_ok = net.one(CORE);
    assert_eq!(bye_ok.status(), 200);
    assert_eq!(bye_ok.header(H::CSeq), "2 BYE");
    assert_eq!(bye_ok.values(H::Via), [format!("SIP/2.0/UDP {CORE};branch=z9hG4bKc1bye;rport=5060;received=10.0.0.5")]);
    net.quiet();
}

#[test]
fn an_invite_retransmission_gets_the_last_provisional_and_is_not_forwarded_again() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c2");
    let invite = call.invite("z9hG4bKc2");
    net.send(CORE, &invite);
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);

    net.send(CORE, &invite);
    assert_eq!(net.one(CORE).status(), 100);
    net.quiet();

    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(CORE, &invite);
    let again = net.one(CORE);
    assert_eq!(again.status(), 180, "the last provisional, not the 100");
    net.quiet();
    assert_eq!(net.counters().proxy.branches, 1);
}

#[test]
fn parallel_forking_relays_the_2xx_and_cancels_the_ringing_branch_whose_487_stays_at_the_edge() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    net.register("bob", BOB_2, "sip:bob@203.0.113.11:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c3");
    net.send(CORE, &call.invite("z9hG4bKc3"));
    assert_eq!(net.one(CORE).status(), 100);
    let (inv1, inv2) = (net.one(BOB_1), net.one(BOB_2));
    assert_eq!(
        (inv1.ruri().as_str(), inv2.ruri().as_str()),
        ("sip:bob@203.0.113.10:40000", "sip:bob@203.0.113.11:40000")
    );
    assert!(is_ours(&inv1.branch(), 0) && is_ours(&inv2.branch(), 0));
    assert_ne!(inv1.branch(), inv2.branch());

    net.send(BOB_1, &inv1.reply(180, "b1", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(BOB_2, &inv2.reply(180, "b2", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(BOB_2, &inv2.reply(200, "b2", &[]));
    let ok = net.one(CORE);
    assert_eq!(ok.status(), 200);
    assert!(ok.header(H::To).ends_with(";tag=b2"));

    // The ringing branch is cancelled: same branch, same Request-URI.
    let cancel = net.one(BOB_1);
    assert_eq!(cancel.method(), "CANCEL", "{}", cancel.text());
    assert_eq!(cancel.branch(), inv1.branch());
    assert_eq!(cancel.ruri(), inv1.ruri());
    assert_eq!(cancel.header(H::CSeq), "1 CANCEL");
    assert_eq!(cancel.header(H::CallId), "c3");
    assert_eq!(cancel.header(H::To), inv1.header(H::To));
    net.quiet();

    // Its 200 and the INVITE's 487: the edge ACKs the 487, the caller hears nothing.
    net.send(BOB_1, &cancel.reply(200, "b1", &[]));
    net.quiet();
    net.send(BOB_1, &inv1.reply(487, "b1", &[]));
    assert_hop_ack(&net.one(BOB_1), &inv1, "b1");
    net.quiet();
    assert_eq!(net.counters().proxy.cancels_sent, 1);
}

#[test]
fn a_binding_whose_flow_is_gone_fails_its_branch_at_once_and_forking_goes_on() {
    let mut net = Net::new(config());
    let flow = crate::core::FlowId { shard: 0, conn: 7 };
    net.register_on_flow("bob", BOB_1, "sip:bob@10.1.1.1:5060;transport=tcp", flow);
    net.register("bob", BOB_2, "sip:bob@203.0.113.11:40000");
    net.dead.push(flow);
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "f1");
    net.send(CORE, &call.invite("z9hG4bKf1"));
    assert_eq!(net.one(CORE).status(), 100);
    let inv = net.one(BOB_2);
    assert_eq!(net.counters().proxy.flow_failures, 1);
    net.quiet();
    // The live binding answers; no retransmission ever goes to the dead flow.
    net.send(BOB_2, &inv.reply(200, "b2", &[]));
    assert_eq!(net.one(CORE).status(), 200);
    net.advance(64 * T1);
    net.quiet();
}

#[test]
fn when_every_bindings_flow_is_gone_the_caller_gets_480_at_once_even_across_shards() {
    let mut net = Net::shards(config(), 2);
    let user = (0..)
        .map(|i| format!("user{i}"))
        .find(|u| owner::shard_of(format!("sip:{u}@{DOMAIN}").as_bytes(), 2) == 0)
        .unwrap();
    // The connection is shard 1's: the call on shard 0 writes it over the mesh.
    let flow = crate::core::FlowId { shard: 1, conn: 3 };
    net.register_on_flow(&user, BOB_1, &format!("sip:{user}@10.1.1.1:5060;transport=tcp"), flow);
    net.dead.push(flow);
    net.mesh.clear();
    let call = Call::new(CORE, "sip:+15550001@example.com", &format!("sip:{user}@{DOMAIN}"), "f2");
    net.send(CORE, &call.invite("z9hG4bKf2"));
    let answers: Vec<u16> = net.take(CORE).iter().map(Sent::status).collect();
    assert_eq!(answers, [100, 480]);
    assert_eq!(net.mesh, ["0->1 FlowSend", "1->0 Undeliverable"]);
    assert_eq!(net.counters().proxy.flow_failures, 1);
    net.quiet();
}

#[test]
fn parallel_forking_starts_at_most_max_branches() {
    let mut cfg = config();
    cfg.proxy.max_branches = 2;
    let mut net = Net::new(cfg);
    let phones = [BOB_1, BOB_2, BOB_3];
    for p in phones {
        net.register("bob", p, &format!("sip:bob@{p}"));
    }
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c3b");
    net.send(CORE, &call.invite("z9hG4bKc3b"));
    assert_eq!(net.one(CORE).status(), 100);
    let mut invites: Vec<(&str, Sent)> =
        phones.iter().flat_map(|p| net.take(p).into_iter().map(move |s| (*p, s))).collect();
    assert_eq!(invites.len(), 2, "two of three bindings");
    net.quiet();

    // Both busy: the caller gets the 486, the third binding is never tried.
    for (i, (phone, inv)) in invites.drain(..).enumerate() {
        let tag = format!("busy{i}");
        net.send(phone, &inv.reply(486, &tag, &[]));
        assert_hop_ack(&net.one(phone), &inv, &tag);
    }
    let busy = net.one(CORE);
    assert_eq!(busy.status(), 486);
    net.quiet();
    assert_eq!(net.counters().proxy.branches, 2);
}

#[test]
fn a_cancel_from_the_caller_is_answered_200_sent_downstream_and_the_caller_gets_487() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c4");
    net.send(CORE, &call.invite("z9hG4bKc4"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);

    net.send(CORE, &call.cancel("z9hG4bKc4"));
    let cancel_ok = net.one(CORE);
    assert_eq!((cancel_ok.status(), cancel_ok.header(H::CSeq).as_str()), (200, "1 CANCEL"));
    let cancel = net.one(BOB_1);
    assert_eq!((cancel.method().as_str(), cancel.header(H::CSeq).as_str()), ("CANCEL", "1 CANCEL"));
    assert_eq!(cancel.branch(), inv.branch());
    net.quiet();

    net.send(BOB_1, &cancel.reply(200, "b", &[]));
    net.quiet();
    net.send(BOB_1, &inv.reply(487, "b", &[]));
    assert_hop_ack(&net.one(BOB_1), &inv, "b");
    let terminated = net.one(CORE);
    assert_eq!((terminated.status(), terminated.header(H::CSeq).as_str()), (487, "1 INVITE"));
    let via = terminated.values(H::Via);
    assert!(
        via.len() == 1 && via[0].starts_with(&format!("SIP/2.0/UDP {CORE};branch=z9hG4bKc4;")),
        "{}",
        terminated.text()
    );
    net.quiet();

    // Resent until the caller ACKs (Timer G), then absorbed: nothing goes downstream.
    net.advance(T1);
    assert_eq!(net.one(CORE).status(), 487);
    let ack = call.in_dialog(&terminated).request("ACK", "sip:bob@example.com", "z9hG4bKc4", 1, &[]);
    net.send(CORE, &ack);
    net.advance(10 * T1);
    net.quiet();
}

#[test]
fn a_cancel_before_any_provisional_waits_for_one_then_goes_downstream() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c4b");
    net.send(CORE, &call.invite("z9hG4bKc4b"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(CORE, &call.cancel("z9hG4bKc4b"));
    assert_eq!(net.one(CORE).status(), 200);
    net.quiet(); // §9.1: no CANCEL before a provisional
    net.send(BOB_1, &inv.reply(100, "", &[]));
    let cancel = net.one(BOB_1);
    assert_eq!((cancel.method().as_str(), cancel.branch()), ("CANCEL", inv.branch()));
    net.quiet();
}

#[test]
fn a_2xx_that_crosses_the_cancel_still_reaches_the_caller() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c4c");
    net.send(CORE, &call.invite("z9hG4bKc4c"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    assert_eq!(net.one(CORE).status(), 180);
    net.send(CORE, &call.cancel("z9hG4bKc4c"));
    assert_eq!(net.one(CORE).status(), 200);
    let cancel = net.one(BOB_1);
    assert_eq!(cancel.method(), "CANCEL");

    // The phone had already answered.
    net.send(BOB_1, &inv.reply(200, "b", &[]));
    let ok = net.one(CORE);
    assert_eq!((ok.status(), ok.header(H::CSeq).as_str()), (200, "1 INVITE"));
    net.send(BOB_1, &cancel.reply(481, "b", &[]));
    net.quiet();
}

// ---------------------------------------------------------------- routes to the core

/// Alice (a local user, no auth configured) calls the carrier.
fn alice_calls_the_carrier(net: &mut Net, id: &str) -> (Call, Sent) {
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, id);
    net.send(ALICE, &call.invite(&format!("z9hG4bK{id}")));
    let inv = trying_then_forwarded(net, ALICE, UP_A);
    assert_eq!(inv.ruri(), CARRIER);
    assert_eq!(inv.values(H::RecordRoute), vec![EDGE_RR]);
    (call, inv)
}

#[test]
fn an_upstream_that_never_answers_fails_over_to_the_next_after_timer_b_and_goes_last_next_time() {
    let mut net = Net::new(config());
    let (_, first) = alice_calls_the_carrier(&mut net, "c5");

    // Timer A resends at 50, 150, 350, 750, 1550 and 3150 ms; Timer B at 3200.
    net.advance(64 * T1 - 10);
    let resent = net.take(UP_A);
    assert_eq!(resent.len(), 6);
    assert!(resent.iter().all(|r| r.bytes == first.bytes));
    net.quiet();
    net.advance(10);
    let second = net.one(UP_B);
    assert_eq!((second.method().as_str(), second.ruri().as_str()), ("INVITE", CARRIER));
    assert_ne!(second.branch(), first.branch());
    net.quiet(); // the caller hears nothing of the timeout

    net.send(UP_B, &second.reply(200, "carrier", &[("Contact", "<sip:+15551234@10.0.1.2>")]));
    let ok = net.one(ALICE);
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.values(H::Via), [format!("SIP/2.0/UDP {ALICE};branch=z9hG4bKc5;rport=5060;received=203.0.113.20")]);
    net.quiet();
    assert_eq!((net.counters().proxy.branch_timeouts, net.counters().proxy.failovers), (1, 1));

    // The upstream that timed out is down: the next call tries it last.
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "c5-next");
    net.send(ALICE, &call.invite("z9hG4bKc5next"));
    assert_eq!(trying_then_forwarded(&mut net, ALICE, UP_B).ruri(), CARRIER);
    net.quiet();
}

#[test]
fn a_503_from_an_upstream_is_acked_and_fails_over_at_once() {
    let mut net = Net::new(config());
    let (_, a) = alice_calls_the_carrier(&mut net, "c5b");
    net.send(UP_A, &a.reply(503, "a", &[]));
    assert_hop_ack(&net.one(UP_A), &a, "a");
    let b = net.one(UP_B);
    assert_eq!(b.method(), "INVITE");
    net.quiet(); // not relayed to Alice
    net.send(UP_B, &b.reply(200, "b", &[]));
    assert_eq!(net.one(ALICE).status(), 200);
    net.quiet();
    assert_eq!(net.counters().proxy.failovers, 1);
}

#[test]
fn when_every_upstream_answers_503_the_caller_gets_it_or_its_mapping() {
    for (map, code, reason) in
        [(vec![], 503, "Service Unavailable"), (vec![(503, 480)], 480, "Temporarily Unavailable")]
    {
        let mut cfg = config();
        cfg.proxy.map_answers = map;
        let mut net = Net::new(cfg);
        let (_, a) = alice_calls_the_carrier(&mut net, "c5c");
        net.send(UP_A, &a.reply(503, "a", &[]));
        assert_hop_ack(&net.one(UP_A), &a, "a");
        let b = net.one(UP_B);
        net.send(UP_B, &b.reply(503, "b", &[]));
        assert_hop_ack(&net.one(UP_B), &b, "b");
        let fin = net.one(ALICE);
        assert_eq!(fin.text().lines().next().unwrap(), format!("SIP/2.0 {code} {reason}"), "{}", fin.text());
        assert_eq!(fin.values(H::Via).len(), 1);
        net.quiet();
    }
}

#[test]
fn when_every_upstream_times_out_the_caller_gets_408() {
    let mut net = Net::new(config());
    alice_calls_the_carrier(&mut net, "c5d");
    net.advance(64 * T1);
    net.take(UP_A);
    assert_eq!(net.take(UP_B).len(), 1);
    net.advance(64 * T1);
    net.take(UP_B);
    let timeout = net.one(ALICE);
    assert_eq!(timeout.status(), 408, "{}", timeout.text());
    net.quiet();
    assert_eq!(net.counters().proxy.branch_timeouts, 2);
}

#[test]
fn a_traced_call_is_one_record_at_its_final_answer_with_its_duration() {
    let mut net = Net::new(config());
    let rules = vec![crate::core::trace::TraceRule::parse("alice@example.com").unwrap()];
    net.edges[0].set_trace(std::sync::Arc::new(crate::core::trace::TraceFilter::new(rules)));
    let (_, a) = alice_calls_the_carrier(&mut net, "tr1");
    net.advance(700);
    net.take(UP_A);
    // A busy from the first upstream is final: no failover, and the caller
    // hears it at once (the second upstream is an alternative, not a fork).
    net.send(UP_A, &a.reply(486, "a", &[]));
    assert_eq!(net.one(ALICE).status(), 486);
    assert_hop_ack(&net.one(UP_A), &a, "a");
    net.quiet();
    assert_eq!(net.traces.len(), 1, "one record, at the final answer: {:?}", net.traces);
    let t = &net.traces[0];
    assert_eq!((t.method.as_str(), t.from.as_str(), t.status), ("INVITE", "sip:alice@example.com", 486));
    assert!((700..=720).contains(&t.duration_ms), "{}", t.duration_ms);
    // Nobody traced: no record.
    let mut net = Net::new(config());
    let (_, a) = alice_calls_the_carrier(&mut net, "tr2");
    net.send(UP_A, &a.reply(486, "a", &[]));
    net.take(ALICE);
    assert!(net.traces.is_empty());
}

// ---------------------------------------------------------------- non-INVITE

#[test]
fn a_message_reaches_the_binding_and_its_200_comes_back_without_a_100() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "m1");
    net.send(CORE, &call.request("MESSAGE", "sip:bob@example.com", "z9hG4bKm1", 1, &[]));
    let msg = net.one(BOB_1);
    assert_eq!((msg.method().as_str(), msg.ruri().as_str()), ("MESSAGE", "sip:bob@203.0.113.10:40000"));
    assert!(msg.values(H::RecordRoute).is_empty());
    net.quiet();
    net.send(BOB_1, &msg.reply(200, "b", &[]));
    let ok = net.one(CORE);
    assert_eq!((ok.status(), ok.header(H::CSeq).as_str()), (200, "1 MESSAGE"));
    assert_eq!(ok.values(H::Via).len(), 1);
    net.quiet();
}

#[test]
fn a_message_nobody_answers_gets_408_after_timer_f() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "m2");
    net.send(CORE, &call.request("MESSAGE", "sip:bob@example.com", "z9hG4bKm2", 1, &[]));
    let msg = net.one(BOB_1);
    net.advance(64 * T1 - 10);
    assert!(net.take(BOB_1).iter().all(|r| r.bytes == msg.bytes), "Timer E resends the same request");
    net.quiet();
    net.advance(10);
    let timeout = net.one(CORE);
    assert_eq!((timeout.status(), timeout.header(H::CSeq).as_str()), (408, "1 MESSAGE"));
    net.quiet();
}

// ---------------------------------------------------------------- §16.3 checks

#[test]
fn max_forwards_zero_is_483_and_nothing_is_forwarded() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "h1");
    let invite = String::from_utf8(call.invite("z9hG4bKh1")).unwrap().replace("Max-Forwards: 70", "Max-Forwards: 0");
    net.send(CORE, invite.as_bytes());
    assert_eq!(net.one(CORE).text().lines().next(), Some("SIP/2.0 483 Too Many Hops"));
    net.quiet();
    // One hop left is still forwarded, with none left.
    let invite = String::from_utf8(call.invite("z9hG4bKh1b")).unwrap().replace("Max-Forwards: 70", "Max-Forwards: 1");
    net.send(CORE, invite.as_bytes());
    assert_eq!(trying_then_forwarded(&mut net, CORE, BOB_1).header(H::MaxForwards), "0");
}

#[test]
fn a_request_that_already_carries_this_edges_via_is_a_loop_482() {
    let mut net = Net::new(config());
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "h2");
    let ours = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-0-77;rport";
    let invite = call.request("INVITE", "sip:bob@example.com", "z9hG4bKh2", 1, &[("Via", ours)]);
    net.send(CORE, &invite);
    let answers = net.take(CORE);
    let codes: Vec<u16> = answers.iter().map(Sent::status).collect();
    assert_eq!(codes, [100, 482], "{:#?}", answers.iter().map(Sent::text).collect::<Vec<_>>());
    net.quiet();
}

#[test]
fn an_untrusted_request_may_not_route_past_the_edge_by_its_own_route() {
    let mut net = Net::new(config());
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "r1");
    let route = format!("<sip:{UP_B};lr>");
    net.send(ALICE, &call.request("INVITE", CARRIER, "z9hG4bKr1", 1, &[("Route", &route)]));
    assert_eq!(net.one(ALICE).text().lines().next(), Some("SIP/2.0 403 Route not allowed"));
    net.quiet();
    // The core may.
    let call = Call::new(CORE, "sip:+15550001@example.com", CARRIER, "r2");
    net.send(CORE, &call.request("INVITE", CARRIER, "z9hG4bKr2", 1, &[("Route", &route)]));
    let inv = trying_then_forwarded(&mut net, CORE, UP_B);
    assert_eq!(inv.values(H::Route), [route]);
    net.quiet();
}

#[test]
fn a_stranger_may_not_relay_through_the_edge_to_a_foreign_domain() {
    let mut net = Net::new(config());
    let call = Call::new("198.51.100.9:5060", "sip:mallory@other.net", "sip:victim@elsewhere.net", "x1");
    net.send("198.51.100.9:5060", &call.invite("z9hG4bKx1"));
    assert_eq!(net.one("198.51.100.9:5060").text().lines().next(), Some("SIP/2.0 403 Relaying Denied"));
    // Preloading the edge's Route and another does not make it a relay either.
    let route = format!("{EDGE_RR}, <sip:198.51.100.77;lr>");
    net.send(
        "198.51.100.9:5060",
        &call.request("INVITE", "sip:victim@198.51.100.77", "z9hG4bKx2", 2, &[("Route", &route)]),
    );
    assert_eq!(net.one("198.51.100.9:5060").text().lines().next(), Some("SIP/2.0 403 Relaying Denied"));
    net.quiet();
    assert_eq!(net.counters().proxy.branches, 0);
}

// ---------------------------------------------------------------- 407

/// A Proxy-Authorization value (MD5, qop=auth, nc 1) for `user` of example.com.
fn proxy_authorization(user: &str, password: &str, nonce: &str, method: &str, uri: &str) -> String {
    let hex = |parts: &[&[u8]]| {
        let mut out = [0u8; 64];
        let n = Algorithm::Md5.hash_hex(parts, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    };
    let ha1 = hex(&[user.as_bytes(), DOMAIN.as_bytes(), password.as_bytes()]);
    let ha2 = hex(&[method.as_bytes(), uri.as_bytes()]);
    let response = hex(&[ha1.as_bytes(), nonce.as_bytes(), b"00000001", b"c0ffee", b"auth", ha2.as_bytes()]);
    format!("Digest username=\"{user}\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"")
}

#[test]
fn a_local_users_invite_is_challenged_407_then_forwarded_with_credentials_and_the_core_never_is() {
    let mut cfg = config();
    let users = Users::parse(&format!("alice {DOMAIN} password=secret\n"), "users").unwrap();
    cfg.auth = Some(AuthConfig {
        users: Arc::new(users),
        secret: [7; 32],
        algorithms: vec![Algorithm::Md5],
        nonce_lifetime_secs: 300,
    });
    let mut net = Net::new(cfg);
    let call = Call::new(ALICE, "sip:alice@example.com", CARRIER, "a1");

    net.send(ALICE, &call.invite("z9hG4bKa1"));
    let challenge = net.one(ALICE);
    assert_eq!(challenge.text().lines().next(), Some("SIP/2.0 407 Proxy Authentication Required"));
    let pa = challenge.header(H::ProxyAuthenticate);
    assert!(pa.starts_with(&format!("Digest realm=\"{DOMAIN}\", nonce=\"")) && pa.contains("algorithm=MD5"), "{pa}");
    net.quiet();
    let nonce = pa.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    // A wrong password is challenged again; the right one goes through.
    let contact = format!("<sip:caller@{ALICE}>");
    let wrong = proxy_authorization("alice", "guess", &nonce, "INVITE", CARRIER);
    net.send(
        ALICE,
        &call.request("INVITE", CARRIER, "z9hG4bKa2", 2, &[("Contact", &contact), ("Proxy-Authorization", &wrong)]),
    );
    // The nonce that carried a wrong response is burned: the next try needs the fresh one.
    let again = net.one(ALICE);
    assert_eq!(again.status(), 407);
    let pa = again.header(H::ProxyAuthenticate);
    let nonce = pa.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let right = proxy_authorization("alice", "secret", &nonce, "INVITE", CARRIER);
    net.send(
        ALICE,
        &call.request("INVITE", CARRIER, "z9hG4bKa3", 3, &[("Contact", &contact), ("Proxy-Authorization", &right)]),
    );
    let inv = trying_then_forwarded(&mut net, ALICE, UP_A);
    assert_eq!(inv.header(H::CSeq), "3 INVITE");
    net.quiet();

    // From the core, the same user is not challenged.
    let call = Call::new(CORE, "sip:alice@example.com", CARRIER, "a4");
    net.send(CORE, &call.invite("z9hG4bKa4"));
    trying_then_forwarded(&mut net, CORE, UP_A);
    net.quiet();
    assert_eq!(net.counters().proxy.challenges, 2);
}

// ---------------------------------------------------------------- topology hiding

const PBX: &str = "10.9.9.9:5080";
const PBX_VIAS: [&str; 2] =
    ["SIP/2.0/UDP 10.9.9.9:5080;branch=z9hG4bKpbx1;rport", "SIP/2.0/UDP 10.8.8.8:5060;branch=z9hG4bKinner"];
const PBX_RR: &str = "<sip:10.9.9.9:5080;lr>";

fn hiding_config() -> EdgeConfig {
    let mut cfg = config();
    cfg.proxy.topology_hiding = true;
    cfg.proxy.topology_key = [9; 32];
    cfg
}

/// Bob registered behind the hiding edge, and the core's INVITE to him
/// (two Vias, its Record-Route, a PBX Contact) forwarded: the INVITE as
/// Bob got it, and the core's side of the call.
fn core_invites_bob_through_hiding(net: &mut Net, call_id: &str) -> (Call, Sent) {
    net.register("bob", BOB_1, "sip:bob@192.168.1.10:5062");
    let pbx = Call::new(PBX, "sip:+15550001@example.com", "sip:bob@example.com", call_id);
    let invite = pbx.request(
        "INVITE",
        "sip:bob@example.com",
        "z9hG4bKpbx1",
        1,
        &[("Via", PBX_VIAS[1]), ("Record-Route", PBX_RR), ("Contact", "<sip:pbx@10.9.9.9:5080>")],
    );
    net.send(PBX, &invite);
    (pbx, trying_then_forwarded(net, PBX, BOB_1))
}

/// The URI of a `<uri>` header value.
fn uri_of(value: &str) -> String {
    String::from_utf8(parse_name_addr(value.as_bytes()).unwrap().uri_raw.to_vec()).unwrap()
}

#[test]
fn topology_hiding_keeps_the_core_out_of_sight_and_routes_the_dialog_by_sealed_tokens() {
    let mut net = Net::new(hiding_config());
    let (pbx, inv) = core_invites_bob_through_hiding(&mut net, "th1");
    for inside in ["10.9.9.9", "10.8.8.8", "pbx@"] {
        assert!(!inv.text().contains(inside), "{inside} leaked: {}", inv.text());
    }
    assert_eq!(inv.values(H::Via).len(), 1);
    assert!(is_ours(&inv.branch(), 0));
    assert!(inv.values(H::RecordRoute).is_empty());
    let pbx_token = uri_of(&inv.header(H::Contact));
    assert!(pbx_token.starts_with("sip:192.0.2.1:5060;th="), "{pbx_token}");

    // The phone's 200 goes back with the core's Vias and Record-Route, and
    // the phone's (private) Contact hidden behind a token too.
    net.send(BOB_1, &inv.reply(200, "bob1", &[("Contact", "<sip:bob@192.168.1.10:5062>")]));
    let ok = net.one(PBX);
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.values(H::Via), PBX_VIAS);
    assert_eq!(ok.values(H::RecordRoute), [PBX_RR]);
    let bob_token = uri_of(&ok.header(H::Contact));
    assert!(bob_token.starts_with("sip:192.0.2.1:5060;th="), "{bob_token}");
    assert!(!ok.text().contains("192.168.1.10"), "{}", ok.text());
    net.quiet();

    // The phone hangs up toward the Contact it got: the token leads to the PBX.
    let bob = Call {
        at: BOB_1.into(),
        from: inv.header(H::To) + ";tag=bob1",
        to: inv.header(H::From),
        call_id: "th1".into(),
    };
    let bye = bob.request("BYE", &pbx_token, "z9hG4bKbye1", 1, &[]);
    let check_bye = |net: &mut Net| {
        net.send(BOB_1, &bye);
        let fwd = net.one(PBX);
        assert_eq!((fwd.method().as_str(), fwd.ruri().as_str()), ("BYE", "sip:pbx@10.9.9.9:5080"));
        assert_eq!(fwd.values(H::Route), [PBX_RR]);
        assert!(is_ours(&fwd.branch(), 0));
        net.quiet();
    };
    check_bye(&mut net);
    // A restarted edge with the same key routes it the same way.
    check_bye(&mut Net::new(hiding_config()));
    // A token that was tampered with is refused.
    let mut tampered = pbx_token.clone().into_bytes();
    let i = tampered.len() - 8;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let forged = bob.request("BYE", std::str::from_utf8(&tampered).unwrap(), "z9hG4bKbye2", 2, &[]);
    net.send(BOB_1, &forged);
    assert_eq!(net.one(BOB_1).text().lines().next(), Some("SIP/2.0 403 Invalid dialog token"));
    net.quiet();

    // The core's BYE to the phone's token reaches the phone's NAT with its
    // private Contact as Request-URI, one Via, nothing of the core.
    let core_side = pbx.in_dialog(&ok);
    net.send(PBX, &core_side.request("BYE", &bob_token, "z9hG4bKpbxbye", 2, &[("Via", PBX_VIAS[1])]));
    let fwd = net.one(BOB_1);
    assert_eq!((fwd.method().as_str(), fwd.ruri().as_str()), ("BYE", "sip:bob@192.168.1.10:5062"));
    assert_eq!(fwd.values(H::Via).len(), 1);
    assert!(!fwd.text().contains("10.9.9.9") && !fwd.text().contains("10.8.8.8"), "{}", fwd.text());
    net.quiet();
}

// ---------------------------------------------------------------- shards

#[test]
fn a_call_on_shard_0_looks_up_a_binding_on_shard_1_and_the_answer_comes_home_over_the_mesh() {
    let mut net = Net::shards(config(), 2);
    let user = (0..)
        .map(|i| format!("user{i}"))
        .find(|u| owner::shard_of(format!("sip:{u}@{DOMAIN}").as_bytes(), 2) == 1)
        .unwrap();
    let aor = format!("sip:{user}@{DOMAIN}");
    net.register(&user, BOB_1, &format!("sip:{user}@203.0.113.10:40000"));
    assert_eq!(net.mesh, ["0->1 Ask Register", "1->0 Answer Registered"]);
    assert_eq!(
        (net.edges[0].registrations(aor.as_bytes()).len(), net.edges[1].registrations(aor.as_bytes()).len()),
        (0, 1)
    );
    net.mesh.clear();

    let call = Call::new(CORE, "sip:+15550001@example.com", &aor, "s1");
    net.send(CORE, &call.invite("z9hG4bKs1"));
    assert_eq!(net.mesh, ["0->1 Ask Lookup", "1->0 Answer Located"]);
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    assert_eq!(inv.shard, 0);
    assert!(is_ours(&inv.branch(), 0), "{}", inv.branch());
    assert_eq!(inv.ruri(), format!("sip:{user}@203.0.113.10:40000"));
    net.quiet();
    net.mesh.clear();

    // The kernel hands the phone's answers to shard 1: they go home to shard 0.
    net.deliver(1, BOB_1, &inv.reply(180, "u", &[]));
    let ringing = net.one(CORE);
    assert_eq!((ringing.status(), ringing.shard), (180, 0));
    net.deliver(1, BOB_1, &inv.reply(200, "u", &[]));
    let ok = net.one(CORE);
    assert_eq!((ok.status(), ok.shard), (200, 0));
    assert_eq!(ok.values(H::Via).len(), 1);
    assert_eq!(net.mesh, ["1->0 Response", "1->0 Response"]);
    net.quiet();
}

#[test]
fn a_branch_that_rings_past_timer_c_is_cancelled_and_the_caller_gets_487() {
    let mut cfg = config();
    cfg.proxy.timer_c_ms = 2_000;
    let mut net = Net::new(cfg);
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c-timer-c");
    net.send(CORE, &call.invite("z9hG4bKtc"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.advance(1_000);
    net.send(BOB_1, &inv.reply(180, "b", &[]));
    net.take(BOB_1); // Timer A retransmissions before the 180
    assert_eq!(net.one(CORE).status(), 180);
    // The 180 restarted Timer C: nothing 2 s after the INVITE ...
    net.advance(1_500);
    net.quiet();
    // ... the CANCEL comes 2 s after the 180.
    net.advance(520);
    let cancel = net.one(BOB_1);
    assert_eq!((cancel.method().as_str(), cancel.branch()), ("CANCEL", inv.branch()));
    net.send(BOB_1, &cancel.reply(200, "b", &[]));
    net.send(BOB_1, &inv.reply(487, "b", &[]));
    assert_hop_ack(&net.one(BOB_1), &inv, "b");
    assert_eq!(net.one(CORE).status(), 487);
    assert_eq!(net.counters().proxy.branch_timeouts, 1);
}

#[test]
fn a_branch_that_ignores_the_timer_c_cancel_ends_as_408() {
    let mut cfg = config();
    cfg.proxy.timer_c_ms = 1_000;
    let mut net = Net::new(cfg);
    net.register("bob", BOB_1, "sip:bob@203.0.113.10:40000");
    let call = Call::new(CORE, "sip:+15550001@example.com", "sip:bob@example.com", "c-timer-c2");
    net.send(CORE, &call.invite("z9hG4bKtc2"));
    let inv = trying_then_forwarded(&mut net, CORE, BOB_1);
    net.send(BOB_1, &inv.reply(183, "b", &[]));
    assert_eq!(net.one(CORE).status(), 183);
    net.advance(1_020);
    assert_eq!(net.one(BOB_1).method(), "CANCEL");
    // The phone never answers: 64*T1 later the branch is over.
    net.advance(64 * T1 + 100);
    assert!(net.take(BOB_1).iter().all(|m| m.method() == "CANCEL"), "only CANCEL retransmissions");
    let last = net.take(CORE).into_iter().map(|s| s.status()).next_back();
    assert_eq!(last, Some(408));
}

#[test]
fn a_subscription_and_every_in_dialog_method_pass_through_both_ways() {
    let mut net = Net::new(config());
    let contact = "sip:bob@203.0.113.10:40000";
    net.register("bob", BOB_1, contact);
    // SUBSCRIBE creates a dialog: record-routed, no 100 (non-INVITE).
    let sub = Call::new(CORE, "sip:watcher@example.com", "sip:bob@example.com", "sub-1");
    let ruri = "sip:bob@example.com";
    net.send(
        CORE,
        &sub.request(
            "SUBSCRIBE",
            ruri,
            "z9hG4bKsub",
            1,
            &[("Event", "presence"), ("Contact", "<sip:watcher@10.0.0.5:5060>")],
        ),
    );
    let fwd = net.one(BOB_1);
    assert_eq!((fwd.method().as_str(), fwd.ruri().as_str()), ("SUBSCRIBE", contact));
    assert_eq!(fwd.values(H::RecordRoute), vec![EDGE_RR]);
    assert_eq!(fwd.header(H::Event), "presence", "unknown-to-the-edge headers are kept");
    net.send(BOB_1, &fwd.reply(200, "bobsub", &[("Contact", &format!("<{contact}>"))]));
    let ok = net.one(CORE);
    assert_eq!((ok.status(), ok.values(H::RecordRoute)), (200, vec![EDGE_RR.to_string()]));
    net.quiet();

    // Every in-dialog method from the core, along the Record-Route.
    let dialog = sub.in_dialog(&ok);
    for (i, method) in ["NOTIFY", "INFO", "UPDATE", "PRACK", "REFER", "MESSAGE", "SUBSCRIBE"].iter().enumerate() {
        let branch = format!("z9hG4bKdlg{i}");
        net.send(CORE, &dialog.request(method, contact, &branch, 2 + i as u32, &[("Route", EDGE_RR)]));
        let got = net.one(BOB_1);
        assert_eq!((got.method().as_str(), got.ruri().as_str()), (*method, contact));
        assert!(got.values(H::Route).is_empty());
        net.send(BOB_1, &got.reply(200, "bobsub", &[]));
        let answer = net.one(CORE);
        assert_eq!((answer.status(), answer.header(H::CSeq)), (200, format!("{} {method}", 2 + i)));
        net.quiet();
    }

    // And from the device back to the core: the NOTIFY of its subscription.
    let back = Call { at: BOB_1.into(), from: ok.header(H::To), to: fwd.header(H::From), call_id: "sub-1".into() };
    net.send(
        BOB_1,
        &back.request(
            "NOTIFY",
            "sip:watcher@10.0.0.5:5060",
            "z9hG4bKntf",
            1,
            &[("Route", EDGE_RR), ("Event", "presence")],
        ),
    );
    let notify = net.one(CORE);
    assert_eq!((notify.method().as_str(), notify.ruri().as_str()), ("NOTIFY", "sip:watcher@10.0.0.5:5060"));
    net.send(CORE, &notify.reply(200, "w", &[]));
    assert_eq!(net.one(BOB_1).status(), 200);
    net.quiet();
}

mod hygiene;
mod lingering;
mod lookups;
mod steady;
