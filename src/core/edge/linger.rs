//! A transaction's lingering phase on the edge's side: when a step leaves a
//! transaction quiet (`Tx::quiet`: its final answer sent, every branch
//! answered, nothing left to forward), it leaves the live table for
//! `core::proxy::lingering`, packed, once the step's answers are on their
//! way (`Edge::settle`: packing is not on the answer's path); what can still happen to it (a
//! retransmitted request or ACK, a retransmitted answer from a branch, a
//! transport error, its timers) finds it there by key, and runs as one
//! step of the `Tx` it was: the record is unpacked, the same step as a live
//! transaction's runs on it (`step.rs`, `branch.rs`), then it is packed
//! again at its next deadline or, its server transaction ended, forgotten.
//! So a lingering transaction behaves exactly as the live one it was; only
//! its memory differs.
//!
//! [`At`] says where a transaction is; [`Edge::step_at`] runs a step on
//! either.

use super::cancel::cancel_key;
use super::step::Ctx;
use super::{Edge, Output};
use crate::core::owner;
use crate::core::proxy::state::{Part, ProxyState, Tx};
use crate::core::proxy::table::Id;
use crate::core::timer::cancellable::TimerHandle;
use crate::core::transaction::{ClientKey, ServerKey};

/// Where a transaction is: live in the table, or lingering (packed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum At {
    Live(Id),
    Lingering(TimerHandle),
}

impl Edge {
    /// After a step left live transaction `id` quiet: it moves on to linger
    /// at the next `settle`, once the caller has sent what the step produced,
    /// so that packing it does not hold up the answer on its way. Until then
    /// it stays live, where anything that reaches it finds it.
    pub(super) fn linger_soon(&mut self, id: Id) {
        self.quiet.push(id);
    }

    /// The transactions steps left quiet move on to linger. A shard calls it
    /// after sending a batch's outputs; `handle` and `tick` call it first, so
    /// none stays live longer than until the next input.
    pub fn settle(&mut self) {
        let mut quiet = std::mem::take(&mut self.quiet);
        for id in quiet.drain(..) {
            // Still live and quiet (a step in between may have ended it).
            if self.proxy.txs.get(id).is_some_and(|tx| !tx.server.is_terminated() && tx.quiet()) {
                let Some(tx) = self.take_tx(id) else { continue };
                let slot = self.proxy.linger_slot(&tx);
                self.proxy.lingering.insert(&tx, slot);
            }
        }
        self.quiet = quiet;
    }

    /// Runs one step of lingering transaction `h` on the `Tx` it packs,
    /// then packs it again (or forgets it, its server transaction ended).
    /// None when it is gone.
    pub(super) fn step_lingering<R>(
        &mut self,
        h: TimerHandle,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut ProxyState, &mut Ctx<'_>, &mut Tx) -> R,
    ) -> Option<R> {
        let (shard, timers) = (self.cfg.shard, self.proxy.cfg.timers);
        let Some(mut tx) = self.proxy.lingering.unpack(h, shard, &timers) else {
            // Not a record `pack` wrote (cannot happen): nothing can use it.
            self.proxy.lingering.remove(h);
            return None;
        };
        let (proxy, mut cx) = self.proxy_cx(out);
        let r = f(proxy, &mut cx, &mut tx);
        if tx.server.is_terminated() {
            self.proxy.lingering.remove(h);
        } else {
            // Nothing that happens to a quiet transaction makes it busy again.
            debug_assert!(tx.quiet());
            let slot = self.proxy.linger_slot(&tx);
            self.proxy.lingering.update(h, &tx, slot);
        }
        Some(r)
    }

    /// Runs one step of the transaction at `at`, live or lingering; the step
    /// gets its id (`Id::NONE` for a lingering one).
    pub(super) fn step_at<R>(
        &mut self,
        at: At,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut ProxyState, &mut Ctx<'_>, Id, &mut Tx) -> R,
    ) -> Option<R> {
        match at {
            At::Live(id) => self.step(id, out, |p, cx, tx| f(p, cx, id, tx)),
            At::Lingering(h) => self.step_lingering(h, out, |p, cx, tx| f(p, cx, Id::NONE, tx)),
        }
    }
}

impl ProxyState {
    /// The transaction a request with server key `key` belongs to.
    pub(super) fn server_at(&self, key: &ServerKey) -> Option<At> {
        match self.servers.get(key) {
            Some(&id) => Some(At::Live(id)),
            None => self.lingering.server(key).map(At::Lingering),
        }
    }

    /// The transaction whose client transaction (a branch or its CANCEL) a
    /// response's Via branch and CSeq method name; the part too when live
    /// (a lingering one's is found once unpacked: [`part_of`]).
    pub(super) fn client_at(&self, shard: u16, branch: &[u8], method: &str) -> Option<(At, Option<Part>)> {
        let key = ClientKey::new(std::str::from_utf8(branch).ok()?, method).ok()?;
        if let Some(&(id, part)) = self.clients.get(&key) {
            return Some((At::Live(id), Some(part)));
        }
        let seq = owner::branch_seq(branch, shard)?;
        Some((At::Lingering(self.lingering.client(seq)?), None))
    }

    /// The wheel slot a lingering transaction is next due at; the shard
    /// wakes by then.
    fn linger_slot(&mut self, tx: &Tx) -> u64 {
        // A quiet transaction always has a deadline (its server machine's).
        let slot = tx.wake_slot(self.lingering.now()).unwrap_or(u64::MAX);
        self.woken_at(slot);
        slot
    }
}

/// The client transaction of `tx` a response with Via branch `branch` and
/// CSeq method `method` belongs to, as the live keys would find it: a
/// branch's or its CANCEL's, while it has not ended.
pub(super) fn part_of(tx: &Tx, branch: &[u8], method: &str) -> Option<Part> {
    let key = ClientKey::new(std::str::from_utf8(branch).ok()?, method).ok()?;
    tx.branches.iter().enumerate().find_map(|(b, br)| {
        if br.key == key && !br.client.is_terminated() {
            return Some(Part::Branch(b as u8));
        }
        let cancel = br.cancel.as_ref().filter(|c| !c.client.is_terminated());
        (cancel.is_some() && cancel_key(&br.key) == key).then_some(Part::Cancel(b as u8))
    })
}
