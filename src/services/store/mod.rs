//! The store room: this edge's link to the shared location in Redis
//! (`[cluster]`). The shards hand it asks through one bounded queue
//! (`StoreHandle::ask`, never blocking); one worker thread batches them
//! into one pipeline per round and answers each on its shard's bounded
//! channel, then rings that shard's doorbell. A second thread follows the
//! invalidations other edges publish. No shard ever waits on Redis: a full
//! queue, a Redis that is down or slow are `Unreachable` answers, at once
//! or within one round trip's deadline.
//!
//! Files: `link` (the connection), `scripts` (+ `*.lua`, what is run in
//! Redis), `worker` (the thread: batches, answers, up/down edges),
//! `heartbeat` (liveness, peers, data-loss detection), `restore` (reading
//! this node's bindings back at start), `watch` (pub/sub invalidations);
//! the shards' channels and doorbells are `services::ends`.
//!
//! What a shard sees, in order on its channel: at the first contact with
//! Redis `StoreUp { lost_data: false }` (or `StoreDown` when the first try
//! fails), then its `Restore`s, `Peers` whenever the set of live edges
//! changes; `StoreDown` on each up→down edge and `StoreUp` on each
//! down→up edge (`lost_data` when the store's epoch marker changed
//! meanwhile: it lost or was flushed of our bindings); `FlushCache` each
//! time the invalidation subscription is (re)made; an `Invalidate` for
//! each change of an AOR by another edge.

mod heartbeat;
mod link;
mod restore;
mod scripts;
mod watch;
mod worker;

use crate::config;
use crate::core::location::shared::{ClusterEvent, Fetched};
use crate::core::{Answer, Ask};
use crossbeam_channel::{Sender, TrySendError};
use metrics::counter;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use link::Target;

/// What the room sends one shard.
#[derive(Debug)]
pub enum StoreEvent {
    /// The answer to the shard's ask `token`.
    Answer { token: u64, answer: Answer },
    /// Something the shard was not asked about.
    Cluster(ClusterEvent),
}

/// One shard's end of the store room.
pub type ShardEnd = super::ends::ShardEnd<StoreEvent>;

/// The room's side of the shards' ends.
type Ends = super::ends::Ends<StoreEvent>;

impl Ends {
    /// `ev` to every shard.
    fn broadcast(&self, ev: ClusterEvent) {
        for shard in 0..self.shards() {
            self.send(shard, StoreEvent::Cluster(ev.clone()));
        }
    }
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
    /// AORs the shards journaled while Redis was away, not yet replayed.
    pub journal_depth: usize,
}

/// Asks taken from the queue into one pipeline at most.
pub const BATCH: usize = 256;

/// Shared by every shard: asks go in here.
#[derive(Clone)]
pub struct StoreHandle {
    tx: Sender<(u16, u64, Ask)>,
    status: Arc<Mutex<ClusterStatus>>,
    target: Arc<Target>,
    /// Each shard's journal depth, as it last reported it (on its tick).
    journals: Arc<Vec<AtomicUsize>>,
    /// The threads run while a handle does (`watch` holds it weakly).
    _alive: Arc<()>,
}

impl StoreHandle {
    /// Queues the store ask `token` of `shard` (`Ask::Store`, `Ask::Fetch`).
    /// False when refused (queue full, or not a store ask): the caller
    /// answers `Unreachable` at once.
    pub fn ask(&self, shard: u16, token: u64, ask: Ask) -> bool {
        if !matches!(ask, Ask::Store(_) | Ask::Fetch { .. }) {
            counter!("sipedge_cluster_refused_total", "reason" => "not a store ask").increment(1);
            return false;
        }
        match self.tx.try_send((shard, token, ask)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                counter!("sipedge_cluster_refused_total", "reason" => "queue full").increment(1);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                counter!("sipedge_cluster_refused_total", "reason" => "stopped").increment(1);
                false
            }
        }
    }

    pub fn status(&self) -> ClusterStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        s.queue_depth = self.tx.len();
        s.journal_depth = self.journals.iter().map(|j| j.load(Ordering::Relaxed)).sum();
        s
    }

    /// A shard's journal depth, for `status` (once per tick, not per message).
    pub fn report_journal(&self, shard: u16, depth: usize) {
        if let Some(j) = self.journals.get(shard as usize) {
            j.store(depth, Ordering::Relaxed);
        }
    }

    /// Every stored value of `aor`, read on the caller's thread within the
    /// configured deadline (for the admin face; never called by a shard).
    /// Its own short-lived connection: the admin face asks rarely.
    pub fn registrations(&self, aor: &[u8]) -> Result<Fetched, String> {
        let scripts = scripts::Scripts::default();
        let mut link = link::Link::connect(&self.target, &scripts, scripts::Call::Text)?;
        let cmd = scripts::fetch_cmd(&scripts, link.call, aor);
        let reply = link.query(&cmd).map_err(|e| link::describe(&e))??;
        scripts::fetched(reply).map_err(|g| g.0)
    }
}

/// Starts the room's threads for `shards` shards. Never waits on Redis:
/// an unreachable Redis at start is a degraded edge, joined later.
pub fn start(cfg: &config::Cluster, shards: usize) -> StoreRoom {
    let queue = cfg.queue.get() as usize;
    let (tx, rx) = crossbeam_channel::bounded(queue);
    let (ends, shard_ends) = Ends::new(shards, queue + BATCH + 1024, "sipedge_cluster_answers_dropped_total");
    super::count_from_zero("sipedge_cluster_refused_total", &["queue full", "stopped"]);
    super::count_from_zero("sipedge_cluster_data_loss_total", &[]);
    let ends = Arc::new(ends);
    let status = Arc::new(Mutex::new(ClusterStatus { node: cfg.node.0.clone(), ..ClusterStatus::default() }));
    let target = Arc::new(Target {
        urls: cfg.redis.0.clone(),
        timeout: Duration::from_millis(cfg.redis_timeout_ms.get().max(1)),
    });
    let alive = Arc::new(());
    let settings = worker::Settings {
        node: cfg.node.0.clone(),
        peer_addr: cfg.peer_addr.map(|a| a.to_string()).unwrap_or_default(),
        target: (*target).clone(),
        heartbeat: Duration::from_millis(cfg.heartbeat_ms.get()),
        liveness: Duration::from_millis(cfg.liveness_ms.get()),
        shards,
    };
    let w = worker::Worker::new(settings, rx, ends.clone(), status.clone());
    if let Err(e) = std::thread::Builder::new().name("sipedge-store".into()).spawn(move || w.run()) {
        log::error!("store: cannot start its thread: {e}");
    }
    let watcher = watch::Watcher {
        node: cfg.node.0.clone(),
        target: (*target).clone(),
        shards,
        ends,
        alive: Arc::downgrade(&alive),
    };
    if let Err(e) = std::thread::Builder::new().name("sipedge-watch".into()).spawn(move || watcher.run()) {
        log::error!("store: cannot start its watcher thread: {e}");
    }
    let journals = Arc::new((0..shards).map(|_| AtomicUsize::new(0)).collect());
    StoreRoom { handle: StoreHandle { tx, status, target, journals, _alive: alive }, ends: shard_ends }
}
