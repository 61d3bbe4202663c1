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

    /// Takes up to `n` whole tokens at once (a lease for another shard):
    /// how many it took, and 0 when a whole token is left, else the
    /// milliseconds until the next one is there (the bucket is empty).
    pub fn take_up_to(&mut self, n: u32, now_ms: u64, rate: f64, burst: f64) -> (u32, u64) {
        self.refill(now_ms, rate, burst);
        let took = (self.tokens.floor().max(0.0) as u32).min(n);
        self.tokens -= took as f64;
        let wait_ms = if self.tokens >= 1.0 { 0 } else { ((1.0 - self.tokens) / rate * 1000.0).ceil().max(1.0) as u64 };
        (took, wait_ms)
    }

    /// Takes back `n` tokens a lease did not spend (never above `burst`).
    pub fn give_back(&mut self, n: u32, now_ms: u64, rate: f64, burst: f64) {
        self.refill(now_ms, rate, burst);
        self.tokens = (self.tokens + n as f64).min(burst);
    }

    /// The tokens there at `now_ms`.
    pub fn tokens(&self, now_ms: u64, rate: f64, burst: f64) -> f64 {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        (self.tokens + elapsed * rate).min(burst)
    }

    /// Would it be full at `now_ms`? A full bucket is the same as none, so it can be forgotten.
    pub fn is_full(&self, now_ms: u64, rate: f64, burst: f64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens + elapsed * rate >= burst
    }
}
