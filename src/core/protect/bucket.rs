//! A token bucket: `rate` tokens a second up to `burst`, time passed in as
//! the edge's milliseconds. One request takes one token.

#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(burst: f64, now_ms: u64) -> Bucket {
        Bucket { tokens: burst, last_ms: now_ms }
    }

    fn refill(&mut self, now_ms: u64, rate: f64, burst: f64) {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Takes a token: Ok, or Err(seconds until one is there again, at least 1).
    pub fn take(&mut self, now_ms: u64, rate: f64, burst: f64) -> Result<(), u32> {
        self.refill(now_ms, rate, burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - self.tokens) / rate).ceil();
        Err(wait.clamp(1.0, u32::MAX as f64) as u32)
    }

    /// Would it be full at `now_ms`? A full bucket is the same as none, so it can be forgotten.
    pub fn is_full(&self, now_ms: u64, rate: f64, burst: f64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens + elapsed * rate >= burst
    }
}
