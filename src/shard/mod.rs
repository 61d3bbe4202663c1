//! THE ONLY ASYNC CODE. One glommio `LocalExecutor` per shard, pinned to a
//! CPU. A shard owns its sockets (one per listener, SO_REUSEPORT), its TCP
//! connections (TLS and WebSocket ones included), its slice of state (`core::Edge`), and its ends of the
//! mesh. It reads sockets, feeds the core, performs the core's outputs, and
//! publishes its counters on a tick. Nothing in here decides anything about
//! SIP.

mod capture;
mod conn;
mod io;
mod mesh;
mod mmsg;
mod services;
mod sockets;
mod tick;
mod udp;
mod ws;

pub use mesh::{mesh_channels, MeshEnds};
pub use sockets::Reuseport;
pub use tick::{Command, Report};

use crate::config::Config;
use crate::core::{edge, Edge, EdgeConfig};
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
        .spawn(move || async move { run(spec).await })
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
    /// TLS settings; replaced on reload, read at each handshake.
    pub tls: RefCell<crate::tls::TlsSet>,
    pub hist: RefCell<hdrhistogram::Histogram<u64>>,
    pub stopping: Cell<bool>,
    /// HEP capture (None: off, one branch per message).
    pub hep: Option<crate::telemetry::hep_sender::Tap>,
}

async fn run(spec: ShardSpec) {
    let ShardSpec { id, shards, config, mesh, commands, reports, auth, tls, reuseport, hep, .. } = spec;
    let mut edge_cfg = EdgeConfig {
        shard: id,
        shards,
        local_hosts: Vec::new(),
        local_ports: Vec::new(),
        max_message_bytes: config.limits.max_message_bytes.get() as usize,
        registrar: registrar_config(&config.registrar),
        auth,
        listeners: Vec::new(),
        proxy: proxy_config(&config.proxy, &config.hygiene),
        protect: protect_config(&config),
    };
    for l in &config.listen {
        edge_cfg.local_hosts.extend(edge::local_hosts(l.addr, &l.advertise));
        edge_cfg.local_ports.push(l.addr.port());
        edge_cfg.listeners.push(edge::Listener::new(l.transport.into(), l.addr, &l.advertise));
    }
    let (udp, tcp) = match reuseport.bind_all(&config, id as usize) {
        Ok(s) => s,
        Err(e) => {
            log::error!("shard {id}: {e}");
            let _ = reports.send(Report::Failed { shard: id, error: e.to_string() });
            return;
        }
    };
    let (outbox, inboxes) = mesh.connect(id).await;
    let shard = Rc::new(Shard {
        id,
        config,
        edge: RefCell::new(Edge::new(edge_cfg, io::unix_now())),
        udp: udp.into_iter().map(|s| s.map(Rc::new)).collect(),
        mesh: outbox,
        flows: RefCell::new(conn::Flows::new()),
        tls: RefCell::new(tls),
        hist: RefCell::new(hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("histogram bounds")),
        stopping: Cell::new(false),
        hep,
    });
    for (i, s) in shard.udp.iter().enumerate() {
        if let Some(sock) = s {
            glommio::spawn_local(udp::serve(shard.clone(), i as u16, sock.clone())).detach();
        }
    }
    for (i, l) in tcp.into_iter().enumerate() {
        if let Some(listener) = l {
            let transport = shard.config.listen[i].transport.into();
            glommio::spawn_local(conn::accept_loop(shard.clone(), i as u16, transport, listener)).detach();
        }
    }
    for inbox in inboxes {
        glommio::spawn_local(mesh::serve_inbox(shard.clone(), inbox)).detach();
    }
    let _ = reports.send(Report::Ready { shard: id });
    tick::run(&shard, &commands, &reports).await;
    let drain = Duration::from_secs(shard.config.server.drain_secs.get());
    conn::drain(&shard, drain).await;
    log::debug!("shard {id} stopped");
}

