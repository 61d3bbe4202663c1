//! A shard's housekeeping loop: commands from the control thread (stop),
//! heartbeats and histogram snapshots to it, and publishing the shard's
//! plain counters to `metrics` every `metrics.flush_ms`.

use super::Shard;
use crate::telemetry::publish;
use std::time::{Duration, Instant};

/// Control thread → shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Stop accepting, finish what is in flight, exit.
    Stop,
}

/// Shard → control thread.
pub enum Report {
    Ready { shard: u16 },
    Failed { shard: u16, error: String },
    /// Sent every flush: proves the shard is serving, carries its latency histogram of the interval.
    Heartbeat { shard: u16, hist: Box<hdrhistogram::Histogram<u64>> },
}

const POLL: Duration = Duration::from_millis(20);

/// Runs until a `Stop` command (or the control thread going away).
pub async fn run(shard: &Shard, commands: &crossbeam_channel::Receiver<Command>, reports: &crossbeam_channel::Sender<Report>) {
    let flush_every = Duration::from_millis(shard.config.metrics.flush_ms.get());
    let mut next_flush = Instant::now();
    loop {
        match commands.try_recv() {
            Ok(Command::Stop) | Err(crossbeam_channel::TryRecvError::Disconnected) => break,
            Err(crossbeam_channel::TryRecvError::Empty) => {}
        }
        if Instant::now() >= next_flush {
            next_flush += flush_every;
            flush(shard, reports);
        }
        glommio::timer::sleep(POLL).await;
    }
    shard.stopping.set(true);
    flush(shard, reports);
}

fn flush(shard: &Shard, reports: &crossbeam_channel::Sender<Report>) {
    let flows = shard.flows.borrow();
    let tcp = publish::TcpStats { open: flows.len(), accepted: flows.accepted, refused: flows.refused, closed: &flows.closed };
    publish::shard(shard.id, &shard.edge.borrow().counters, &tcp);
    let mut h = shard.hist.borrow_mut();
    let hist = Box::new(h.clone());
    h.reset();
    // A full report queue only delays a histogram snapshot: drop it, never wait.
    let _ = reports.try_send(Report::Heartbeat { shard: shard.id, hist });
}
