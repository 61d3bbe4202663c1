//! A shard's budget for one kind of log line: at most `per_second` lines a
//! second; past it lines are only counted, and on the next second one line
//! says how many were left out, so a storm (a ban wave, an upstream whose
//! TLS fails for every call) cannot flood the log.

/// Lines of one kind written and left out in the current second.
#[derive(Debug)]
pub struct LineBudget {
    /// The log target of the summary line (`log.level` filters it).
    target: &'static str,
    /// What the lines are, for the summary (`ban`, `outgoing TLS`).
    what: &'static str,
    per_second: u32,
    second: u64,
    written: u32,
    left_out: u64,
}

impl LineBudget {
    pub const fn new(target: &'static str, what: &'static str, per_second: u32) -> LineBudget {
        LineBudget { target, what, per_second, second: 0, written: 0, left_out: 0 }
    }

    /// Whether a line may be written at `unix_ms`; if not, it is counted.
    pub fn take(&mut self, unix_ms: u64) -> bool {
        self.roll(unix_ms);
        if self.written >= self.per_second {
            self.left_out += 1;
            return false;
        }
        self.written += 1;
        true
    }

    /// On a new second: the line saying how many lines the last one left out.
    pub fn roll(&mut self, unix_ms: u64) {
        let second = unix_ms / 1000;
        if second == self.second {
            return;
        }
        if self.left_out > 0 {
            let (n, what, most) = (self.left_out, self.what, self.per_second);
            log::warn!(target: self.target, "{n} more {what} lines left out (at most {most} a second)");
        }
        (self.second, self.written, self.left_out) = (second, 0, 0);
    }

    /// Lines left out in the current second.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_cut_to_the_budget_and_counted_until_the_next_second() {
        let mut b = LineBudget::new("t", "test", 3);
        let taken = (0..10).filter(|_| b.take(100_000)).count();
        assert_eq!((taken, b.left_out()), (3, 7));
        assert!(!b.take(100_999), "still the same second: counted");
        assert_eq!(b.left_out(), 8);
        assert!(b.take(101_000), "a new second: the budget is back");
        assert_eq!(b.left_out(), 0);
    }
}
