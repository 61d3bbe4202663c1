//! The load driver: operation slots, open-loop pacing or closed-loop
//! concurrency, warm-up/measured window, timeouts, and response matching
//! (top Via branch encodes slot + transaction counter). Scenarios plug in
//! through the [`Scenario`] trait; an optional in-process UAS shares the loop.
//! With [`LoadConfig::fresh_conns`] every operation opens its own connection
//! (kept afterwards, or closed once the operation ends), and
//! [`LoadConfig::max_ops`] ends the run after that many operations.

use crate::cpu;
use crate::event_loop::{Net, Role, Tx};
use crate::pacer::{Arrivals, Pacer};
use crate::report::{Fail, Report, Stats};
use crate::scenario::uas::Uas;
use crate::sipmsg::{self, Msg};
use crate::template::ids;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a scenario sees while starting or advancing one operation.
pub struct OpCtx<'a> {
    pub tx: &'a mut Tx,
    pub conn: usize,
    pub local_port: u16,
    pub target: SocketAddr,
    pub slot: u32,
    /// Operation id (constant over the op; use for Call-ID / tags).
    pub op: u32,
    txn: &'a mut u32,
}

impl OpCtx<'_> {
    /// Allocates the next transaction id of this slot; responses are only
    /// accepted for the latest one. Returns the 64-bit branch value.
    pub fn new_txn(&mut self) -> u64 {
        *self.txn = self.txn.wrapping_add(1);
        ids(self.slot, *self.txn)
    }
    pub fn call_id(&self) -> u64 {
        ids(self.slot, self.op)
    }
}

pub enum Step {
    Pending,
    Done,
    Fail(Fail),
}

pub trait Scenario {
    fn name(&self) -> &'static str;
    /// Queue the first request of a new operation (call `cx.new_txn()` first).
    fn start(&mut self, cx: &mut OpCtx);
    /// A response matching the slot's current transaction arrived.
    fn on_response(&mut self, cx: &mut OpCtx, m: &Msg) -> Step;
}

#[derive(Clone, Copy)]
struct Slot {
    active: bool,
    measured: bool,
    conn: u32,
    txn: u32,
    op: u32,
    t0: Instant,
}

#[derive(Clone)]
pub struct LoadConfig {
    pub rate: Option<f64>,
    pub arrivals: Arrivals,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub expect_any: bool,
    pub server_pid: Option<i32>,
    pub target: SocketAddr,
    /// Open a connection per operation ([`Net::open_client`]) instead of
    /// cycling through the given ones.
    pub fresh_conns: Option<FreshConns>,
    /// Start no more than this many operations (warm-up ones included);
    /// the run ends when they are all done or the window is over.
    pub max_ops: Option<u64>,
    /// Measure the generator's lag in reading UDP answers (`read_lag.rs`).
    pub read_lag: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct FreshConns {
    /// Keep the connection open after its operation (idle connections);
    /// otherwise it is closed when the operation ends.
    pub keep: bool,
}

struct Driver<'s> {
    scenario: &'s mut dyn Scenario,
    uas: Option<&'s mut Uas>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    active: usize,
    timeouts: VecDeque<(Instant, u32, u32)>,
    roles: Vec<Role>,
    ports: Vec<u16>,
    target: SocketAddr,
    timeout: Duration,
    expect_any: bool,
    measuring: bool,
    stats: Stats,
    stray: u64,
    /// Connections to close (fresh connections whose operation ended).
    to_close: Vec<u32>,
    close_fresh: bool,
    /// Operations started, warm-up ones included.
    launched: u64,
}

