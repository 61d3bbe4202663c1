//! The edge's side of the shared location (`[cluster]`): what the shard
//! owning an AOR writes to the store and asks of it, what it keeps in
//! memory, and what it does when the store is away. The value format and
//! the store's rules are `location::shared`; the Redis room is
//! `services::store`. Sans-IO like the rest of the core.
//!
//! - **REGISTER**, on the AOR's owner shard: with the store up, the update
//!   goes to the store as one atomic write (`Ask::Store`) and the store's
//!   answer decides: the AOR's bindings held by this edge become exactly
//!   the store's (`Location::replace`), the others' are cached, and the 200
//!   lists them all. Refused by the store (older CSeq, too many contacts):
//!   refused, nothing changes here. With the store down or slow, the
//!   REGISTER is applied in memory as a single edge would, answered, and its
//!   AOR journaled; when the store answers again every journaled AOR is
//!   re-asserted (`WriteKind::Assert`: this edge's bindings of it are
//!   exactly the memory's), paced at `reassert_per_sec`. A journal over its
//!   bound stops remembering AORs and re-asserts everything instead, so
//!   nothing accepted is lost; the same happens when the store says it lost
//!   its data.
//! - **Lookup**: this edge's own bindings from the location slice, the
//!   other edges' from a cache filled by `Ask::Fetch` and emptied by
//!   invalidations; a hot AOR costs no round trip. Without an answer in
//!   time the call goes to what memory holds.
//! - **Reaching another edge's device**: the holding edge sealed, when the
//!   device registered, a URI of itself with a token naming the device's
//!   flow (`SharedJson::edge`); the request goes there, one hop, and that
//!   edge opens the token and writes to the device. An edge that stopped
//!   heartbeating is dead: its connection-held bindings are skipped at once,
//!   its UDP bindings are tried directly at the device's public address.
//! - Expiry needs no write: the store filters by its own clock.

use super::waiting::{Parked, Requester, Seeker};
use super::{Edge, Output};
use crate::core::ask::{Answer, Ask};
use crate::core::location::shared::{
    binding_key, decode_all, encode_json, ClusterEvent, Fetched, SharedBinding, SharedContact, StoreWrite, WriteKind,
};
use crate::core::location::{Binding, NewBinding};
use crate::core::proxy::route::{hop_of_uri, NextHop};
use crate::core::proxy::state::Target;
use crate::core::proxy::token::{DialogTarget, PARAM};
use crate::core::registrar::apply::apply;
use crate::core::registrar::{BindingView, RegisterOp};
use crate::core::Transport;
use crate::sip::parse_uri;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

/// `[cluster]` as a shard's core needs it (translated in `shard::build`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This edge's node name.
    pub node: String,
    /// Where other edges reach this one (a UDP listener).
    pub peer: SocketAddr,
    /// How long a REGISTER or a lookup waits for the store before the edge
    /// serves it from memory, ms.
    pub wait_ms: u64,
    /// AORs remembered while the store is away.
    pub journal: usize,
    /// Other edges' AORs cached.
    pub cache_entries: usize,
    /// How long a cached copy is trusted, ms.
    pub cache_ms: u64,
    /// AORs re-asserted per second.
    pub reassert_per_sec: u32,
}

/// What a shard counts of the shared location (`sipedge_cluster_*`).
#[derive(Debug, Default, Clone)]
pub struct ClusterStats {
    /// Writes and fetches asked of the store.
    pub store_writes: u64,
    pub store_fetches: u64,
    /// Store refusals of a REGISTER (out-of-order CSeq, too many contacts).
    pub store_refusals: u64,
    /// REGISTERs and lookups served from memory: the store was down or late.
    pub served_from_memory: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub invalidations: u64,
    pub cache_flushes: u64,
    /// Targets that go through the edge holding the device.
    pub inter_edge_hops: u64,
    /// Bindings of a dead edge skipped (connection-held).
    pub dead_skipped: u64,
    /// Stored values that did not parse.
    pub bad_values: u64,
    /// AORs re-asserted to the store (replays of the journal, or everything).
    pub replays: u64,
    /// Times the journal overflowed (a full re-assert follows).
    pub journal_overflows: u64,
    /// Bindings read back from the store at start.
    pub restored: u64,
}

