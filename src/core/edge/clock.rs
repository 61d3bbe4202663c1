//! The edge's clock: the caller's monotonic milliseconds plus the unix
//! offset it was given at start (see `Edge::new`), never going backwards;
//! when `tick` next has work (`next_deadline`), and the earliest timer an
//! input scheduled (`take_wake`), so the shard sleeps exactly until then.

use super::Edge;

impl Edge {
    /// The caller's `clock_ms` on the edge's clock; never earlier than before.
    pub(super) fn set_clock(&mut self, clock_ms: u64) {
        self.now_ms = self.now_ms.max(clock_ms + self.unix_offset_ms);
        self.now = self.now_ms / 1000;
    }

    /// When `tick` next has work, on the caller's clock: the earliest
    /// transaction timer, parked work's expiry, probe due or overdue, and
    /// the next whole second (binding expiry, bans, rate-limit windows),
    /// flood counts due to other shards.
    pub fn next_deadline(&self) -> u64 {
        let mut at = (self.now + 1) * 1000;
        for slot in [self.proxy.wheel.next_due(), self.proxy.lingering.next_due()].into_iter().flatten() {
            at = at.min(slot.saturating_mul(crate::core::proxy::state::WHEEL_MS));
        }
        if let Some(t) = self.waiting.next_expiry() {
            at = at.min(t);
        }
        if let Some(t) = self.proxy.next_probe_deadline(self.cfg.shard) {
            at = at.min(t);
        }
        if let Some(t) = self.reassert_deadline() {
            at = at.min(t);
        }
        if let Some(t) = self.protect.report_due() {
            at = at.min(t);
        }
        at.saturating_sub(self.unix_offset_ms)
    }

    /// The earliest transaction timer (or flood report) scheduled since the
    /// last call, on the caller's clock: a shard sleeping past it must wake
    /// sooner. O(1).
    pub fn take_wake(&mut self) -> Option<u64> {
        let at = std::mem::replace(&mut self.proxy.soonest_ms, u64::MAX);
        let at = self.protect.take_wake().map_or(at, |r| r.min(at));
        (at != u64::MAX).then(|| at.saturating_sub(self.unix_offset_ms))
    }
}
