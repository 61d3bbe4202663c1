//! The log lines of bans: one per ban decided (`ban 198.51.100.7 for 300 s:
//! flood`, by the shard that decided it) and one per ban that ran out, at
//! most `PER_SECOND` a second per shard; past it lines are only counted,
//! and one line says how many were left out, so a ban storm cannot flood
//! the log. (A ban lifted through the admin API is the admin face's line.)

use super::line_budget::LineBudget;
use crate::core::protect::BanNews;

/// Ban lines one shard writes in one second at most.
pub const PER_SECOND: u32 = 20;

/// The log's target: `log.level` filters it like any other line.
pub const TARGET: &str = "sipedge::ban";

#[derive(Debug)]
pub struct BanLog(LineBudget);

impl Default for BanLog {
    fn default() -> BanLog {
        BanLog(LineBudget::new(TARGET, "ban", PER_SECOND))
    }
}

impl BanLog {
    /// The line for `news` at `unix_ms`, unless this second's lines are spent.
    pub fn log(&mut self, unix_ms: u64, news: &BanNews) {
        if !self.0.take(unix_ms) {
            return;
        }
        match news {
            BanNews::Banned(b) => {
                let secs = b.expires_at_ms.saturating_sub(unix_ms).div_ceil(1000);
                log::warn!(target: TARGET, "ban {} for {secs} s: {}", b.ip, b.reason.label())
            }
            BanNews::Ended(b) => log::warn!(target: TARGET, "unban {}: its {} ban ran out", b.ip, b.reason.label()),
        }
    }

    /// On a new second: the line saying how many lines the last one left out.
    pub fn roll(&mut self, unix_ms: u64) {
        self.0.roll(unix_ms)
    }

    /// Lines left out in the current second (for tests).
    pub fn left_out(&self) -> u64 {
        self.0.left_out()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protect::{Ban, BanReason};

    #[test]
    fn a_storm_is_cut_to_the_budget_and_counted() {
        let mut l = BanLog::default();
        let ban = |i: u8| {
            BanNews::Banned(Ban {
                ip: [192, 0, 2, i].into(),
                reason: BanReason::Flood,
                expires_at_ms: 400_000,
                shard: 0,
            })
        };
        for i in 0..100 {
            l.log(100_000, &ban(i));
        }
        assert_eq!(l.left_out(), 100 - u64::from(PER_SECOND));
        l.log(101_000, &ban(1));
        assert_eq!(l.left_out(), 0, "a new second: the count was written and reset");
    }
}
