//! HEP capture off the shards: each shard's `Tap` filters and encodes a
//! message into a recycled buffer and hands it to one sender thread through
//! the shard's own bounded queue; the thread writes to the collector (UDP,
//! or TCP reconnected with backoff) and gives the buffer back. Nothing here
//! ever makes a shard wait: a full queue, an oversized message, a collector
//! that is down or failing are counted drops (`sipedge_hep_dropped_total`).
//!
//! Counting: each shard has its own `Stats`; a counter in it has one writer
//! (the shard for what it drops, the sender thread for what it sends or
//! drops), and the admin thread reads them at scrape time. No atomic is
//! shared by all shards.

use super::hep::{encode, Meta};
use super::hep_filter::Filter;
use crate::config::{Collector, Hep};
use crate::reason::Reason;
use crossbeam_channel::{bounded, Receiver, Select, Sender, TrySendError};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Buffers kept for reuse per shard (more in flight are simply freed).
const POOL: usize = 256;
/// How long one write to the collector may block the sender thread.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// TCP reconnect backoff: first wait, doubling up to the last.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

crate::reasons! {
    /// Why a captured packet was not sent (`sipedge_hep_dropped_total`).
    pub enum HepDrop {
        /// The shard's queue to the sender thread was full.
        QueueFull => "queue full",
        /// Over 64 KiB once encoded (HEP's length is 16 bits).
        TooLarge => "too large",
        /// No TCP connection to the collector (connecting, backing off).
        CollectorDown => "collector down",
        /// The collector's socket refused the packet (UDP error, TCP write error).
        SendFailed => "send failed",
    }
}

/// One shard's HEP figures: written by the shard and the sender thread,
/// read at scrape time, hence atomics (one set per shard, not per message
/// across cores).
#[derive(Debug)]
pub struct Stats {
    pub sent: AtomicU64,
    dropped: [AtomicU64; <HepDrop as Reason>::COUNT],
}

impl Default for Stats {
    fn default() -> Self {
        Stats { sent: AtomicU64::new(0), dropped: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

impl Stats {
    pub fn count_drop(&self, why: HepDrop) {
        self.dropped[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Drop reasons and counts (every reason, zeros included), for `/metrics`.
    pub fn dropped(&self) -> impl Iterator<Item = (HepDrop, u64)> + '_ {
        HepDrop::all().map(|r| (r, self.dropped[r.index()].load(Ordering::Relaxed)))
    }
}

/// A shard's end of the capture: filter, encoder settings, queue.
pub struct Tap {
    filter: Filter,
    agent_id: u32,
    password: Vec<u8>,
    tx: Sender<Vec<u8>>,
    /// Buffers the sender thread has finished with.
    free: Receiver<Vec<u8>>,
    stats: Arc<Stats>,
}

/// What the capture hook knows of one message.
pub struct Seen<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// `hep::PROTO_UDP` or `hep::PROTO_TCP`.
    pub proto: u8,
    /// The far end (what `sources` filters on).
    pub peer: IpAddr,
    pub time_us: u64,
    pub bytes: &'a [u8],
}

impl Tap {
    /// Captures one message if the filters keep it. Never blocks.
    pub fn capture(&self, seen: &Seen<'_>) {
        let Some(call_id) = self.filter.decide(seen.peer, seen.bytes) else { return };
        let mut buf = self.free.try_recv().unwrap_or_default();
        buf.clear();
        let meta = Meta {
            src: seen.src,
            dst: seen.dst,
            proto: seen.proto,
            time_us: seen.time_us,
            agent_id: self.agent_id,
            password: &self.password,
            correlation: call_id,
        };
        if encode(&meta, seen.bytes, &mut buf).is_err() {
            self.stats.count_drop(HepDrop::TooLarge);
            return;
        }
        match self.tx.try_send(buf) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.stats.count_drop(HepDrop::QueueFull);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.count_drop(HepDrop::CollectorDown);
            }
        }
    }
}

/// What `start` hands out: one `Tap` per shard (in shard order) and every
/// shard's `Stats` (for `/metrics`).
pub type Started = (Vec<Tap>, Vec<Arc<Stats>>);

/// Starts the sender thread when a collector is configured (None: off).
pub fn start(cfg: &Hep, shards: usize) -> std::io::Result<Option<Started>> {
    let link = match cfg.collector {
        Collector::Off => return Ok(None),
        Collector::Udp(addr) => Link::udp(addr)?,
        Collector::Tcp(addr) => Link::Tcp { addr, stream: None, retry_at: Instant::now(), backoff: BACKOFF_MIN },
    };
    let filter = Filter::new(cfg);
    let mut taps = Vec::new();
    let mut queues = Vec::new();
    let mut all = Vec::new();
    for _ in 0..shards {
        let (tx, rx) = bounded(cfg.queue.get() as usize);
        let (free_tx, free_rx) = bounded(POOL);
        let stats = Arc::new(Stats::default());
        taps.push(Tap {
            filter: filter.clone(),
            agent_id: cfg.agent_id.get() as u32,
            password: cfg.password.as_bytes().to_vec(),
            tx,
            free: free_rx,
            stats: stats.clone(),
        });
        queues.push(Queue { rx, free: free_tx, stats: stats.clone() });
        all.push(stats);
    }
    std::thread::Builder::new().name("hep".into()).spawn(move || run(link, queues))?;
    Ok(Some((taps, all)))
}

/// The sender thread's end of one shard's queue.
struct Queue {
    rx: Receiver<Vec<u8>>,
    free: Sender<Vec<u8>>,
    stats: Arc<Stats>,
}

enum Link {
    Udp(UdpSocket),
    Tcp { addr: SocketAddr, stream: Option<TcpStream>, retry_at: Instant, backoff: Duration },
}

impl Link {
    fn udp(addr: SocketAddr) -> std::io::Result<Link> {
        let any: SocketAddr =
            if addr.is_ipv4() { "0.0.0.0:0".parse().expect("address") } else { "[::]:0".parse().expect("address") };
        let sock = UdpSocket::bind(any)?;
        sock.connect(addr)?;
        sock.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(Link::Udp(sock))
    }

