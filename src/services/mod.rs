//! I/O rooms beside `shard/`: plain threads that talk to remote
//! dependencies (Redis: `store`; DNS: `resolver`) for the shards, fed through bounded
//! queues and answering through each shard's own queue and doorbell. They
//! depend on `core` (what an ask and an answer are) and `config`, never on
//! `shard` or `admin`; no shard ever waits on them.

pub mod ends;
pub mod resolver;
pub mod store;

/// Registers a room's failure counter at zero when the room starts (one
/// series per reason, or one without labels), so that a scrape shows it,
/// and an alert's `rate()` has its start, before the first failure.
pub(crate) fn count_from_zero(name: &'static str, reasons: &[&'static str]) {
    if reasons.is_empty() {
        metrics::counter!(name).increment(0);
    }
    for r in reasons {
        metrics::counter!(name, "reason" => *r).increment(0);
    }
}
