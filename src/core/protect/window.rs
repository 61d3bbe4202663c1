//! Events per source IP in a fixed window (Kamailio pike's idea): the
//! count starts at the first event and resets when the window has passed.
//! Used for the flood tripwire and for authentication failures.

use std::collections::HashMap;
use std::net::IpAddr;

/// Sources tracked at once; past this, the oldest windows are forgotten first
/// (on the next prune) and a new source is not counted until there is room.
pub const MAX_SOURCES: usize = 262_144;

#[derive(Debug, Default)]
pub struct WindowCounts {
    windows: HashMap<IpAddr, (u64, u32)>,
}

impl WindowCounts {
    /// Counts one event of `ip` at `now_ms`; true when this one reaches `limit`
    /// within `window_ms` (the window then starts over).
    pub fn hit(&mut self, ip: IpAddr, now_ms: u64, window_ms: u64, limit: u32) -> bool {
        self.hit_n(ip, now_ms, window_ms, limit, 1)
    }

    /// Counts `n` events of `ip` at once (another shard's report).
    pub fn hit_n(&mut self, ip: IpAddr, now_ms: u64, window_ms: u64, limit: u32, n: u32) -> bool {
        if self.windows.len() >= MAX_SOURCES && !self.windows.contains_key(&ip) {
            self.prune(now_ms, window_ms);
            if self.windows.len() >= MAX_SOURCES {
                return false;
            }
        }
        let w = self.windows.entry(ip).or_insert((now_ms, 0));
        if now_ms.saturating_sub(w.0) >= window_ms {
            *w = (now_ms, 0);
        }
        w.1 = w.1.saturating_add(n);
        if w.1 >= limit {
            self.windows.remove(&ip);
            return true;
        }
        false
    }

    /// Forgets windows that have passed.
    pub fn prune(&mut self, now_ms: u64, window_ms: u64) {
        self.windows.retain(|_, (start, _)| now_ms.saturating_sub(*start) < window_ms);
    }

    pub fn forget(&mut self, ip: IpAddr) {
        self.windows.remove(&ip);
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}
