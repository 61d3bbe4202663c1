//! The per-shard edge: validates every message, answers what the edge
//! itself serves, and decides where everything else goes.
//!
//! OPTIONS addressed to the edge → 200 with Allow/Accept/Supported;
//! REGISTER → the registrar (`register.rs`); every other request → the
//! transaction-stateful proxy (`proxy.rs`, `branch.rs`, `relay.rs`,
//! `probe.rs`, `hide.rs`, its steps run as `step.rs` says);
//! malformed requests that can still be answered → 400/505 with a reason
//! phrase naming the problem; the rest is dropped and counted by reason.
//! Responses are routed home by the shard named in their Via branch
//! (see `owner`) and find their client transaction there. Work that waits
//! for an answer from outside the core (another shard's registrar or
//! location table, a lease of rate-limit tokens) is parked in one table and
//! asked for with `Output::Ask` (`waiting.rs`).
//!
//! Time: `handle` and `tick` take the shard's monotonic milliseconds. The
//! edge adds the unix offset it was given at start, once, so everything
//! inside runs on one clock that reads as unix time (Date headers, nonces,
//! expiry shown to devices and in the admin API) yet never jumps when the
//! wall clock is stepped, and never goes backwards (an earlier `now` is
//! taken as the last one). The registrar and the nonces work in whole
//! seconds of that clock, the transactions in ms. `next_deadline` tells
//! the shard when `tick` next has work, so it sleeps until then.

use super::ask::{Answer, Ask};
use super::counters::{Counters, Drop, Malformed};
use super::mesh::MeshMsg;
use super::{owner, FlowId, Origin, Transport};
use crate::sip::{self, Essentials, Framing, HeaderName, Message, Method, Scheme, Status};
use std::net::{IpAddr, SocketAddr};

/// What the edge needs to know about its own listeners and limits.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub shard: u16,
    pub shards: u16,
    /// Hosts (addresses and advertised names, lower-case) the edge answers to.
    pub local_hosts: Vec<Vec<u8>>,
    /// Ports the edge listens on.
    pub local_ports: Vec<u16>,
    pub max_message_bytes: usize,
    /// Registrar settings; no domains = registrar off.
    pub registrar: crate::core::registrar::RegistrarConfig,
    /// Digest authentication of REGISTER; None = off.
    pub auth: Option<register::AuthConfig>,
    /// The listeners, in config order (Via, Record-Route, Contact).
    pub listeners: Vec<Listener>,
    pub proxy: crate::core::proxy::state::ProxyConfig,
    /// Allowlist, bans, scanners, size limits, rate limits, UDP MTU.
    pub protect: crate::core::protect::ProtectConfig,
    /// The shared location; None = a single edge.
    pub cluster: Option<cluster::ClusterConfig>,
    /// Device and carrier profiles (`[[profile]]`), in order.
    pub profiles: crate::core::profile::Profiles,
}

/// One listener as the edge names itself on it.
#[derive(Clone, Debug)]
pub struct Listener {
    pub transport: Transport,
    /// Advertised host, or the bound IP (IPv6 in brackets).
    pub host: Vec<u8>,
    pub port: u16,
    pub v6: bool,
}

impl Listener {
    pub fn new(transport: Transport, addr: SocketAddr, advertise: &str) -> Listener {
        let (host, port) = match advertise.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()) {
            Some((h, p)) => (h.as_bytes().to_vec(), p.parse().unwrap_or(addr.port())),
            None if !advertise.is_empty() => (advertise.as_bytes().to_vec(), addr.port()),
            None => (
                match addr.ip() {
                    IpAddr::V4(ip) => ip.to_string().into_bytes(),
                    IpAddr::V6(ip) => format!("[{ip}]").into_bytes(),
                },
                addr.port(),
            ),
        };
        Listener { transport, host, port, v6: addr.is_ipv6() }
    }

    /// The Via transport token.
    pub fn via_transport(&self) -> &'static str {
        self.transport.via_token()
    }
}

/// One message handed to the edge.
pub struct Packet<'a> {
    pub origin: Origin,
    pub bytes: &'a [u8],
}

