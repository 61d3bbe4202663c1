//! THE ONLY ASYNC CODE. One glommio `LocalExecutor` per shard, pinned to a
//! CPU. A shard owns its sockets (one per listener, SO_REUSEPORT), its TCP
//! connections (TLS and WebSocket ones included), its slice of state (`core::Edge`), and its ends of the
//! mesh. It reads sockets, feeds the core, performs the core's outputs, and
//! publishes its counters on a tick. Nothing in here decides anything about
//! SIP.

pub mod build;
mod capture;
mod clock;
mod conn;
#[cfg(test)]
mod conn_tests;
mod io;
mod mesh;
mod mmsg;
pub mod polls;
mod services;
mod sockets;
pub mod stats;
mod steer_bpf;
mod tick;
mod tls_stream;
mod udp;
mod ws;

pub use mesh::{mesh_channels, MeshEnds};
pub use sockets::Reuseport;
pub use tick::{Command, Report};

use crate::config::Config;
use crate::core::Edge;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// What a shard thread is started with (all `Send`).
pub struct ShardSpec {
    pub id: u16,
    pub shards: u16,
    pub cpu: usize,
    pub config: Config,
    pub mesh: MeshEnds,
    pub commands: crossbeam_channel::Receiver<Command>,
    pub reports: crossbeam_channel::Sender<Report>,
    /// Digest settings shared by every shard (None: auth off).
    pub auth: Option<crate::core::AuthConfig>,
    /// TLS settings of the listeners and of outgoing connections.
    pub tls: crate::tls::TlsSet,
    /// Shared by all shards: binding order and steering of the reuseport groups.
    pub reuseport: std::sync::Arc<Reuseport>,
    /// This shard's end of HEP capture (None: capture off).
    pub hep: Option<crate::telemetry::hep_sender::Tap>,
    /// This shard's link to the store room (None: `[cluster]` off).
    pub store: Option<(crate::services::store::StoreHandle, crate::services::store::ShardEnd)>,
    /// This shard's link to the resolver room (DNS).
    pub resolver: Option<(crate::services::resolver::ResolverHandle, crate::services::resolver::ShardEnd)>,
}

/// Bytes of io_uring-registered memory per executor: sipedge does no
/// storage IO, so glommio's 10 MiB default would only pin memory.
pub const IO_MEMORY: usize = 64 * 1024;

/// Locked memory one executor pins: its registered IO buffer plus its three
/// io_uring rings (on kernels that charge rings to RLIMIT_MEMLOCK).
pub const MEMLOCK_PER_SHARD: u64 = IO_MEMORY as u64 + 128 * 1024;

/// glommio refuses to start an executor when RLIMIT_MEMLOCK is below this.
pub const MEMLOCK_FLOOR: u64 = 512 * 1024;

/// RLIMIT_MEMLOCK needed to run `shards` executors.
pub fn memlock_needed(shards: usize) -> u64 {
    (MEMLOCK_PER_SHARD * shards as u64).max(MEMLOCK_FLOOR)
}

