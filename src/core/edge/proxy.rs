//! The proxy's request side (RFC 3261 §16.1–16.6): a request the edge does
//! not serve itself becomes a server transaction, is checked (Max-Forwards,
//! loops, trust of Route headers, authentication, relaying), gets its
//! targets (a dialog's next hop, a user's bindings, the core's upstreams)
//! and is forwarded to them as branches. Retransmissions, ACK and CANCEL
//! find their transaction here. What happens to the branches' answers is in
//! `branch.rs`.
//!
//! Trust: a request from an address in `proxy.trusted` comes from the core:
//! it is not challenged and may carry any Route. From anywhere else, a
//! request must be addressed to the edge (its first Route names the edge,
//! or it has none), out-of-dialog requests from users of the local domains
//! must authenticate (407) for the methods in `proxy.authenticate`, and a
//! request neither from nor to a local domain is refused (403, no open relay).

use super::linger::At;
use super::register::{DigestCheck, Unauthenticated};
use super::relay::Refusal;
use super::step::Ctx;
use super::waiting::Parked;
use super::{Edge, Output};
use crate::core::ask::Ask;
use crate::core::counters::Drop;
use crate::core::proxy::route::{hop_of_uri, hop_or_name, placeholder, NextHop};
use crate::core::proxy::state::{ProxyState, Target, Tx};
use crate::core::proxy::table::Id;
use crate::core::proxy::token::PARAM;
use crate::core::proxy::{route_plan, Hop};
use crate::core::registrar::request::aor_of;
use crate::core::resolve::Dest;
use crate::core::transaction::{Action, Msg, ServerKey, ServerTx};
use crate::core::{owner, Origin, Transport};
use crate::sip::{self, parse_name_addr, parse_uri, Essentials, HeaderName, Message, Method, Stored};
use std::collections::VecDeque;

/// Where a request goes, once checked.
pub(super) enum Decision {
    /// Try these in order (failover), or all at once when `fork`.
    Forward { targets: Vec<Target>, fork: bool },
    /// A user of a local domain: ask the AOR's owner for its bindings
    /// (only the one whose mid-registrar tag is given, when one is).
    Lookup(Vec<u8>, Option<u64>),
}

impl Edge {
    /// A request for the proxy (not REGISTER, not OPTIONS to the edge).
    pub(super) fn on_proxy_request(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        out: &mut Vec<Output>,
    ) {
        match ess.method {
            Method::Ack => return self.on_ack(origin, msg, ess, out),
            Method::Cancel => return self.on_cancel(origin, msg, ess, out),
            _ => {}
        }
        let Some(key) = self.new_server_key(origin, msg, ess, out) else { return };
        let trusted = self.proxy.cfg.trusts(origin.peer.ip());
        let decision = match self.check_and_decide(origin, msg, ess, trusted, out) {
            Ok(Some(d)) => d,
            Ok(None) => return, // answered (challenge)
            Err((code, reason)) => return self.reject(origin, msg, Some(ess), code, reason, out),
        };
        let (id, no_codec_left) = self.open_tx(origin, msg, ess, key, trusted, out);
        if no_codec_left {
            self.counters.proxy.sdp_rejected += 1;
            return self.answer_locally(id, 488, "Not Acceptable Here", out);
        }
        match decision {
            Decision::Forward { targets, fork } => self.start_targets(id, targets, fork, out),
            Decision::Lookup(aor, only) => self.lookup(id, aor, only, out),
        }
    }

    /// The server transaction key of a request that starts one; None when
    /// it was answered instead (a bad Via: 400; a retransmission: the
    /// transaction's last answer again).
    pub(super) fn new_server_key(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        out: &mut Vec<Output>,
    ) -> Option<ServerKey> {
        let Some(key) = server_key(msg, ess) else {
            self.reject(origin, msg, Some(ess), 400, "Bad Via", out);
            return None;
        };
        if let Some(at) = self.proxy.server_at(&key) {
            self.counters.proxy.retransmissions += 1;
            self.step_at(at, out, |p, cx, id, tx| {
                p.server_event(cx, id, tx, |s, now, acts| s.retransmission(now, acts))
            });
            return None;
        }
        Some(key)
    }

