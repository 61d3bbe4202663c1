//! The main thread: places and starts the shards, wires the mesh, runs the
//! admin listener, collects shard reports (health, latency histograms) and
//! turns SIGTERM/SIGINT into an orderly stop. Everything between the main
//! thread and the shards goes through bounded crossbeam channels.

use crate::config::Config;
use crate::core::auth::Users;
use crate::core::trace::{TraceFilter, TraceRule};
use crate::core::{owner, AuthConfig};
use crate::shard::{self, Command, Report, ShardSpec};
use crate::telemetry::{hep_sender, latency::Latency, logger, polls::Polls};
use crate::tls::TlsSet;
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
    /// Every shard's task poll durations (`sipedge_shard_poll_seconds`).
    pub polls: Polls,
    pub stopping: bool,
    /// Each shard's HEP figures (empty: capture off).
    pub hep: Vec<Arc<hep_sender::Stats>>,
    /// The store room (None: `[cluster]` off).
    pub cluster: Option<crate::services::store::StoreHandle>,
    /// The resolver room (`/dns/{name}`).
    pub resolver: Option<crate::services::resolver::ResolverHandle>,
    /// The profiles, for `GET /profiles/match`.
    pub profiles: crate::core::profile::Profiles,
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

    /// Why the edge serves in a degraded way (from memory), if it does.
    pub fn degraded(&self) -> Option<String> {
        let status = self.cluster.as_ref()?.status();
        (!status.redis_up).then(|| {
            format!(
                "redis unreachable, serving from memory: {}",
                status.last_error.as_deref().unwrap_or("no answer yet")
            )
        })
    }

    /// Process-wide figures, published at scrape time.
    pub fn publish_process(&self) {
        metrics::gauge!("sipedge_shards").set(self.last_seen.len() as f64);
        for (shard, seen) in self.last_seen.iter().enumerate() {
            let up = seen.is_some_and(|t| t.elapsed() <= STALE) && !self.stopping;
            metrics::gauge!("sipedge_shard_up", "shard" => shard.to_string()).set(if up { 1.0 } else { 0.0 });
        }
        metrics::counter!("sipedge_log_dropped_total").absolute(logger::DROPPED.load(Ordering::Relaxed));
        metrics::counter!("sipedge_tls_keylog_dropped_total")
            .absolute(crate::tls::keylog::DROPPED.load(Ordering::Relaxed));
        for (shard, stats) in self.hep.iter().enumerate() {
            crate::telemetry::publish::hep(shard as u16, stats);
        }
    }
}

/// Admin thread → control thread.
pub enum Request {
    /// Reload the subscribers file; Ok(summary) or Err(file:line: problem).
    Reload { reply: Sender<Result<String, String>> },
    /// The bindings of an AOR (canonical, `core::registrar::request::aor_of`), from the shard that owns it.
    Registrations { aor: Vec<u8>, reply: Sender<Vec<crate::core::location::Binding>> },
    /// Every shard's bans, one answer per shard to `reply`.
    Bans { reply: Sender<Vec<crate::core::protect::Ban>> },
    /// Lift a ban on every shard; one answer per shard (was there one).
    Unban { ip: std::net::IpAddr, reply: Sender<bool> },
    /// What every shard holds of a rate-limit key (rule name, key as text); one answer per shard.
    Limit { rule: String, key: String, reply: Sender<Option<crate::core::protect::KeyView>> },
    /// Add (true) or remove (false) a trace rule on every shard, or just
    /// list them (None); the rules in force, or why the change was refused.
    Trace { change: Option<(bool, TraceRule)>, reply: Sender<Result<Vec<TraceRule>, String>> },
}

/// Loads the subscribers file named in config (empty name: nobody).
fn load_users(config: &Config) -> Result<Arc<Users>, String> {
    if config.auth.users_file.is_empty() {
        return Ok(Arc::new(Users::parse("", "<none>").map_err(|e| e.to_string())?));
    }
    Users::load(std::path::Path::new(&config.auth.users_file)).map(Arc::new).map_err(|e| e.to_string())
}