/// A shard's view of the cluster.
pub struct ClusterState {
    cfg: ClusterConfig,
    /// The store answered last (false until it first does).
    pub store_up: bool,
    /// Other edges' bindings per AOR, with when they were fetched (ms).
    cache: HashMap<Vec<u8>, (Vec<SharedBinding>, u64)>,
    /// AORs changed while the store was away.
    journal: HashSet<Vec<u8>>,
    journal_overflowed: bool,
    /// AORs waiting to be re-asserted, and when pacing last ran (ms).
    reassert: VecDeque<Vec<u8>>,
    paced_at: u64,
    /// Edges alive (name → peer address); None until the first heartbeat.
    peers: Option<HashMap<String, SocketAddr>>,
    /// AORs written since start, while restoring may still be going on: a
    /// `Restore` read before such a write would bring back what it changed.
    /// Dropped `RESTORE_WINDOW_MS` after start.
    touched: Option<HashSet<Vec<u8>>>,
    started_ms: u64,
}

/// How long after start a `Restore` may still arrive.
const RESTORE_WINDOW_MS: u64 = 120_000;

impl ClusterState {
    pub fn new(cfg: ClusterConfig, now_ms: u64) -> ClusterState {
        ClusterState {
            cfg,
            store_up: false,
            cache: HashMap::new(),
            journal: HashSet::new(),
            journal_overflowed: false,
            reassert: VecDeque::new(),
            paced_at: 0,
            peers: None,
            touched: Some(HashSet::new()),
            started_ms: now_ms,
        }
    }

    fn touch(&mut self, aor: &[u8], now_ms: u64) {
        if now_ms > self.started_ms + RESTORE_WINDOW_MS {
            self.touched = None;
        }
        if let Some(t) = &mut self.touched {
            t.insert(aor.to_vec());
        }
    }

    /// AORs waiting in the journal or to be re-asserted.
    pub fn journal_depth(&self) -> usize {
        self.journal.len() + self.reassert.len()
    }

    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    fn note(&mut self, aor: &[u8], stats: &mut ClusterStats) {
        if self.journal_overflowed || self.journal.contains(aor) {
            return;
        }
        if self.journal.len() >= self.cfg.journal {
            // Past the bound: forget single AORs, re-assert everything later.
            self.journal.clear();
            self.journal_overflowed = true;
            stats.journal_overflows += 1;
            return;
        }
        self.journal.insert(aor.to_vec());
    }

    fn alive(&self, node: &str) -> bool {
        self.peers.as_ref().is_none_or(|p| p.contains_key(node))
    }

    fn cache_put(&mut self, aor: &[u8], others: Vec<SharedBinding>, now_ms: u64) {
        if self.cfg.cache_entries == 0 {
            return;
        }
        if self.cache.len() >= self.cfg.cache_entries && !self.cache.contains_key(aor) {
            if let Some(k) = self.cache.keys().next().cloned() {
                self.cache.remove(&k);
            }
        }
        self.cache.insert(aor.to_vec(), (others, now_ms));
    }
}

impl Edge {
    /// The cluster's figures and state, when `[cluster]` is on.
    pub fn cluster(&self) -> Option<&ClusterState> {
        self.cluster.as_ref()
    }

    /// A REGISTER on the shard owning its AOR, with the cluster on: to the
    /// store, or applied from memory and journaled while it is away.
    pub(super) fn register_shared(&mut self, op: RegisterOp, requester: Requester, out: &mut Vec<Output>) {
        let Some(c) = &self.cluster else { return };
        if c.store_up {
            let wait = c.cfg.wait_ms;
            let write = self.register_write(&op);
            self.counters.cluster.store_writes += 1;
            let token =
                self.waiting.park(Parked::Store { requester, op: Box::new(op) }, self.now_ms, self.now_ms + wait);
            return out.push(Output::Ask { token, ask: Ask::Store(Box::new(write)) });
        }
        self.register_from_memory(&op, requester, out);
    }

    /// The store is away or late: what a single edge would do, journaled.
    pub(super) fn register_from_memory(&mut self, op: &RegisterOp, requester: Requester, out: &mut Vec<Output>) {
        let result = apply(&mut self.reg.location, op, &self.reg.cfg);
        if let Some(c) = &mut self.cluster {
            self.counters.cluster.served_from_memory += 1;
            c.touch(&op.aor, self.now_ms);
            if result.is_ok() {
                c.note(&op.aor, &mut self.counters.cluster);
                c.cache.remove(&op.aor);
            }
        }
        self.registered(requester, result, out);
    }

