//! The proxy's branch side (RFC 3261 §16.6–16.10): forwarding a copy of a
//! request to one target under its own client transaction, the answers
//! that come back (provisionals relayed, every 2xx relayed at once, the
//! best of the 3xx–6xx chosen when all branches are done), failover to the
//! next upstream, serial forking, CANCEL of pending branches, the timers
//! of every transaction, and OPTIONS probes of the upstreams. What relays
//! lose on the way (`[hygiene]`) is applied here and in `proxy.rs`, as
//! `hygiene.rs` describes.

use super::hygiene::with_body;
use super::{Dest, Edge, Output};
use crate::core::mesh::MeshMsg;
use crate::core::proxy::ack::{build_ack, build_cancel};
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::{Best, Branch, Cancel, Part, Target, TimerKey, WHEEL_MS};
use crate::core::proxy::table::Id;
use crate::core::proxy::{forward_request, Hop};
use crate::core::transaction::{Action, ClientKey, ClientTx, Msg};
use crate::core::{owner, Origin, Transport};
use crate::sip::{self, Editor, Framing, HeaderName, Message, ResponseEssentials, Status, Stored};

/// How long an upstream may take to answer a probe before it counts as down.
const PROBE_TIMEOUT_MS: u64 = 5_000;

impl Edge {
    /// Forwards the transaction's request to `target` as a new branch.
    pub(super) fn start_branch(&mut self, id: Id, mut target: Target, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        if tx.branches.len() >= u8::MAX as usize / 2 {
            return;
        }
        let request = tx.request.take();
        let (origin, record_route, invite, inside) = (tx.origin, tx.record_route, tx.invite, tx.inside);
        self.proxy.seq += 1;
        let seq = self.proxy.seq;
        let record_route = record_route && !self.proxy.cfg.topology_hiding;
        let copy = match request.as_ref().map(Stored::view) {
            Some(msg) => match self.forward_copy(origin, &msg, &target, record_route, seq, inside) {
                Ok(bytes) if self.too_big_for_udp(&target.hop, bytes.len()) => {
                    // RFC 3261 §18.1.1: too close to the MTU for UDP, so TCP (its Via says so).
                    target.hop.transport = Transport::Tcp;
                    self.protect.stats.udp_to_tcp += 1;
                    self.forward_copy(origin, &msg, &target, record_route, seq, inside)
                }
                copy => copy,
            },
            None => Err((500, "Server Internal Error")),
        };
        let tx = self.proxy.txs.get_mut(id).expect("transaction still there");
        tx.request = request;
        let bytes = match copy {
            Ok(b) => b,
            Err((code, reason)) => {
                // The request cannot be forwarded at all (a loop, no Max-Forwards left).
                return self.answer_locally(id, code, reason, out);
            }
        };
        let mut branch = Vec::with_capacity(32);
        owner::write_branch(self.cfg.shard, seq, &mut branch);
        let method = method_of(tx.request.as_ref().map(Stored::bytes).unwrap_or_default());
        let Ok(key) = ClientKey::new(std::str::from_utf8(&branch).unwrap_or_default(), &method) else { return };
        let mut acts = Vec::new();
        let client = ClientTx::start(invite, self.now_ms, target.hop.transport.is_reliable(), &self.proxy.cfg.timers, &mut acts);
        let b = tx.branches.len() as u8;
        let timer_c = if invite { self.now_ms + self.proxy.cfg.timer_c_ms } else { 0 };
        tx.branches.push(Branch { key: key.clone(), client, target, request: bytes, ack: Vec::new(), cancel: None, provisional: false, cancel_wanted: false, final_code: None, timer_c });
        self.proxy.clients.insert(key, (id, Part::Branch(b)));
        if invite {
            self.proxy.schedule(timer_c, TimerKey { tx: id, part: Part::Branch(b), name: None });
        }
        self.counters.branches += 1;
        self.run_client(id, Part::Branch(b), acts, None, out);
    }

