//! When an open-loop load starts its operations (`--arrivals`).
//!
//! - `ticks` (the default, as every earlier result was measured): whatever
//!   is due by the clock is started each time the loop runs, and the loop
//!   sleeps in whole milliseconds. Operations leave in small bursts, and the
//!   loop also runs whenever an answer wakes it, so the next requests follow
//!   the server's answers: a server that answers quickly gets more, smaller
//!   batches than a slow one.
//! - `poisson`: independent arrivals (exponential gaps, the traffic of many
//!   unrelated devices), each started at its own time, the loop sleeping to
//!   the microsecond (`epoll_pwait2`). Arrivals do not depend on answers.

use std::time::{Duration, Instant};

/// Most operations started in one turn of the loop.
const MAX_BURST: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    Ticks,
    Poisson,
}

pub struct Pacer {
    rate: f64,
    t_start: Instant,
    /// Operations started so far.
    offered: u64,
    /// Poisson: when the next one is due, and the generator's state.
    poisson: Option<(Instant, u64)>,
}

impl Pacer {
    pub fn new(rate: f64, t_start: Instant, arrivals: Arrivals, seed: u64) -> Pacer {
        let mut p = Pacer { rate, t_start, offered: 0, poisson: None };
        if arrivals == Arrivals::Poisson {
            let mut state = seed | 1;
            let first = t_start + exp_gap(&mut state, rate);
            p.poisson = Some((first, state));
        }
        p
    }

    /// How many operations to start now.
    pub fn due(&mut self, now: Instant) -> u64 {
        let k = match &mut self.poisson {
            None => {
                let due = (now.duration_since(self.t_start).as_secs_f64() * self.rate) as u64;
                due.saturating_sub(self.offered).min(MAX_BURST)
            }
            Some((next, state)) => {
                let mut k = 0;
                while *next <= now && k < MAX_BURST {
                    k += 1;
                    *next += exp_gap(state, self.rate);
                }
                k
            }
        };
        self.offered += k;
        k
    }

    /// When the next operation is due.
    pub fn next(&self) -> Instant {
        match self.poisson {
            None => self.t_start + Duration::from_secs_f64((self.offered + 1) as f64 / self.rate),
            Some((next, _)) => next,
        }
    }

    /// Whether the loop should sleep to the microsecond.
    pub fn precise(&self) -> bool {
        self.poisson.is_some()
    }
}

/// An exponentially distributed gap of mean 1/rate (xorshift64*).
fn exp_gap(state: &mut u64, rate: f64) -> Duration {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
    let u = (bits as f64 + 0.5) / (1u64 << 53) as f64; // in (0, 1)
    Duration::from_secs_f64(-u.ln() / rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_start_the_rate_and_poisson_gaps_vary() {
        let t0 = Instant::now();
        for arrivals in [Arrivals::Ticks, Arrivals::Poisson] {
            let mut p = Pacer::new(10_000.0, t0, arrivals, 42);
            let mut started = 0;
            let mut bursts = Vec::new();
            let mut now = t0;
            while now < t0 + Duration::from_secs(10) {
                let k = p.due(now);
                started += k;
                if k > 0 {
                    bursts.push(k);
                }
                now = if arrivals == Arrivals::Poisson { p.next() } else { now + Duration::from_millis(1) };
            }
            assert!((99_000..=101_000).contains(&started), "{arrivals:?}: {started}");
            let most = *bursts.iter().max().unwrap();
            match arrivals {
                // 10 every millisecond
                Arrivals::Ticks => assert!((10..=11).contains(&most), "{most}"),
                // one at a time, each at its own instant (two only when a
                // gap rounds to the same nanosecond)
                Arrivals::Poisson => {
                    assert!(most <= 2, "{most}");
                    assert!(bursts.len() as u64 * 1000 >= started * 999, "{} bursts", bursts.len());
                }
            }
        }
        // gaps: mean 100 us, standard deviation about the mean (exponential)
        let mut state = 7u64;
        let gaps: Vec<f64> = (0..100_000).map(|_| exp_gap(&mut state, 10_000.0).as_secs_f64() * 1e6).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((97.0..103.0).contains(&mean) && (90.0..110.0).contains(&sd), "mean {mean} sd {sd}");
    }
}