/// Starts one shard on its own thread; returns when the executor has exited.
pub fn spawn(spec: ShardSpec) -> std::io::Result<glommio::ExecutorJoinHandle<()>> {
    LocalExecutorBuilder::new(Placement::Fixed(spec.cpu))
        .name(&format!("shard-{}", spec.id))
        .io_memory(IO_MEMORY)
        .ring_depth(256)
        .spawn(move || async move { polls::Timed::new(run(spec)).await })
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Everything one shard owns, shared by its tasks (single thread: Rc/RefCell).
pub struct Shard {
    pub id: u16,
    pub config: Config,
    pub edge: RefCell<Edge>,
    pub udp: Vec<Option<Rc<glommio::net::UdpSocket>>>,
    pub mesh: mesh::Outbox,
    pub flows: RefCell<conn::Flows>,
    /// What every connection of the shard reads into, lent for the length
    /// of one poll (`conn::read_some`): an idle connection holds no buffer.
    pub read_scratch: RefCell<Vec<u8>>,
    /// The shard's own I/O counters (the core counts in `edge.counters`).
    pub stats: RefCell<stats::IoStats>,
    /// TLS settings; replaced on reload, read at each handshake.
    pub tls: RefCell<crate::tls::TlsSet>,
    pub hist: RefCell<hdrhistogram::Histogram<u64>>,
    pub stopping: Cell<bool>,
    /// Wakes the housekeeping loop when an input set an earlier timer.
    pub alarm: clock::Alarm,
    /// HEP capture (None: off, one branch per message).
    pub hep: Option<crate::telemetry::hep_sender::Tap>,
    /// The store room (None: `[cluster]` off); its doorbell is served by its own task.
    pub store: Option<services::StoreLink>,
    /// The resolver room; its doorbell is served by its own task.
    pub resolver: Option<services::ResolverLink>,
    /// Ban lines, at most so many a second.
    pub ban_log: RefCell<crate::telemetry::ban_log::BanLog>,
    /// Lines of outgoing TLS failures, at most so many a second.
    pub tls_log: RefCell<crate::telemetry::line_budget::LineBudget>,
}

async fn run(spec: ShardSpec) {
    let ShardSpec { id, shards, config, mesh, commands, reports, auth, tls, reuseport, hep, store, resolver, .. } =
        spec;
    let edge_cfg = build::edge_config(&config, id, shards, auth);
    let (udp, tcp) = match reuseport.bind_all(&config, id as usize) {
        Ok(s) => s,
        Err(e) => {
            log::error!("shard {id}: {e}");
            let _ = reports.send(Report::Failed { shard: id, error: e.to_string() });
            return;
        }
    };
    let (outbox, inboxes) = mesh.connect(id).await;
    let (alarm, ring) = clock::Alarm::new();
    let mut bell = None;
    let mut dns_bell = None;
    let shard = Rc::new(Shard {
        id,
        config,
        edge: RefCell::new(Edge::new(edge_cfg, clock::now_ms(), clock::unix_offset_ms())),
        alarm,
        udp: udp.into_iter().map(|s| s.map(Rc::new)).collect(),
        mesh: outbox,
        flows: RefCell::new(conn::Flows::new()),
        read_scratch: RefCell::new(Vec::new()),
        stats: RefCell::new(stats::IoStats::default()),
        tls: RefCell::new(tls),
        hist: RefCell::new(hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("histogram bounds")),
        stopping: Cell::new(false),
        hep,
        store: store.map(|(handle, end)| {
            bell = Some(end.doorbell);
            services::StoreLink { handle, events: end.events }
        }),
        ban_log: RefCell::default(),
        tls_log: RefCell::new(crate::telemetry::line_budget::LineBudget::new(conn::TLS_LOG, "outgoing TLS", 10)),
        resolver: resolver.map(|(handle, end)| {
            dns_bell = Some(end.doorbell);
            services::ResolverLink { handle, events: end.events }
        }),
    });
    if let Some(bell) = bell {
        let serve = services::serve_room(shard.clone(), bell, services::store_events, services::store_input);
        polls::spawn(serve).detach();
    }
    if let Some(bell) = dns_bell {
        let serve = services::serve_room(shard.clone(), bell, services::resolver_events, services::resolver_input);
        polls::spawn(serve).detach();
    }
    for (i, s) in shard.udp.iter().enumerate() {
        if let Some(sock) = s {
            polls::spawn(udp::serve(shard.clone(), i as u16, sock.clone())).detach();
        }
    }
    for (i, l) in tcp.into_iter().enumerate() {
        if let Some(listener) = l {
            let transport = shard.config.listen[i].transport.into();
            polls::spawn(conn::accept_loop(shard.clone(), i as u16, transport, listener)).detach();
        }
    }
    for inbox in inboxes {
        polls::spawn(mesh::serve_inbox(shard.clone(), inbox)).detach();
    }
    let _ = reports.send(Report::Ready { shard: id });
    tick::run(&shard, &commands, &reports, ring).await;
    let drain = Duration::from_secs(shard.config.server.drain_secs.get());
    conn::drain(&shard, drain).await;
    log::debug!("shard {id} stopped");
}
