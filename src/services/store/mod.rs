//! The store room: this edge's link to the shared location in Redis
//! (`[cluster]`). SKELETON: the interface the shards and the admin face use;
//! the threads behind it are being written.

use crate::config;
use crate::core::location::shared::{ClusterEvent, Fetched};
use crate::core::{Answer, Ask};
use crossbeam_channel::{Receiver, Sender};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

/// What the room sends one shard.
#[derive(Debug)]
pub enum StoreEvent {
    /// The answer to the shard's ask `token`.
    Answer { token: u64, answer: Answer },
    /// Something the shard was not asked about.
    Cluster(ClusterEvent),
}

/// One shard's end: its events, and the doorbell the room writes a byte to
/// after queueing events (the shard reads it to wake, then drains `events`).
pub struct ShardEnd {
    pub events: Receiver<StoreEvent>,
    pub doorbell: UnixStream,
}

/// The room as `main` gets it: the handle every shard (and the admin face)
/// shares, and one end per shard.
pub struct StoreRoom {
    pub handle: StoreHandle,
    pub ends: Vec<ShardEnd>,
}

/// What `/cluster` and `/health` show.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ClusterStatus {
    pub node: String,
    /// Redis answered the last round trip.
    pub redis_up: bool,
    /// The last Redis error, for the operator.
    pub last_error: Option<String>,
    /// Edges seen alive: name, peer address, heartbeat age (ms).
    pub peers: Vec<(String, String, u64)>,
    /// Asks waiting in the queue to the Redis thread.
    pub queue_depth: usize,
}

/// Shared by every shard: asks go in here.
#[derive(Clone)]
pub struct StoreHandle {
    tx: Sender<(u16, u64, Ask)>,
    status: Arc<Mutex<ClusterStatus>>,
}

impl StoreHandle {
    /// Queues the store ask `token` of `shard` (`Ask::Store`, `Ask::Fetch`).
    /// False when refused (queue full, or not a store ask): the caller
    /// answers `Unreachable` at once.
    pub fn ask(&self, shard: u16, token: u64, ask: Ask) -> bool {
        self.tx.try_send((shard, token, ask)).is_ok()
    }

    pub fn status(&self) -> ClusterStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every stored value of `aor`, read on the caller's thread within the
    /// configured deadline (for the admin face; never called by a shard).
    pub fn registrations(&self, _aor: &[u8]) -> Result<Fetched, String> {
        Err("not built yet".into())
    }
}

/// Starts the room's threads for `shards` shards. Never waits on Redis:
/// an unreachable Redis at start is a degraded edge, joined later.
pub fn start(cfg: &config::Cluster, shards: usize) -> StoreRoom {
    let _ = cfg;
    let (tx, _rx) = crossbeam_channel::bounded(16);
    let ends = (0..shards)
        .map(|_| {
            let (_etx, events) = crossbeam_channel::bounded(16);
            let (doorbell, _other) = UnixStream::pair().expect("socketpair");
            ShardEnd { events, doorbell }
        })
        .collect();
    StoreRoom { handle: StoreHandle { tx, status: Arc::default() }, ends }
}
