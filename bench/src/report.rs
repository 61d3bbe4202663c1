//! Run results: counters and latency histogram filled by the engine, the
//! human-readable table on stdout and the `--json` file.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    Timeout,
    Status(u16),
    ConnClosed,
    NoSlot,
    Protocol,
    /// A connection could not be opened (connection-per-operation runs).
    Connect,
}

pub struct Stats {
    pub started: u64,
    pub ok: u64,
    pub timeout: u64,
    pub status: Vec<u64>,
    pub send_error: u64,
    pub conn_closed: u64,
    pub no_slot: u64,
    pub protocol: u64,
    pub connect: u64,
    pub hist: Histogram<u64>,
    /// The generator's lag in reading UDP answers, ns, over the window
    /// (`--read-lag`; `read_lag.rs`).
    pub read_lag: Option<Histogram<u64>>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            started: 0,
            ok: 0,
            timeout: 0,
            status: vec![0; 700],
            send_error: 0,
            conn_closed: 0,
            no_slot: 0,
            protocol: 0,
            connect: 0,
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).unwrap(),
            read_lag: None,
        }
    }
    pub fn fail(&mut self, f: Fail) {
        match f {
            Fail::Timeout => self.timeout += 1,
            Fail::Status(c) => self.status[(c as usize).min(699)] += 1,
            Fail::ConnClosed => self.conn_closed += 1,
            Fail::NoSlot => self.no_slot += 1,
            Fail::Protocol => self.protocol += 1,
            Fail::Connect => self.connect += 1,
        }
    }
    /// Adds another thread's counts and latencies to these.
    pub fn merge(&mut self, o: &Stats) {
        self.started += o.started;
        self.ok += o.ok;
        self.timeout += o.timeout;
        for (a, b) in self.status.iter_mut().zip(&o.status) {
            *a += b;
        }
        self.send_error += o.send_error;
        self.conn_closed += o.conn_closed;
        self.no_slot += o.no_slot;
        self.protocol += o.protocol;
        self.connect += o.connect;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&o.hist);
        match (&mut self.read_lag, &o.read_lag) {
            (Some(a), Some(b)) => {
                let _ = a.add(b);
            }
            (a @ None, Some(b)) => *a = Some(b.clone()),
            _ => {}
        }
    }

    pub fn failures(&self) -> u64 {
        self.timeout
            + self.status.iter().sum::<u64>()
            + self.send_error
            + self.conn_closed
            + self.no_slot
            + self.protocol
            + self.connect
    }
    /// (reason, count) for every non-zero failure reason.
    pub fn failure_list(&self) -> Vec<(String, u64)> {
        let mut v = Vec::new();
        for (n, c) in [
            ("timeout", self.timeout),
            ("send_error", self.send_error),
            ("conn_closed", self.conn_closed),
            ("no_slot", self.no_slot),
            ("protocol", self.protocol),
            ("connect", self.connect),
        ] {
            if c > 0 {
                v.push((n.to_string(), c));
            }
        }
        for (code, &c) in self.status.iter().enumerate() {
            if c > 0 {
                v.push((format!("status_{code}"), c));
            }
        }
        v
    }
}

pub struct Report {
    pub scenario: String,
    pub transport: String,
    pub target: String,
    pub mode: String,
    pub configured_rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub window_s: f64,
    pub stats: Stats,
    pub stray: u64,
    pub server_cpu_s: Option<f64>,
    pub gen_cpu_s: f64,
    pub net_send_errors: u64,
}

impl Report {
    pub fn offered_rate(&self) -> f64 {
        self.stats.started as f64 / self.window_s
    }
    pub fn achieved_rate(&self) -> f64 {
        self.stats.ok as f64 / self.window_s
    }
    pub fn failure_ratio(&self) -> f64 {
        let done = self.stats.ok + self.stats.failures();
        if done == 0 {
            1.0
        } else {
            self.stats.failures() as f64 / done as f64
        }
    }
    fn pct(&self, q: f64) -> u64 {
        if self.stats.hist.is_empty() {
            0
        } else {
            self.stats.hist.value_at_quantile(q)
        }
    }
    /// The generator's read lag, µs: mean, p50, p99 (when measured).
    fn read_lag_us(&self) -> Option<[f64; 3]> {
        let h = self.stats.read_lag.as_ref().filter(|h| !h.is_empty())?;
        Some([h.mean(), h.value_at_quantile(0.5) as f64, h.value_at_quantile(0.99) as f64].map(|ns| ns / 1e3))
    }

