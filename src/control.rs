//! The main thread: places and starts the shards, wires the mesh, runs the
//! admin listener, collects shard reports (health, latency histograms) and
//! turns SIGTERM/SIGINT into an orderly stop. Everything between the main
//! thread and the shards goes through bounded crossbeam channels.

use crate::config::Config;
use crate::shard::{self, Command, Report, ShardSpec};
use crate::telemetry::{latency::Latency, logger};
use crossbeam_channel::{bounded, select, Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shard that has not sent a heartbeat for this long is reported unhealthy.
const STALE: Duration = Duration::from_secs(3);
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What the main thread knows about the shards, read by the admin thread.
pub struct Status {
    pub last_seen: Vec<Option<Instant>>,
    pub latency: Latency,
    pub stopping: bool,
}

impl Status {
    /// Why the edge is not healthy, if it is not.
    pub fn unhealthy(&self) -> Option<String> {
        if self.stopping {
            return Some("stopping".into());
        }
        let stale: Vec<String> = self
            .last_seen
            .iter()
            .enumerate()
            .filter(|(_, t)| t.map(|t| t.elapsed() > STALE).unwrap_or(true))
            .map(|(i, _)| i.to_string())
            .collect();
        (!stale.is_empty()).then(|| format!("shards not serving: {}", stale.join(",")))
    }

    /// Process-wide figures, published at scrape time.
    pub fn publish_process(&self) {
        metrics::gauge!("sipedge_shards").set(self.last_seen.len() as f64);
        metrics::counter!("sipedge_log_dropped_total").absolute(logger::DROPPED.load(Ordering::Relaxed));
    }
}

/// Runs the edge until SIGTERM/SIGINT; Err carries a message for the operator.
pub fn run(config: Config) -> Result<(), String> {
    let allowed = crate::host::allowed_cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
    let cores: Vec<usize> = config.server.cores.iter().map(|c| c.get() as usize).collect();
    let cpus = crate::host::placement(config.server.shards.get() as usize, &cores, &allowed);
    let n = cpus.len();
    crate::host::ensure_memlock(shard::memlock_needed(n))?;

    let prom = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let status = Arc::new(Mutex::new(Status { last_seen: vec![None; n], latency: Latency::default(), stopping: false }));
    crate::admin::start(config.admin.addr, prom, status.clone()).map_err(|e| e.to_string())?;

    let (report_tx, report_rx) = bounded::<Report>(n * 64);
    let mut commands = Vec::new();
    let mut handles = Vec::new();
    for (id, mesh) in shard::mesh_channels(n, config.limits.mesh_queue.get() as usize).into_iter().enumerate() {
        let (cmd_tx, cmd_rx) = bounded(4);
        commands.push(cmd_tx);
        let spec = ShardSpec {
            id: id as u16,
            shards: n as u16,
            cpu: cpus[id],
            config: config.clone(),
            mesh,
            commands: cmd_rx,
            reports: report_tx.clone(),
        };
        handles.push(shard::spawn(spec).map_err(|e| format!("cannot start shard {id} on CPU {}: {e}", cpus[id]))?);
    }
    drop(report_tx);

    let started = wait_ready(n, &report_rx, &status);
    let result = match started {
        Ok(()) => {
            log::info!("sipedge {} serving with {n} shards on CPUs {cpus:?}", env!("CARGO_PKG_VERSION"));
            for l in &config.listen {
                log::info!("listening {} {}", l.transport.as_str(), l.addr);
            }
            log::info!("admin on http://{}/metrics", config.admin.addr);
            serve_until_signal(&report_rx, &status)
        }
        Err(e) => Err(e),
    };
    status.lock().unwrap_or_else(|p| p.into_inner()).stopping = true;
    for c in &commands {
        let _ = c.send(Command::Stop);
    }
    for h in handles {
        let _ = h.join();
    }
    result
}

fn wait_ready(n: usize, reports: &Receiver<Report>, status: &Mutex<Status>) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut ready = 0;
    while ready < n {
        match reports.recv_deadline(deadline) {
            Ok(Report::Ready { shard }) => {
                ready += 1;
                status.lock().unwrap_or_else(|p| p.into_inner()).last_seen[shard as usize] = Some(Instant::now());
            }
            Ok(Report::Failed { shard, error }) => return Err(format!("shard {shard}: {error}")),
            Ok(r @ Report::Heartbeat { .. }) => take(r, status),
            Err(_) => return Err(format!("only {ready} of {n} shards started within {START_TIMEOUT:?}")),
        }
    }
    Ok(())
}

fn serve_until_signal(reports: &Receiver<Report>, status: &Mutex<Status>) -> Result<(), String> {
    let signals = signal_channel()?;
    loop {
        select! {
            recv(reports) -> r => match r {
                Ok(r) => take(r, status),
                Err(_) => return Err("all shards exited".into()),
            },
            recv(signals) -> s => {
                log::info!("signal {}: stopping", s.unwrap_or(0));
                return Ok(());
            }
        }
    }
}

fn take(r: Report, status: &Mutex<Status>) {
    let mut st = status.lock().unwrap_or_else(|p| p.into_inner());
    match r {
        Report::Heartbeat { shard, hist } => {
            st.last_seen[shard as usize] = Some(Instant::now());
            st.latency.record(shard, *hist);
        }
        Report::Ready { shard } => st.last_seen[shard as usize] = Some(Instant::now()),
        Report::Failed { shard, error } => {
            log::error!("shard {shard} failed: {error}");
            st.last_seen[shard as usize] = None;
        }
    }
}

/// SIGTERM and SIGINT as a channel.
fn signal_channel() -> Result<Receiver<i32>, String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).map_err(|e| format!("signals: {e}"))?;
    let (tx, rx): (Sender<i32>, Receiver<i32>) = bounded(4);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                let _ = tx.try_send(s);
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(rx)
}