    /// A 2xx's ACK (or any request without a transaction): one copy, no
    /// state; its SDP (a late offer's answer) filtered.
    pub(super) fn forward_stateless(&mut self, origin: Origin, msg: &Message<'_>, target: &Target, out: &mut Vec<Output>) {
        self.proxy.seq += 1;
        let (seq, inside) = (self.proxy.seq, self.proxy.cfg.trusts(origin.peer.ip()));
        let copy = match self.sdp_body_relayed(msg) {
            None => self.forward_copy(origin, msg, target, false, seq, inside),
            Some(body) => {
                let filtered = with_body(msg, &body);
                match sip::scan(&filtered, Framing::Datagram) {
                    Ok(Status::Complete(m)) => self.forward_copy(origin, &m, target, false, seq, inside),
                    _ => Err((500, "Server Internal Error")),
                }
            }
        };
        match copy {
            Ok(bytes) => self.send_hop(target.hop, bytes, out),
            Err(_) => self.counters.drops.add("stateless forward refused"),
        }
    }

    /// §16.6 for one target, plus topology hiding when it is on.
    fn forward_copy(&mut self, origin: Origin, msg: &Message<'_>, target: &Target, record_route: bool, seq: u64, from_inside: bool) -> Result<Vec<u8>, (u16, &'static str)> {
        let lin = self.listener(origin.listener, origin.transport);
        let lout = self.listener_for(&target.hop);
        let hop = Hop {
            shard: self.cfg.shard,
            seq,
            transport: lout.via_transport(),
            host: &lout.host,
            port: lout.port,
            in_transport: lin.via_transport(),
            in_host: &lin.host,
            in_port: lin.port,
            record_route,
        };
        let path: Vec<&[u8]> = target.routes.iter().map(Vec::as_slice).collect();
        let mut bytes = Vec::with_capacity(msg.buf.len() + 256);
        forward_request(msg, &target.uri, &path, &hop, &mut bytes).map_err(|r| (r.code(), r.reason()))?;
        // The edge checked them: nobody behind it needs a device's credentials.
        let credentials = !from_inside && self.reg.auth_enabled() && msg.position(HeaderName::ProxyAuthorization).is_some();
        if credentials || self.proxy.cfg.hygiene.strip(target.inside).any_in(msg) {
            bytes = self.without_headers(&bytes, credentials, target.inside);
        }
        let source = NextHop { transport: origin.transport, addr: origin.peer, flow: origin.flow };
        if self.proxy.cfg.topology_hiding {
            bytes = self.hide_request(&bytes, from_inside && !target.inside, (!from_inside).then_some(source));
        } else if !from_inside {
            bytes = self.alias_contact(&bytes, source).unwrap_or(bytes);
        }
        Ok(bytes)
    }

    /// A response whose top Via names this shard (`resp`: what the owner
    /// check parsed).
    pub(super) fn on_proxy_response(&mut self, origin: Origin, msg: &Message<'_>, resp: &ResponseEssentials<'_>, out: &mut Vec<Output>) {
        let (code, method) = (resp.code, resp.cseq_method);
        let branch = resp.top_via.branch().unwrap_or_default();
        if self.on_probe_answer(branch, out) {
            return;
        }
        let method = String::from_utf8_lossy(method.as_bytes());
        let found = self.client_of(branch, &method);
        let _ = origin;
        let Some((id, part)) = found else {
            if code / 100 == 2 && method == "INVITE" {
                // A 2xx retransmission after the transaction ended: relay it (§16.7, RFC 6026).
                return self.forward_late_2xx(msg, out);
            }
            return self.counters.drops.add("no matching transaction");
        };
        let mut acts = Vec::new();
        let now = self.now_ms;
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        match part {
            Part::Branch(b) => {
                let br = &mut tx.branches[b as usize];
                if let Some(u) = br.target.upstream {
                    if self.proxy.routes.mark(u, true) {
                        self.counters.upstream_changes += 1;
                    }
                }
                if tx.invite && code >= 300 && br.ack.is_empty() {
                    if let Ok(Status::Complete(sent)) = sip::scan(&br.request, Framing::Datagram) {
                        build_ack(&sent, msg, &mut br.ack);
                    }
                }
                br.client.response(now, code, &mut acts);
            }
            Part::Cancel(b) => {
                if let Some(c) = &mut tx.branches[b as usize].cancel {
                    c.client.response(now, code, &mut acts);
                }
            }
            Part::Server => return,
        }
        self.run_client(id, part, acts, Some(msg), out);
    }

