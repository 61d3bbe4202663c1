//! The edge's side of the one seam for waiting: what it parks while it
//! asks outside the core (`Output::Ask`), what it does with the answer
//! (`Input::Answer`), with an answer that cannot come (`Answer::Unreachable`)
//! or does not come in time (expiry), and how it serves the asks other
//! shards send it over the mesh.
//!
//! Work that waits: a REGISTER authenticated here whose AOR another shard
//! owns (`register.rs`), a request for a user whose bindings another shard
//! holds (`proxy.rs`), the shared store's work (`cluster.rs`), and a request
//! waiting for a lease of rate-limit tokens (`limits.rs`). All wait
//! `WAIT_MS` at most.
//! A REGISTER that gets no answer is counted (`registrar.lost`, `sipedge_register_lost_total`) and dropped,
//! so the client's retransmission tries again; a lookup that gets none
//! ends its transaction with 500 "Location Lookup Failed".

use super::{Edge, Output};
use crate::core::ask::{Answer, Ask};
use crate::core::mesh::MeshMsg;
use crate::core::proxy::state::Target;
use crate::core::proxy::table::Id;
use crate::core::registrar::{BindingView, RegisterOp, Reject};
use crate::core::resolve::{Dest, Failure};
use crate::core::Origin;
use crate::sip::Stored;

/// How long parked work waits for its answer.
pub(super) const WAIT_MS: u64 = 5_000;

/// Work parked in `Edge::waiting` until its answer comes.
pub(crate) enum Parked {
    /// A REGISTER authenticated here, for the shard owning its AOR.
    Register { origin: Origin, request: Stored, since_ms: u64 },
    /// A transaction waiting for the bindings of a user.
    Lookup(Id),
    /// On an AOR's owner: a REGISTER written to the shared store (`cluster.rs`).
    Store { requester: Requester, op: Box<RegisterOp> },
    /// On an AOR's owner: its bindings fetched from the shared store.
    Fetch { seeker: Seeker, aor: Vec<u8> },
    /// An AOR re-asserted to the shared store.
    Reassert { aor: Vec<u8> },
    /// A request waiting for a lease of its key under a rate-limit rule (`limits.rs`).
    Limited { origin: Origin, request: Stored },
    /// The lease ask of a key those requests wait for.
    Lease { rule: usize, key: Vec<u8> },
    /// A name's lookup; the transactions waiting for it are the name's
    /// waiters in `ProxyState::names` (`names.rs`).
    Resolve(Dest),
}

/// Who waits for a REGISTER's result on the AOR's owner.
pub(crate) enum Requester {
    /// The request itself, received on this shard.
    Here { origin: Origin, request: Stored, since_ms: u64 },
    /// The shard that received it, waiting under its token.
    Shard { reply_to: u16, token: u64 },
}

/// Who waits for an AOR's targets on its owner.
#[derive(Clone, Copy)]
pub(crate) enum Seeker {
    /// A transaction of this shard.
    Here(Id),
    /// Another shard, waiting under its token.
    Shard { reply_to: u16, token: u64 },
}

impl Edge {
    /// Parks `work` and asks `ask` for it; the token the answer will carry.
    pub(super) fn ask(&mut self, work: Parked, ask: Ask, out: &mut Vec<Output>) -> u64 {
        let token = self.waiting.park(work, self.now_ms, self.now_ms + WAIT_MS);
        out.push(Output::Ask { token, ask });
        token
    }

    /// An answer: the work parked under `token` resumes. A late answer (the
    /// work expired, or no longer wanted it) finds nothing and is ignored.
    pub(super) fn on_answer(&mut self, token: u64, answer: Answer, out: &mut Vec<Output>) {
        let Some(work) = self.waiting.take(token) else {
            return;
        };
        match (work, answer) {
            (Parked::Register { origin, request, since_ms }, Answer::Registered(result)) => {
                self.on_registered(origin, &request, since_ms, result, out)
            }
            (Parked::Lookup(id), Answer::Located(targets)) => self.on_located(id, targets, out),
            (Parked::Store { requester, op }, answer) => self.on_stored(&op, requester, answer, out),
            (Parked::Fetch { seeker, aor }, answer) => self.on_fetched(seeker, &aor, answer, out),
            (Parked::Reassert { aor }, answer) => self.on_reasserted(aor, answer),
            (Parked::Lease { rule, key }, Answer::Leased { tokens, wait_ms }) => {
                self.on_leased(rule, key, Some((tokens, wait_ms)), out)
            }
            (Parked::Resolve(dest), Answer::Resolved(result)) => self.on_resolved(&dest, result, out),
            // Unreachable, or an answer to some other question: no answer.
            (work, _) => self.unanswered(work, false, out),
        }
    }