    /// The store's answer to a REGISTER's write.
    pub(super) fn on_stored(&mut self, op: &RegisterOp, requester: Requester, answer: Answer, out: &mut Vec<Output>) {
        match answer {
            Answer::Stored(Ok(fetched)) => {
                let views = self.adopt(&op.aor, &fetched);
                self.registered(requester, Ok(views), out);
            }
            Answer::Stored(Err(reject)) => {
                self.counters.cluster.store_refusals += 1;
                self.registered(requester, Err(reject), out);
            }
            _ => self.register_from_memory(op, requester, out),
        }
    }

    /// Takes the store's view of `aor`: this edge's bindings replace the
    /// slice's, the others' are cached; every live one as the 200 lists it.
    fn adopt(&mut self, aor: &[u8], fetched: &Fetched) -> Vec<BindingView> {
        let (list, bad) = decode_all(fetched, self.now);
        let Some(c) = &mut self.cluster else { return Vec::new() };
        self.counters.cluster.bad_values += bad as u64;
        let (mine, others): (Vec<_>, Vec<_>) = list.into_iter().partition(|b| b.node == c.cfg.node);
        let mine: Vec<Binding> = mine.into_iter().map(|b| b.binding).collect();
        let views = mine
            .iter()
            .chain(others.iter().map(|b| &b.binding))
            .filter(|b| b.expires_at() > self.now)
            .map(|b| BindingView { contact: b.contact().to_vec(), expires_at: b.expires_at(), q: b.q() });
        let views = views.collect();
        c.cache_put(aor, others, self.now_ms);
        c.touch(aor, self.now_ms);
        self.reg.location.replace(aor, &mine);
        views
    }

    /// The write for one REGISTER.
    fn register_write(&mut self, op: &RegisterOp) -> StoreWrite {
        let path: Vec<&[u8]> = op.path.iter().map(Vec::as_slice).collect();
        let mut contacts = Vec::with_capacity(op.contacts.len());
        for c in &op.contacts {
            let key = binding_key(&c.uri, c.instance.as_deref(), c.reg_id);
            let nb = NewBinding {
                contact: &c.uri,
                q: c.q,
                expires_at: op.now + u64::from(c.expires),
                call_id: &op.call_id,
                cseq: op.cseq,
                source: op.source,
                transport: op.transport,
                flow: op.flow,
                path: &path,
                instance: c.instance.as_deref(),
                reg_id: c.reg_id,
                user_agent: op.user_agent.as_deref(),
                updated: op.now,
            };
            let json = match Binding::from_new(&op.aor, &nb) {
                Ok(b) if c.expires > 0 => self.shared_json(&b),
                _ => Vec::new(),
            };
            contacts.push(SharedContact { key, expires: c.expires, call_id: op.call_id.clone(), cseq: op.cseq, json });
        }
        let kind = WriteKind::Register {
            call_id: op.call_id.clone(),
            cseq: op.cseq,
            wildcard: op.wildcard,
            max_contacts: op.max_contacts,
            replace_oldest: self.reg.cfg.replace_oldest,
            contacts,
        };
        StoreWrite { aor: op.aor.clone(), kind }
    }

    /// A binding's JSON, with the URI through which other edges reach it.
    fn shared_json(&mut self, b: &Binding) -> Vec<u8> {
        let Some(c) = &self.cluster else { return Vec::new() };
        let routes: Vec<Vec<u8>> = b.path().map(<[u8]>::to_vec).collect();
        let target = DialogTarget {
            uri: b.contact().to_vec(),
            dest: routes.is_empty().then(|| (b.transport().proto_number(), b.source())),
            flow: b.flow(),
            routes,
        };
        let mut uri = format!("sip:{};{PARAM}=", c.cfg.peer).into_bytes();
        self.proxy.token.seal(&target, &mut uri);
        encode_json(b, String::from_utf8(uri).ok())
    }