/// Digest settings for the shards, or None when auth is off.
fn auth_config(config: &Config) -> Result<Option<AuthConfig>, String> {
    if !config.auth.enabled {
        return Ok(None);
    }
    let secret = match config.auth.secret.0 {
        Some(s) => s,
        None => {
            let mut s = [0u8; 32];
            getrandom::getrandom(&mut s).map_err(|e| format!("random nonce secret: {e}"))?;
            s
        }
    };
    let algorithms = config.auth.algorithms.iter().map(|&a| shard::build::algorithm(a)).collect();
    Ok(Some(AuthConfig {
        users: load_users(config)?,
        secret,
        algorithms,
        nonce_lifetime_secs: config.auth.nonce_lifetime_secs.get(),
    }))
}

/// How the control thread's faces are started: the admin listener, given
/// the metrics handle, the shared status and the channel to the control
/// thread (main wires `admin::start` in, so control never names admin).
pub type StartAdmin = fn(
    std::net::SocketAddr,
    metrics_exporter_prometheus::PrometheusHandle,
    Arc<Mutex<Status>>,
    crossbeam_channel::Sender<Request>,
) -> std::io::Result<std::thread::JoinHandle<()>>;

/// Runs the edge until SIGTERM/SIGINT; Err carries a message for the operator.
pub fn run(mut config: Config, start_admin: StartAdmin) -> Result<(), String> {
    if config.proxy.topology_key.0.is_none() {
        // One key for every shard: a token sealed on one opens on all.
        let mut k = [0u8; 32];
        getrandom::getrandom(&mut k).map_err(|e| format!("random topology key: {e}"))?;
        config.proxy.topology_key = crate::config::Secret(Some(k));
    }
    let allowed = crate::host::allowed_cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
    let cores: Vec<usize> = config.server.cores.iter().map(|c| c.get() as usize).collect();
    let cpus = crate::host::placement(config.server.shards.get() as usize, &cores, &allowed);
    let n = cpus.len();
    crate::host::ensure_memlock(shard::memlock_needed(n))?;
    let auth = auth_config(&config)?;
    let key_log = crate::tls::keylog::open(&config.tls.key_log)?;
    let tls = TlsSet::load(&config, &key_log)?;

    let prom = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let (mut taps, hep_stats) = match hep_sender::start(&config.hep, n).map_err(|e| format!("hep sender: {e}"))? {
        Some((taps, stats)) => (taps.into_iter().map(Some).collect(), stats),
        None => ((0..n).map(|_| None).collect::<Vec<_>>(), Vec::new()),
    };
    let status = Arc::new(Mutex::new(Status {
        last_seen: vec![None; n],
        latency: Latency::default(),
        polls: Polls::default(),
        stopping: false,
        hep: hep_stats,
        cluster: None,
        resolver: None,
        profiles: shard::build::profiles(&config),
    }));
    let mut store_ends = Vec::new();
    if config.cluster.enabled {
        let room = crate::services::store::start(&config.cluster, n);
        store_ends = room.ends.into_iter().map(|end| Some((room.handle.clone(), end))).collect();
        status.lock().map_err(|_| "status lock")?.cluster = Some(room.handle);
    }
    let dns = crate::services::resolver::start(&config.dns, n);
    let mut dns_ends: Vec<_> = dns.ends.into_iter().map(|end| Some((dns.handle.clone(), end))).collect();
    status.lock().map_err(|_| "status lock")?.resolver = Some(dns.handle);
    let (request_tx, request_rx) = bounded::<Request>(16);
    start_admin(config.admin.addr, prom, status.clone(), request_tx).map_err(|e| e.to_string())?;

    let reuseport =
        Arc::new(shard::Reuseport::new(config.server.steering, config.server.steer_responses, cpus.clone()));
    let (report_tx, report_rx) = bounded::<Report>(n * 64);
    let mut commands = Vec::new();
    let mut handles = Vec::new();
    for (id, mesh) in shard::mesh_channels(n, config.limits.mesh_queue.get() as usize).into_iter().enumerate() {
        let (cmd_tx, cmd_rx) = bounded(64);
        commands.push(cmd_tx);
        let spec = ShardSpec {
            id: id as u16,
            shards: n as u16,
            cpu: cpus[id],
            config: config.clone(),
            mesh,
            commands: cmd_rx,
            reports: report_tx.clone(),
            auth: auth.clone(),
            tls: tls.clone(),
            reuseport: reuseport.clone(),
            hep: taps[id].take(),
            store: store_ends.get_mut(id).and_then(Option::take),
            resolver: dns_ends.get_mut(id).and_then(Option::take),
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
            match &auth {
                Some(a) if a.users.is_empty() => log::warn!("auth is on and no subscribers are loaded (auth.users_file): every REGISTER will be challenged and refused"),
                Some(a) => log::info!("{} subscribers loaded from {}", a.users.len(), config.auth.users_file),
                None if !config.registrar.domains.is_empty() => log::warn!("auth is off: anyone can register in {:?}", config.registrar.domains),
                None => {}
            }
            let reloader = Reloader { config: &config, key_log, shards: &commands };
            serve_until_signal(&reloader, &report_rx, &request_rx, &status)
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

fn serve_until_signal(
    reloader: &Reloader<'_>,
    reports: &Receiver<Report>,
    requests: &Receiver<Request>,
    status: &Mutex<Status>,
) -> Result<(), String> {
    let shards = reloader.shards;
    let signals = signal_channel()?;
    let mut traced: Vec<TraceRule> = Vec::new();
    loop {
        select! {
            recv(reports) -> r => match r {
                Ok(r) => take(r, status),
                Err(_) => return Err("all shards exited".into()),
            },
            recv(requests) -> r => match r {
                Ok(Request::Reload { reply }) => {
                    let _ = reply.send(reloader.reload());
                }
                Ok(Request::Registrations { aor, reply }) => {
                    let owner = owner::shard_of(&aor, shards.len());
                    // A full command queue drops the lookup; the admin answers 503.
                    let _ = shards[owner].try_send(Command::Registrations { aor, reply });
                }
                Ok(Request::Bans { reply }) => {
                    for s in shards {
                        let _ = s.try_send(Command::Bans { reply: reply.clone() });
                    }
                }
                Ok(Request::Unban { ip, reply }) => {
                    for s in shards {
                        let _ = s.try_send(Command::Unban { ip, reply: reply.clone() });
                    }
                }
                Ok(Request::Limit { rule, key, reply }) => {
                    for s in shards {
                        let _ = s.try_send(Command::Limit { rule: rule.clone(), key: key.clone(), reply: reply.clone() });
                    }
                }
                Ok(Request::Trace { change, reply }) => {
                    let _ = reply.send(change_trace(&mut traced, change, shards));
                }
                Err(_) => {}
            },
            recv(signals) -> s => match s {
                Ok(SIGHUP) => {
                    let _ = reloader.reload();
                }
                s => {
                    log::info!("signal {}: stopping", s.unwrap_or(0));
                    return Ok(());
                }
            },
        }
    }
}

/// What SIGHUP and `POST /reload` read again: the subscribers file and
/// every TLS certificate, key and CA file. Each part is all or nothing: a
/// bad file is refused with a log line and the old data stays in use.
struct Reloader<'a> {
    config: &'a Config,
    key_log: Arc<dyn rustls::KeyLog>,
    shards: &'a [Sender<Command>],
}

impl Reloader<'_> {
    /// Ok(what was reloaded) or Err(the first problem, file named).
    fn reload(&self) -> Result<String, String> {
        let users = self.reload_users();
        let tls = self.reload_tls();
        let done: Vec<String> = [users?, tls?].into_iter().flatten().collect();
        Ok(if done.is_empty() { "nothing to reload (auth off, no TLS)".into() } else { done.join("; ") })
    }

    /// Ok(None): auth is off, there are no subscribers to read.
    fn reload_users(&self) -> Result<Option<String>, String> {
        let config = self.config;
        if !config.auth.enabled {
            return Ok(None);
        }
        match load_users(config) {
            Ok(users) => {
                let n = users.len();
                self.tell_shards("subscribers", || Command::Users(users.clone()));
                log::info!("reloaded {n} subscribers from {}", config.auth.users_file);
                Ok(Some(format!("reloaded {n} subscribers")))
            }
            Err(e) => {
                log::error!("reload refused, keeping the old subscribers: {e}");
                Err(e)
            }
        }
    }

    /// Ok(None): no TLS listener and no TLS upstream.
    fn reload_tls(&self) -> Result<Option<String>, String> {
        let listeners = self.config.listen.iter().filter(|l| l.transport == crate::config::Transport::Tls).count();
        match TlsSet::load(self.config, &self.key_log) {
            Ok(set) if set.servers.iter().all(Option::is_none) && set.client.is_none() => Ok(None),
            Ok(set) => {
                self.tell_shards("TLS settings", || Command::Tls(set.clone()));
                log::info!("reloaded TLS certificates of {listeners} listeners (new handshakes use them)");
                Ok(Some(format!("reloaded TLS certificates of {listeners} listeners")))
            }
            Err(e) => {
                log::error!("reload refused, keeping the old TLS certificates: {e}");
                Err(e)
            }
        }
    }

    /// Hands every shard `command` and returns once each has applied it
    /// (a shard reads commands in order, so its answer to the barrier
    /// behind it says so): "reloaded" means new requests see the change.
    fn tell_shards(&self, what: &str, command: impl Fn() -> Command) {
        for s in self.shards {
            if s.send_timeout(command(), Duration::from_secs(1)).is_err() {
                log::error!("reload: a shard did not take the new {what}");
            }
        }
        if let Err(e) = barrier(self.shards) {
            log::error!("reload: {e} (the new {what} may not be in use there yet)");
        }
    }
}

fn take(r: Report, status: &Mutex<Status>) {
    let mut st = status.lock().unwrap_or_else(|p| p.into_inner());
    match r {
        Report::Heartbeat { shard, hist, polls } => {
            st.last_seen[shard as usize] = Some(Instant::now());
            st.latency.record(shard, *hist);
            st.polls.record(shard, polls);
        }
        Report::Ready { shard } => st.last_seen[shard as usize] = Some(Instant::now()),
        Report::Failed { shard, error } => {
            log::error!("shard {shard} failed: {error}");
            st.last_seen[shard as usize] = None;
        }
    }
}

const SIGHUP: i32 = signal_hook::consts::SIGHUP;

/// SIGTERM, SIGINT (stop) and SIGHUP (reload) as a channel.
fn signal_channel() -> Result<Receiver<i32>, String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]).map_err(|e| format!("signals: {e}"))?;
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