    /// Opens the server transaction of a request the proxy will forward:
    /// its id, and whether its SDP had no allowed codec left.
    pub(super) fn open_tx(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        key: ServerKey,
        trusted: bool,
        out: &mut Vec<Output>,
    ) -> (Id, bool) {
        let in_dialog = ess.to.tag().is_some();
        let dialog_creating = !in_dialog && matches!(ess.method, Method::Invite | Method::Subscribe | Method::Refer);
        let invite = ess.method == Method::Invite;
        let mut acts = Vec::new();
        let reliable = origin.transport.is_reliable();
        let mut trying = Vec::new();
        if invite {
            sip::write_response(
                msg,
                Some(ess),
                100,
                "Trying",
                None,
                Some((origin.peer.ip(), origin.peer.port())),
                &[],
                b"",
                &mut trying,
            );
        }
        // The SDP is filtered once for every branch; with no codec left the
        // transaction answers 488 itself (and absorbs the ACK).
        let filtered = self.proxy.filtered_request(&mut self.counters, msg);
        let no_codec_left = filtered.is_err();
        let request = match filtered {
            Ok(Some(bytes)) => Stored::new(bytes, msg.framing).ok(),
            _ => Some(Stored::of(msg)),
        };
        let server = ServerTx::start(invite, self.now_ms, reliable, &self.proxy.cfg.timers, &mut acts);
        let tx = Tx {
            key: key.clone(),
            server,
            invite,
            origin,
            request,
            last: trying,
            branches: Vec::new(),
            pending: VecDeque::new(),
            best: None,
            cancelled: false,
            inside: trusted,
            record_route: dialog_creating && self.proxy.cfg.record_route,
            lookup: None,
            started_ms: Some(self.now_ms),
            mid: None,
            held: None,
            profile: self.profile_of(origin, msg),
            wake: None,
        };
        let id = self.proxy.txs.insert(Box::new(tx));
        self.proxy.servers.insert(key, id);
        self.counters.proxy.transactions += 1;
        self.step(id, out, |p, cx, tx| p.run_server(cx, id, tx, acts));
        (id, no_codec_left)
    }

    /// §16.3 checks and the routing decision. `Ok(None)`: already answered.
    fn check_and_decide(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        trusted: bool,
        out: &mut Vec<Output>,
    ) -> Result<Option<Decision>, Refusal> {
        if ess.max_forwards == Some(0) {
            return Err((483, "Too Many Hops"));
        }
        let in_dialog = ess.to.tag().is_some();
        if !in_dialog && !trusted && self.outside_request_needs_auth(ess) {
            let realm = ess.from.uri.host;
            let user = ess.from.uri.user;
            if !self.proxy_authenticated(origin, msg, ess, realm, user, out)? {
                return Ok(None);
            }
        }
        self.decide(origin, msg, ess, trusted).map(Some)
    }

    /// 407 digest authentication of a local user's request: `Ok(false)`
    /// when a challenge was sent.
    #[allow(clippy::too_many_arguments)]
    fn proxy_authenticated(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        realm: &[u8],
        user: Option<&[u8]>,
        out: &mut Vec<Output>,
    ) -> Result<bool, Refusal> {
        let check = DigestCheck {
            header: HeaderName::ProxyAuthorization,
            method: ess.method.as_bytes(),
            realm,
            user,
            from: origin.peer.ip(),
        };
        match self.authenticate(msg, &check, out) {
            Ok(()) => Ok(true),
            Err(Unauthenticated::Forbidden(reason)) => Err((403, reason)),
            Err(Unauthenticated::Challenge { stale }) => {
                self.counters.proxy.challenges += 1;
                self.challenge(origin, msg, ess, 407, realm, stale, out);
                Ok(false)
            }
        }
    }

    /// Out-of-dialog requests from untrusted senders: a local user must
    /// authenticate the methods configured; a stranger may only reach
    /// local users (403 otherwise: no open relay).
    fn outside_request_needs_auth(&self, ess: &Essentials<'_>) -> bool {
        let from_local = self.serves_domain(ess.from.uri.host);
        from_local
            && self.reg.auth_enabled()
            && self.proxy.cfg.authenticate.iter().any(|m| m.as_slice() == ess.method.as_bytes())
    }