    pub fn server_us_per_op(&self) -> Option<f64> {
        self.server_cpu_s.filter(|_| self.stats.ok > 0).map(|s| s * 1e6 / self.stats.ok as f64)
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ =
            writeln!(s, "sipedge-bench {} over {} -> {} ({})", self.scenario, self.transport, self.target, self.mode);
        let row = |s: &mut String, k: &str, v: String| {
            let _ = writeln!(s, "  {:<28} {}", k, v);
        };
        row(&mut s, "window", format!("{:.2} s", self.window_s));
        if let Some(r) = self.configured_rate {
            row(&mut s, "configured rate", format!("{:.0} ops/s", r));
        }
        row(&mut s, "offered rate", format!("{:.0} ops/s", self.offered_rate()));
        row(&mut s, "achieved rate (ok)", format!("{:.0} ops/s", self.achieved_rate()));
        row(
            &mut s,
            "started / ok / failed",
            format!("{} / {} / {}", self.stats.started, self.stats.ok, self.stats.failures()),
        );
        row(&mut s, "failure ratio", format!("{:.4} %", self.failure_ratio() * 100.0));
        for (k, v) in self.stats.failure_list() {
            row(&mut s, &format!("  fail {k}"), v.to_string());
        }
        row(
            &mut s,
            "latency p50/p90/p99/p99.9",
            format!("{} / {} / {} / {} us", self.pct(0.5), self.pct(0.9), self.pct(0.99), self.pct(0.999)),
        );
        row(&mut s, "latency max", format!("{} us", self.stats.hist.max()));
        if let Some([mean, p50, p99]) = self.read_lag_us() {
            row(&mut s, "generator read lag mean/p50/p99", format!("{mean:.1} / {p50:.1} / {p99:.1} us"));
        }
        if let Some(c) = self.server_cpu_s {
            row(&mut s, "server CPU", format!("{:.3} s ({:.1} % of one core)", c, c / self.window_s * 100.0));
            if let Some(u) = self.server_us_per_op() {
                row(&mut s, "server CPU per op", format!("{:.2} us", u));
            }
        }
        row(&mut s, "generator CPU", format!("{:.1} % of one core", self.gen_cpu_s / self.window_s * 100.0));
        if self.stray > 0 {
            row(&mut s, "stray/late messages", self.stray.to_string());
        }
        if self.net_send_errors > 0 {
            row(&mut s, "dropped sends (EAGAIN)", self.net_send_errors.to_string());
        }
        s
    }

    pub fn json(&self) -> String {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "null".into());
        let mut fails = String::new();
        for (i, (k, v)) in self.stats.failure_list().iter().enumerate() {
            let _ = write!(fails, "{}\"{}\": {}", if i > 0 { ", " } else { "" }, k, v);
        }
        format!(
            "{{\"scenario\": \"{}\", \"transport\": \"{}\", \"target\": \"{}\", \"mode\": \"{}\", \"configured_rate\": {}, \"concurrency\": {}, \
\"window_s\": {:.3}, \"offered_rate\": {:.1}, \"achieved_rate\": {:.1}, \"started\": {}, \"ok\": {}, \"failed\": {}, \"failure_ratio\": {:.6}, \
\"failures\": {{{}}}, \"latency_us\": {{\"p50\": {}, \"p90\": {}, \"p99\": {}, \"p999\": {}, \"max\": {}}}, \
\"server_cpu_s\": {}, \"server_cpu_us_per_op\": {}, \"generator_cpu_pct\": {:.1}, \"read_lag_us\": {}, \"stray\": {}, \"dropped_sends\": {}}}\n",
            self.scenario,
            self.transport,
            self.target,
            self.mode,
            opt(self.configured_rate),
            self.concurrency.map(|c| c.to_string()).unwrap_or_else(|| "null".into()),
            self.window_s,
            self.offered_rate(),
            self.achieved_rate(),
            self.stats.started,
            self.stats.ok,
            self.stats.failures(),
            self.failure_ratio(),
            fails,
            self.pct(0.5),
            self.pct(0.9),
            self.pct(0.99),
            self.pct(0.999),
            self.stats.hist.max(),
            opt(self.server_cpu_s),
            opt(self.server_us_per_op()),
            self.gen_cpu_s / self.window_s * 100.0,
            self.read_lag_us().map_or("null".into(), |[mean, p50, p99]| {
                format!("{{\"mean\": {mean:.1}, \"p50\": {p50:.1}, \"p99\": {p99:.1}}}")
            }),
            self.stray,
            self.net_send_errors,
        )
    }
}