    /// A request the shard could not write. When it is a branch of a
    /// transaction of this shard (its top Via names us), the branch's client
    /// transaction takes a transport error (§17.1.4); a branch of another
    /// shard is told over the mesh. ACKs and responses have nothing to fail.
    pub(super) fn on_undeliverable(&mut self, bytes: &[u8], out: &mut Vec<Output>) {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else { return self.counters.drops.add("undeliverable, unscannable") };
        let Some(method) = msg.method().filter(|m| !matches!(m, sip::Method::Ack)) else { return self.counters.drops.add("undeliverable") };
        // Our Via is on top: its branch names the shard and the transaction.
        let top = msg.values(HeaderName::Via).next().and_then(|(v, _)| sip::parse_via(v).ok());
        let branch = top.as_ref().and_then(|v| v.branch()).unwrap_or_default();
        match owner::branch_shard(branch) {
            Some(s) if s != self.cfg.shard && s < self.cfg.shards => {
                self.counters.mesh_sent += 1;
                return out.push(Output::ToShard { shard: s, msg: MeshMsg::Undeliverable { bytes: bytes.to_vec() } });
            }
            Some(s) if s == self.cfg.shard => {}
            _ => return self.counters.drops.add("undeliverable"),
        }
        let method = String::from_utf8_lossy(method.as_bytes());
        let Some((id, part)) = self.client_of(branch, &method) else { return self.counters.drops.add("undeliverable, transaction gone") };
        let mut acts = Vec::new();
        let now = self.now_ms;
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        match part {
            Part::Branch(b) => tx.branches[b as usize].client.transport_error(now, &mut acts),
            Part::Cancel(b) => {
                if let Some(c) = &mut tx.branches[b as usize].cancel {
                    c.client.transport_error(now, &mut acts);
                }
            }
            Part::Server => return,
        }
        self.run_client(id, part, acts, None, out);
    }

    /// The client transaction (a branch or its CANCEL) a Via branch and
    /// CSeq method name, if it is still there.
    fn client_of(&self, branch: &[u8], method: &str) -> Option<(Id, Part)> {
        let key = ClientKey::new(std::str::from_utf8(branch).unwrap_or_default(), method).ok()?;
        self.proxy.clients.get(&key).copied()
    }