pub enum Input<'a> {
    Packet(Packet<'a>),
    Mesh(MeshMsg),
    /// A message the shard could not write (its flow is gone, or its
    /// connection could not be opened): the bytes of an `Output::Send`.
    Undeliverable(&'a [u8]),
    /// The answer to `Output::Ask { token, .. }`.
    Answer {
        token: u64,
        answer: Answer,
    },
    /// News from the shared location (`[cluster]`).
    Cluster(crate::core::location::shared::ClusterEvent),
}

/// Where an output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// A datagram from the shard's socket of that listener.
    Udp { listener: u16, peer: SocketAddr },
    /// Written to the connection (owned by this shard).
    Flow(FlowId),
    /// Written to this shard's connection to `peer`, opened when there is
    /// none (a TLS one when `tls`).
    Tcp { peer: SocketAddr, tls: bool },
}

/// An effect for the shard to perform.
#[derive(Debug)]
pub enum Output {
    Send {
        dest: Dest,
        bytes: Vec<u8>,
    },
    ToShard {
        shard: u16,
        msg: MeshMsg,
    },
    /// A question for outside the core; its answer comes back as
    /// `Input::Answer` with the same token (`shard/` routes it).
    Ask {
        token: u64,
        ask: Ask,
    },
    /// Close a connection (framing lost, garbage).
    Close(FlowId),
    /// A finished transaction an operator asked to see (`core::trace`).
    Trace(Box<crate::core::trace::Trace>),
    /// A ban decided or ended, for the log (the shard rate-limits the lines).
    Ban(crate::core::protect::BanNews),
    /// The name `peer`'s certificate must carry when the shard opens a TLS
    /// connection to it (RFC 5922 §4), given before the first send to it.
    TlsName {
        peer: SocketAddr,
        name: std::sync::Arc<str>,
    },
}

pub struct Edge {
    cfg: EdgeConfig,
    pub counters: Counters,
    /// Unix seconds of the input being handled (time is an argument).
    now: u64,
    /// The same instant in milliseconds.
    now_ms: u64,
    /// Unix milliseconds at the caller's clock zero (`now_ms` = caller's + this).
    unix_offset_ms: u64,
    /// The second `tick` last did its per-second work in.
    last_tick: u64,
    pub(crate) reg: register::RegState,
    pub(crate) proxy: crate::core::proxy::state::ProxyState,
    pub(crate) protect: crate::core::protect::Protect,
    /// Work waiting for the answer to an `Output::Ask`.
    pub(crate) waiting: crate::core::pending::Pending<waiting::Parked>,
    /// What the operator traces (empty: nothing).
    pub(crate) trace: std::sync::Arc<crate::core::trace::TraceFilter>,
    /// The shared location (`[cluster]`), when on.
    pub(crate) cluster: Option<cluster::ClusterState>,
    /// UDP sources a profile's `keepalive_secs` keeps alive.
    keepalives: keepalive::Keepalives,
    /// Live transactions a step left quiet, to linger at `settle`.
    quiet: Vec<crate::core::proxy::table::Id>,
}

/// Methods the edge handles (the Allow header of its answers to OPTIONS):
/// OPTIONS to itself, every method its proxy relays, and REGISTER when the
/// registrar is on.
const ALLOW: &[u8] =
    b"INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, INFO, UPDATE, PRACK, REFER, PUBLISH";
const ALLOW_REGISTRAR: &[u8] =
    b"INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, INFO, UPDATE, PRACK, REFER, PUBLISH, REGISTER";

impl Edge {
    /// A shard's edge at `clock_ms` of the caller's monotonic clock, whose
    /// zero was `unix_offset_ms` in unix milliseconds.
    pub fn new(cfg: EdgeConfig, clock_ms: u64, unix_offset_ms: u64) -> Edge {
        let now_ms = clock_ms + unix_offset_ms;
        let now = now_ms / 1000;
        let reg = register::RegState::new(&cfg, now);
        let proxy = crate::core::proxy::state::ProxyState::new(cfg.proxy.clone(), now_ms);
        // The core (`proxy.trusted`) is allowlisted like `[protect] allow`.
        let mut protect = cfg.protect.clone();
        protect.allow.extend(cfg.proxy.trusted.iter().copied());
        let protect = crate::core::protect::Protect::new(protect, cfg.shard, cfg.shards);
        Edge {
            counters: Counters { profiles: vec![0; cfg.profiles.0.len()], ..Counters::default() },
            now,
            now_ms,
            unix_offset_ms,
            last_tick: 0,
            reg,
            proxy,
            protect,
            waiting: Default::default(),
            trace: Default::default(),
            keepalives: Default::default(),
            quiet: Vec::new(),
            cluster: cfg.cluster.clone().map(|c| cluster::ClusterState::new(c, now_ms)),
            cfg,
        }
    }

