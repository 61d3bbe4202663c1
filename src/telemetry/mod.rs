//! Telemetry: metric names and their publication from shard counters,
//! per-shard latency histograms merged at scrape time, and the logger thread.
//! Shards count in plain integers (`core::Counters`) and publish on a tick;
//! nothing here is touched per message.

pub mod latency;
pub mod logger;
pub mod publish;
