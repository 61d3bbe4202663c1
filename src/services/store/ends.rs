//! The shards' side of the room's answers: one bounded channel and one
//! doorbell per shard. A full channel is a counted drop
//! (`sipedge_cluster_answers_dropped_total`); the shard's pending table
//! expires what it waited for. The doorbell is one half of a nonblocking
//! `UnixStream::pair()`: a byte written after every event; a full socket
//! buffer means the bell already rings and is fine.

use super::{ShardEnd, StoreEvent};
use crate::core::location::shared::ClusterEvent;
use crossbeam_channel::{Sender, TrySendError};
use metrics::counter;
use std::io::Write;
use std::os::unix::net::UnixStream;

pub struct Ends {
    txs: Vec<Sender<StoreEvent>>,
    bells: Vec<UnixStream>,
}

impl Ends {
    /// The room's ends and the shards' ends, `capacity` events per shard.
    pub fn new(shards: usize, capacity: usize) -> (Ends, Vec<ShardEnd>) {
        let mut ends = Ends { txs: Vec::new(), bells: Vec::new() };
        let mut shard_ends = Vec::new();
        for _ in 0..shards {
            let (tx, events) = crossbeam_channel::bounded(capacity);
            let (ours, doorbell) = UnixStream::pair().expect("socketpair for a shard's doorbell");
            let _ = ours.set_nonblocking(true);
            let _ = doorbell.set_nonblocking(true);
            ends.txs.push(tx);
            ends.bells.push(ours);
            shard_ends.push(ShardEnd { events, doorbell });
        }
        (ends, shard_ends)
    }

    pub fn shards(&self) -> usize {
        self.txs.len()
    }

    /// Queues `ev` for `shard` and rings its bell; false when dropped.
    pub fn send(&self, shard: usize, ev: StoreEvent) -> bool {
        let Some(tx) = self.txs.get(shard) else {
            counter!("sipedge_cluster_answers_dropped_total").increment(1);
            return false;
        };
        match tx.try_send(ev) {
            Ok(()) => {
                self.ring(shard);
                true
            }
            Err(TrySendError::Full(_)) => {
                counter!("sipedge_cluster_answers_dropped_total").increment(1);
                false
            }
            // The shard has gone (shutting down).
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// `ev` to every shard.
    pub fn broadcast(&self, ev: ClusterEvent) {
        for shard in 0..self.shards() {
            self.send(shard, StoreEvent::Cluster(ev.clone()));
        }
    }

    fn ring(&self, shard: usize) {
        if let Some(mut bell) = self.bells.get(shard) {
            // EAGAIN: the buffer is full of unread rings; the shard will wake.
            let _ = bell.write(&[1]);
        }
    }
}