    /// Runs what a client transaction (a branch or its CANCEL) asked for.
    fn run_client(&mut self, id: Id, part: Part, acts: Vec<Action>, msg: Option<&Message<'_>>, out: &mut Vec<Output>) {
        for a in acts {
            let Some(tx) = self.proxy.txs.get(id) else { return };
            let (b, cancel) = match part {
                Part::Branch(b) => (b as usize, false),
                Part::Cancel(b) => (b as usize, true),
                Part::Server => return,
            };
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
                        self.counters.retransmissions += 1;
                    }
                    if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                        self.send_hop(br.target.hop, bytes, out);
                    }
                }
                Action::Deliver(Msg::Response(code)) if !cancel => self.branch_response(id, b, code, msg, out),
                Action::TransportError if !cancel && br.target.hop.flow.is_some() => {
                    // The binding's connection is gone (RFC 5626 §5.3): this
                    // branch fails at once, forking goes on with the others.
                    self.counters.flow_failures += 1;
                    self.branch_response(id, b, 430, None, out);
                }
                Action::Timeout | Action::TransportError if !cancel => {
                    if let Some(u) = br.target.upstream {
                        if self.proxy.routes.mark(u, false) {
                            self.counters.upstream_changes += 1;
                            self.broadcast_health(u, false, out);
                        }
                    }
                    self.counters.branch_timeouts += 1;
                    self.branch_response(id, b, 408, None, out);
                }
                Action::SetTimer { timer, at } => self.proxy.schedule(at, TimerKey { tx: id, part, name: Some(timer) }),
                Action::Terminated => {
                    let key = if cancel { br.cancel.as_ref().map(|_| cancel_key(&br.key)) } else { Some(br.key.clone()) };
                    if let Some(k) = key {
                        self.proxy.clients.remove(&k);
                    }
                }
                _ => {}
            }
        }
    }

    /// §16.7: what one branch's answer means for the transaction. `msg` is
    /// None for a timeout (408 built here).
    fn branch_response(&mut self, id: Id, b: usize, code: u16, msg: Option<&Message<'_>>, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        let invite = tx.invite;
        if tx.branches[b].final_code.is_some() && code >= 300 {
            // Timer C already ended this branch; its late answer changes nothing.
            return;
        }
        if code < 200 {
            let restart = self.now_ms + self.proxy.cfg.timer_c_ms;
            let br = &mut tx.branches[b];
            br.provisional = true;
            let cancel_wanted = br.cancel_wanted;
            if code > 100 && invite {
                // §16.7 step 2: every provisional but 100 restarts Timer C
                // (the entry already in the wheel moves itself on when it fires).
                br.timer_c = restart;
            }
            if cancel_wanted {
                self.send_cancel(id, b, out);
            }
            let tx = self.proxy.txs.get(id).expect("transaction");
            if code == 100 || tx.server.is_final() {
                return;
            }
            if let Some(bytes) = msg.map(|m| self.upstream_response(id, b, m)) {
                self.answer_upstream(id, code, bytes, out);
            }
            return;
        }
        tx.branches[b].final_code = Some(code);
        if code < 300 {
            tx.pending.clear();
            if let Some(bytes) = msg.map(|m| self.upstream_response(id, b, m)) {
                self.answer_upstream(id, code, bytes, out);
            }
            if invite {
                self.cancel_branches(id, out);
            }
            return;
        }
        let upstream = tx.branches[b].target.upstream.is_some();
        let best_bytes = msg.map(|m| self.upstream_response(id, b, m));
        let tx = self.proxy.txs.get_mut(id).expect("transaction");
        let better = match &tx.best {
            None => true,
            Some(best) => rank(code) < rank(best.code),
        };
        if better {
            tx.best = Some(Best { code, bytes: best_bytes });
        }
        if !tx.cancelled && !tx.server.is_final() {
            let failover = upstream && self.proxy.cfg.failover_on.contains(&code);
            let serial_next = !upstream && code < 600;
            if failover || serial_next {
                if let Some(next) = tx.pending.pop_front() {
                    self.counters.failovers += u64::from(failover);
                    return self.start_branch(id, next, out);
                }
            }
        }
        self.finish_if_settled(id, out);
    }

    /// When every branch has its final answer: send the best one (§16.7 step 6).
    fn finish_if_settled(&mut self, id: Id, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        if !tx.settled() || tx.server.is_final() {
            return;
        }
        if tx.cancelled {
            return self.answer_locally(id, 487, "Request Terminated", out);
        }
        let Some(best) = tx.best.take() else { return self.answer_locally(id, 480, "Temporarily Unavailable", out) };
        // 430 is between the edge and its flows (RFC 5626): a caller whose
        // every callee's flow failed learns the callee is unavailable.
        let code = if best.code == 430 { 480 } else { best.code };
        let mapped = self.proxy.cfg.mapped(code);
        match best.bytes {
            Some(bytes) if mapped == best.code => self.answer_upstream(id, best.code, bytes, out),
            _ => self.answer_locally(id, mapped, reason_of(mapped), out),
        }
    }

    /// Sends `bytes` (a response with code `code`) to the transaction's sender.
    fn answer_upstream(&mut self, id: Id, code: u16, bytes: Vec<u8>, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        tx.last = bytes;
        let mut acts = Vec::new();
        tx.server.respond(self.now_ms, code, &mut acts);
        self.run_server(id, acts, out);
        if code >= 200 {
            let keep = self.proxy.cfg.topology_hiding;
            if let Some(tx) = self.proxy.txs.get_mut(id) {
                let keep_request = keep && tx.inside;
                tx.release(code, keep_request);
            }
        }
    }

    /// Answers the transaction's request with a response the edge builds.
    pub(super) fn answer_locally(&mut self, id: Id, code: u16, reason: &str, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get(id) else { return };
        let Some(msg) = tx.request.as_ref().map(Stored::view) else { return };
        let peer = tx.origin.peer;
        let mut bytes = Vec::with_capacity(msg.buf.len() + 64);
        let tag = super::to_tag(&msg);
        sip::write_response(&msg, None, code, reason, Some(&tag), Some((peer.ip(), peer.port())), &[], b"", &mut bytes);
        self.answer_upstream(id, code, bytes, out);
    }

    /// A downstream response made ready for the sender: our Via off, and
    /// the inside hidden or restored when topology hiding is on.
    fn upstream_response(&mut self, id: Id, b: usize, msg: &Message<'_>) -> Vec<u8> {
        let to_inside = self.proxy.txs.get(id).expect("transaction").inside;
        let mut bytes = self.relayed_response(msg, to_inside);
        if self.proxy.cfg.topology_hiding {
            let tx = self.proxy.txs.get(id).expect("transaction");
            let br = &tx.branches[b];
            let (to_outside, restore) = (!tx.inside && br.target.inside, tx.inside && !br.target.inside);
            let dest = (!br.target.inside).then_some(br.target.hop);
            let original = if restore { tx.request.as_ref().map(|r| r.bytes().to_vec()) } else { None };
            bytes = self.hide_response(&bytes, to_outside, original.as_deref(), dest);
        } else {
            let target = &self.proxy.txs.get(id).expect("transaction").branches[b].target;
            if !target.inside {
                bytes = self.alias_contact(&bytes, target.hop).unwrap_or(bytes);
            }
        }
        bytes
    }

    /// A 2xx that matched no transaction: our Via off, on to the next Via.
    fn forward_late_2xx(&mut self, msg: &Message<'_>, out: &mut Vec<Output>) {
        let Some((second, _)) = msg.values(HeaderName::Via).nth(1) else { return self.counters.drops.add("late 2xx without a Via") };
        let Ok(via) = sip::parse_via(second) else { return self.counters.drops.add("late 2xx with a bad Via") };
        let host = via.received().unwrap_or(via.host);
        let port = match via.rport() {
            Some(Some(p)) => p,
            _ => via.port.unwrap_or(5060),
        };
        let uri = [b"sip:", host, b":", port.to_string().as_bytes()].concat();
        let Some(mut hop) = sip::parse_uri(&uri).ok().and_then(|u| crate::core::proxy::route::hop_of_uri(&u)) else { return };
        if via.transport.eq_ignore_ascii_case(b"TCP") {
            hop.transport = Transport::Tcp;
        }
        let bytes = self.relayed_response(msg, self.proxy.cfg.trusts(hop.addr.ip()));
        self.send_hop(hop, bytes, out);
    }

    /// A response without its top Via value (ours: its branch found the
    /// transaction), every other byte as it came (§16.7 step 3) but for
    /// hygiene: its SDP filtered, the header patterns for where it goes
    /// (`to_inside`: the core) removed. One pass.
    fn relayed_response(&mut self, msg: &Message<'_>, to_inside: bool) -> Vec<u8> {
        let body = self.sdp_body_relayed(msg);
        let mut e = Editor::new(msg);
        e.remove_first_value(HeaderName::Via);
        self.strip_headers(&mut e, to_inside);
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
    fn without_headers(&mut self, bytes: &[u8], credentials: bool, to_inside: bool) -> Vec<u8> {
        let Ok(Status::Complete(msg)) = sip::scan(bytes, Framing::Datagram) else { return bytes.to_vec() };
        let mut e = Editor::new(&msg);
        if credentials {
            e.remove_header_lines(HeaderName::ProxyAuthorization, 0);
        }
        self.strip_headers(&mut e, to_inside);
        let mut out = Vec::with_capacity(bytes.len());
        e.write(&mut out);
        out
    }

    /// CANCEL every branch still waiting (§16.10); no new branch starts.
    pub(super) fn cancel_tx(&mut self, id: Id, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        if tx.server.is_final() {
            return;
        }
        tx.cancelled = true;
        tx.pending.clear();
        if tx.lookup.is_some() || tx.branches.is_empty() {
            return self.answer_locally(id, 487, "Request Terminated", out);
        }
        self.cancel_branches(id, out);
    }

    fn cancel_branches(&mut self, id: Id, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        tx.pending.clear();
        let n = tx.branches.len();
        for b in 0..n {
            let Some(tx) = self.proxy.txs.get_mut(id) else { return };
            let br = &mut tx.branches[b];
            if br.final_code.is_some() || br.cancel.is_some() {
                continue;
            }
            if br.provisional {
                self.send_cancel(id, b, out);
            } else {
                br.cancel_wanted = true;
            }
        }
    }

    /// A CANCEL for branch `b` (§9.1), under its own client transaction.
    fn send_cancel(&mut self, id: Id, b: usize, out: &mut Vec<Output>) {
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        let br = &mut tx.branches[b];
        if br.cancel.is_some() || br.final_code.is_some() {
            return;
        }
        br.cancel_wanted = false;
        let mut bytes = Vec::with_capacity(br.request.len() / 2);
        if let Ok(Status::Complete(sent)) = sip::scan(&br.request, Framing::Datagram) {
            build_cancel(&sent, &mut bytes);
        }
        let mut acts = Vec::new();
        let client = ClientTx::start(false, self.now_ms, br.target.hop.transport.is_reliable(), &self.proxy.cfg.timers, &mut acts);
        let key = cancel_key(&br.key);
        br.cancel = Some(Box::new(Cancel { client, bytes }));
        self.proxy.clients.insert(key, (id, Part::Cancel(b as u8)));
        self.counters.cancels_sent += 1;
        self.run_client(id, Part::Cancel(b as u8), acts, None, out);
    }

    /// Fires the transaction timers due at `now_ms` and probes the upstreams.
    pub(super) fn proxy_tick(&mut self, out: &mut Vec<Output>) {
        let mut due = Vec::new();
        self.proxy.wheel.advance(self.now_ms / WHEEL_MS, &mut due);
        let now = self.now_ms;
        for k in due {
            let mut acts = Vec::new();
            let Some(tx) = self.proxy.txs.get_mut(k.tx) else { continue };
            match (k.part, k.name) {
                (Part::Server, Some(name)) => {
                    tx.server.timer(now, name, &mut acts);
                    self.run_server(k.tx, acts, out);
                }
                (Part::Branch(b), Some(name)) => {
                    tx.branches[b as usize].client.timer(now, name, &mut acts);
                    self.run_client(k.tx, k.part, acts, None, out);
                }
                (Part::Cancel(b), Some(name)) => {
                    if let Some(c) = &mut tx.branches[b as usize].cancel {
                        c.client.timer(now, name, &mut acts);
                    }
                    self.run_client(k.tx, k.part, acts, None, out);
                }
                (Part::Branch(b), None) => self.timer_c(k.tx, b as usize, out),
                _ => {}
            }
        }
        self.probe(out);
    }

    /// Timer C fired (§16.8): a branch that rang too long is cancelled; one
    /// whose CANCEL went unanswered for 64·T1 more ends as a 408.
    fn timer_c(&mut self, id: Id, b: usize, out: &mut Vec<Output>) {
        let now = self.now_ms;
        let wait = self.proxy.cfg.timers.t1x64();
        let Some(tx) = self.proxy.txs.get_mut(id) else { return };
        let br = &mut tx.branches[b];
        if br.final_code.is_some() || br.timer_c == 0 {
            return;
        }
        if now < br.timer_c {
            // Restarted by a provisional since it was scheduled.
            let at = br.timer_c;
            return self.proxy.schedule(at, TimerKey { tx: id, part: Part::Branch(b as u8), name: None });
        }
        self.counters.branch_timeouts += 1;
        if br.cancel.is_none() && br.provisional {
            br.timer_c = now + wait;
            let at = br.timer_c;
            self.proxy.schedule(at, TimerKey { tx: id, part: Part::Branch(b as u8), name: None });
            return self.send_cancel(id, b, out);
        }
        br.timer_c = 0;
        self.branch_response(id, b, 408, None, out);
    }

    /// Shard 0 sends an OPTIONS to every upstream each probe interval; an
    /// upstream silent for PROBE_TIMEOUT_MS is down, any answer brings it
    /// back. Changes are told to every shard.
    fn probe(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        let expired: Vec<(Vec<u8>, usize)> = self.proxy.probes.iter().filter(|(_, (_, at))| now.saturating_sub(*at) >= PROBE_TIMEOUT_MS).map(|(b, (u, _))| (b.clone(), *u)).collect();
        for (branch, u) in expired {
            self.proxy.probes.remove(&branch);
            if self.proxy.routes.mark(u, false) {
                self.counters.upstream_changes += 1;
                self.broadcast_health(u, false, out);
            }
        }
        let interval = self.proxy.cfg.probe_interval_ms;
        if self.cfg.shard != 0 || interval == 0 || now < self.proxy.next_probe_ms {
            return;
        }
        self.proxy.next_probe_ms = now + interval;
        for u in 0..self.proxy.routes.upstreams.len() {
            let hop = self.proxy.routes.upstreams[u].hop;
            self.proxy.seq += 1;
            let mut branch = Vec::with_capacity(32);
            owner::write_branch(self.cfg.shard, self.proxy.seq, &mut branch);
            let l = self.listener_for(&hop);
            let bytes = format!(
                "OPTIONS sip:{addr} SIP/2.0\r\nVia: SIP/2.0/{t} {host}:{port};branch={b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{host}>;tag={seq:x}\r\nTo: <sip:{addr}>\r\nCall-ID: probe-{seq:x}@{host}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                addr = hop.addr,
                t = l.via_transport(),
                host = String::from_utf8_lossy(&l.host),
                port = l.port,
                b = String::from_utf8_lossy(&branch),
                seq = self.proxy.seq,
            )
            .into_bytes();
            self.proxy.probes.insert(branch, (u, now));
            self.counters.probes_sent += 1;
            self.send_hop(hop, bytes, out);
        }
    }

    fn on_probe_answer(&mut self, branch: &[u8], out: &mut Vec<Output>) -> bool {
        let Some((u, _)) = self.proxy.probes.remove(branch) else { return false };
        if self.proxy.routes.mark(u, true) {
            self.counters.upstream_changes += 1;
            self.broadcast_health(u, true, out);
        }
        true
    }

    fn broadcast_health(&mut self, upstream: usize, up: bool, out: &mut Vec<Output>) {
        for s in (0..self.cfg.shards).filter(|&s| s != self.cfg.shard) {
            self.counters.mesh_sent += 1;
            out.push(Output::ToShard { shard: s, msg: MeshMsg::Health { upstream, up } });
        }
    }

    /// Another shard learned an upstream's health.
    pub(super) fn on_health(&mut self, upstream: usize, up: bool) {
        if self.proxy.routes.mark(upstream, up) {
            self.counters.upstream_changes += 1;
        }
    }

    /// A request of `len` bytes for a UDP next hop above `protect.udp_mtu`,
    /// when the edge has a TCP listener to send it from instead.
    fn too_big_for_udp(&self, hop: &NextHop, len: usize) -> bool {
        hop.transport == Transport::Udp && hop.flow.is_none() && len > self.cfg.protect.udp_mtu && self.cfg.listeners.iter().any(|l| l.transport == Transport::Tcp)
    }

    /// Sends to a next hop: a datagram, the connection it names (through
    /// the shard that owns it), or a connection to its address.
    pub(super) fn send_hop(&mut self, hop: NextHop, bytes: Vec<u8>, out: &mut Vec<Output>) {
        let dest = match (hop.transport, hop.flow) {
            (Transport::Udp, _) => Dest::Udp { listener: self.listener_index_for(&hop), peer: hop.addr },
            (_, Some(f)) if f.shard != self.cfg.shard => {
                self.counters.mesh_sent += 1;
                return out.push(Output::ToShard { shard: f.shard, msg: MeshMsg::FlowSend { flow: f, peer: hop.addr, bytes } });
            }
            (_, Some(f)) => Dest::Flow(f),
            (Transport::Tcp | Transport::Tls, None) => Dest::Tcp { peer: hop.addr, tls: hop.transport == Transport::Tls },
            (Transport::Ws | Transport::Wss, None) => return self.counters.drops.add("no outgoing WebSocket connection"),
        };
        self.counters.relayed += 1;
        out.push(Output::Send { dest, bytes });
    }
}

/// The CANCEL of a branch has the branch's Via branch and method CANCEL.
fn cancel_key(k: &ClientKey) -> ClientKey {
    ClientKey::new(k.branch(), "CANCEL").expect("branch already valid")
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