    /// Handles one input at `clock_ms` (the caller's monotonic ms); effects are appended to `out`.
    pub fn handle(&mut self, clock_ms: u64, input: Input<'_>, out: &mut Vec<Output>) {
        self.settle();
        self.set_clock(clock_ms);
        match input {
            Input::Packet(p) if self.banned(&p.origin) => {}
            Input::Packet(p) => self.on_packet(p.origin, p.bytes, out),
            Input::Mesh(msg) => {
                self.counters.wire.mesh_received += 1;
                match msg {
                    MeshMsg::Response { origin, bytes } => self.on_packet(origin, &bytes, out),
                    MeshMsg::Request { origin, bytes } => self.on_handed_register(origin, &bytes, out),
                    MeshMsg::Ask { reply_to, token, ask } => self.serve_ask(reply_to, token, ask, out),
                    // The shard hands answers in as `Input::Answer`; one left wrapped is the same answer.
                    MeshMsg::Answer { token, answer } => self.on_answer(token, answer, out),
                    MeshMsg::Health { upstream, up } => self.on_health(upstream, up),
                    MeshMsg::FlowSend { flow, peer, bytes } => {
                        let hop = crate::core::proxy::route::NextHop {
                            transport: Transport::Tcp,
                            addr: peer,
                            flow: Some(flow),
                        };
                        self.send_hop(hop, bytes, out)
                    }
                    MeshMsg::Undeliverable { bytes } => self.on_undeliverable(&bytes, out),
                    MeshMsg::AuthFailed { ip } => self.on_auth_failed(ip, out),
                    MeshMsg::Ban(ban) => self.protect.learn(ban),
                    MeshMsg::FloodCounts(counts) => self.on_flood_counts(counts, out),
                    MeshMsg::LeaseReturn { rule, key, tokens } => {
                        self.protect.give_back(rule as usize, &key, tokens, self.now_ms)
                    }
                }
            }
            Input::Undeliverable(bytes) => self.on_undeliverable(bytes, out),
            Input::Answer { token, answer } => self.on_answer(token, answer, out),
            Input::Cluster(event) => self.on_cluster(event, out),
        }
    }

    /// Timers at `now_ms`: transaction timers, upstream probes and parked
    /// work whose answer is overdue every call; binding expiry once per
    /// second of the clock however often the shard calls it.
    pub fn tick(&mut self, clock_ms: u64, out: &mut Vec<Output>) {
        self.settle();
        self.set_clock(clock_ms);
        self.proxy_tick(out);
        self.expire_waiting(out);
        self.pace_reassert(out);
        self.report_floods(out);
        if self.now != self.last_tick {
            self.last_tick = self.now;
            self.reg_tick();
            self.send_keepalives(out);
            self.mid_tick(out);
            self.protect_tick(out);
        }
    }

    /// The first profile matching the sender of `msg` (None without profiles).
    pub(crate) fn profile_of(&self, origin: Origin, msg: &sip::Message<'_>) -> Option<u16> {
        if self.cfg.profiles.is_empty() {
            return None;
        }
        let ua = msg.header(sip::HeaderName::UserAgent);
        self.cfg.profiles.matching(ua, origin.peer.ip(), origin.transport).map(|i| i as u16)
    }

    /// The first profile matching the sender of `msg`, itself.
    pub(crate) fn sender_profile(
        &self,
        origin: Origin,
        msg: &sip::Message<'_>,
    ) -> Option<&crate::core::profile::Profile> {
        self.profile_of(origin, msg).map(|i| &self.cfg.profiles.0[i as usize])
    }

    /// The profiles' names, in order (metric labels).
    pub fn profile_names(&self) -> Vec<&str> {
        self.cfg.profiles.0.iter().map(|p| p.name.as_str()).collect()
    }