    pub(super) fn serves_domain(&self, host: &[u8]) -> bool {
        crate::core::registrar::request::serves(&self.cfg.registrar, host)
    }

    /// Where a request goes: §16.4 route preprocessing, a dialog token, a
    /// dialog's remote target, a local user, or a route to the core.
    pub(super) fn decide(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        trusted: bool,
    ) -> Result<Decision, Refusal> {
        let hop = self.arrival_hop(origin, false);
        let mut plan = route_plan(msg, &hop).map_err(|r| (r.code(), r.reason()))?;
        if let Some(l) = plan.next_route.and_then(|r| self.listener_named(r)) {
            // A doubled Record-Route (RFC 5658): the next Route names the
            // listener the dialog leaves by (another transport or port).
            let out = Hop { in_transport: l.via_transport(), in_host: &l.host, in_port: l.port, ..hop };
            plan = route_plan(msg, &out).map_err(|r| (r.code(), r.reason()))?;
        }
        let ruri_raw = plan.request_uri.unwrap_or(ess.ruri_raw(msg));
        let ruri = parse_uri(ruri_raw).map_err(|_| (400, "Bad Request-URI"))?;
        let forward = |t: Target| Ok(Decision::Forward { targets: vec![t], fork: false });
        if let Some(route) = plan.next_route {
            if !trusted && plan.popped == 0 {
                return Err((403, "Route not allowed"));
            }
            if !trusted && ess.to.tag().is_none() && !self.serves_domain(ess.from.uri.host) {
                return Err((403, "Relaying Denied"));
            }
            let uri = parse_name_addr(route).map_err(|_| (400, "Bad Route header"))?.uri;
            let hop = hop_or_name(&uri).ok_or((404, "Unresolvable Route"))?;
            return forward(self.direct_target(ruri_raw.to_vec(), hop));
        }
        let to_us = ruri.user.is_none() && hop.uri_is_us(&ruri);
        if to_us {
            if let Some(Some(token)) = ruri.param(PARAM) {
                let t = self.proxy.token.open(token).ok_or((403, "Invalid dialog token"))?;
                return forward(self.token_target(t)?);
            }
        }
        if ess.to.tag().is_some() {
            if !trusted && plan.popped == 0 {
                // A dialog through this edge names it (Route) or carries its
                // token; anything else would let a made-up To tag relay anywhere.
                return Err((403, "Not a dialog of this edge"));
            }
            if let Some((uri, hop)) = super::nat::alias_target(ruri_raw) {
                return forward(self.direct_target(uri, (hop, None)));
            }
            if hop.uri_is_us(&ruri) {
                // In a dialog, addressed to the edge, with no Route and no token: not ours.
                return Err((481, "Call/Transaction Does Not Exist"));
            }
            let hop = hop_or_name(&ruri).ok_or((404, "Unresolvable Request-URI"))?;
            return forward(self.direct_target(ruri_raw.to_vec(), hop));
        }
        if let Some(found) = self.mid_target(&ruri, &hop) {
            return found;
        }
        if ruri.user.is_some() && self.reg.enabled() && self.serves_domain(ruri.host) {
            return Ok(Decision::Lookup(aor_of(&ruri), None));
        }
        if to_us {
            return Err((501, "Not Implemented"));
        }
        if !trusted && !self.serves_domain(ess.from.uri.host) {
            return Err((403, "Relaying Denied"));
        }
        let Some(route) = self.proxy.routes.select(&ruri) else {
            // No route to the core: a Request-URI naming another domain is
            // resolved (RFC 3263) and reached directly.
            return match Dest::of_uri(&ruri) {
                Some(d) => forward(self.direct_target(ruri_raw.to_vec(), (placeholder(&d), Some(Box::new(d))))),
                None => Err((404, "No Route")),
            };
        };
        let order = self.proxy.routes.plan(route, owner::fnv1a(&[ess.call_id]));
        let targets = order
            .into_iter()
            .map(|i| {
                let u = &self.proxy.routes.upstreams[i];
                let mut t = Target::at(ruri_raw.to_vec(), Vec::new(), u.hop, Some(i), true);
                if let Some(d) = &u.name {
                    // A named upstream is not marked down: its addresses fail over.
                    (t.name, t.upstream, t.tls_name) = (Some(Box::new(d.clone())), None, u.tls_name.clone());
                }
                t
            })
            .collect();
        Ok(Decision::Forward { targets, fork: false })
    }

