//! A shard's proxy state: its transactions (one server transaction and its
//! branches per request it relays, RFC 3261 §16), the keys that find them,
//! the millisecond timer wheel that drives them, the ones that only linger
//! after their final answer (packed, `lingering`), the routes to the core
//! and the topology-hiding key. (A transaction waiting for another shard's
//! location lookup is parked in `Edge::waiting`, see `core::pending`.)
//! The decisions are `ProxyState` methods in `core::edge` (`proxy`,
//! `branch`, `relay`, `probe`; how one step runs is `core::edge::step`, a
//! lingering one's `core::edge::linger`).

use super::lingering::Lingering;
use super::route::{NextHop, Route, RouteUpstream, Routes};
use super::table::{Id, Table};
use super::token::TokenKey;
use super::wake::Wake;
use crate::core::net::Cidr;
use crate::core::resolve::{Dest, Names, NamesConfig};
use crate::core::split_map::SplitMap;
use crate::core::timer::cancellable::CancellableWheel;
use crate::core::transaction::{ClientKey, ClientTx, ServerKey, ServerTx, Timers};
use crate::core::Origin;
use crate::sip::Stored;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// The proxy's settings, from `[proxy]` (and `[hygiene]`: what relayed
/// messages lose), translated where shards are built (`shard::build`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub record_route: bool,
    pub serial: bool,
    pub max_branches: usize,
    pub timers: Timers,
    pub trusted: Vec<Cidr>,
    pub authenticate: Vec<Vec<u8>>,
    pub failover_on: Vec<u16>,
    pub map_answers: Vec<(u16, u16)>,
    pub topology_hiding: bool,
    pub topology_key: [u8; 32],
    pub probe_interval_ms: u64,
    /// Timer C: how long an INVITE branch may ring without a final answer.
    pub timer_c_ms: u64,
    pub routes: Vec<Route>,
    /// The core registrar's upstreams (`registrar.mode = "mid"`), in order.
    pub registrar_upstreams: Vec<RouteUpstream>,
    pub hygiene: super::hygiene::Hygiene,
    /// What a shard keeps of names (`[dns]`).
    pub names: NamesConfig,
    /// How long a request waits for a name: the lookup budget and a margin.
    pub dns_wait_ms: u64,
}

/// A test fixture, not the product's default (that is `config`'s, shown in
/// `default.toml`): the embedded default's values with probes off, no
/// routes and a zero topology key. `shard::build`'s tests check it against the
/// embedded default.
#[cfg(test)]
impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            record_route: true,
            serial: false,
            max_branches: 8,
            timers: Timers::default(),
            trusted: Vec::new(),
            authenticate: vec![b"INVITE".to_vec(), b"MESSAGE".to_vec(), b"SUBSCRIBE".to_vec()],
            failover_on: vec![408, 503],
            map_answers: Vec::new(),
            topology_hiding: false,
            topology_key: [0; 32],
            probe_interval_ms: 0,
            timer_c_ms: 180_000,
            routes: Vec::new(),
            registrar_upstreams: Vec::new(),
            hygiene: Default::default(),
            names: NamesConfig::default(),
            dns_wait_ms: 2_250,
        }
    }
}

impl ProxyConfig {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|c| c.contains(ip))
    }

    pub fn mapped(&self, code: u16) -> u16 {
        self.map_answers.iter().find(|(from, _)| *from == code).map(|(_, to)| *to).unwrap_or(code)
    }
}

/// One place a request may go: the Request-URI it gets, Route values put
/// on top (Path of a binding, the inside route set of a dialog token), the
/// next hop, and whether that is an upstream of the core.
#[derive(Clone, Debug)]
pub struct Target {
    pub uri: Vec<u8>,
    pub routes: Vec<Vec<u8>>,
    pub hop: NextHop,
    /// Index of the upstream (route to the core), for failover and health.
    pub upstream: Option<usize>,
    /// The target is inside the operator's network (topology hiding).
    pub inside: bool,
    /// A name to resolve before the branch starts (`hop` is a placeholder).
    pub name: Option<Box<Dest>>,
    /// One of a name's addresses: a 503, a timeout or a transport error
    /// moves on to the next (RFC 3263 §4.3) and blocklists this one.
    pub resolved: bool,
    /// Over TLS, the name the next hop's certificate must carry when it is
    /// not its address (RFC 5922 §4: the domain of the URI that was
    /// resolved, or the upstream's `server_name`).
    pub tls_name: Option<Arc<str>>,
}

impl Target {
    /// A target with no name to resolve.
    pub fn at(uri: Vec<u8>, routes: Vec<Vec<u8>>, hop: NextHop, upstream: Option<usize>, inside: bool) -> Target {
        Target { uri, routes, hop, upstream, inside, name: None, resolved: false, tls_name: None }
    }
}

