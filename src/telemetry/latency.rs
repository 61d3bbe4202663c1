//! Message processing time: each shard records into its own hdrhistogram
//! and sends the interval's histogram with its heartbeat; the admin thread
//! merges the latest interval of every shard at scrape time and renders a
//! Prometheus summary (quantiles over the last interval, count and sum over
//! the process lifetime).

use hdrhistogram::Histogram;
use std::fmt::Write;

const NAME: &str = "sipedge_message_processing_seconds";
const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

#[derive(Default)]
pub struct Latency {
    last: Vec<Option<Histogram<u64>>>,
    count: u64,
    sum_ns: u128,
}

impl Latency {
    /// Takes one shard's interval histogram (nanoseconds).
    pub fn record(&mut self, shard: u16, h: Histogram<u64>) {
        let i = shard as usize;
        if self.last.len() <= i {
            self.last.resize_with(i + 1, || None);
        }
        self.count += h.len();
        self.sum_ns +=
            h.iter_recorded().map(|v| v.value_iterated_to() as u128 * v.count_at_value() as u128).sum::<u128>();
        self.last[i] = Some(h);
    }

    /// The merged Prometheus summary text.
    pub fn render(&self) -> String {
        let mut merged: Option<Histogram<u64>> = None;
        for h in self.last.iter().flatten() {
            match &mut merged {
                Some(m) => {
                    let _ = m.add(h);
                }
                None => merged = Some(h.clone()),
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "# HELP {NAME} Time the core spends on one message (last flush interval, all shards).");
        let _ = writeln!(out, "# TYPE {NAME} summary");
        if let Some(m) = merged.filter(|m| !m.is_empty()) {
            for q in QUANTILES {
                let _ = writeln!(out, "{NAME}{{quantile=\"{q}\"}} {:e}", m.value_at_quantile(q) as f64 / 1e9);
            }
        }
        let _ = writeln!(out, "{NAME}_sum {:e}", self.sum_ns as f64 / 1e9);
        let _ = writeln!(out, "{NAME}_count {}", self.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_shards_and_accumulates_count() {
        let mut l = Latency::default();
        let mut a = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        let mut b = a.clone();
        a.record(1_000).unwrap();
        b.record(3_000_000).unwrap();
        l.record(0, a.clone());
        l.record(2, b);
        let text = l.render();
        assert!(text.contains("sipedge_message_processing_seconds_count 2"), "{text}");
        assert!(text.contains("quantile=\"1\"} 3"), "{text}");
        l.record(0, a);
        assert!(l.render().contains("_count 3"));
    }
}
