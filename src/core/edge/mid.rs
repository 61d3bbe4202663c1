//! The edge's side of the mid-registrar (`registrar.mode = "mid"`): a
//! REGISTER goes to the shard owning its AOR (the raw request, over the
//! mesh: that shard keeps the book of what the core holds); there it is
//! authenticated when the edge authenticates devices, then answered from
//! the edge's table or forwarded to the core registrar as a transaction of
//! the proxy with the device's contacts replaced by the edge's
//! (`registrar::mid`). The core's final answer is held for this file
//! (`Tx::mid`, `Edge::step`): a 2xx stores the device's binding with its
//! short expiry and the device gets the edge's own 200; anything else is
//! relayed as the core sent it and nothing is stored (a 401 challenge
//! reaches the device, whose answer is forwarded in turn). When the core
//! is down (408, 5xx) a device whose binding the core accepted and still
//! holds gets a 200 from the table (its registration upstream runs on);
//! any other device gets the core's failure, so nothing is stored that
//! the core never accepted.
//!
//! A device that stops refreshing is de-registered upstream once, when
//! its short registration ends (per AOR: when the AOR's last one does),
//! by a REGISTER the edge sends itself (its answer is only counted: a core
//! that challenges it lets the registration lapse at `upstream_expires`).

use super::proxy::Decision;
use super::relay::Refusal;
use super::{Edge, Output};
use crate::core::mesh::MeshMsg;
use crate::core::owner;
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::Target;
use crate::core::registrar::apply::apply;
use crate::core::registrar::mid::{
    binding_tag, contact_tag, edge_contact, parse_tag, Forwarded, Plan, DOMAIN_PARAM, TAG_PARAM,
};
use crate::core::registrar::request::{aor_of, aor_of_typed};
use crate::core::registrar::{reply, RegisterOp};
use crate::core::Origin;
use crate::sip::{self, Editor, Essentials, HeaderName, Message, Stored};

/// What the mid-registrar counts (`sipedge_mid_*`).
#[derive(Debug, Default, Clone)]
pub struct MidStats {
    /// REGISTERs the edge answered from its table.
    pub absorbed: u64,
    /// REGISTERs forwarded to the core.
    pub forwarded: u64,
    /// Forwarded REGISTERs the core accepted (2xx).
    pub accepted: u64,
    /// Forwarded REGISTERs the core refused (its answer relayed).
    pub refused: u64,
    /// Forwarded REGISTERs the core did not answer, or answered 408/5xx.
    pub core_failures: u64,
    /// De-registrations sent to the core for devices that went away.
    pub deregistrations: u64,
}

impl Edge {
    /// Upstream registrations this shard's book holds; None: not a mid-registrar.
    pub fn mid_upstreams(&self) -> Option<usize> {
        self.reg.mid.as_ref().map(|b| b.len())
    }

    /// A REGISTER in mid mode, on whichever shard received it.
    pub(super) fn on_mid_register(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        out: &mut Vec<Output>,
    ) {
        let owner = owner::shard_of(&aor_of(&ess.to.uri), self.cfg.shards as usize) as u16;
        if owner != self.cfg.shard {
            self.counters.wire.mesh_sent += 1;
            let msg = MeshMsg::Request { origin, bytes: msg.buf.to_vec() };
            return out.push(Output::ToShard { shard: owner, msg });
        }
        let Some(key) = self.new_server_key(origin, msg, ess, out) else { return };
        let Some(op) = self.authenticated_op(origin, msg, ess, out) else { return };
        let Some(book) = &self.reg.mid else { return };
        match book.plan(&self.reg.location, &op, self.now, true) {
            Plan::Absorb => {
                self.counters.mid.absorbed += 1;
                let result = self.mid_store(op, false);
                self.answer_register(origin, msg, Some(ess), self.now_ms, result, out);
            }
            Plan::Forward => self.mid_forward(origin, msg, ess, key, op, out),
        }
    }

    /// Applies `op` to the table with the devices' short expiry; `accepted`:
    /// the core has just accepted it (the book learns what it holds).
    fn mid_store(
        &mut self,
        mut op: RegisterOp,
        accepted: bool,
    ) -> Result<Vec<crate::core::registrar::BindingView>, crate::core::registrar::Reject> {
        let Some(book) = &mut self.reg.mid else { return Ok(Vec::new()) };
        let short = book.cfg.device_expires;
        for c in op.contacts.iter_mut() {
            c.expires = c.expires.min(short);
        }
        let result = apply(&mut self.reg.location, &op, &self.reg.cfg);
        if result.is_ok() {
            if accepted {
                book.accepted(&op, self.now);
            } else {
                book.refreshed(&op, self.now);
            }
        }
        result
    }