/// A CANCEL this edge sent for a branch: its own client transaction.
pub struct Cancel {
    pub client: ClientTx,
    pub bytes: Vec<u8>,
}

/// One forwarded copy of the request (§16.6) and its client transaction.
pub struct Branch {
    /// The `<n>` of its Via branch `z9hG4bK-<shard>-<n>` (`key`'s branch).
    pub seq: u64,
    pub key: ClientKey,
    pub client: ClientTx,
    pub target: Target,
    /// The bytes sent (retransmitted as they are).
    pub request: Vec<u8>,
    /// The ACK for a non-2xx final (built from the response).
    pub ack: Vec<u8>,
    /// Boxed: most branches never send one.
    pub cancel: Option<Box<Cancel>>,
    /// A provisional arrived: a CANCEL may now be sent (§9.1).
    pub provisional: bool,
    /// Cancelled before any provisional: send the CANCEL when one arrives.
    pub cancel_wanted: bool,
    pub final_code: Option<u16>,
    /// Timer C deadline (ms) of an INVITE branch; 0 = none.
    pub timer_c: u64,
}

/// The best final response so far (§16.7 step 6); `bytes` None = the edge
/// builds it (a timeout's 408).
pub struct Best {
    pub code: u16,
    pub bytes: Option<Vec<u8>>,
}

/// A relayed request: the server transaction toward the sender and its branches.
///
/// A transaction in progress is one of these (boxed in the live table, its
/// keys in `servers`/`clients`, one entry in `wheel`): a few kilobytes with
/// its request and branches. Once quiet ([`Tx::quiet`]: its final answer
/// sent, every branch answered) it only lingers for the RFC's 64·T1, and
/// moves to `lingering` as one packed record.
///
/// Memory of a lingering transaction, measured (`proxy_tests::steady`, a
/// counting allocator, 2,000 calls INVITE…BYE through the edge, the 4,000
/// transactions lingering, all tables included): 289 bytes each (1,257
/// when they stayed here, 2,382 before `release`). Of that:
/// - its packed record, 204 on average: an accepted INVITE's is 83 (its
///   server key, its branch's number, the two machines with their
///   deadlines, where answers go, the branch's next hop); a BYE's is 321,
///   231 of which are the 200 it resends to a retransmitted BYE (RFC 3261
///   §17.2.2);
/// - its node in the lingering wheel (the record's slot and its timer, one
///   entry at its earliest deadline), 33;
/// - its server key and branch number in the two indexes, 31 (each
///   entry keeps 32 bits of its key's hash; `lingering::Entry`);
/// - the rest, 20, is what every shard allocates once (the live table,
///   wheel and key maps' first allocations), spread over the 4,000.
pub struct Tx {
    pub key: ServerKey,
    pub server: ServerTx,
    pub invite: bool,
    pub origin: Origin,
    /// The request as received (its SDP filtered); None once released.
    pub request: Option<Stored>,
    /// The last response sent to the sender (what a retransmission gets).
    pub last: Vec<u8>,
    pub branches: Vec<Branch>,
    /// Targets not tried yet: serial forking, failover to the next upstream.
    pub pending: VecDeque<Target>,
    pub best: Option<Best>,
    pub cancelled: bool,
    /// The request came from inside (a trusted address).
    pub inside: bool,
    /// Add Record-Route when forwarding.
    pub record_route: bool,
    /// Waiting for the answer to a lookup: its token in `Edge::waiting`
    /// (cancelled there when the transaction ends first).
    pub lookup: Option<u64>,
    /// When the request arrived, until its first final answer is traced
    /// (`core::trace`; taken then, so a fork's later 2xx is not).
    pub started_ms: Option<u64>,
    /// A REGISTER the mid-registrar forwarded to the core: its final answer
    /// is held (`held`) for the edge to decide what the device gets.
    pub mid: Option<Box<crate::core::registrar::mid::Forwarded>>,
    /// The final answer held for `mid`: (code, bytes as they would be relayed).
    pub held: Option<(u16, Vec<u8>)>,
    /// The sender's device profile (`[[profile]]`), for its answer mapping.
    pub profile: Option<u16>,
    /// Its entry in the timer wheel, at its earliest deadline (`wake.rs`).
    pub wake: Option<Wake>,
}