    /// A target reached straight at `hop` (or a name), no Route set, no
    /// upstream: inside when `hop` is the operator's core (for a name,
    /// decided per address once resolved).
    fn direct_target(&self, uri: Vec<u8>, (hop, name): (NextHop, Option<Box<Dest>>)) -> Target {
        let inside = name.is_none() && self.proxy.cfg.trusts(hop.addr.ip());
        Target { name, ..Target::at(uri, Vec::new(), hop, None, inside) }
    }

    fn token_target(&self, t: crate::core::proxy::token::DialogTarget) -> Result<Target, Refusal> {
        let hop = match t.dest {
            Some((tr, addr)) => NextHop {
                transport: Transport::from_proto_number(tr).ok_or((400, "Bad dialog target"))?,
                addr,
                flow: t.flow,
            },
            None => {
                let first = match t.routes.first() {
                    Some(r) => parse_name_addr(r).map_err(|_| (400, "Bad dialog route"))?.uri,
                    None => parse_uri(&t.uri).map_err(|_| (400, "Bad dialog target"))?,
                };
                // The dialog's inside route set: the core's side.
                let (hop, name) = hop_or_name(&first).ok_or((404, "Unresolvable dialog target"))?;
                return Ok(Target { name, ..Target::at(t.uri, t.routes, hop, None, true) });
            }
        };
        let inside = self.proxy.cfg.trusts(hop.addr.ip());
        Ok(Target::at(t.uri, t.routes, hop, None, inside))
    }