/// Applies a trace change to `traced` and hands every shard the new rules.
/// A shard whose command queue is full misses nothing: the change is
/// refused and `traced` left as it was.
fn change_trace(
    traced: &mut Vec<TraceRule>,
    change: Option<(bool, TraceRule)>,
    shards: &[crossbeam_channel::Sender<Command>],
) -> Result<Vec<TraceRule>, String> {
    let Some((add, rule)) = change else { return Ok(traced.clone()) };
    let mut next = traced.clone();
    match (add, next.iter().position(|r| *r == rule)) {
        (true, None) => next.push(rule.clone()),
        (true, Some(_)) => return Ok(next),
        (false, Some(i)) => {
            next.remove(i);
        }
        (false, None) => return Err(format!("{} is not traced", rule.label())),
    }
    let filter = Arc::new(TraceFilter::new(next.clone()));
    for (i, s) in shards.iter().enumerate() {
        if s.try_send(Command::Trace(filter.clone())).is_err() {
            return Err(format!("shard {i} is busy; try again"));
        }
    }
    barrier(shards)?;
    log::info!(
        "trace {} {}; tracing: {}",
        if add { "added" } else { "removed" },
        rule.label(),
        next.iter().map(TraceRule::label).collect::<Vec<_>>().join(", ")
    );
    *traced = next;
    Ok(traced.clone())
}

/// Waits until every shard has read the commands sent to it before this
/// call (at most 2 s): each answers `Command::Barrier` in turn.
fn barrier(shards: &[crossbeam_channel::Sender<Command>]) -> Result<(), String> {
    let (tx, rx) = bounded(shards.len());
    for s in shards {
        s.send_timeout(Command::Barrier(tx.clone()), Duration::from_secs(1))
            .map_err(|_| "a shard's command queue is full")?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    for _ in shards {
        rx.recv_deadline(deadline).map_err(|_| "a shard did not answer in 2 s")?;
    }
    Ok(())
}