impl Driver<'_> {
    fn start_op(&mut self, tx: &mut Tx, conn: usize, now: Instant) {
        self.launched += 1;
        if self.measuring {
            self.stats.started += 1;
        }
        let Some(si) = self.free.pop() else {
            if self.measuring {
                self.stats.fail(Fail::NoSlot);
            }
            return;
        };
        let slot = &mut self.slots[si as usize];
        let mut txn = slot.txn;
        let mut cx = OpCtx {
            tx,
            conn,
            local_port: self.ports[conn],
            target: self.target,
            slot: si,
            op: txn.wrapping_add(1),
            txn: &mut txn,
        };
        self.scenario.start(&mut cx);
        let op = cx.op;
        *slot = Slot { active: true, measured: self.measuring, conn: conn as u32, txn, op, t0: now };
        self.active += 1;
        self.timeouts.push_back((now + self.timeout, si, op));
    }

    fn finish(&mut self, si: usize, result: Result<Instant, Fail>) {
        let s = &mut self.slots[si];
        s.active = false;
        self.active -= 1;
        self.free.push(si as u32);
        if self.close_fresh {
            self.to_close.push(s.conn);
        }
        if s.measured {
            match result {
                Ok(now) => {
                    self.stats.ok += 1;
                    let us = now.duration_since(s.t0).as_micros() as u64;
                    let _ = self.stats.hist.record(us.max(1));
                }
                Err(f) => self.stats.fail(f),
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(dl, si, op)) = self.timeouts.front() {
            if dl > now {
                break;
            }
            self.timeouts.pop_front();
            let s = &self.slots[si as usize];
            if s.active && s.op == op {
                self.finish(si as usize, Err(Fail::Timeout));
            }
        }
    }

    fn on_message(&mut self, tx: &mut Tx, conn: usize, src: SocketAddr, b: &[u8]) {
        // Connections opened after the start are ones the UAS listener
        // accepted (the proxy connecting to it): every client socket exists
        // from the start.
        if self.roles.get(conn).copied().unwrap_or(Role::Uas) == Role::Uas {
            if let Some(u) = self.uas.as_deref_mut() {
                u.handle(tx, conn, src, b);
            }
            return;
        }
        let Ok(m) = sipmsg::parse(b) else {
            self.stray += 1;
            return;
        };
        let Some((si, txn)) = sipmsg::bench_branch_ids(m.top_branch) else {
            self.stray += 1;
            return;
        };
        let si = si as usize;
        if si >= self.slots.len() || !self.slots[si].active || self.slots[si].txn != txn {
            self.stray += 1;
            return;
        }
        let step = if self.expect_any {
            Step::Done
        } else if m.status == 0 {
            self.stray += 1;
            return;
        } else {
            let slot = &mut self.slots[si];
            let c = slot.conn as usize;
            let mut cx = OpCtx {
                tx,
                conn: c,
                local_port: self.ports[c],
                target: self.target,
                slot: si as u32,
                op: slot.op,
                txn: &mut slot.txn,
            };
            self.scenario.on_response(&mut cx, &m)
        };
        match step {
            Step::Pending => {}
            Step::Done => self.finish(si, Ok(Instant::now())),
            Step::Fail(f) => self.finish(si, Err(f)),
        }
    }
}