    /// The edge as seen by the listener `origin` arrived on.
    pub(super) fn arrival_hop(&self, origin: Origin, record_route: bool) -> Hop<'_> {
        let l = self.listener(origin.listener, origin.transport);
        Hop {
            shard: self.cfg.shard,
            seq: 0,
            transport: l.via_transport(),
            host: &l.host,
            port: l.port,
            in_transport: l.via_transport(),
            in_host: &l.host,
            in_port: l.port,
            record_route,
            source: None,
            force_rport: false,
        }
    }

    /// The listener a Route value (name-addr) names by host and port, if any.
    fn listener_named(&self, route: &[u8]) -> Option<&super::Listener> {
        let u = parse_name_addr(route).ok()?.uri;
        let port = u.port.unwrap_or(crate::core::proxy::default_port(u.scheme == crate::sip::Scheme::Sips));
        self.cfg.listeners.iter().find(|l| l.port == port && crate::core::proxy::host_eq(&l.host, u.host))
    }

    /// Starts the first target (failover keeps the rest), or every target up
    /// to `max_branches` when forking in parallel.
    pub(super) fn start_targets(&mut self, id: Id, targets: Vec<Target>, fork: bool, out: &mut Vec<Output>) {
        self.step(id, out, |p, cx, tx| p.start_targets(cx, id, tx, targets, fork));
    }

    /// A user of a local domain: its bindings, from this shard, or asked
    /// of the AOR's owner (the transaction waits in `Edge::waiting`).
    fn lookup(&mut self, id: Id, aor: Vec<u8>, only: Option<u64>, out: &mut Vec<Output>) {
        let owner = owner::shard_of(&aor, self.cfg.shards as usize) as u16;
        if owner == self.cfg.shard && self.cluster.is_some() {
            return self.locate_shared(aor, super::waiting::Seeker::Here(id), out);
        }
        if owner == self.cfg.shard {
            let targets = self.binding_targets(&aor, only);
            return self.start_targets(id, targets, true, out);
        }
        let token = self.ask(Parked::Lookup(id), Ask::Lookup { shard: owner, aor, only }, out);
        if let Some(tx) = self.proxy.txs.get_mut(id) {
            tx.lookup = Some(token);
        }
    }

    /// Back home with the bindings.
    pub(super) fn on_located(&mut self, id: Id, targets: Vec<Target>, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        tx.lookup = None;
        if tx.cancelled {
            return self.answer_locally(id, 487, "Request Terminated", out);
        }
        self.start_targets(id, targets, true, out);
    }

    /// No bindings came back (the owner could not be reached, or did not
    /// answer in time): 500.
    pub(super) fn lookup_failed(&mut self, id: Id, out: &mut Vec<Output>) {
        if let Some(tx) = self.proxy.txs.get_mut(id) {
            tx.lookup = None;
        }
        self.counters.wire.drops.add(Drop::LocationLookupLost);
        self.answer_locally(id, 500, "Location Lookup Failed", out);
    }

    /// Targets for every binding of `aor`, highest q first: the Contact as
    /// Request-URI, its Path as Route, sent to where the REGISTER came from
    /// (the NAT's public side) or on the connection it came on.
    pub(super) fn binding_targets(&self, aor: &[u8], only: Option<u64>) -> Vec<Target> {
        let mut list = self.local_targets(aor, only);
        list.sort_by_key(|(q, _)| std::cmp::Reverse(*q));
        list.into_iter().map(|(_, t)| t).collect()
    }

    /// This shard's bindings of `aor` as targets, with their q-values
    /// (only the binding a mid-registrar tag names, when one is given).
    pub(super) fn local_targets(&self, aor: &[u8], only: Option<u64>) -> Vec<(u16, Target)> {
        self.reg
            .location
            .get(aor)
            .iter()
            .filter(|b| b.expires_at() > self.now)
            .filter(|b| only.is_none_or(|t| crate::core::registrar::mid::binding_tag(aor, b) == t))
            .filter_map(|b| {
                let routes: Vec<Vec<u8>> = b.path().map(|p| p.to_vec()).collect();
                let hop = match routes.first() {
                    Some(r) => hop_of_uri(&parse_name_addr(r).ok()?.uri)?,
                    None => NextHop { transport: b.transport(), addr: b.source(), flow: b.flow() },
                };
                // A binding registered from a trusted address (a mid-registrar
                // edge, a PBX of the core) is inside: no NAT alias, no hiding.
                let inside = self.proxy.cfg.trusts(b.source().ip());
                Some((b.q(), Target::at(b.contact().to_vec(), routes, hop, None, inside)))
            })
            .collect()
    }

    /// A CANCEL (§16.10): answered 200 at once when it matches an INVITE
    /// transaction (481 when not), then every pending branch is cancelled.
    fn on_cancel(&mut self, origin: Origin, msg: &Message<'_>, ess: &Essentials<'_>, out: &mut Vec<Output>) {
        let target = server_key(msg, ess).and_then(|k| k.cancel_target()).and_then(|k| self.proxy.server_at(&k));
        let Some(at) = target else {
            return self.reject(origin, msg, Some(ess), 481, "Call/Transaction Does Not Exist", out);
        };
        self.respond(origin, msg, Some(ess), 200, "OK", &[], out);
        if let At::Live(id) = at {
            // A lingering transaction has sent its final answer: nothing to cancel.
            self.cancel_tx(id, out);
        }
    }

    /// An ACK: hop by hop when it acknowledges a 3xx–6xx this edge sent
    /// (absorbed by the transaction), end to end otherwise (a 2xx's ACK is
    /// routed statelessly like any in-dialog request).
    fn on_ack(&mut self, origin: Origin, msg: &Message<'_>, ess: &Essentials<'_>, out: &mut Vec<Output>) {
        if let Some(at) = server_key(msg, ess).and_then(|k| self.proxy.server_at(&k)) {
            if self.step_at(at, out, |p, cx, id, tx| p.absorb_ack(cx, id, tx)) == Some(true) {
                return;
            }
        }
        if ess.to.tag() == Some(&super::own_answer_tag(msg)[..]) {
            // The ACK of a challenge or refusal the edge sent without state.
            return self.counters.wire.drops.add(Drop::AckOfOwnAnswer);
        }
        let trusted = self.proxy.cfg.trusts(origin.peer.ip());
        match self.decide(origin, msg, ess, trusted) {
            Ok(Decision::Forward { mut targets, .. }) if !targets.is_empty() => {
                let mut target = targets.swap_remove(0);
                if let Some(dest) = target.name.take() {
                    // A stateless ACK cannot wait: a name only when known.
                    let Some((transport, addr)) = self.proxy.names.peek(self.now_ms, &dest) else {
                        return self.counters.wire.drops.add(Drop::AckNotRoutable);
                    };
                    target.hop = NextHop { transport, addr, flow: None };
                }
                let profile = self.profile_of(origin, msg);
                let (proxy, mut cx) = self.proxy_cx(out);
                proxy.forward_stateless(&mut cx, origin, profile, msg, &target);
            }
            _ => self.counters.wire.drops.add(Drop::AckNotRoutable),
        }
    }

    /// Forgets a transaction and every key that finds it.
    pub(super) fn drop_tx(&mut self, id: Id) {
        self.take_tx(id);
    }

    /// Takes a transaction out of the live table, with every key and timer
    /// that finds it.
    pub(super) fn take_tx(&mut self, id: Id) -> Option<Box<Tx>> {
        let mut tx = self.proxy.txs.remove(id)?;
        self.proxy.unwake(&mut tx);
        self.proxy.servers.remove(&tx.key);
        for b in &tx.branches {
            self.proxy.clients.remove(&b.key);
            if b.cancel.is_some() {
                // Its CANCEL's key too: that client transaction may outlive the server one.
                self.proxy.clients.remove(&super::cancel::cancel_key(&b.key));
            }
        }
        if let Some(token) = tx.lookup {
            self.waiting.cancel(token);
        }
        Some(tx)
    }
}

