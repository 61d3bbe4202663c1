//! The proxy's branches (RFC 3261 §16.6–16.10): forwarding a copy of a
//! request to one target under its own client transaction, the answers
//! that come back (provisionals relayed, every 2xx relayed at once, the
//! best of the 3xx–6xx chosen when all branches are done), failover to the
//! next upstream, serial and parallel forking, and the timers of every
//! transaction. Each is a step of one transaction (`step.rs`); how copies
//! and responses are made and sent is `relay.rs`'s, CANCEL and Timer C
//! `cancel.rs`'s, the upstreams' health `probe.rs`'s.

use super::relay::Forward;
use super::step::Ctx;
use super::{Edge, Output};
use crate::core::counters::Drop;
use crate::core::mesh::MeshMsg;
use crate::core::proxy::ack::build_ack;
use crate::core::proxy::state::{Best, Branch, Part, ProxyState, Target, Tx, WHEEL_MS};
use crate::core::proxy::table::Id;
use crate::core::transaction::{Action, ClientKey, ClientTx, Msg, ServerTx, TimerName};
use crate::core::{owner, Origin};
use crate::sip::{self, Framing, HeaderName, Message, ResponseEssentials, Status, Stored};
use std::collections::VecDeque;

impl Edge {
    /// A response whose top Via names this shard (`resp`: what the owner
    /// check parsed).
    pub(super) fn on_proxy_response(
        &mut self,
        _origin: Origin,
        msg: &Message<'_>,
        resp: &ResponseEssentials<'_>,
        out: &mut Vec<Output>,
    ) {
        let (code, method) = (resp.code, resp.cseq_method);
        let branch = resp.top_via.branch().unwrap_or_default();
        let method = String::from_utf8_lossy(method.as_bytes());
        if method == "REGISTER" && self.is_dereg_answer(msg) {
            return; // a de-registration's answer: nothing waits for it
        }
        let (proxy, mut cx) = self.proxy_cx(out);
        if proxy.on_probe_answer(&mut cx, branch) {
            return;
        }
        let found = self.proxy.client_at(self.cfg.shard, branch, &method);
        let matched = found.and_then(|(at, part)| {
            self.step_at(at, out, |p, cx, id, tx| {
                let part = part.or_else(|| super::linger::part_of(tx, branch, &method))?;
                p.on_response(cx, id, tx, part, code, msg);
                Some(())
            })?
        });
        if matched.is_some() {
            return;
        }
        let (proxy, mut cx) = self.proxy_cx(out);
        if code / 100 == 2 && method == "INVITE" {
            // A 2xx retransmission after the transaction ended: relay it (§16.7, RFC 6026).
            return proxy.forward_late_2xx(&mut cx, msg);
        }
        cx.counters.wire.drops.add(Drop::NoMatchingTransaction);
    }

    /// A request the shard could not write. When it is a branch of a
    /// transaction of this shard (its top Via names us), the branch's client
    /// transaction takes a transport error (§17.1.4); a branch of another
    /// shard is told over the mesh. ACKs and responses have nothing to fail.
    pub(super) fn on_undeliverable(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else {
            return self.counters.wire.drops.add(Drop::UndeliverableUnscannable);
        };
        let Some(method) = msg.method().filter(|m| !matches!(m, sip::Method::Ack)) else {
            return self.counters.wire.drops.add(Drop::Undeliverable);
        };
        // Our Via is on top: its branch names the shard and the transaction.
        let top = msg.values(HeaderName::Via).next().and_then(|(v, _)| sip::parse_via(v).ok());
        let branch = top.as_ref().and_then(|v| v.branch()).unwrap_or_default();
        match owner::branch_shard(branch) {
            Some(s) if s != self.cfg.shard && s < self.cfg.shards => {
                self.counters.wire.mesh_sent += 1;
                return out.push(Output::ToShard { shard: s, msg: MeshMsg::Undeliverable { bytes: bytes.to_vec() } });
            }
            Some(s) if s == self.cfg.shard => {}
            _ => return self.counters.wire.drops.add(Drop::Undeliverable),
        }
        let method = String::from_utf8_lossy(method.as_bytes());
        let found = self.proxy.client_at(self.cfg.shard, branch, &method);
        let matched = found.and_then(|(at, part)| {
            self.step_at(at, out, |p, cx, id, tx| {
                let part = part.or_else(|| super::linger::part_of(tx, branch, &method))?;
                p.client_event(cx, id, tx, part, None, |c, now, acts| c.transport_error(now, acts));
                Some(())
            })?
        });
        if matched.is_none() {
            self.counters.wire.drops.add(Drop::UndeliverableTransactionGone);
        }
    }

