//! How long a shard's thread is held by one task poll, as a Prometheus
//! histogram (`sipedge_shard_poll_seconds`, one series per shard).
//!
//! A shard is one thread running one glommio executor: while one task is
//! being polled (a UDP batch read, fed to the core and answered; a TCP
//! read; the housekeeping tick), nothing else on that core is served. So a
//! long poll is a stall that every message waiting on the shard sees, be it
//! the core's own work, an allocation that waits on the kernel, or the
//! thread losing its CPU. The shard counts polls into fixed buckets
//! (`PollCounts::record`: a few compares and an increment, no allocation),
//! and sends its absolute counts with every heartbeat; the admin thread
//! keeps the latest per shard and renders them at scrape time.
//!
//! Operators: `rate(sipedge_shard_poll_seconds_bucket{le="+Inf"}) -
//! rate(sipedge_shard_poll_seconds_bucket{le="0.001"})` is stalls over 1 ms
//! per second.

use std::fmt::Write;

const NAME: &str = "sipedge_shard_poll_seconds";

/// Upper bounds of the buckets, in nanoseconds (the last bucket, +Inf, is implicit).
pub const BOUNDS_NS: [u64; 10] =
    [50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 100_000_000];

/// One shard's poll durations since it started: non-cumulative bucket
/// counts (the last one is over the largest bound), and their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollCounts {
    pub buckets: [u64; BOUNDS_NS.len() + 1],
    pub sum_ns: u64,
}

impl PollCounts {
    pub const ZERO: PollCounts = PollCounts { buckets: [0; BOUNDS_NS.len() + 1], sum_ns: 0 };

    /// Counts one poll of `ns` nanoseconds.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let i = BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(BOUNDS_NS.len());
        self.buckets[i] += 1;
        self.sum_ns = self.sum_ns.wrapping_add(ns);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// The latest counts of every shard (admin thread).
#[derive(Default)]
pub struct Polls {
    shards: Vec<Option<PollCounts>>,
}

impl Polls {
    /// Takes one shard's absolute counts (they replace the previous ones).
    pub fn record(&mut self, shard: u16, counts: PollCounts) {
        let i = shard as usize;
        if self.shards.len() <= i {
            self.shards.resize(i + 1, None);
        }
        self.shards[i] = Some(counts);
    }

    /// The Prometheus histogram text, one series per shard that has reported.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {NAME} Time one task poll held the shard's thread (nothing else on that core ran meanwhile)."
        );
        let _ = writeln!(out, "# TYPE {NAME} histogram");
        for (shard, c) in self.shards.iter().enumerate() {
            let Some(c) = c else { continue };
            let mut cumulative = 0;
            for (i, b) in BOUNDS_NS.iter().enumerate() {
                cumulative += c.buckets[i];
                let _ = writeln!(out, "{NAME}_bucket{{shard=\"{shard}\",le=\"{}\"}} {cumulative}", *b as f64 / 1e9);
            }
            let _ = writeln!(out, "{NAME}_bucket{{shard=\"{shard}\",le=\"+Inf\"}} {}", c.count());
            let _ = writeln!(out, "{NAME}_sum{{shard=\"{shard}\"}} {:e}", c.sum_ns as f64 / 1e9);
            let _ = writeln!(out, "{NAME}_count{{shard=\"{shard}\"}} {}", c.count());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_puts_each_duration_in_the_first_bucket_that_holds_it() {
        let mut c = PollCounts::ZERO;
        c.record(1); // <= 50 us
        c.record(50_000); // <= 50 us: bounds are inclusive (Prometheus `le`)
        c.record(50_001); // <= 100 us
        c.record(5_600_000); // <= 10 ms: the allocation stall of issue 15
        c.record(u64::MAX / 2); // +Inf
        assert_eq!(c.buckets[0], 2);
        assert_eq!(c.buckets[1], 1);
        assert_eq!(c.buckets[7], 1);
        assert_eq!(c.buckets[BOUNDS_NS.len()], 1);
        assert_eq!(c.count(), 5);
    }

    #[test]
    fn renders_cumulative_buckets_per_shard_and_keeps_the_latest_counts() {
        let mut p = Polls::default();
        let mut a = PollCounts::ZERO;
        a.record(10_000);
        a.record(3_000_000);
        p.record(1, a);
        let text = p.render();
        assert!(text.contains("# TYPE sipedge_shard_poll_seconds histogram"), "{text}");
        assert!(!text.contains("shard=\"0\""), "a shard that never reported has no series: {text}");
        assert!(text.contains("sipedge_shard_poll_seconds_bucket{shard=\"1\",le=\"0.00005\"} 1"), "{text}");
        assert!(text.contains("sipedge_shard_poll_seconds_bucket{shard=\"1\",le=\"0.0025\"} 1"), "{text}");
        assert!(text.contains("sipedge_shard_poll_seconds_bucket{shard=\"1\",le=\"0.005\"} 2"), "{text}");
        assert!(text.contains("sipedge_shard_poll_seconds_bucket{shard=\"1\",le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("sipedge_shard_poll_seconds_count{shard=\"1\"} 2"), "{text}");
        assert!(text.contains("sipedge_shard_poll_seconds_sum{shard=\"1\"} 3.01e-3"), "{text}");
        // absolute counts: the next report replaces, never adds
        a.record(10_000);
        p.record(1, a);
        assert!(p.render().contains("sipedge_shard_poll_seconds_count{shard=\"1\"} 3"));
    }
}