    /// Forwards `op`'s REGISTER to the core with the edge's contacts.
    fn mid_forward(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        ess: &Essentials<'_>,
        key: crate::core::transaction::ServerKey,
        op: RegisterOp,
        out: &mut Vec<Output>,
    ) {
        let Some(route) = self.proxy.routes.registrar() else {
            return self.reject(origin, msg, None, 500, "No Core Registrar", out);
        };
        let order = self.proxy.routes.plan(route, owner::fnv1a(&[&op.call_id]));
        let targets: Vec<Target> = order
            .into_iter()
            .map(|i| {
                Target::at(ess.ruri_raw(msg).to_vec(), Vec::new(), self.proxy.routes.upstreams[i].hop, Some(i), true)
            })
            .collect();
        let Some(first) = targets.first().map(|t| t.hop) else { return };
        let bytes = self.upstream_register(msg, &op, first);
        let Ok(stored) = Stored::new(bytes, msg.framing) else {
            return self.reject(origin, msg, None, 500, "Server Internal Error", out);
        };
        let view = stored.view();
        let Ok(forward_ess) = sip::check_request(&view) else {
            return self.reject(origin, msg, None, 500, "Server Internal Error", out);
        };
        self.counters.mid.forwarded += 1;
        // Opened as from inside: the contacts are the edge's own, so no NAT
        // alias and no topology-hiding token is put on them.
        let (id, _) = self.open_tx(origin, &view, &forward_ess, key, true, out);
        if let Some(tx) = self.proxy.txs.get_mut(id) {
            tx.mid = Some(Box::new(Forwarded { op }));
        }
        self.start_targets(id, targets, false, out);
    }

    /// The REGISTER the core gets: the device's contacts replaced by the
    /// edge's (one per binding, or one for the AOR), Expires by each
    /// contact's own parameter. A wildcard goes as it is.
    fn upstream_register(&self, msg: &Message<'_>, op: &RegisterOp, hop: NextHop) -> Vec<u8> {
        let Some(book) = &self.reg.mid else { return msg.buf.to_vec() };
        if op.wildcard {
            return msg.buf.to_vec();
        }
        let l = super::listener_toward(&self.cfg.listeners, &hop);
        let edge = format!("{}:{}", String::from_utf8_lossy(&l.host), l.port);
        let (user, domain) = user_and_domain(&op.aor);
        let live = self.reg.location.get(&op.aor).iter().filter(|b| b.expires_at() > self.now).count();
        let mut contacts: Vec<Vec<u8>> = Vec::new();
        let mut seen = Vec::new();
        for c in &op.contacts {
            let tag = contact_tag(&book.cfg, op, c);
            if seen.contains(&tag) {
                continue;
            }
            seen.push(tag);
            let removes_all = op.contacts.iter().all(|c| c.expires == 0) && live <= op.contacts.len();
            let keep = c.expires > 0 || (book.cfg.per_aor && !removes_all);
            let expires = if keep { book.cfg.upstream_expires } else { 0 };
            contacts.push(edge_contact(user, &edge, domain, tag, expires));
        }
        let mut e = Editor::new(msg);
        e.remove_header_lines(HeaderName::Contact, 0);
        e.remove_header_lines(HeaderName::Expires, 0);
        for c in contacts.iter().rev() {
            e.insert_header_first("Contact", c);
        }
        let mut out = Vec::with_capacity(msg.buf.len() + 128);
        e.write(&mut out);
        out
    }

    /// The core's final answer to a forwarded REGISTER (held by `step`).
    pub(super) fn on_core_answer(
        &mut self,
        id: crate::core::proxy::table::Id,
        fwd: Forwarded,
        code: u16,
        bytes: Vec<u8>,
        out: &mut Vec<Output>,
    ) {
        let Some(request) = self.proxy.txs.get(id).and_then(|t| t.request.clone()) else { return };
        let origin = match self.proxy.txs.get(id) {
            Some(t) => t.origin,
            None => return,
        };
        let core_down = code == 408 || code >= 500;
        let still_held = core_down
            && self
                .reg
                .mid
                .as_ref()
                .is_some_and(|b| b.plan(&self.reg.location, &fwd.op, self.now, false) == Plan::Absorb);
        let answer = if (200..300).contains(&code) || still_held {
            if (200..300).contains(&code) {
                self.counters.mid.accepted += 1;
            } else {
                self.counters.mid.core_failures += 1;
            }
            let result = self.mid_store(fwd.op, (200..300).contains(&code));
            let msg = request.view();
            let ess = sip::check_request(&msg).ok();
            let mut ok = Vec::with_capacity(msg.buf.len() + 256);
            let code = match &result {
                Ok(bindings) => {
                    let tag = super::to_tag(&msg);
                    let flow_timer = self.terms_of(origin, &msg).flow_timer;
                    reply::write_ok(&msg, ess.as_ref(), origin.peer, &tag, bindings, self.now, flow_timer, &mut ok);
                    self.keep_alive(origin, &msg, bindings);
                    200
                }
                Err(r) => {
                    reply::write_reject(&msg, ess.as_ref(), origin.peer, &super::to_tag(&msg), r, &mut ok);
                    r.code
                }
            };
            (code, ok)
        } else {
            if core_down {
                self.counters.mid.core_failures += 1;
            } else {
                self.counters.mid.refused += 1;
            }
            (code, bytes)
        };
        self.step(id, out, |p, cx, tx| p.answer_upstream(cx, id, tx, answer.0, answer.1));
    }