/// Runs one load test on `uac` connections of `net`.
pub fn run(
    cfg: &LoadConfig,
    net: &mut Net,
    uac: &[usize],
    scenario: &mut dyn Scenario,
    uas: Option<&mut Uas>,
) -> (Stats, f64, u64, Option<f64>, f64) {
    let nslots = match cfg.rate {
        Some(r) => ((r * (cfg.timeout.as_secs_f64() + 1.0)) as usize).clamp(64, 4_000_000),
        None => cfg.concurrency.max(1),
    };
    let mut d = Driver {
        scenario,
        uas,
        slots: vec![Slot { active: false, measured: false, conn: 0, txn: 0, op: 0, t0: Instant::now() }; nslots],
        free: (0..nslots as u32).rev().collect(),
        active: 0,
        timeouts: VecDeque::with_capacity(nslots * 2),
        roles: net.conns.iter().map(|c| c.role).collect(),
        ports: net.conns.iter().map(|c| c.local_port).collect(),
        target: cfg.target,
        timeout: cfg.timeout,
        expect_any: cfg.expect_any,
        measuring: false,
        stats: Stats::new(),
        stray: 0,
        to_close: Vec::new(),
        close_fresh: cfg.fresh_conns.is_some_and(|f| !f.keep),
        launched: 0,
    };
    if cfg.read_lag {
        net.measure_read_lag();
    }
    let t_start = Instant::now();
    let warm_end = t_start + cfg.warmup;
    let end = warm_end + cfg.duration;
    let mut stopped = false;
    let mut win_start = (t_start, 0.0, None::<f64>);
    let mut window = (0.0, 0.0, None::<f64>);
    // each thread its own arrivals (a sum of Poisson processes is one)
    let mut pacer = cfg.rate.map(|r| Pacer::new(r, t_start, cfg.arrivals, thread_seed()));
    let mut rr = 0usize;
    let hard_end = end + cfg.timeout + Duration::from_millis(200);
    loop {
        let now = Instant::now();
        if !d.measuring && !stopped && now >= warm_end {
            d.measuring = true;
            win_start = (now, cpu::self_cpu_secs(), cfg.server_pid.and_then(cpu::tree_cpu_secs));
            if let Some(lag) = net.read_lag.as_mut() {
                lag.reset();
            }
        }
        let exhausted = cfg.max_ops.is_some_and(|m| d.launched >= m);
        if !stopped && (now >= end || (exhausted && d.active == 0)) {
            stopped = true;
            d.measuring = false;
            let srv = match (win_start.2, cfg.server_pid.and_then(cpu::tree_cpu_secs)) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            window = (now.duration_since(win_start.0).as_secs_f64(), cpu::self_cpu_secs() - win_start.1, srv);
            d.stats.read_lag = net.read_lag.as_ref().map(|l| l.hist.clone());
        }
        if !stopped && exhausted {
            // all operations started: wait for the last ones
        } else if let (false, Some(_)) = (stopped, cfg.fresh_conns) {
            let k = match &mut pacer {
                Some(p) => p.due(now),
                None => cfg.concurrency.saturating_sub(d.active) as u64,
            };
            let k = cfg.max_ops.map_or(k, |m| k.min(m - d.launched));
            for _ in 0..k {
                match net.open_client() {
                    Ok(conn) => {
                        if d.roles.len() <= conn {
                            d.roles.resize(conn + 1, Role::Uas);
                            d.ports.resize(conn + 1, 0);
                        }
                        d.roles[conn] = Role::Uac;
                        d.ports[conn] = net.conns[conn].local_port;
                        d.start_op(&mut net.tx, conn, now);
                    }
                    Err(_) => {
                        d.launched += 1;
                        if d.measuring {
                            d.stats.started += 1;
                            d.stats.fail(Fail::Connect);
                        }
                    }
                }
            }
        } else if !stopped {
            // skip closed TCP connections; with none left, ops fail at once
            let mut conn = uac[rr % uac.len()];
            rr += 1;
            for _ in 0..uac.len() {
                if net.conns[conn].alive {
                    break;
                }
                conn = uac[rr % uac.len()];
                rr += 1;
            }
            if !net.conns[conn].alive {
                if d.measuring {
                    d.stats.fail(Fail::ConnClosed);
                    d.stats.started += 1;
                }
                d.expire(now);
                net.poll(1, &mut |tx, c, src, b| d.on_message(tx, c, src, b));
                continue;
            }
            match &mut pacer {
                Some(p) => {
                    for _ in 0..p.due(now) {
                        d.start_op(&mut net.tx, conn, now);
                    }
                }
                None => {
                    while d.active < cfg.concurrency && !d.free.is_empty() {
                        d.start_op(&mut net.tx, conn, now);
                    }
                }
            }
        }
        d.expire(now);
        net.flush();
        for c in d.to_close.drain(..) {
            net.close(c as usize);
        }
        if stopped && (d.active == 0 || now >= hard_end) {
            break;
        }
        let mut wait = Duration::from_millis(10);
        if let (false, Some(p)) = (stopped, &pacer) {
            wait = wait.min(p.next().saturating_duration_since(now));
        }
        if let Some(&(dl, _, _)) = d.timeouts.front() {
            wait = wait.min(dl.saturating_duration_since(now));
        }
        if pacer.as_ref().is_some_and(Pacer::precise) {
            net.poll_precise(wait, &mut |tx, c, src, b| d.on_message(tx, c, src, b));
        } else {
            let ms = if wait.is_zero() { 0 } else { (wait.as_micros() as i32 + 999) / 1000 };
            net.poll(ms, &mut |tx, c, src, b| d.on_message(tx, c, src, b));
        }
        net.flush();
        for c in d.to_close.drain(..) {
            net.close(c as usize);
        }
    }
    let stray = d.stray;
    (d.stats, window.0, stray, window.2, window.1)
}

/// Convenience: runs and assembles a [`Report`].
pub fn run_report(
    cfg: &LoadConfig,
    net: &mut Net,
    uac: &[usize],
    scenario: &mut dyn Scenario,
    uas: Option<&mut Uas>,
    transport: &str,
) -> Report {
    let name = scenario.name().to_string();
    let (stats, window_s, stray, server_cpu_s, gen_cpu_s) = run(cfg, net, uac, scenario, uas);
    Report {
        scenario: name,
        transport: transport.to_string(),
        target: cfg.target.to_string(),
        mode: match cfg.rate {
            Some(r) if cfg.arrivals == Arrivals::Poisson => format!("open loop {r:.0}/s, poisson arrivals"),
            Some(r) => format!("open loop {r:.0}/s"),
            None => format!("closed loop, {} outstanding", cfg.concurrency),
        },
        configured_rate: cfg.rate,
        concurrency: if cfg.rate.is_none() { Some(cfg.concurrency) } else { None },
        window_s: window_s.max(1e-9),
        stats,
        stray,
        server_cpu_s,
        gen_cpu_s,
        net_send_errors: net.stats.send_errors,
    }
}

/// A random number, another in each of the generator's threads (std seeds
/// the keys of `RandomState` randomly per thread).
fn thread_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}