/// The core's proxy settings from `[proxy]` and `[hygiene]` (the control
/// thread has put a random topology key in when none is configured).
fn proxy_config(p: &crate::config::Proxy, h: &crate::config::Hygiene) -> crate::core::proxy::state::ProxyConfig {
    use crate::core::transaction::Timers;
    let topology_key = p.topology_key.0.unwrap_or_default();
    crate::core::proxy::state::ProxyConfig {
        record_route: p.record_route,
        serial: p.forking == crate::config::Forking::Serial,
        max_branches: p.max_branches.get() as usize,
        timers: Timers { t1: p.t1_ms.get(), t2: p.t2_ms.get(), t4: p.t4_ms.get() },
        trusted: p.trusted.clone(),
        authenticate: p.authenticate.iter().map(|m| m.as_bytes().to_vec()).collect(),
        failover_on: p.failover_on.iter().map(|c| c.get() as u16).collect(),
        map_answers: p.map_answers.iter().map(|(from, to)| (from.0, to.get() as u16)).collect(),
        topology_hiding: p.topology_hiding,
        topology_key,
        probe_interval_ms: p.probe_interval_secs.get() * 1000,
        timer_c_ms: p.invite_timeout_secs.get() * 1000,
        routes: p.route.clone(),
        hygiene: crate::core::proxy::hygiene::Hygiene {
            codecs: crate::sip::sdp::CodecFilter::new(&h.codecs.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), &h.media.iter().map(|m| m.as_str()).collect::<Vec<_>>()),
            to_devices: crate::sip::HeaderPatterns::new(h.strip_to_devices.clone()),
            to_core: crate::sip::HeaderPatterns::new(h.strip_to_core.clone()),
        },
    }
}

/// The core's protection settings from `[protect]` (the edge adds
/// `proxy.trusted` to the allowlist itself).
fn protect_config(c: &Config) -> crate::core::protect::ProtectConfig {
    use crate::config::{LimitAction, LimitKey};
    use crate::core::protect::{Action, ProtectConfig, Rule, RuleKey, Scanners, Trip};
    let p = &c.protect;
    let trip = |count: u64, window: u64, ban: u64| (count > 0).then_some(Trip { count: count as u32, window_ms: window * 1000, ban_ms: ban * 1000 });
    let rules = p
        .limit
        .iter()
        .map(|l| Rule {
            name: l.name.clone(),
            key: match l.key {
                LimitKey::Ip => RuleKey::Ip,
                LimitKey::Aor => RuleKey::Aor,
                LimitKey::Event => RuleKey::Event,
                LimitKey::UserAgent => RuleKey::UserAgent,
                LimitKey::Global => RuleKey::Global,
            },
            methods: l.methods.iter().map(|m| m.0.as_bytes().to_vec()).collect(),
            user_agent: l.user_agent.to_ascii_lowercase().into_bytes(),
            event: l.event.to_ascii_lowercase().into_bytes(),
            rate: l.rate.0,
            burst: l.burst.get() as f64,
            action: if l.action == LimitAction::Drop { Action::Drop } else { Action::Reject },
        })
        .collect();
    ProtectConfig {
        allow: p.allow.clone(),
        scanners: Scanners::new(&p.scanners),
        flood: trip(p.flood.requests.get(), p.flood.window_secs.get(), p.flood.ban_secs.get()),
        auth_failures: trip(p.auth_ban.failures.get(), p.auth_ban.window_secs.get(), p.auth_ban.ban_secs.get()),
        rules,
        max_size: p.max_size.iter().map(|(m, n)| (m.0.as_bytes().to_vec(), n.get() as usize)).collect(),
        udp_mtu: match p.udp_mtu.get() {
            0 => usize::MAX,
            n => n as usize,
        },
    }
}

/// The core's registrar settings from the config table.
fn registrar_config(r: &crate::config::Registrar) -> crate::core::registrar::RegistrarConfig {
    crate::core::registrar::RegistrarConfig {
        domains: r.domains.iter().map(|d| d.to_ascii_lowercase().into_bytes()).collect(),
        default_expires: r.default_expires.get() as u32,
        min_expires: r.min_expires.get() as u32,
        max_expires: r.max_expires.get() as u32,
        max_contacts: r.max_contacts.get() as usize,
        replace_oldest: r.on_max_contacts == crate::config::OnMaxContacts::ReplaceOldest,
        flow_timer: r.flow_timer_secs.get() as u32,
    }
}
