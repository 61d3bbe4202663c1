//! `--threads N`: one load on several generator threads, each pinned to its
//! own CPU (the N first of the process's affinity mask, so `taskset -c 2-15
//! sipedge-bench ... --threads 14` puts one thread on each of those cores),
//! each with its own epoll loop, sockets, scenario state, share of the users
//! (user k goes to thread k mod N) and share of the rate or concurrency; a
//! call's UAS of thread i listens on the `--uas-listen` port + i. The threads
//! start their window together (a barrier) and their results are merged
//! into one report: counts and latency histograms added, the window and the
//! server's CPU as thread 0 measured them, the generator's CPU for the
//! whole process (getrusage), so it may exceed 100 % of one core.

use crate::engine::{self, LoadConfig, Scenario};
use crate::event_loop::Net;
use crate::report::{Report, Stats};
use crate::scenario::uas::Uas;
use std::io;
use std::sync::Barrier;

/// What one thread runs: its scenario, and its UAS if the load has one.
pub type Parts = (Box<dyn Scenario>, Option<Uas>);

/// What one thread measured.
struct Part {
    stats: Stats,
    window_s: f64,
    stray: u64,
    server_cpu_s: Option<f64>,
    gen_cpu_s: f64,
    send_errors: u64,
}

/// CPUs this process may run on, in order.
pub fn allowed_cpus() -> Vec<usize> {
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> io::Result<()> {
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Thread `i`'s share of `total` (rate or concurrency) among `n`.
pub fn share(total: f64, n: usize, i: usize) -> f64 {
    let base = total / n as f64;
    if base.fract() == 0.0 || total.fract() != 0.0 {
        return base;
    }
    // Whole numbers stay whole: the first `total mod n` threads take one more.
    let whole = (total as u64 / n as u64) as f64;
    whole + f64::from(u8::from((i as u64) < total as u64 % n as u64))
}

/// Runs `cfg` on `n` pinned threads. `setup(i, net)` opens thread `i`'s
/// sockets (returning the client connections) and builds its scenario.
pub fn run<S>(cfg: &LoadConfig, n: usize, transport: &str, setup: S) -> io::Result<Report>
where
    S: Fn(usize, &mut Net) -> io::Result<(Vec<usize>, Parts)> + Sync,
{
    let cpus = allowed_cpus();
    if cpus.len() < n {
        eprintln!("sipedge-bench: {n} threads on {} allowed CPUs: some share a core", cpus.len());
    }
    let barrier = Barrier::new(n);
    let mut name = String::new();
    let parts: Vec<io::Result<(Part, &'static str)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, setup, cpus) = (&barrier, &setup, &cpus);
                s.spawn(move || -> io::Result<(Part, &'static str)> {
                    if let Some(&cpu) = cpus.get(i % cpus.len().max(1)) {
                        pin(cpu)?;
                    }
                    let mut net = Net::new()?;
                    let ready = setup(i, &mut net);
                    // Every thread reaches the barrier, ready or not, so none waits forever.
                    barrier.wait();
                    let (uac, (mut scenario, mut uas)) = ready?;
                    let mine = LoadConfig {
                        rate: cfg.rate.map(|r| share(r, n, i)),
                        concurrency: share(cfg.concurrency as f64, n, i).max(1.0) as usize,
                        server_pid: if i == 0 { cfg.server_pid } else { None },
                        max_ops: cfg.max_ops.map(|m| share(m as f64, n, i) as u64),
                        ..cfg.clone()
                    };
                    let (stats, window_s, stray, server_cpu_s, gen_cpu_s) =
                        engine::run(&mine, &mut net, &uac, scenario.as_mut(), uas.as_mut());
                    let part =
                        Part { stats, window_s, stray, server_cpu_s, gen_cpu_s, send_errors: net.stats.send_errors };
                    Ok((part, scenario.name()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("a generator thread panicked"))))
            .collect()
    });
    let mut merged: Option<Part> = None;
    for p in parts {
        let (p, n) = p?;
        name = n.to_string();
        match merged.as_mut() {
            None => merged = Some(p),
            Some(m) => {
                m.stats.merge(&p.stats);
                m.stray += p.stray;
                m.send_errors += p.send_errors;
            }
        }
    }
    let m = merged.ok_or_else(|| io::Error::other("no generator thread"))?;
    Ok(Report {
        scenario: name,
        transport: transport.to_string(),
        target: cfg.target.to_string(),
        mode: match cfg.rate {
            Some(r) => format!("open loop {r:.0}/s, {n} threads"),
            None => format!("closed loop, {} outstanding, {n} threads", cfg.concurrency),
        },
        configured_rate: cfg.rate,
        concurrency: if cfg.rate.is_none() { Some(cfg.concurrency) } else { None },
        window_s: m.window_s.max(1e-9),
        stats: m.stats,
        stray: m.stray,
        server_cpu_s: m.server_cpu_s,
        gen_cpu_s: m.gen_cpu_s,
        net_send_errors: m.send_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_stay_whole() {
        let s: Vec<f64> = (0..4).map(|i| share(10.0, 4, i)).collect();
        assert_eq!(s, [3.0, 3.0, 2.0, 2.0]);
        assert_eq!((0..3).map(|i| share(3000.0, 3, i)).sum::<f64>(), 3000.0);
        assert_eq!(share(2.5, 2, 1), 1.25, "a fractional rate is split evenly");
        assert_eq!(share(7.0, 1, 0), 7.0);
    }

    #[test]
    fn this_process_may_run_somewhere() {
        assert!(!allowed_cpus().is_empty());
    }
}
