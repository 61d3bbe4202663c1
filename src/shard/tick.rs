//! A shard's housekeeping loop: commands from the control thread (stop),
//! heartbeats and histogram snapshots to it, and publishing the shard's
//! plain counters to `metrics` every `metrics.flush_ms`.

use super::Shard;
use crate::telemetry::publish;
use std::time::{Duration, Instant};

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
    /// Lift the ban of an address; whether there was one, to `reply`.
    Unban { ip: std::net::IpAddr, reply: crossbeam_channel::Sender<bool> },
}

/// Shard → control thread.
pub enum Report {
    Ready { shard: u16 },
    Failed { shard: u16, error: String },
    /// Sent every flush: proves the shard is serving, carries its latency histogram of the interval.
    Heartbeat { shard: u16, hist: Box<hdrhistogram::Histogram<u64>> },
}

const POLL: Duration = Duration::from_millis(20);

/// Runs until a `Stop` command (or the control thread going away).
pub async fn run(shard: &std::rc::Rc<Shard>, commands: &crossbeam_channel::Receiver<Command>, reports: &crossbeam_channel::Sender<Report>) {
    let flush_every = Duration::from_millis(shard.config.metrics.flush_ms.get());
    let mut next_flush = Instant::now();
    loop {
        match commands.try_recv() {
            Ok(Command::Stop) | Err(crossbeam_channel::TryRecvError::Disconnected) => break,
            Ok(Command::Users(users)) => shard.edge.borrow_mut().set_users(users),
            Ok(Command::Tls(set)) => *shard.tls.borrow_mut() = set,
            Ok(Command::Registrations { aor, reply }) => {
                let _ = reply.try_send(shard.edge.borrow().registrations(&aor).to_vec());
            }
            Ok(Command::Bans { reply }) => {
                let _ = reply.try_send(shard.edge.borrow().bans());
            }
            Ok(Command::Unban { ip, reply }) => {
                let _ = reply.try_send(shard.edge.borrow_mut().lift_ban(ip));
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {}
        }
        let mut outs = Vec::new();
        shard.edge.borrow_mut().tick(super::io::unix_now(), &mut outs);
        super::capture::sent(shard, &outs);
        super::io::perform(shard, outs).await;
        if Instant::now() >= next_flush {
            next_flush += flush_every;
            flush(shard, reports);
        }
        glommio::timer::sleep(POLL).await;
    }
    shard.stopping.set(true);
    flush(shard, reports);
}

fn flush(shard: &Shard, reports: &crossbeam_channel::Sender<Report>) {
    let flows = shard.flows.borrow();
    let tcp = publish::TcpStats { open: flows.len(), accepted: flows.accepted, opened: flows.opened, refused: &flows.refused, closed: &flows.closed };
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
    publish::proxy(shard.id, &edge.counters.proxy, edge.transactions(), edge.timers_pending());
    publish::protect(shard.id, edge.protect_stats(), edge.rule_names(), &edge.bans_active());
    drop((edge, stats));
    let mut h = shard.hist.borrow_mut();
    let hist = Box::new(h.clone());
    h.reset();
    // A full report queue only delays a histogram snapshot: drop it, never wait.
    let _ = reports.try_send(Report::Heartbeat { shard: shard.id, hist });
}