    /// Transactions on this shard: in progress, and lingering after their
    /// final answer (`core::proxy::lingering`).
    pub fn transactions(&self) -> usize {
        self.proxy.txs.len() + self.proxy.lingering.len()
    }

    /// Transactions with a timer in a wheel (one entry each, at its
    /// earliest deadline; none is left behind by a finished one): the live
    /// ones' wheel and the lingering ones', where each record is an entry.
    pub fn timers_pending(&self) -> usize {
        self.proxy.wheel.len() + self.proxy.lingering.len()
    }

    /// The shard's names, and how many targets are blocklisted now.
    pub fn names(&self) -> (&crate::core::resolve::Names<crate::core::proxy::table::Id>, usize) {
        (&self.proxy.names, self.proxy.names.blocked_now(self.now_ms))
    }

    /// The listener `index`, or the first of `transport`.
    pub(crate) fn listener(&self, index: u16, transport: Transport) -> &Listener {
        listener_of(&self.cfg.listeners, index, transport)
    }

    fn on_packet(&mut self, origin: Origin, bytes: &[u8], out: &mut Vec<Output>) {
        let msg = match sip::scan(bytes, origin.transport.framing()) {
            Ok(Status::Complete(m)) => m,
            Ok(Status::Partial) => return self.counters.wire.drops.add(Drop::IncompleteMessage),
            Err(e) => return self.on_unscannable(origin, bytes, e, out),
        };
        self.counters.wire.count_received(origin.transport, msg.is_request());
        if msg.is_request() {
            self.on_request(origin, &msg, out)
        } else {
            self.on_response(origin, &msg, out)
        }
    }

    /// A message the scanner refused. A byte stream whose framing is lost
    /// is closed; a datagram or WebSocket request whose only fault is its
    /// Content-Length is answered 400 from its headers (its boundaries are
    /// intact); everything else is dropped and counted.
    fn on_unscannable(&mut self, origin: Origin, bytes: &[u8], e: sip::ScanError, out: &mut Vec<Output>) {
        let byte_stream = origin.transport.framing() == Framing::Stream;
        if !byte_stream {
            if let Ok(Status::Complete(m)) = sip::scan(bytes, Framing::HeadersOnly) {
                if m.is_request() && sip::check::answerable(&m) && !matches!(m.method(), Some(Method::Ack)) {
                    self.counters.wire.malformed.add(Malformed::Unscannable(e));
                    return self.reject(origin, &m, None, 400, e.reason(), out);
                }
            }
        }
        self.counters.wire.drops.add(Drop::Unscannable(e));
        if let (Some(f), true) = (origin.flow, byte_stream && e.is_framing()) {
            out.push(Output::Close(f));
        }
    }

    /// A response: checked (its top Via parsed) once here; that Via names
    /// the shard holding its transaction, and the proxy gets it parsed.
    fn on_response(&mut self, origin: Origin, msg: &Message<'_>, out: &mut Vec<Output>) {
        let resp = match sip::check_response(msg) {
            Ok(r) => r,
            Err(reason) => return self.counters.wire.drops.add(Drop::BadResponse(reason)),
        };
        match owner::response_owner(&resp.top_via) {
            Some(s) if s != self.cfg.shard && s < self.cfg.shards => {
                self.counters.wire.mesh_sent += 1;
                self.counters.wire.responses_forwarded += 1;
                let msg = MeshMsg::Response { origin, bytes: msg.buf.to_vec() };
                out.push(Output::ToShard { shard: s, msg });
            }
            Some(s) if s == self.cfg.shard => {
                self.counters.wire.responses_home += 1;
                self.on_proxy_response(origin, msg, &resp, out);
            }
            _ => self.counters.wire.drops.add(Drop::ResponseNotOurs),
        }
    }

