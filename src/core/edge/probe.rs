//! Health of the upstreams (the routes to the core). Shard 0 sends an
//! OPTIONS to every upstream each `proxy.probe_interval_ms`; one silent for
//! [`PROBE_TIMEOUT_MS`] is down, any answer brings it back. A branch to an
//! upstream that times out marks it down too, and any response on such a
//! branch marks it up. Changes a shard learns from probes or timeouts are
//! told to every other shard (`MeshMsg::Health`), so all shards skip the
//! same dead upstreams.

use super::step::Ctx;
use super::{Edge, Output};
use crate::core::counters::Counters;
use crate::core::mesh::MeshMsg;
use crate::core::owner;
use crate::core::proxy::state::ProxyState;

/// How long an upstream may take to answer a probe before it counts as down.
const PROBE_TIMEOUT_MS: u64 = 5_000;

impl ProxyState {
    /// Expires the probes unanswered for PROBE_TIMEOUT_MS and, on shard 0
    /// when the interval is up, probes every upstream.
    pub(super) fn probe(&mut self, cx: &mut Ctx<'_>) {
        let now = cx.now_ms;
        let expired: Vec<(Vec<u8>, usize)> = self
            .probes
            .iter()
            .filter(|(_, (_, at))| now.saturating_sub(*at) >= PROBE_TIMEOUT_MS)
            .map(|(b, (u, _))| (b.clone(), *u))
            .collect();
        for (branch, u) in expired {
            self.probes.remove(&branch);
            if self.mark_upstream(cx.counters, u, false) {
                cx.broadcast_health(u, false);
            }
        }
        let interval = self.cfg.probe_interval_ms;
        if cx.shard != 0 || interval == 0 || now < self.next_probe_ms {
            return;
        }
        self.next_probe_ms = now + interval;
        for u in 0..self.routes.upstreams.len() {
            if self.routes.upstreams[u].name.is_some() {
                continue; // a name's addresses fail over per request instead
            }
            let hop = self.routes.upstreams[u].hop;
            self.seq += 1;
            let mut branch = Vec::with_capacity(32);
            owner::write_branch(cx.shard, self.seq, &mut branch);
            let l = cx.listener_for(&hop);
            let bytes = format!(
                "OPTIONS sip:{addr} SIP/2.0\r\nVia: SIP/2.0/{t} {host}:{port};branch={b};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{host}>;tag={seq:x}\r\nTo: <sip:{addr}>\r\nCall-ID: probe-{seq:x}@{host}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                addr = hop.addr,
                t = l.via_transport(),
                host = String::from_utf8_lossy(&l.host),
                port = l.port,
                b = String::from_utf8_lossy(&branch),
                seq = self.seq,
            )
            .into_bytes();
            self.probes.insert(branch, (u, now));
            cx.counters.proxy.probes_sent += 1;
            cx.send_hop(hop, bytes);
        }
    }

    /// When `probe` next has work on shard `shard`: the oldest probe's
    /// timeout, or the next round of probes (shard 0, when probing).
    pub(crate) fn next_probe_deadline(&self, shard: u16) -> Option<u64> {
        let timeout = self.probes.values().map(|&(_, at)| at + PROBE_TIMEOUT_MS).min();
        let round = (shard == 0 && self.cfg.probe_interval_ms > 0 && !self.routes.upstreams.is_empty())
            .then_some(self.next_probe_ms);
        timeout.into_iter().chain(round).min()
    }

    /// A response to a probe (its Via `branch`): the upstream is up.
    /// False when `branch` is no probe of ours.
    pub(super) fn on_probe_answer(&mut self, cx: &mut Ctx<'_>, branch: &[u8]) -> bool {
        let Some((u, _)) = self.probes.remove(branch) else {
            return false;
        };
        if self.mark_upstream(cx.counters, u, true) {
            cx.broadcast_health(u, true);
        }
        true
    }

    /// Records that upstream `u` is up or down; true (and counted) when
    /// that is a change.
    pub(super) fn mark_upstream(&mut self, counters: &mut Counters, u: usize, up: bool) -> bool {
        let changed = self.routes.mark(u, up);
        counters.proxy.upstream_changes += u64::from(changed);
        changed
    }
}

impl Ctx<'_> {
    /// Tells every other shard what this one learned of an upstream.
    pub(super) fn broadcast_health(&mut self, upstream: usize, up: bool) {
        for s in (0..self.shards).filter(|&s| s != self.shard) {
            self.counters.wire.mesh_sent += 1;
            self.out.push(Output::ToShard { shard: s, msg: MeshMsg::Health { upstream, up } });
        }
    }
}

impl Edge {
    /// Another shard learned an upstream's health.
    pub(super) fn on_health(&mut self, upstream: usize, up: bool) {
        self.proxy.mark_upstream(&mut self.counters, upstream, up);
    }
}