    /// Answers transaction `id`'s request with a response the edge builds.
    pub(super) fn answer_locally(&mut self, id: Id, code: u16, reason: &str, out: &mut Vec<Output>) {
        self.step(id, out, |p, cx, tx| p.answer_locally(cx, id, tx, code, reason));
    }

    /// CANCEL every branch of transaction `id` still waiting (§16.10).
    pub(super) fn cancel_tx(&mut self, id: Id, out: &mut Vec<Output>) {
        self.step(id, out, |p, cx, tx| p.cancel_tx(cx, id, tx));
    }

    /// Fires the transaction timers due at `now_ms` and probes the upstreams.
    /// A transaction's wheel entry fired: each of its deadlines due goes to
    /// its machine, earliest first (`core::proxy::wake`). The lingering
    /// transactions go first: one that starts to linger now is scheduled
    /// after the present.
    pub(super) fn proxy_tick(&mut self, out: &mut Vec<Output>) {
        let slot = self.now_ms / WHEEL_MS;
        let mut due = Vec::new();
        self.proxy.lingering.due(slot, &mut due);
        for h in due {
            self.step_lingering(h, out, |p, cx, tx| p.fire_due(cx, Id::NONE, tx));
        }
        let mut woken = Vec::new();
        self.proxy.wheel.advance(slot, &mut woken);
        for id in woken {
            self.step(id, out, |p, cx, tx| {
                p.unwake(tx);
                p.fire_due(cx, id, tx);
            });
        }
        let (proxy, mut cx) = self.proxy_cx(out);
        proxy.probe(&mut cx);
    }
}

impl ProxyState {
    /// Hands each deadline of the transaction due now to its machine (or
    /// Timer C), earliest first, until its server transaction ends.
    fn fire_due(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) {
        for (_, part, name) in tx.due(cx.now_ms) {
            if tx.server.is_terminated() {
                break;
            }
            self.on_timer(cx, id, tx, part, name);
        }
    }

    /// Starts the first target (failover keeps the rest), or every target up
    /// to `max_branches` when forking in parallel.
    pub(super) fn start_targets(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, targets: Vec<Target>, fork: bool) {
        if targets.is_empty() {
            return self.answer_locally(cx, id, tx, 480, "Temporarily Unavailable");
        }
        let parallel = fork && !self.cfg.serial;
        let start = if parallel { self.cfg.max_branches } else { 1 };
        let mut targets: VecDeque<Target> = targets.into();
        let first: Vec<Target> = (0..start).filter_map(|_| targets.pop_front()).collect();
        // Parallel forking beyond max_branches drops the rest; failover and serial keep them.
        tx.pending = if parallel { VecDeque::new() } else { targets };
        // Exactly as many as start now (a `Vec` of 336-byte branches would
        // otherwise take room for four: a lingering transaction's largest part).
        tx.branches.reserve_exact(first.len());
        for t in first {
            self.start_branch(cx, id, tx, t);
        }
    }