    /// Devices whose short registration ended without a refresh: one
    /// de-registration each to the core (per AOR: for the last one).
    pub(super) fn mid_tick(&mut self, out: &mut Vec<Output>) {
        let now = self.now;
        let Some(book) = &mut self.reg.mid else { return };
        let per_aor = book.cfg.per_aor;
        let loc = &self.reg.location;
        let gone = book.due(now, |aor, tag| {
            loc.get(aor).iter().any(|b| b.expires_at() > now && (per_aor || binding_tag(aor, b) == tag))
        });
        let Some(route) = self.proxy.routes.registrar() else { return };
        for (tag, up) in gone {
            let Some(&i) = self.proxy.routes.plan(route, tag).first() else { continue };
            let hop = self.proxy.routes.upstreams[i].hop;
            let l = super::listener_toward(&self.cfg.listeners, &hop);
            let host = String::from_utf8_lossy(&l.host).into_owned();
            let edge = format!("{host}:{}", l.port);
            let (user, domain) = user_and_domain(&up.aor);
            let contact = edge_contact(user, &edge, domain, tag, 0);
            self.proxy.seq += 1;
            let mut branch = Vec::with_capacity(32);
            owner::write_branch(self.cfg.shard, self.proxy.seq, &mut branch);
            let aor = String::from_utf8_lossy(&up.aor);
            let bytes = format!(
                "REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/{t} {edge};branch={b};rport\r\nMax-Forwards: 70\r\nFrom: <{aor}>;tag={tag:x}\r\nTo: <{aor}>\r\nCall-ID: {DEREG}{tag:x}-{now}@{host}\r\nCSeq: 1 REGISTER\r\nContact: {c}\r\nContent-Length: 0\r\n\r\n",
                domain = String::from_utf8_lossy(domain),
                t = l.via_transport(),
                b = String::from_utf8_lossy(&branch),
                c = String::from_utf8_lossy(&contact),
            );
            self.counters.mid.deregistrations += 1;
            self.send_hop(hop, bytes.into_bytes(), out);
        }
    }

    /// A response to a de-registration this edge sent: counted, consumed.
    pub(super) fn is_dereg_answer(&self, msg: &Message<'_>) -> bool {
        self.reg.mid.is_some() && msg.header(HeaderName::CallId).is_some_and(|c| c.starts_with(DEREG.as_bytes()))
    }

    /// A request from the core to the edge's contact of a mid registration
    /// (`sip:user@edge;md=domain;mr=tag`): the device's binding (per AOR:
    /// every binding of the AOR). None: not such a request.
    pub(super) fn mid_target(
        &self,
        ruri: &sip::Uri<'_>,
        hop: &crate::core::proxy::Hop<'_>,
    ) -> Option<Result<Decision, Refusal>> {
        let book = self.reg.mid.as_ref()?;
        let tag = ruri.param(TAG_PARAM)?;
        if !hop.uri_is_us(ruri) {
            return None;
        }
        let (Some(user), Some(Some(domain)), Some(tag)) =
            (ruri.user, ruri.param(DOMAIN_PARAM), tag.and_then(parse_tag))
        else {
            return Some(Err((404, "Not Found")));
        };
        let typed = format!("sip:{}@{}", String::from_utf8_lossy(user), String::from_utf8_lossy(domain));
        let Some(aor) = aor_of_typed(&typed) else { return Some(Err((404, "Not Found"))) };
        Some(Ok(Decision::Lookup(aor, (!book.cfg.per_aor).then_some(tag))))
    }

    /// On the AOR's owner: a REGISTER another shard handed over (mid mode).
    pub(super) fn on_handed_register(&mut self, origin: Origin, bytes: &[u8], out: &mut Vec<Output>) {
        let Ok(sip::Status::Complete(msg)) = sip::scan(bytes, origin.transport.framing()) else { return };
        let Ok(ess) = sip::check_request(&msg) else { return };
        self.on_mid_register(origin, &msg, &ess, out);
    }
}

/// The Call-ID prefix of the edge's own de-registrations.
const DEREG: &str = "mid-dereg-";

/// `sip:user@domain` → (user, domain).
fn user_and_domain(aor: &[u8]) -> (&[u8], &[u8]) {
    let rest = aor.strip_prefix(b"sip:").or_else(|| aor.strip_prefix(b"sips:")).unwrap_or(aor);
    match rest.iter().position(|&c| c == b'@') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (b"", rest),
    }
}