impl ProxyState {
    /// Runs what a server transaction asked for. Its end (`Terminated`)
    /// needs nothing here: the step that ended it forgets the transaction.
    /// Its timers are the machine's own deadlines (`Edge::step` keeps the
    /// wheel in step with them).
    pub(super) fn run_server(&mut self, cx: &mut Ctx<'_>, _id: Id, tx: &Tx, acts: Vec<Action>) {
        for a in acts {
            if let Action::Send(Msg::Response(code)) | Action::Resend(Msg::Response(code)) = a {
                cx.send(tx.origin, code, tx.last.clone())
            }
        }
    }

    /// An ACK for the 3xx–6xx the transaction sent is absorbed (true);
    /// any other goes on end to end.
    pub(super) fn absorb_ack(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) -> bool {
        let absorbs = tx.server.absorbs_ack();
        if absorbs {
            self.server_event(cx, id, tx, |s, now, acts| s.ack(now, acts));
        }
        absorbs
    }
}

/// §17.2.3 key of a request from its top Via. An RFC 2543 peer's branch
/// (no magic cookie) cannot name a transaction, so one is made from what
/// RFC 2543 matching compares: Request-URI, Call-ID, From, CSeq number and
/// the top Via, all equal in an INVITE and its ACK or CANCEL.
pub(super) fn server_key(msg: &Message<'_>, ess: &Essentials<'_>) -> Option<ServerKey> {
    let v = &ess.top_via;
    let host = std::str::from_utf8(v.host).ok()?;
    let method = std::str::from_utf8(ess.method.as_bytes()).ok()?;
    let branch = v.branch().filter(|b| b.starts_with(crate::core::owner::COOKIE) && b.len() > 7);
    match branch {
        Some(b) => ServerKey::new(std::str::from_utf8(b).ok()?, host, v.port, method).ok(),
        None => {
            let top = msg.values(sip::HeaderName::Via).next().map(|(v, _)| v).unwrap_or_default();
            let parts = [
                ess.ruri_raw(msg),
                ess.call_id,
                msg.header(sip::HeaderName::From).unwrap_or_default(),
                &ess.cseq.to_le_bytes(),
                top,
            ];
            let h = crate::core::owner::fnv1a(&parts);
            ServerKey::new(&format!("z9hG4bK-2543-{h:016x}"), host, v.port, method).ok()
        }
    }
}

impl Essentials<'_> {
    /// The Request-URI as written.
    pub(crate) fn ruri_raw<'m>(&self, msg: &Message<'m>) -> &'m [u8] {
        match msg.start {
            sip::StartLine::Request { uri, .. } => uri,
            _ => b"",
        }
    }
}
