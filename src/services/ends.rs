//! A room's side of its answers to the shards: one bounded channel and one
//! doorbell per shard, for events of the room's own type. A full channel
//! is a counted drop (the room's `dropped` counter); the shard's pending
//! table expires what it waited for. The doorbell is one half of a
//! nonblocking `UnixStream::pair()`: a byte written after every event; a
//! full socket buffer means the bell already rings and is fine. The
//! shard's side is `shard::services::serve_room`.

use crossbeam_channel::{Receiver, Sender, TrySendError};
use metrics::counter;
use std::io::Write;
use std::os::unix::net::UnixStream;

/// One shard's end: its events, and the doorbell the room writes a byte to
/// after queueing events (the shard reads it to wake, then drains `events`).
pub struct ShardEnd<E> {
    pub events: Receiver<E>,
    pub doorbell: UnixStream,
}

pub struct Ends<E> {
    txs: Vec<Sender<E>>,
    bells: Vec<UnixStream>,
    /// The counter of events dropped on a full channel.
    dropped: &'static str,
}

impl<E> Ends<E> {
    /// The room's ends and the shards' ends, `capacity` events per shard.
    pub fn new(shards: usize, capacity: usize, dropped: &'static str) -> (Ends<E>, Vec<ShardEnd<E>>) {
        super::count_from_zero(dropped, &[]);
        let mut ends = Ends { txs: Vec::new(), bells: Vec::new(), dropped };
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
    pub fn send(&self, shard: usize, ev: E) -> bool {
        let Some(tx) = self.txs.get(shard) else {
            counter!(self.dropped).increment(1);
            return false;
        };
        match tx.try_send(ev) {
            Ok(()) => {
                self.ring(shard);
                true
            }
            Err(TrySendError::Full(_)) => {
                counter!(self.dropped).increment(1);
                false
            }
            // The shard has gone (shutting down).
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn ring(&self, shard: usize) {
        if let Some(mut bell) = self.bells.get(shard) {
            // EAGAIN: the buffer is full of unread rings; the shard will wake.
            let _ = bell.write(&[1]);
        }
    }
}
