//! CANCEL on the proxy's side (RFC 3261 §9.1, §16.10): a caller's CANCEL
//! cancels every branch still waiting and starts no new one; each branch's
//! CANCEL runs under its own client transaction, sent only once the branch
//! has had a provisional; Timer C (§16.8) cancels a branch that rang too
//! long and ends it as a 408 when its CANCEL goes unanswered.

use super::step::Ctx;
use crate::core::proxy::ack::build_cancel;
use crate::core::proxy::state::{Cancel, Part, ProxyState, Tx};
use crate::core::proxy::table::Id;
use crate::core::transaction::{ClientKey, ClientTx};
use crate::sip::{self, Framing, Status};

impl ProxyState {
    /// CANCEL every branch still waiting (§16.10); no new branch starts.
    pub(super) fn cancel_tx(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) {
        if tx.server.is_final() {
            return;
        }
        tx.cancelled = true;
        tx.pending.clear();
        if tx.lookup.is_some() || tx.branches.is_empty() {
            return self.answer_locally(cx, id, tx, 487, "Request Terminated");
        }
        self.cancel_branches(cx, id, tx);
    }

    pub(super) fn cancel_branches(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx) {
        tx.pending.clear();
        for b in 0..tx.branches.len() {
            let br = &mut tx.branches[b];
            if br.final_code.is_some() || br.cancel.is_some() {
                continue;
            }
            if br.provisional {
                self.send_cancel(cx, id, tx, b);
            } else {
                br.cancel_wanted = true;
            }
        }
    }

    /// A CANCEL for branch `b` (§9.1), under its own client transaction.
    pub(super) fn send_cancel(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, b: usize) {
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
        let client =
            ClientTx::start(false, cx.now_ms, br.target.hop.transport.is_reliable(), &self.cfg.timers, &mut acts);
        let key = cancel_key(&br.key);
        br.cancel = Some(Box::new(Cancel { client, bytes }));
        self.clients.insert(key, (id, Part::Cancel(b as u8)));
        cx.counters.proxy.cancels_sent += 1;
        self.run_client(cx, id, tx, Part::Cancel(b as u8), acts, None);
    }

    /// Timer C fired (§16.8): a branch that rang too long is cancelled; one
    /// whose CANCEL went unanswered for 64·T1 more ends as a 408. (The
    /// deadline is `timer_c`; the transaction's wheel entry follows it.)
    pub(super) fn timer_c(&mut self, cx: &mut Ctx<'_>, id: Id, tx: &mut Tx, b: usize) {
        let br = &mut tx.branches[b];
        if br.final_code.is_some() || br.timer_c == 0 || cx.now_ms < br.timer_c {
            return;
        }
        cx.counters.proxy.branch_timeouts += 1;
        if br.cancel.is_none() && br.provisional {
            br.timer_c = cx.now_ms + self.cfg.timers.t1x64();
            return self.send_cancel(cx, id, tx, b);
        }
        br.timer_c = 0;
        self.branch_response(cx, id, tx, b, 408, None);
    }
}

/// The CANCEL of a branch has the branch's Via branch and method CANCEL.
pub(super) fn cancel_key(k: &ClientKey) -> ClientKey {
    ClientKey::new(k.branch(), "CANCEL").expect("branch already valid")
}
