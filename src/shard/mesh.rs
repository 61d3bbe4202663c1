//! The mesh: one bounded glommio shared channel for every ordered pair of
//! shards, carrying batches of `core::MeshMsg`. Messages pushed during one
//! loop turn are sent as one batch per destination by a flush task that runs
//! when the current task yields. A full queue is a counted drop, never a
//! wait; the asks in a dropped batch are answered `Unreachable` at once
//! (`services`), and answers coming in are fed to the core as answers.

use super::Shard;
use crate::core::MeshMsg;
use glommio::channels::shared_channel::{self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

type Batch = Vec<MeshMsg>;

/// One shard's unconnected ends of the mesh (`Send`, so they can be moved
/// into the shard's thread).
pub struct MeshEnds {
    senders: Vec<Option<SharedSender<Batch>>>,
    receivers: Vec<Option<SharedReceiver<Batch>>>,
}

/// Creates the full mesh for `n` shards; element `i` belongs to shard `i`.
pub fn mesh_channels(n: usize, capacity: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..n)
        .map(|_| MeshEnds { senders: (0..n).map(|_| None).collect(), receivers: (0..n).map(|_| None).collect() })
        .collect();
    for from in 0..n {
        for to in 0..n {
            if from != to {
                let (tx, rx) = shared_channel::new_bounded(capacity);
                ends[from].senders[to] = Some(tx);
                ends[to].receivers[from] = Some(rx);
            }
        }
    }
    ends
}

impl MeshEnds {
    /// Connects every end concurrently (each connect waits for its peer).
    pub async fn connect(self, _me: u16) -> (Outbox, Vec<ConnectedReceiver<Batch>>) {
        let tx: Vec<_> = self.senders.into_iter().map(|s| s.map(|s| super::polls::spawn(s.connect()))).collect();
        let rx: Vec<_> = self.receivers.into_iter().flatten().map(|r| super::polls::spawn(r.connect())).collect();
        let mut senders = Vec::new();
        for t in tx {
            senders.push(match t {
                Some(t) => Some(t.await),
                None => None,
            });
        }
        let mut receivers = Vec::new();
        for r in rx {
            receivers.push(r.await);
        }
        let pending = RefCell::new(senders.iter().map(|_| Vec::new()).collect());
        (Outbox { senders, pending, scheduled: Cell::new(false) }, receivers)
    }
}

/// Messages waiting to leave this shard, per destination.
pub struct Outbox {
    senders: Vec<Option<ConnectedSender<Batch>>>,
    pending: RefCell<Vec<Batch>>,
    scheduled: Cell<bool>,
}

impl Outbox {
    /// Queues a message for `to`; the batch leaves when this task yields.
    pub fn push(shard: &Rc<Shard>, to: u16, msg: MeshMsg) {
        shard.mesh.pending.borrow_mut()[to as usize].push(msg);
        if !shard.mesh.scheduled.replace(true) {
            let s = shard.clone();
            super::polls::spawn(async move { s.mesh.flush(&s).await }).detach();
        }
    }

    async fn flush(&self, shard: &Rc<Shard>) {
        self.scheduled.set(false);
        let unreachable = self.send_batches(shard);
        super::services::unreachable(shard, unreachable).await;
    }

    /// Sends every waiting batch; the tokens of the asks in batches a full
    /// queue refused.
    fn send_batches(&self, shard: &Shard) -> Vec<u64> {
        let mut unreachable = Vec::new();
        let mut pending = self.pending.borrow_mut();
        for (to, batch) in pending.iter_mut().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let batch = std::mem::take(batch);
            let n = batch.len() as u64;
            let asks = super::services::asks_in(&batch);
            let sent = self.senders[to].as_ref().map(|s| s.try_send(batch).is_ok()).unwrap_or(false);
            if !sent {
                shard.stats.borrow_mut().mesh_dropped += n;
                unreachable.extend(asks);
            }
        }
        unreachable
    }
}

/// Feeds everything another shard sends us into the core.
pub async fn serve_inbox(shard: Rc<Shard>, inbox: ConnectedReceiver<Batch>) {
    while let Some(batch) = inbox.recv().await {
        let now = super::clock::now_ms();
        for msg in batch {
            let input = super::services::from_mesh(&shard, msg);
            super::io::feed(&shard, now, input).await;
        }
    }
}