    /// Makes sure a TCP link is connected, when its backoff allows; false
    /// while it is down.
    fn ready(&mut self) -> bool {
        let Link::Tcp { addr, stream, retry_at, backoff } = self else { return true };
        if stream.is_some() {
            return true;
        }
        if Instant::now() < *retry_at {
            return false;
        }
        match TcpStream::connect_timeout(addr, WRITE_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                log::info!("hep: connected to collector tcp:{addr}");
                *stream = Some(s);
                *backoff = BACKOFF_MIN;
                true
            }
            Err(e) => {
                log::debug!("hep: collector tcp:{addr}: {e}; next try in {backoff:?}");
                *retry_at = Instant::now() + *backoff;
                *backoff = (*backoff * 2).min(BACKOFF_MAX);
                false
            }
        }
    }

    /// Sends one packet; a TCP write error closes the connection (a
    /// partial packet would corrupt the stream) and backs off.
    fn send(&mut self, packet: &[u8]) -> bool {
        match self {
            Link::Udp(s) => s.send(packet).is_ok(),
            Link::Tcp { addr, stream, retry_at, backoff } => {
                let Some(s) = stream else { return false };
                if s.write_all(packet).is_ok() {
                    return true;
                }
                log::warn!("hep: collector tcp:{addr} write failed; reconnecting");
                *stream = None;
                *retry_at = Instant::now() + *backoff;
                false
            }
        }
    }

    /// How long to wait for packets before trying to reconnect.
    fn idle_wait(&self) -> Duration {
        match self {
            Link::Tcp { stream: None, retry_at, .. } => {
                retry_at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
            }
            _ => Duration::from_secs(1),
        }
    }
}

/// The sender loop: any shard's next packet, to the collector; ends when
/// every shard has gone.
fn run(mut link: Link, queues: Vec<Queue>) {
    let mut sel = Select::new();
    for q in &queues {
        sel.recv(&q.rx);
    }
    let mut live = queues.len();
    while live > 0 {
        let Ok(op) = sel.select_timeout(link.idle_wait()) else {
            link.ready();
            continue;
        };
        let i = op.index();
        let q = &queues[i];
        let Ok(packet) = op.recv(&q.rx) else {
            sel.remove(i);
            live -= 1;
            continue;
        };
        if !link.ready() {
            q.stats.count_drop(HepDrop::CollectorDown);
        } else if link.send(&packet) {
            q.stats.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            q.stats.count_drop(HepDrop::SendFailed);
        }
        let _ = q.free.try_send(packet);
    }
}
