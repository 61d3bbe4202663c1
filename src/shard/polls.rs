//! Times every poll of every task a shard runs (`Timed`), so that a stall
//! of the shard's thread shows in `sipedge_shard_poll_seconds`
//! (`telemetry::polls`). Every task of a shard is started through `spawn`
//! (and the shard's own root future is wrapped in `Timed`); the counts live
//! in a thread-local, since a shard is one thread, and go out with the
//! heartbeat (`tick::flush`). Cost: two clock reads per poll (vDSO) and a
//! bucket increment.

use crate::telemetry::polls::PollCounts;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

thread_local! {
    static COUNTS: RefCell<PollCounts> = const { RefCell::new(PollCounts::ZERO) };
}

/// This thread's counts since it started.
pub fn counts() -> PollCounts {
    COUNTS.with(|c| *c.borrow())
}

pin_project_lite::pin_project! {
    /// A future whose every poll is timed into this thread's counts.
    /// Not to be nested (an inner `Timed` would count its time twice).
    pub struct Timed<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future> Timed<F> {
    pub fn new(fut: F) -> Self {
        Timed { fut }
    }
}

impl<F: Future> Future for Timed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let r = self.project().fut.poll(cx);
        let ns = start.elapsed().as_nanos() as u64;
        COUNTS.with(|c| c.borrow_mut().record(ns));
        r
    }
}

/// `glommio::spawn_local`, timed.
pub fn spawn<F: Future + 'static>(fut: F) -> glommio::Task<F::Output>
where
    F::Output: 'static,
{
    glommio::spawn_local(Timed::new(fut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_poll_is_counted_with_its_duration() {
        let before = counts();
        let ex = glommio::LocalExecutorBuilder::default().make().expect("executor");
        ex.run(Timed::new(async {
            // first poll: about 3 ms of work, then a yield (a second poll)
            let t = Instant::now();
            while t.elapsed() < std::time::Duration::from_millis(3) {}
            futures_lite::future::yield_now().await;
        }));
        let after = counts();
        assert_eq!(after.count() - before.count(), 2);
        // the slow poll sits in the (2.5 ms, 5 ms] bucket or above
        let slow: u64 = (5..after.buckets.len()).map(|i| after.buckets[i] - before.buckets[i]).sum();
        assert_eq!(slow, 1, "{after:?}");
        assert!(after.sum_ns - before.sum_ns >= 3_000_000);
    }
}