    /// Parked work whose answer is overdue, the oldest first.
    pub(super) fn expire_waiting(&mut self, out: &mut Vec<Output>) {
        for work in self.waiting.expire(self.now_ms) {
            self.unanswered(work, true, out);
        }
    }

    /// Work whose question will get no answer (`expired`: not in time).
    fn unanswered(&mut self, work: Parked, expired: bool, out: &mut Vec<Output>) {
        match work {
            Parked::Register { .. } => self.counters.registrar.lost += 1,
            Parked::Lookup(id) => self.lookup_failed(id, out),
            Parked::Limited { .. } => self.lease_lost(),
            Parked::Lease { rule, key } => self.on_leased(rule, key, None, out),
            // The resolver could not be reached, or took longer than the budget.
            Parked::Resolve(dest) => {
                let failure = if expired { Failure::Budget } else { Failure::Unreachable };
                self.on_resolved(&dest, Err(failure), out)
            }
            // The store did not answer in time: served from memory.
            work @ (Parked::Store { .. } | Parked::Fetch { .. } | Parked::Reassert { .. }) => {
                self.on_answer_late(work, out)
            }
        }
    }

    fn on_answer_late(&mut self, work: Parked, out: &mut Vec<Output>) {
        match work {
            Parked::Store { requester, op } => self.on_stored(&op, requester, Answer::Unreachable, out),
            Parked::Fetch { seeker, aor } => self.on_fetched(seeker, &aor, Answer::Unreachable, out),
            Parked::Reassert { aor } => self.on_reasserted(aor, Answer::Unreachable),
            Parked::Register { .. }
            | Parked::Lookup(_)
            | Parked::Limited { .. }
            | Parked::Lease { .. }
            | Parked::Resolve(_) => {}
        }
    }

    /// A REGISTER's result, to whoever waits for it.
    pub(super) fn registered(
        &mut self,
        requester: Requester,
        result: Result<Vec<BindingView>, Reject>,
        out: &mut Vec<Output>,
    ) {
        match requester {
            Requester::Here { origin, request, since_ms } => {
                self.on_registered(origin, &request, since_ms, result, out)
            }
            Requester::Shard { reply_to, token } => {
                self.counters.wire.mesh_sent += 1;
                let answer = Answer::Registered(result);
                out.push(Output::ToShard { shard: reply_to, msg: MeshMsg::Answer { token, answer } });
            }
        }
    }

    /// An AOR's targets, to whoever waits for them.
    pub(super) fn located(&mut self, seeker: Seeker, targets: Vec<Target>, out: &mut Vec<Output>) {
        match seeker {
            Seeker::Here(id) => self.on_located(id, targets, out),
            Seeker::Shard { reply_to, token } => {
                self.counters.wire.mesh_sent += 1;
                let answer = Answer::Located(targets);
                out.push(Output::ToShard { shard: reply_to, msg: MeshMsg::Answer { token, answer } });
            }
        }
    }

    /// On the shard an ask names: serve it and send the answer back.
    pub(super) fn serve_ask(&mut self, reply_to: u16, token: u64, ask: Ask, out: &mut Vec<Output>) {
        if self.cluster.is_some() {
            match ask {
                Ask::Register { op, .. } => {
                    return self.register_shared(*op, Requester::Shard { reply_to, token }, out)
                }
                Ask::Lookup { aor, .. } => return self.locate_shared(aor, Seeker::Shard { reply_to, token }, out),
                ask => return self.answer_ask(reply_to, token, ask, out),
            }
        }
        self.answer_ask(reply_to, token, ask, out)
    }

    fn answer_ask(&mut self, reply_to: u16, token: u64, ask: Ask, out: &mut Vec<Output>) {
        let answer = match ask {
            Ask::Register { op, .. } => Answer::Registered(self.apply_register(&op)),
            Ask::Lookup { aor, only, .. } => Answer::Located(self.binding_targets(&aor, only)),
            Ask::Lease { rule, key, want, returning, .. } => {
                let (tokens, wait_ms) = self.grant_lease(rule, &key, want, returning);
                Answer::Leased { tokens, wait_ms }
            }
            // Store and resolver asks go to their rooms, never to a shard.
            Ask::Store(_) | Ask::Fetch { .. } | Ask::Resolve(_) => Answer::Unreachable,
        };
        self.counters.wire.mesh_sent += 1;
        out.push(Output::ToShard { shard: reply_to, msg: MeshMsg::Answer { token, answer } });
    }
}
