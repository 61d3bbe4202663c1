//! How the proxy's steps run. A step is one thing happening to one
//! transaction: a request or its retransmission, a response, a timer, a
//! transport error, a CANCEL. [`Edge::step`] takes the transaction out of
//! the table, hands it to a method of `ProxyState` with a [`Ctx`], puts it
//! back, and forgets it when its server transaction ended during the step.
//! A step therefore holds `&mut Tx` from start to end: no lookup by id can
//! come back empty halfway, and a step never needs another transaction.
//!
//! [`Ctx`] is what a step may use of the rest of the shard: the clock, who
//! the shard is, its listeners, counters and outputs. The proxy's own
//! tables (keys, timers, routes, probes, settings) are `ProxyState`'s.
//! Those methods are written here in `core::edge`, beside the types a step
//! needs (`Listener`, `Output`), so that `core::proxy` (state and pure
//! rewriting) never imports the edge above it.

use super::{Edge, Listener, Output};
use crate::core::counters::Counters;
use crate::core::protect::ProtectStats;
use crate::core::proxy::route::NextHop;
use crate::core::proxy::state::{ProxyState, Tx};
use crate::core::proxy::table::Id;
use crate::core::Origin;

/// The shard as a proxy step sees it.
pub(crate) struct Ctx<'a> {
    /// The instant being handled (ms).
    pub now_ms: u64,
    pub shard: u16,
    pub shards: u16,
    pub listeners: &'a [Listener],
    /// Requests longer than this go over TCP rather than UDP (`protect.udp_mtu`).
    pub udp_mtu: usize,
    /// Digest authentication is on: credentials the edge checked are not
    /// relayed.
    pub auth: bool,
    pub counters: &'a mut Counters,
    pub protect: &'a mut ProtectStats,
    /// What the operator traces (`core::trace`).
    pub trace: &'a crate::core::trace::TraceFilter,
    /// The device profiles (a transaction keeps its sender's index).
    pub profiles: &'a crate::core::profile::Profiles,
    pub out: &'a mut Vec<Output>,
}

impl Edge {
    /// The proxy and the context its steps run in, borrowed apart.
    pub(super) fn proxy_cx<'a>(&'a mut self, out: &'a mut Vec<Output>) -> (&'a mut ProxyState, Ctx<'a>) {
        let cx = Ctx {
            now_ms: self.now_ms,
            shard: self.cfg.shard,
            shards: self.cfg.shards,
            listeners: &self.cfg.listeners,
            udp_mtu: self.cfg.protect.udp_mtu,
            auth: self.reg.auth_enabled(),
            counters: &mut self.counters,
            protect: &mut self.protect.stats,
            trace: &self.trace,
            profiles: &self.cfg.profiles,
            out,
        };
        (&mut self.proxy, cx)
    }

    /// Runs one step of transaction `id`; None when it is gone. When the
    /// step ended its server transaction, the transaction is forgotten;
    /// when it left it quiet, it moves on to linger (`linger.rs`, at the
    /// next `settle`);
    /// otherwise its timer wheel entry follows its deadlines (`wake.rs`).
    pub(super) fn step<R>(
        &mut self,
        id: Id,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut ProxyState, &mut Ctx<'_>, &mut Tx) -> R,
    ) -> Option<R> {
        let mut tx = self.proxy.txs.take(id)?;
        let (proxy, mut cx) = self.proxy_cx(out);
        let r = f(proxy, &mut cx, &mut tx);
        let ended = tx.server.is_terminated();
        let held = tx.held.take().and_then(|answer| Some((tx.mid.take()?, answer)));
        let quiet = !ended && held.is_none() && tx.quiet();
        if !ended && !quiet {
            self.proxy.rewake(id, &mut tx);
        }
        self.proxy.txs.put_back(id, tx);
        if ended {
            self.drop_tx(id);
        } else if quiet {
            self.linger_soon(id);
        }
        if let Some((forwarded, (code, bytes))) = held {
            self.on_core_answer(id, *forwarded, code, bytes, out);
        }
        self.ask_names(out);
        Some(r)
    }
}

impl<'a> Ctx<'a> {
    /// The listener `index`, or the first of `transport`.
    pub fn listener(&self, index: u16, transport: crate::core::Transport) -> &'a Listener {
        super::listener_of(self.listeners, index, transport)
    }

    /// The listener a message to `hop` leaves by: same transport and family.
    pub fn listener_for(&self, hop: &NextHop) -> &'a Listener {
        self.listener(self.listener_index_for(hop), hop.transport)
    }

    pub fn listener_index_for(&self, hop: &NextHop) -> u16 {
        super::listener_index_toward(self.listeners, hop)
    }

    /// Sends a response to the sender of a request (see `Edge::send`).
    pub fn send(&mut self, origin: Origin, code: u16, bytes: Vec<u8>) {
        super::send_response(self.counters, origin, code, bytes, self.out)
    }
}