    /// This edge's bindings of `aor`, as a re-assert writes them.
    fn assert_write(&mut self, aor: &[u8]) -> StoreWrite {
        let now = self.now;
        let held: Vec<Binding> = self.reg.location.get(aor).iter().filter(|b| b.expires_at() > now).cloned().collect();
        let bindings = held
            .iter()
            .map(|b| SharedContact {
                key: binding_key(b.contact(), b.instance(), b.reg_id()),
                expires: (b.expires_at() - now).min(u64::from(u32::MAX)) as u32,
                call_id: b.call_id().to_vec(),
                cseq: b.cseq(),
                json: self.shared_json(b),
            })
            .collect();
        StoreWrite { aor: aor.to_vec(), kind: WriteKind::Assert { bindings } }
    }

    /// Where to fork a call for `aor`: from memory when the cache holds the
    /// other edges' bindings (or the store is away), else after a fetch.
    pub(super) fn locate_shared(&mut self, aor: Vec<u8>, seeker: Seeker, out: &mut Vec<Output>) {
        let Some(c) = &mut self.cluster else { return };
        let fresh = c.cache.get(&aor).is_some_and(|(_, at)| self.now_ms < at + c.cfg.cache_ms);
        if fresh || !c.store_up {
            if fresh {
                self.counters.cluster.cache_hits += 1;
            } else {
                self.counters.cluster.served_from_memory += 1;
            }
            let targets = self.shared_targets(&aor);
            return self.located(seeker, targets, out);
        }
        self.counters.cluster.cache_misses += 1;
        self.counters.cluster.store_fetches += 1;
        let wait = c.cfg.wait_ms;
        let token = self.waiting.park(Parked::Fetch { seeker, aor: aor.clone() }, self.now_ms, self.now_ms + wait);
        if let Seeker::Here(id) = seeker {
            if let Some(tx) = self.proxy.txs.get_mut(id) {
                tx.lookup = Some(token);
            }
        }
        out.push(Output::Ask { token, ask: Ask::Fetch { aor } });
    }

    /// The store's answer to a fetch (or none: memory only).
    pub(super) fn on_fetched(&mut self, seeker: Seeker, aor: &[u8], answer: Answer, out: &mut Vec<Output>) {
        match answer {
            Answer::Fetched(f) => {
                let (list, bad) = decode_all(&f, self.now);
                self.counters.cluster.bad_values += bad as u64;
                if let Some(c) = &mut self.cluster {
                    let others = list.into_iter().filter(|b| b.node != c.cfg.node).collect();
                    c.cache_put(aor, others, self.now_ms);
                }
            }
            _ => self.counters.cluster.served_from_memory += 1,
        }
        let targets = self.shared_targets(aor);
        self.located(seeker, targets, out);
    }

    /// This edge's bindings of `aor` and the cached ones of other edges,
    /// highest q first.
    fn shared_targets(&mut self, aor: &[u8]) -> Vec<Target> {
        let mut list = self.local_targets(aor, None);
        if let Some(c) = &self.cluster {
            if let Some((others, _)) = c.cache.get(aor) {
                for b in others.iter().filter(|b| b.binding.expires_at() > self.now) {
                    match remote_target(c, b) {
                        Some((t, hop)) => {
                            self.counters.cluster.inter_edge_hops += u64::from(hop);
                            list.push((b.binding.q(), t));
                        }
                        None => self.counters.cluster.dead_skipped += 1,
                    }
                }
            }
        }
        list.sort_by_key(|(q, _)| std::cmp::Reverse(*q));
        list.into_iter().map(|(_, t)| t).collect()
    }

    /// News from the store room.
    pub(super) fn on_cluster(&mut self, event: ClusterEvent, out: &mut Vec<Output>) {
        let now = self.now;
        let Some(c) = &mut self.cluster else { return };
        match event {
            ClusterEvent::Invalidate { aor } => {
                self.counters.cluster.invalidations += 1;
                c.cache.remove(&aor);
            }
            ClusterEvent::FlushCache => {
                self.counters.cluster.cache_flushes += 1;
                c.cache.clear();
            }
            ClusterEvent::StoreDown => c.store_up = false,
            ClusterEvent::StoreUp { lost_data } => {
                c.store_up = true;
                // Nothing cached may be trusted across the store's absence.
                c.cache.clear();
                if lost_data || c.journal_overflowed {
                    c.journal.clear();
                    c.journal_overflowed = false;
                    c.reassert = self.reg.location.aor_keys().into();
                } else {
                    c.reassert.extend(c.journal.drain());
                }
                c.paced_at = self.now_ms;
                self.pace_reassert(out);
            }
            ClusterEvent::Restore { aor, fetched } => {
                if c.touched.as_ref().is_some_and(|t| t.contains(&aor)) {
                    return; // written since start: newer than what was read back
                }
                let (list, bad) = decode_all(&fetched, now);
                self.counters.cluster.bad_values += bad as u64;
                for b in list.into_iter().filter(|b| b.node == c.cfg.node && b.binding.expires_at() > now) {
                    // A binding refreshed here since start is newer: kept.
                    let key = b.binding.contact_key();
                    let held =
                        b.binding.with_new(|nb| self.reg.location.get(&aor).iter().any(|h| h.is_replaced_by(&nb, key)));
                    if !held && self.reg.location.upsert_binding(&aor, &b.binding).is_ok() {
                        self.counters.cluster.restored += 1;
                    }
                }
            }
            ClusterEvent::Peers(list) => c.peers = Some(list.into_iter().map(|p| (p.node, p.addr)).collect()),
        }
    }