    /// Forwards the transaction's request to `target` as a new branch.
    pub(super) fn start_branch(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, mut target: Target) {
        if tx.server.is_terminated() || tx.branches.len() >= u8::MAX as usize / 2 {
            return;
        }
        if let Some(dest) = target.name.take() {
            return self.start_named(cx, id, tx, target, *dest);
        }
        cx.name_tls_peer(&target);
        self.seq += 1;
        let f = Forward {
            origin: tx.origin,
            inside: tx.inside,
            record_route: tx.record_route && !self.cfg.topology_hiding,
            seq: self.seq,
            profile: tx.profile,
        };
        let copy = match tx.request.as_ref().map(Stored::view) {
            Some(msg) => self.branch_copy(cx, &f, &msg, &mut target),
            None => Err((500, "Server Internal Error")),
        };
        let bytes = match copy {
            Ok(b) => b,
            // The request cannot be forwarded at all (a loop, no Max-Forwards left).
            Err((code, reason)) => return self.answer_locally(cx, id, tx, code, reason),
        };
        let mut branch = Vec::with_capacity(32);
        owner::write_branch(cx.shard, f.seq, &mut branch);
        let method = method_of(tx.request.as_ref().map(Stored::bytes).unwrap_or_default());
        let Ok(key) = ClientKey::new(std::str::from_utf8(&branch).unwrap_or_default(), &method) else { return };
        let mut acts = Vec::new();
        let client =
            ClientTx::start(tx.invite, cx.now_ms, target.hop.transport.is_reliable(), &self.cfg.timers, &mut acts);
        let b = tx.branches.len() as u8;
        let timer_c = if tx.invite { cx.now_ms + self.cfg.timer_c_ms } else { 0 };
        tx.branches.push(Branch {
            seq: f.seq,
            key: key.clone(),
            client,
            target,
            request: bytes,
            ack: Vec::new(),
            cancel: None,
            provisional: false,
            cancel_wanted: false,
            final_code: None,
            timer_c,
        });
        self.clients.insert(key, (id, Part::Branch(b)));
        cx.counters.proxy.branches += 1;
        self.run_client(cx, id, tx, Part::Branch(b), acts, None);
    }

    /// A response to one of the transaction's client transactions: a
    /// branch (whose upstream, if any, is up) or its CANCEL.
    fn on_response(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, part: Part, code: u16, msg: &Message<'_>) {
        if let Part::Branch(b) = part {
            let br = &mut tx.branches[b as usize];
            if let Some(u) = br.target.upstream {
                self.mark_upstream(cx.counters, u, true);
            }
            if tx.invite && code >= 300 && br.ack.is_empty() {
                if let Ok(Status::Complete(sent)) = sip::scan(&br.request, Framing::Datagram) {
                    build_ack(&sent, msg, &mut br.ack);
                }
            }
        }
        self.client_event(cx, id, tx, part, Some(msg), |c, now, acts| c.response(now, code, acts));
    }

    /// A timer of the transaction fired: one of a machine's, or Timer C.
    fn on_timer(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, part: Part, name: Option<TimerName>) {
        match (part, name) {
            (Part::Server, Some(name)) => self.server_event(cx, id, tx, |s, now, acts| s.timer(now, name, acts)),
            (Part::Branch(_) | Part::Cancel(_), Some(name)) => {
                self.client_event(cx, id, tx, part, None, |c, now, acts| c.timer(now, name, acts))
            }
            (Part::Branch(b), None) => self.timer_c(cx, id, tx, b as usize),
            _ => {}
        }
    }

    /// Feeds an event to the server transaction and runs what it asks for.
    pub(super) fn server_event(
        &mut self,
        cx: &mut Ctx<'_>,
        id: Id,
        tx: &mut Tx,
        event: impl FnOnce(&mut ServerTx, u64, &mut Vec<Action>),
    ) {
        let mut acts = Vec::new();
        event(&mut tx.server, cx.now_ms, &mut acts);
        self.run_server(cx, id, tx, acts);
    }

    /// Feeds an event to client transaction `part` (a branch or its
    /// CANCEL) and runs what it asks for. `msg`: the response, if the event
    /// is one.
    fn client_event(
        &mut self,
        cx: &mut Ctx<'_>,
        id: Id,
        tx: &mut Tx,
        part: Part,
        msg: Option<&Message<'_>>,
        event: impl FnOnce(&mut ClientTx, u64, &mut Vec<Action>),
    ) {
        let client = match part {
            Part::Branch(b) => Some(&mut tx.branches[b as usize].client),
            Part::Cancel(b) => tx.branches[b as usize].cancel.as_mut().map(|c| &mut c.client),
            Part::Server => None,
        };
        let Some(client) = client else { return };
        let mut acts = Vec::new();
        event(client, cx.now_ms, &mut acts);
        self.run_client(cx, id, tx, part, acts, msg);
    }