    fn on_request(&mut self, origin: Origin, msg: &Message<'_>, out: &mut Vec<Output>) {
        if let Some(m) = msg.method() {
            self.counters.wire.count_method(m.as_bytes());
        }
        if self.screen(origin, msg, out).is_err() {
            return;
        }
        if msg.buf.len() > self.cfg.max_message_bytes {
            return self.reject(origin, msg, None, 513, "Message Too Large", out);
        }
        if let Some(i) = self.profile_of(origin, msg) {
            self.counters.profiles[i as usize] += 1;
        }
        let ess = match sip::check_request(msg) {
            Ok(e) => e,
            Err(bad) => {
                self.counters.wire.malformed.add(Malformed::Invalid(bad.reason));
                if !bad.answerable || matches!(msg.method(), Some(Method::Ack)) {
                    return self.counters.wire.drops.add(Drop::MalformedUnanswerable);
                }
                return self.reject(origin, msg, None, bad.code, bad.reason.label(), out);
            }
        };
        if !matches!(ess.ruri.scheme, Scheme::Sip | Scheme::Sips | Scheme::Tel) {
            if ess.method == Method::Ack {
                return self.counters.wire.drops.add(Drop::AckUnsupportedScheme);
            }
            return self.reject(origin, msg, Some(&ess), 416, "Unsupported URI Scheme", out);
        }
        if self.rate_limit(origin, msg, &ess, 0, out).is_err() {
            return;
        }
        self.admitted(origin, msg, &ess, out)
    }

    /// A valid request the protection let through (at once, or after
    /// waiting for a rate-limit lease: `limits.rs`).
    fn admitted(&mut self, origin: Origin, msg: &Message<'_>, ess: &Essentials<'_>, out: &mut Vec<Output>) {
        if let Some(tags) = msg.header(HeaderName::ProxyRequire) {
            // No extension is supported by this proxy yet (RFC 3261 §16.3 step 4).
            let extra = [("Unsupported", tags)];
            return self.respond(origin, msg, Some(ess), 420, "Bad Extension", &extra, out);
        }
        if ess.method == Method::Register && self.reg.enabled() {
            return self.on_register(origin, msg, ess, out);
        }
        let to_self = self.is_local(ess);
        if ess.method == Method::Options && to_self {
            let allow = if self.reg.enabled() { ALLOW_REGISTRAR } else { ALLOW };
            let supported: &[u8] = if self.reg.enabled() { b"path, outbound" } else { b"" };
            let extra: [(&str, &[u8]); 3] =
                [("Allow", allow), ("Accept", b"application/sdp"), ("Supported", supported)];
            return self.respond(origin, msg, Some(ess), 200, "OK", &extra, out);
        }
        self.on_proxy_request(origin, msg, ess, out)
    }

    /// Is the Request-URI the edge itself (one of its hosts, and its port)?
    fn is_local(&self, ess: &Essentials<'_>) -> bool {
        let host = ess.ruri.host;
        let port = ess.ruri.port.unwrap_or(if ess.ruri.scheme == Scheme::Sips { 5061 } else { 5060 });
        let any_ip =
            |h: &[u8]| h == b"*" && (host.starts_with(b"[") || host.iter().all(|b| b.is_ascii_digit() || *b == b'.'));
        self.cfg.local_ports.contains(&port)
            && self.cfg.local_hosts.iter().any(|h| h.eq_ignore_ascii_case(host) || any_ip(h))
    }

    fn reject(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: Option<&Essentials<'_>>,
        code: u16,
        reason: &str,
        out: &mut Vec<Output>,
    ) {
        self.respond(origin, msg, ess, code, reason, &[], out)
    }

    /// Answers a request statelessly to where it came from. An edge faces
    /// NATed devices, so answers always go to the source address and port
    /// (RFC 3581 applied whether or not the client asked: Kamailio's
    /// `force_rport()`), never to the possibly private Via sent-by.
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: Option<&Essentials<'_>>,
        code: u16,
        reason: &str,
        extra: &[(&str, &[u8])],
        out: &mut Vec<Output>,
    ) {
        let mut bytes = Vec::with_capacity(msg.buf.len() + 128);
        let tag = to_tag(msg);
        sip::write_response(
            msg,
            ess,
            code,
            reason,
            Some(&tag),
            Some((origin.peer.ip(), origin.peer.port())),
            extra,
            b"",
            &mut bytes,
        );
        let since = self.now_ms;
        self.send(origin, msg, ess, since, code, bytes, out);
    }
}

