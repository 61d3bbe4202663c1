//! The shards' clock and their alarm. Time for the core is monotonic
//! milliseconds since one process-wide anchor (`now_ms`), and the unix time
//! of that anchor (`unix_offset_ms`), read once: the core adds the two, so
//! a stepped wall clock (NTP, an operator's `date`) moves nothing inside it.
//!
//! The alarm is how a shard sleeps until its core's next deadline instead
//! of waking on a fixed poll: the housekeeping loop (`tick`) sleeps until
//! `Edge::next_deadline`, and whoever feeds the core rings the alarm when
//! the input scheduled a timer earlier than that (`Alarm::wake_by`), one
//! comparison per message.

use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();

fn anchor() -> &'static (Instant, u64) {
    ANCHOR.get_or_init(|| {
        (Instant::now(), SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    })
}

/// Monotonic milliseconds since the anchor: the only clock the core sees.
pub fn now_ms() -> u64 {
    anchor().0.elapsed().as_millis() as u64
}

/// Unix milliseconds at the anchor (`now_ms` 0).
pub fn unix_offset_ms() -> u64 {
    anchor().1
}

/// Unix milliseconds now, on the same clock (for log pacing).
pub fn unix_now_ms() -> u64 {
    now_ms() + unix_offset_ms()
}

/// The housekeeping loop's wake-up: when it means to wake, and a way to
/// wake it sooner.
pub struct Alarm {
    /// `now_ms` the loop sleeps until.
    at: Cell<u64>,
    ring: LocalSender<()>,
}

impl Alarm {
    pub fn new() -> (Alarm, LocalReceiver<()>) {
        let (ring, rx) = local_channel::new_bounded(1);
        (Alarm { at: Cell::new(0), ring }, rx)
    }

    /// The loop is about to sleep until `at`.
    pub fn set(&self, at: u64) {
        self.at.set(at);
    }

    /// Something is due at `at`: ring when the loop would sleep past it
    /// (a full channel means it is already rung).
    pub fn wake_by(&self, at: u64) {
        if at < self.at.get() {
            self.at.set(at);
            let _ = self.ring.try_send(());
        }
    }

    /// How long to sleep from `now` to `at`, at most `cap`.
    pub fn sleep_for(now: u64, at: u64, cap: Duration) -> Duration {
        Duration::from_millis(at.saturating_sub(now)).min(cap)
    }
}