    /// Runs what a client transaction (a branch or its CANCEL) asked for.
    pub(super) fn run_client(
        &mut self,
        cx: &mut Ctx<'_>,
        id: Id,
        tx: &mut Tx,
        part: Part,
        acts: Vec<Action>,
        msg: Option<&Message<'_>>,
    ) {
        let (b, cancel) = match part {
            Part::Branch(b) => (b as usize, false),
            Part::Cancel(b) => (b as usize, true),
            Part::Server => return,
        };
        for a in acts {
            if tx.server.is_terminated() {
                // An answer ended the transaction; it goes with the rest.
                return;
            }
            let br = &tx.branches[b];
            match a {
                Action::Send(m) | Action::Resend(m) => {
                    let bytes = match (cancel, m) {
                        (true, _) => br.cancel.as_ref().map(|c| c.bytes.clone()),
                        (false, Msg::Request) => Some(br.request.clone()),
                        (false, Msg::Ack) => Some(br.ack.clone()),
                        _ => None,
                    };
                    if matches!(a, Action::Resend(_)) {
                        cx.counters.proxy.retransmissions += 1;
                    }
                    if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                        cx.send_hop(br.target.hop, bytes);
                    }
                }
                Action::Deliver(Msg::Response(code)) if !cancel => self.branch_response(cx, id, tx, b, code, msg),
                Action::TransportError if !cancel && br.target.hop.flow.is_some() => {
                    // The binding's connection is gone (RFC 5626 §5.3): this
                    // branch fails at once, forking goes on with the others.
                    cx.counters.proxy.flow_failures += 1;
                    self.branch_response(cx, id, tx, b, 430, None);
                }
                Action::Timeout | Action::TransportError if !cancel => {
                    if let Some(u) = br.target.upstream {
                        if self.mark_upstream(cx.counters, u, false) {
                            cx.broadcast_health(u, false);
                        }
                    }
                    cx.counters.proxy.branch_timeouts += 1;
                    self.branch_response(cx, id, tx, b, 408, None);
                }
                Action::Terminated => {
                    let key = if cancel {
                        br.cancel.as_ref().map(|_| super::cancel::cancel_key(&br.key))
                    } else {
                        Some(br.key.clone())
                    };
                    if let Some(k) = key {
                        self.clients.remove(&k);
                    }
                }
                _ => {}
            }
        }
    }

    /// §16.7: what branch `b`'s answer means for the transaction. `msg` is
    /// None for a timeout (408 built here).
    pub(super) fn branch_response(
        &mut self,
        cx: &mut Ctx<'_>,
        id: Id,
        tx: &mut Tx,
        b: usize,
        code: u16,
        msg: Option<&Message<'_>>,
    ) {
        if tx.branches[b].final_code.is_some() && code >= 300 {
            // Timer C already ended this branch; its late answer changes nothing.
            return;
        }
        if code < 200 {
            let br = &mut tx.branches[b];
            br.provisional = true;
            if code > 100 && tx.invite {
                // §16.7 step 2: every provisional but 100 restarts Timer C
                // (the transaction's wheel entry follows after the step).
                br.timer_c = cx.now_ms + self.cfg.timer_c_ms;
            }
            if br.cancel_wanted {
                self.send_cancel(cx, id, tx, b);
            }
            if code == 100 || tx.server.is_final() {
                return;
            }
            if let Some(bytes) = msg.map(|m| self.upstream_response(cx, tx, b, m)) {
                self.answer_upstream(cx, id, tx, code, bytes);
            }
            return;
        }
        tx.branches[b].final_code = Some(code);
        if code < 300 {
            tx.pending.clear();
            if let Some(bytes) = msg.map(|m| self.upstream_response(cx, tx, b, m)) {
                self.answer_upstream(cx, id, tx, code, bytes);
            }
            if tx.invite {
                self.cancel_branches(cx, id, tx);
            }
            return;
        }
        let target = &tx.branches[b].target;
        let upstream = target.upstream.is_some() || target.resolved;
        if target.resolved && self.cfg.failover_on.contains(&code) {
            let addr = target.hop.addr;
            self.blocklist_failed(cx, addr, code, msg);
        }
        let bytes = msg.map(|m| self.upstream_response(cx, tx, b, m));
        let better = match &tx.best {
            None => true,
            Some(best) => rank(code) < rank(best.code),
        };
        if better {
            tx.best = Some(Best { code, bytes });
        }
        if !tx.cancelled && !tx.server.is_final() {
            let failover = upstream && self.cfg.failover_on.contains(&code);
            let serial_next = !upstream && code < 600;
            if failover || serial_next {
                if let Some(next) = tx.pending.pop_front() {
                    cx.counters.proxy.failovers += u64::from(failover);
                    return self.start_branch(cx, id, tx, next);
                }
            }
        }
        // No next target for this answer (a busy or not-found from an
        // upstream is final, a 6xx stops serial forking: §16.7 step 5):
        // the targets left were alternatives, not forks.
        tx.pending.clear();
        self.finish_if_settled(cx, id, tx);
    }

    /// When every branch has its final answer: send the best one (§16.7 step 6).
    pub(super) fn finish_if_settled(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) {
        if !tx.settled() || tx.server.is_final() {
            return;
        }
        if tx.cancelled {
            return self.answer_locally(cx, id, tx, 487, "Request Terminated");
        }
        let Some(best) = tx.best.take() else { return self.answer_locally(cx, id, tx, 480, "Temporarily Unavailable") };
        // 430 is between the edge and its flows (RFC 5626): a caller whose
        // every callee's flow failed learns the callee is unavailable.
        let code = if best.code == 430 { 480 } else { best.code };
        let profile = tx.profile.and_then(|p| cx.profiles.0.get(p as usize));
        let method = || method_of(tx.request.as_ref().map(Stored::bytes).unwrap_or_default());
        let mapped = profile.and_then(|p| p.mapped(method().as_bytes(), code)).unwrap_or_else(|| self.cfg.mapped(code));
        match best.bytes {
            Some(bytes) if mapped == best.code => self.answer_upstream(cx, id, tx, best.code, bytes),
            _ => self.answer_locally(cx, id, tx, mapped, reason_of(mapped)),
        }
    }

    /// Sends `bytes` (a response with code `code`) to the transaction's sender.
    pub(super) fn answer_upstream(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, code: u16, bytes: Vec<u8>) {
        if code >= 200 && tx.mid.is_some() {
            // The mid-registrar decides what the device gets (`Edge::step` hands it over).
            tx.held = Some((code, bytes));
            return;
        }
        if code >= 200 {
            super::traced::trace_final(cx, tx, code);
        }
        tx.last = bytes;
        self.server_event(cx, id, tx, |s, now, acts| s.respond(now, code, acts));
        if code >= 200 {
            tx.release(code, self.cfg.topology_hiding && tx.inside);
        }
    }

    /// Answers the transaction's request with a response the edge builds.
    pub(super) fn answer_locally(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, code: u16, reason: &str) {
        let Some(msg) = tx.request.as_ref().map(Stored::view) else { return };
        let peer = tx.origin.peer;
        let mut bytes = Vec::with_capacity(msg.buf.len() + 64);
        let tag = super::to_tag(&msg);
        sip::write_response(&msg, None, code, reason, Some(&tag), Some((peer.ip(), peer.port())), &[], b"", &mut bytes);
        self.answer_upstream(cx, id, tx, code, bytes);
    }
}

fn method_of(request: &[u8]) -> String {
    let end = request.iter().position(|&c| c == b' ').unwrap_or(0);
    String::from_utf8_lossy(&request[..end]).into_owned()
}

/// §16.7 step 6 preference: 6xx first, then the lowest class; within a
/// class the first one kept. 401/407 and 3xx rank with their class.
fn rank(code: u16) -> u16 {
    match code / 100 {
        6 => 0,
        c => c,
    }
}

/// Reason phrases for the answers the edge builds after mapping.
pub(super) fn reason_of(code: u16) -> &'static str {
    match code {
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Failed",
    }
}