/// The listener `index`, or the first of `transport` (never fails: a
/// config has at least one listener).
fn listener_of(listeners: &[Listener], index: u16, transport: Transport) -> &Listener {
    listeners
        .get(index as usize)
        .or_else(|| listeners.iter().find(|l| l.transport == transport))
        .unwrap_or(&listeners[0])
}

/// The index of the listener a message to `hop` leaves by: same transport
/// and address family, else same transport, else the first.
fn listener_index_toward(listeners: &[Listener], hop: &crate::core::proxy::route::NextHop) -> u16 {
    let pos = listeners
        .iter()
        .position(|l| l.transport == hop.transport && l.v6 == hop.addr.is_ipv6())
        .or_else(|| listeners.iter().position(|l| l.transport == hop.transport));
    pos.unwrap_or(0) as u16
}

/// The listener a message to `hop` leaves by.
fn listener_toward<'a>(listeners: &'a [Listener], hop: &crate::core::proxy::route::NextHop) -> &'a Listener {
    listener_of(listeners, listener_index_toward(listeners, hop), hop.transport)
}

/// Sends a response to where the request it answers came from, counted.
fn send_response(counters: &mut Counters, origin: Origin, code: u16, bytes: Vec<u8>, out: &mut Vec<Output>) {
    let dest = match (origin.transport, origin.flow) {
        (Transport::Udp, _) | (_, None) => Dest::Udp { listener: origin.listener, peer: origin.peer },
        (_, Some(flow)) => Dest::Flow(flow),
    };
    counters.wire.count_sent(code);
    out.push(Output::Send { dest, bytes });
}

/// A To tag that is the same for every retransmission of a request, so
/// stateless answers stay consistent: FNV-1a over Call-ID, From tag, CSeq.
pub(crate) fn to_tag(msg: &Message<'_>) -> [u8; 16] {
    let part = |name| msg.header(name).unwrap_or_default();
    tag_of(part(HeaderName::CallId), part(HeaderName::From), part(HeaderName::CSeq))
}

/// The To tag the edge gave the INVITE an ACK acknowledges (its CSeq with
/// the method INVITE): the ACK of an answer the edge wrote itself carries it.
pub(crate) fn own_answer_tag(ack: &Message<'_>) -> [u8; 16] {
    let part = |name| ack.header(name).unwrap_or_default();
    let cseq = part(HeaderName::CSeq);
    let number = cseq.split(|c| c.is_ascii_whitespace()).next().unwrap_or_default();
    let mut invite = number.to_vec();
    invite.extend_from_slice(b" INVITE");
    tag_of(part(HeaderName::CallId), part(HeaderName::From), &invite)
}

fn tag_of(call_id: &[u8], from: &[u8], cseq: &[u8]) -> [u8; 16] {
    let h = owner::fnv1a(&[call_id, from, cseq]);
    let mut tag = [0u8; 16];
    for (i, t) in tag.iter_mut().enumerate() {
        *t = b"0123456789abcdef"[((h >> (60 - 4 * i)) & 0xf) as usize];
    }
    tag
}

/// Hosts an edge bound to `addr` (advertised as `advertise`) answers to.
/// A wildcard bind answers to any IP literal (`*`).
pub fn local_hosts(addr: SocketAddr, advertise: &str) -> Vec<Vec<u8>> {
    let mut hosts = vec![match addr.ip() {
        ip if ip.is_unspecified() => b"*".to_vec(),
        IpAddr::V4(ip) => ip.to_string().into_bytes(),
        IpAddr::V6(ip) => format!("[{ip}]").into_bytes(),
    }];
    let adv = advertise.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map(|(h, _)| h).unwrap_or(advertise);
    if !adv.is_empty() {
        hosts.push(adv.to_ascii_lowercase().into_bytes());
    }
    hosts
}

mod branch;
mod cancel;
mod clock;
pub mod cluster;
mod guard;
mod hide;
mod hygiene;
mod keepalive;
mod limits;
mod linger;
pub mod mid;
mod names;
mod nat;
mod probe;
mod proxy;
mod register;
mod relay;
mod step;
mod traced;
mod waiting;
pub use register::AuthConfig;

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod mid_tests;
#[cfg(test)]
mod names_tests;
#[cfg(test)]
mod profile_tests;
#[cfg(test)]
mod proxy_tests;
#[cfg(test)]
mod register_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ws_tests;
