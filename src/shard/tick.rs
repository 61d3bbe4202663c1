//! A shard's housekeeping loop: the core's timers (it sleeps until
//! `Edge::next_deadline`, or until the alarm rings for an earlier one),
//! commands from the control thread, heartbeats and histogram snapshots to
//! it, and publishing the shard's plain counters to `metrics` every
//! `metrics.flush_ms`.

use super::clock;
use super::Shard;
use crate::telemetry::publish;
use glommio::channels::local_channel::LocalReceiver;
use std::time::Duration;

/// Control thread → shard.
pub enum Command {
    /// Stop accepting, finish what is in flight, exit.
    Stop,
    /// New subscribers (reload).
    Users(std::sync::Arc<crate::core::auth::Users>),
    /// New TLS settings (reload): new handshakes use them.
    Tls(crate::tls::TlsSet),
    /// The bindings of an AOR this shard owns, to `reply` (the admin renders them).
    Registrations { aor: Vec<u8>, reply: crossbeam_channel::Sender<Vec<crate::core::location::Binding>> },
    /// The bans this shard holds, to `reply` (every shard is asked; the admin merges).
    Bans { reply: crossbeam_channel::Sender<Vec<crate::core::protect::Ban>> },
    /// Answered at once: every command sent before it has been applied.
    Barrier(crossbeam_channel::Sender<u16>),
    /// What to trace (replaces the rules in force).
    Trace(std::sync::Arc<crate::core::trace::TraceFilter>),
    /// Lift the ban of an address; whether there was one, to `reply`.
    Unban { ip: std::net::IpAddr, reply: crossbeam_channel::Sender<bool> },
    /// What this shard holds of a rate-limit key, to `reply` (every shard is asked; the admin adds up).
    Limit { rule: String, key: String, reply: crossbeam_channel::Sender<Option<crate::core::protect::KeyView>> },
}

/// Shard → control thread.
pub enum Report {
    Ready {
        shard: u16,
    },
    Failed {
        shard: u16,
        error: String,
    },
    /// Sent every flush: proves the shard is serving, carries its latency histogram of the interval
    /// and its task poll durations since it started (`polls`).
    Heartbeat {
        shard: u16,
        hist: Box<hdrhistogram::Histogram<u64>>,
        polls: crate::telemetry::polls::PollCounts,
    },
}

/// The longest the loop sleeps. Commands from the control thread come
/// through a crossbeam channel, which cannot wake a glommio executor, so
/// they are read on every wake: this bounds how long an admin request or a
/// stop waits. Timers never wait for it (the loop sleeps until the core's
/// next deadline, and an earlier timer rings the alarm).
const COMMAND_POLL: Duration = Duration::from_millis(100);

/// Runs until a `Stop` command (or the control thread going away).
pub async fn run(
    shard: &std::rc::Rc<Shard>,
    commands: &crossbeam_channel::Receiver<Command>,
    reports: &crossbeam_channel::Sender<Report>,
    ring: LocalReceiver<()>,
) {
    let flush_every = shard.config.metrics.flush_ms.get();
    let mut next_flush = clock::now_ms();
    'serving: loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Stop) | Err(crossbeam_channel::TryRecvError::Disconnected) => break 'serving,
                Ok(c) => command(shard, c),
                Err(crossbeam_channel::TryRecvError::Empty) => break,
            }
        }
        let mut outs = Vec::new();
        shard.edge.borrow_mut().tick(clock::now_ms(), &mut outs);
        super::capture::sent(shard, &outs);
        super::io::perform(shard, outs).await;
        let now = clock::now_ms();
        if now >= next_flush {
            next_flush = (next_flush + flush_every).max(now);
            flush(shard, reports);
        }
        let next = {
            let mut edge = shard.edge.borrow_mut();
            edge.take_wake();
            edge.next_deadline().min(next_flush)
        };
        shard.alarm.set(next);
        let nap = clock::Alarm::sleep_for(now, next, COMMAND_POLL);
        futures_lite::future::or(glommio::timer::sleep(nap), async {
            let _ = ring.recv().await;
        })
        .await;
    }
    shard.stopping.set(true);
    flush(shard, reports);
}

/// One command from the control thread (all but `Stop`).
fn command(shard: &Shard, c: Command) {
    match c {
        Command::Stop => {}
        Command::Users(users) => shard.edge.borrow_mut().set_users(users),
        Command::Tls(set) => *shard.tls.borrow_mut() = set,
        Command::Trace(filter) => shard.edge.borrow_mut().set_trace(filter),
        Command::Barrier(done) => {
            let _ = done.try_send(shard.id);
        }
        Command::Registrations { aor, reply } => {
            let _ = reply.try_send(shard.edge.borrow().registrations(&aor).to_vec());
        }
        Command::Bans { reply } => {
            let _ = reply.try_send(shard.edge.borrow().bans());
        }
        Command::Unban { ip, reply } => {
            let _ = reply.try_send(shard.edge.borrow_mut().lift_ban(ip));
        }
        Command::Limit { rule, key, reply } => {
            let _ = reply.try_send(shard.edge.borrow().limit_view(&rule, &key));
        }
    }
}

fn flush(shard: &Shard, reports: &crossbeam_channel::Sender<Report>) {
    // A second of ban (or TLS) lines over its budget gets its summary line here too.
    let unix_ms = super::clock::unix_now_ms();
    shard.ban_log.borrow_mut().roll(unix_ms);
    shard.tls_log.borrow_mut().roll(unix_ms);
    let flows = shard.flows.borrow();
    let tcp = publish::TcpStats {
        open: flows.len(),
        accepted: flows.accepted,
        opened: flows.opened,
        refused: &flows.refused,
        closed: &flows.closed,
    };
    let stats = shard.stats.borrow();
    let io = publish::Io {
        drops: &stats.drops,
        udp_batches: stats.udp_batches,
        keepalives: stats.keepalives,
        mesh_sent: stats.mesh_sent,
        mesh_received: stats.mesh_received,
        mesh_dropped: stats.mesh_dropped,
    };
    let edge = shard.edge.borrow();
    publish::shard(shard.id, &edge.counters.wire, &io, &tcp);
    publish::handshakes(shard.id, &flows.tls_failures, &flows.ws_refused);
    publish::registrar(shard.id, &edge.counters.registrar, edge.registrations_active());
    publish::profiles(shard.id, &edge.profile_names(), &edge.counters.profiles, edge.nat_keepalives());
    if let Some(n) = edge.mid_upstreams() {
        publish::mid(shard.id, &edge.counters.mid, n);
    }
    if let Some(c) = edge.cluster() {
        publish::cluster(shard.id, c, &edge.counters.cluster);
        if let Some(store) = &shard.store {
            store.handle.report_journal(shard.id, c.journal_depth());
        }
    }
    publish::proxy(shard.id, &edge.counters.proxy, edge.transactions(), edge.timers_pending());
    let (names, blocked) = edge.names();
    publish::dns(shard.id, &names.stats, names.len(), blocked, &edge.counters.proxy);
    publish::protect(shard.id, edge.protect_stats(), edge.rule_names(), &edge.bans_active());
    drop((edge, stats));
    let mut h = shard.hist.borrow_mut();
    let hist = Box::new(h.clone());
    h.reset();
    // A full report queue only delays a histogram snapshot: drop it, never wait.
    let _ = reports.try_send(Report::Heartbeat { shard: shard.id, hist, polls: super::polls::counts() });
}