impl Tx {
    /// After a final answer `code` went to the sender: drop the bytes
    /// nothing will send or read again (a transaction lingers for 64·T1
    /// after it; at thousands of calls a second this is most of its memory).
    /// `keep_request`: topology hiding still needs the original Vias for
    /// late 2xx retransmissions.
    pub fn release(&mut self, code: u16, keep_request: bool) {
        if !keep_request {
            self.request = None;
        }
        if self.invite && code < 300 {
            // Accepted: INVITE retransmissions are absorbed, not answered.
            self.last = Vec::new();
        }
        self.last.shrink_to_fit();
        self.pending = VecDeque::new();
        for b in self.branches.iter_mut().filter(|b| b.final_code.is_some()) {
            // Its copy of the request and where it was addressed are only
            // for sending it; its ACK and next hop stay.
            b.request = Vec::new();
            b.target.uri = Vec::new();
            b.target.routes = Vec::new();
        }
        self.branches.shrink_to_fit();
    }

    /// No branch still waits for a final answer, and none is left to try.
    pub fn settled(&self) -> bool {
        self.lookup.is_none() && self.pending.is_empty() && self.branches.iter().all(|b| b.final_code.is_some())
    }

    /// Only lingers: its final answer sent (its server transaction not
    /// ended), settled, nothing held for the mid-registrar or waiting to be
    /// traced, and no client transaction (branch or CANCEL) still sending
    /// its request. What can still happen to it needs only what a
    /// `lingering` record keeps.
    pub fn quiet(&self) -> bool {
        let sends = |c: &ClientTx| c.sends_request();
        self.server.is_final()
            && !self.server.is_terminated()
            && self.settled()
            && self.mid.is_none()
            && self.held.is_none()
            && self.started_ms.is_none()
            && self.branches.iter().all(|b| !sends(&b.client) && b.cancel.as_ref().is_none_or(|c| !sends(&c.client)))
    }
}

/// Which machine of a transaction a deadline or key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Server,
    Branch(u8),
    Cancel(u8),
}

/// Milliseconds per slot of the transaction timer wheel.
pub const WHEEL_MS: u64 = 10;

/// Parts of the live transactions' key maps. They hold the transactions
/// in progress only (the lingering ones, most of a shard's, are found in
/// `lingering`): tens of thousands at most (calls ringing at a high rate),
/// a few hundred a part, while every part keeps the allocation of its
/// peak (256 parts took 140 kB before the first call was over).
const LIVE_KEY_PARTS: usize = 64;

pub struct ProxyState {
    pub cfg: ProxyConfig,
    /// The transactions in progress (boxed: the table's slots stay small,
    /// most transactions soon move on to `lingering`).
    pub txs: Table<Box<Tx>>,
    /// The transactions that only linger after their final answer, packed.
    pub lingering: Lingering,
    pub servers: SplitMap<ServerKey, Id>,
    pub clients: SplitMap<ClientKey, (Id, Part)>,
    /// One entry per transaction with a deadline (`wake.rs`).
    pub wheel: CancellableWheel<Id>,
    /// Branch numbers (the `<n>` of `z9hG4bK-<shard>-<n>`).
    pub seq: u64,
    pub routes: Routes,
    pub token: TokenKey,
    /// OPTIONS probes in flight: branch -> (upstream, sent at ms).
    pub probes: HashMap<Vec<u8>, (usize, u64)>,
    pub next_probe_ms: u64,
    /// The earliest timer scheduled since the shard last asked (`Edge::take_wake`).
    pub soonest_ms: u64,
    /// Names resolved, in flight, failed; targets blocklisted.
    pub names: Names<Id>,
}

/// Where a shard's branch numbers start: a random 32-bit point shifted up,
/// so a restarted edge never reuses a branch of its last life.
fn branch_start() -> u64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u64::from(u32::from_le_bytes(b)) << 16
}

impl ProxyState {
    pub fn new(cfg: ProxyConfig, now_ms: u64) -> ProxyState {
        let mut seed = [0u8; 12];
        let _ = getrandom::getrandom(&mut seed);
        let routes = Routes::new(&cfg.routes, &cfg.registrar_upstreams);
        let names = Names::new(cfg.names.clone(), u64::from_le_bytes(seed[..8].try_into().unwrap_or_default()));
        ProxyState {
            names,
            token: TokenKey::new(cfg.topology_key, seed),
            cfg,
            txs: Table::default(),
            servers: SplitMap::with_parts(LIVE_KEY_PARTS),
            clients: SplitMap::with_parts(LIVE_KEY_PARTS),
            wheel: CancellableWheel::new(now_ms / WHEEL_MS, 4096),
            lingering: Lingering::new(now_ms / WHEEL_MS),
            // From a random point: branches stay unique across restarts (RFC 3261 §8.1.1.7).
            seq: branch_start(),
            routes,
            probes: HashMap::new(),
            next_probe_ms: now_ms,
            soonest_ms: u64::MAX,
        }
    }
}