    /// Re-asserts the next AORs due, at `reassert_per_sec`. AORs journaled
    /// while the store counts as up (one answer lost or late, a re-assert
    /// that failed) join the queue here, so none waits for the store's next
    /// down-and-up to be written.
    pub(super) fn pace_reassert(&mut self, out: &mut Vec<Output>) {
        let Some(c) = &mut self.cluster else { return };
        if !c.store_up {
            return;
        }
        if c.journal_overflowed {
            c.journal.clear();
            c.journal_overflowed = false;
            c.reassert = self.reg.location.aor_keys().into();
        } else if !c.journal.is_empty() {
            c.reassert.extend(c.journal.drain());
        }
        if c.reassert.is_empty() {
            return;
        }
        let elapsed = self.now_ms.saturating_sub(c.paced_at).max(1);
        let n = ((u64::from(c.cfg.reassert_per_sec) * elapsed) / 1000).max(1) as usize;
        c.paced_at = self.now_ms;
        let wait = c.cfg.wait_ms;
        let due: Vec<Vec<u8>> = (0..n).map_while(|_| c.reassert.pop_front()).collect();
        for aor in due {
            let write = self.assert_write(&aor);
            self.counters.cluster.replays += 1;
            let token = self.waiting.park(Parked::Reassert { aor }, self.now_ms, self.now_ms + wait);
            out.push(Output::Ask { token, ask: Ask::Store(Box::new(write)) });
        }
    }

    /// The store's answer to a re-assert: the others' bindings cached; none
    /// (the store went away again): journaled again.
    pub(super) fn on_reasserted(&mut self, aor: Vec<u8>, answer: Answer) {
        if let Answer::Stored(Ok(f)) = answer {
            let (list, _) = decode_all(&f, self.now);
            if let Some(c) = &mut self.cluster {
                let others = list.into_iter().filter(|b| b.node != c.cfg.node).collect();
                c.cache_put(&aor, others, self.now_ms);
            }
        } else if let Some(c) = &mut self.cluster {
            c.note(&aor, &mut self.counters.cluster);
        }
    }

    /// When pacing must run again (ms of the core's clock).
    pub(super) fn reassert_deadline(&self) -> Option<u64> {
        let c = self.cluster.as_ref()?;
        let due = !c.reassert.is_empty() || !c.journal.is_empty() || c.journal_overflowed;
        (c.store_up && due).then_some(self.now_ms + 100)
    }
}

/// How this edge reaches another edge's binding: through that edge when it
/// is alive (the bool says so), straight to a UDP device when it is not;
/// None: a dead edge's connection, which nobody else can write to.
fn remote_target(c: &ClusterState, b: &SharedBinding) -> Option<(Target, bool)> {
    let binding = &b.binding;
    if c.alive(&b.node) {
        let edge = b.edge.as_deref()?;
        let hop = parse_uri(edge.as_bytes()).ok().as_ref().and_then(hop_of_uri)?;
        let t = Target::at(edge.as_bytes().to_vec(), Vec::new(), hop, None, true);
        return Some((t, true));
    }
    if binding.transport() != Transport::Udp || binding.path().next().is_some() {
        return None;
    }
    let hop = NextHop { transport: Transport::Udp, addr: binding.source(), flow: None };
    let t = Target::at(binding.contact().to_vec(), Vec::new(), hop, None, false);
    Some((t, false))
}
