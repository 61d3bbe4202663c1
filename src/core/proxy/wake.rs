//! A transaction's one entry in the proxy's timer wheel.
//!
//! Owns: when a transaction must next be woken, and keeping the wheel in
//! step with it. The machines keep their own deadlines (the transaction
//! module's `deadlines()`), a branch its Timer C; the wheel
//! (`ProxyState::wheel`, a [`CancellableWheel`] of 10 ms slots) holds one
//! entry per transaction, at the earliest of them. After every step
//! (`Edge::step`) the entry is moved if that changed, and it is taken out
//! when the transaction is forgotten. So the wheel never holds more entries
//! than there are transactions, and nothing of a finished transaction stays
//! in it (before, every timer a machine set was an entry of its own, kept
//! until its deadline even when cancelled: a completed call left its Timer C
//! behind for 180 s, and the wheel grew by the call rate times 180 s).
//! A transaction that moves on to linger takes its entry out of this wheel;
//! its record is an entry of the lingering wheel, at the earliest of its
//! machines' deadlines ([`Tx::wake_slot`] too; its Timer C is not kept).
//!
//! When the entry fires, every deadline due is handed to its machine in
//! deadline order (`Edge::proxy_tick`); a machine ignores a timer that is
//! not armed or not due, so firing early or twice does nothing.
//!
//! [`CancellableWheel`]: crate::core::timer::cancellable::CancellableWheel

use super::state::{Part, ProxyState, Tx, WHEEL_MS};
use super::table::Id;
use crate::core::timer::cancellable::TimerHandle;
use crate::core::transaction::TimerName;

/// Where a transaction's entry sits: its wheel slot and handle.
#[derive(Clone, Copy, Debug)]
pub struct Wake {
    slot: u64,
    handle: TimerHandle,
}

/// One deadline of a transaction: when (ms), which machine, which timer
/// (None: the branch's Timer C, §16.6 step 11).
pub type Deadline = (u64, Part, Option<TimerName>);

impl Tx {
    /// Every deadline armed in the transaction: its server machine's, its
    /// branches' (and their CANCELs') and the Timer C of every branch still
    /// waiting for a final answer.
    pub fn deadlines(&self) -> impl Iterator<Item = Deadline> + '_ {
        let server = self.server.deadlines().map(|(t, at)| (at, Part::Server, Some(t)));
        let branches = self.branches.iter().enumerate().flat_map(|(b, br)| {
            let (part, cancel) = (Part::Branch(b as u8), Part::Cancel(b as u8));
            let timer_c = (br.timer_c != 0 && br.final_code.is_none()).then_some((br.timer_c, part, None));
            let cancels =
                br.cancel.iter().flat_map(move |c| c.client.deadlines().map(move |(t, at)| (at, cancel, Some(t))));
            br.client.deadlines().map(move |(t, at)| (at, part, Some(t))).chain(timer_c).chain(cancels)
        });
        server.chain(branches)
    }

    /// The wheel slot of its earliest deadline, rounded up so none fires
    /// early, and after the wheel's present `now` (a slot): a deadline
    /// already past (a machine that kept a timer it ignored) is retried in
    /// the next slot, not in a loop.
    pub fn wake_slot(&self, now: u64) -> Option<u64> {
        self.deadlines().map(|d| d.0).min().map(|at| at.div_ceil(WHEEL_MS).max(now + 1))
    }

    /// The deadlines due at `now_ms`, earliest first.
    pub fn due(&self, now_ms: u64) -> Vec<Deadline> {
        let mut due: Vec<Deadline> = self.deadlines().filter(|d| d.0 <= now_ms).collect();
        due.sort_by_key(|d| d.0);
        due
    }
}

impl ProxyState {
    /// After a step of transaction `id`: its wheel entry at its earliest
    /// deadline (rounded up to a slot, never early), or none. O(1) when
    /// that did not change.
    pub fn rewake(&mut self, id: Id, tx: &mut Tx) {
        let slot = tx.wake_slot(self.wheel.now());
        if slot == tx.wake.map(|w| w.slot) {
            return;
        }
        self.unwake(tx);
        if let Some(slot) = slot {
            self.woken_at(slot);
            tx.wake = Some(Wake { slot, handle: self.wheel.schedule(slot, id) });
        }
    }

    /// A timer was scheduled for wheel slot `slot`: the shard must wake by
    /// then (`Edge::take_wake`).
    pub fn woken_at(&mut self, slot: u64) {
        self.soonest_ms = self.soonest_ms.min(slot.saturating_mul(WHEEL_MS));
    }

    /// Takes the transaction's entry out of the wheel (it is forgotten, or
    /// its entry just fired).
    pub fn unwake(&mut self, tx: &mut Tx) {
        if let Some(w) = tx.wake.take() {
            self.wheel.cancel(w.handle);
        }
    }
}
