//! Telemetry: metric names and their publication from shard counters,
//! per-shard latency histograms merged at scrape time, the logger thread,
//! and HEP capture (encoder, filter, sender thread).
//! Shards count in plain integers (`core::Counters`) and publish on a tick;
//! nothing here is touched per message.

pub mod ban_log;
pub mod hep;
pub mod hep_filter;
pub mod hep_sender;
pub mod latency;
pub mod line_budget;
pub mod logger;
pub mod polls;
pub mod publish;
