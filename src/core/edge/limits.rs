//! The edge's side of rate limits across shards (`core::protect` decides,
//! `protect/lease.rs` explains the leases): a request whose key's lease is
//! spent waits, parked as `Parked::Limited`, while the key's owner is asked
//! for a lease (`Ask::Lease`, parked as `Parked::Lease`); the owner serves
//! lease asks from its bucket; the answer admits the waiters it has tokens
//! for (each goes on through the rules after that one, then on as if it had
//! never waited) and refuses the rest. On the tick, what expired leases
//! left goes back to the owners (`MeshMsg::LeaseReturn`).
//!
//! A lease ask that gets no answer (the mesh could not take it, or
//! `WAIT_MS` passed) fails closed: the waiters still parked are refused as
//! over the limit (Retry-After 1). A waiter whose own wait ran out first is
//! dropped and counted (`Drop::LeaseLost`); its client retransmits.

use super::waiting::{Parked, WAIT_MS};
use super::{Edge, Output};
use crate::core::ask::Ask;
use crate::core::counters::Drop;
use crate::core::mesh::MeshMsg;
use crate::core::protect::{KeyView, LeaseAsk};
use crate::core::Origin;
use crate::sip::{self, Message, Stored};

impl Edge {
    /// Parks a request under rule `rule` until the lease of `key` is
    /// answered, and asks for it when `ask` says so.
    pub(super) fn wait_for_lease(
        &mut self,
        origin: Origin,
        msg: &Message<'_>,
        rule: usize,
        key: Vec<u8>,
        ask: Option<LeaseAsk>,
        out: &mut Vec<Output>,
    ) {
        let parked = Parked::Limited { origin, request: Stored::of(msg) };
        let waiter = self.waiting.park(parked, self.now_ms, self.now_ms + WAIT_MS);
        self.protect.wait(rule, &key, waiter);
        if let Some(a) = ask {
            self.ask_lease(rule, key, a, out);
        }
    }

    fn ask_lease(&mut self, rule: usize, key: Vec<u8>, a: LeaseAsk, out: &mut Vec<Output>) {
        let ask =
            Ask::Lease { shard: a.owner, rule: rule as u16, key: key.clone(), want: a.want, returning: a.returning };
        self.ask(Parked::Lease { rule, key }, ask, out);
    }

    /// On a key's owner: a lease for another shard, from the key's bucket.
    pub(super) fn grant_lease(&mut self, rule: u16, key: &[u8], want: u32, returning: u32) -> (u32, u64) {
        self.protect.grant(rule as usize, key, want, returning, self.now_ms)
    }

    /// The answer to a lease ask (None: it will not come).
    pub(super) fn on_leased(&mut self, rule: usize, key: Vec<u8>, answer: Option<(u32, u64)>, out: &mut Vec<Output>) {
        let (r, action) = self.protect.leased(rule, &key, answer, self.now_ms);
        for waiter in r.pass {
            match self.waiting.take(waiter) {
                Some(Parked::Limited { origin, request, .. }) => self.resume_limited(origin, &request, rule + 1, out),
                _ => self.protect.unspent(rule, &key),
            }
        }
        for waiter in r.over {
            if let Some(Parked::Limited { origin, request, .. }) = self.waiting.take(waiter) {
                let msg = request.view();
                let ess = sip::check_request(&msg).ok();
                self.refuse(origin, &msg, ess.as_ref(), action, r.retry_after, out);
            }
        }
        if let Some(a) = r.ask {
            self.ask_lease(rule, key, a, out);
        }
    }

    /// A request admitted by rule `from - 1` after waiting: the rules after
    /// it, then on.
    fn resume_limited(&mut self, origin: Origin, request: &Stored, from: usize, out: &mut Vec<Output>) {
        let msg = request.view();
        let Ok(ess) = sip::check_request(&msg) else {
            // Unreachable: it was checked before it waited.
            return self.counters.wire.drops.add(Drop::MalformedUnanswerable);
        };
        if self.rate_limit(origin, &msg, &ess, from, out).is_ok() {
            self.admitted(origin, &msg, &ess, out);
        }
    }

    /// A waiter whose lease never came.
    pub(super) fn lease_lost(&mut self) {
        self.counters.wire.drops.add(Drop::LeaseLost);
    }

    /// Once a second: the protection's housekeeping; what expired leases left goes back to the owners.
    pub(super) fn protect_tick(&mut self, out: &mut Vec<Output>) {
        for back in self.protect.tick(self.now_ms) {
            self.counters.wire.mesh_sent += 1;
            let msg = MeshMsg::LeaseReturn { rule: back.rule as u16, key: back.key, tokens: back.tokens };
            out.push(Output::ToShard { shard: back.owner, msg });
        }
        for ban in self.protect.take_ended() {
            out.push(Output::Ban(crate::core::protect::BanNews::Ended(ban)));
        }
    }

    /// What this shard holds of a rate-limit key (`GET /limits/{rule}/{key}`
    /// asks every shard); None: no such rule, or not a key of it.
    pub fn limit_view(&self, rule: &str, key: &str) -> Option<KeyView> {
        self.protect.view(rule, key, self.now_ms)
    }
}
