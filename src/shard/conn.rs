//! TCP connections (flows) owned by this shard: the accept loop (plain,
//! TLS, and WebSocket on either, see `ws.rs`), outgoing connections opened
//! on demand, one reader task and one writer task per connection, and the
//! table through which any task of the shard writes to a flow (by id, or by
//! peer address to reuse a connection either side opened). Whatever a
//! connection speaks, its writer queue carries whole SIP messages and its
//! life ends the same way (`life`). Only this shard ever touches them.
//!
//! Memory per idle connection is what bounds how many devices a shard can
//! hold, so a connection keeps no buffer while it waits: glommio waits for
//! readiness, not for a read into a buffer, so a read borrows the shard's
//! one scratch buffer only while it is polled (`read_some`), `READ_MIN`
//! bytes at a time while quiet, more while reads come back full. What was
//! read is copied into the connection's own buffer, which lives only while
//! messages are being framed or one is incomplete, and is freed once
//! drained. Its write queue (bounded by count) allocates only what is
//! queued. The TLS handshake runs in its own allocation, freed once done,
//! and TLS keeps no buffer of its own while idle (`tls_stream.rs`).

use super::stats::{TcpClosed, TcpRefused, TlsFailure, WsRefused};
use super::Shard;
use crate::core::framing::{next_frame, Frame};
use crate::core::{FlowId, Input, Origin, Packet, Transport};
use crate::reason::Tally;
use futures_lite::AsyncWriteExt;
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::{TcpListener, TcpStream};
use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Writes queued per connection before further ones are dropped and counted.
const WRITE_QUEUE: usize = 256;
/// Messages queued behind the first join it (see `Sink::JOINS`) while the
/// write holds fewer bytes than this: one write carries at most this plus
/// one message.
pub(super) const JOIN_MAX: usize = 64 * 1024;
/// Read size of a quiet connection: most SIP requests fit in one read.
const READ_MIN: usize = 2 * 1024;
/// Largest read size, reached by doubling while reads come back full.
const READ_MAX: usize = 16 * 1024;
/// TLS peers' names kept (`Flows::name_tls_peer`); past it, one is forgotten
/// for each new one (it comes back with the next branch to it).
const TLS_NAMES: usize = 4096;
/// The log target of outgoing TLS failures (`Shard::tls_log` paces them).
pub(super) const TLS_LOG: &str = "sipedge::tls";

struct Entry {
    tx: LocalSender<Vec<u8>>,
    closed: Rc<Cell<bool>>,
    peer: SocketAddr,
    /// The listener it belongs to (accepted on, or of its transport).
    listener: u16,
}

/// The shard's connections, by connection number.
#[derive(Default)]
pub struct Flows {
    next: u32,
    map: HashMap<u32, Entry>,
    by_peer: HashMap<SocketAddr, u32>,
    /// Open connections per source IP.
    per_ip: HashMap<std::net::IpAddr, u32>,
    pub accepted: u64,
    /// Connections this shard opened (to upstreams, to devices).
    pub opened: u64,
    /// Connections refused over a limit, by limit.
    pub refused: Tally<TcpRefused>,
    pub closed: Tally<TcpClosed>,
    /// TLS handshakes that failed, by cause.
    pub tls_failures: Tally<TlsFailure>,
    /// WebSocket handshakes refused, by reason.
    pub ws_refused: Tally<WsRefused>,
    /// The name each TLS peer's certificate must carry, as the core said
    /// (`Output::TlsName`: a resolved name's); for a peer not here, see
    /// `connect_tls`.
    tls_names: HashMap<SocketAddr, std::sync::Arc<str>>,
}

/// A connection's end for its own tasks: its id, the queue its writer
/// drains (whole SIP messages), and the flag that stops its reader.
pub(super) struct Conn {
    pub flow: FlowId,
    pub rx: LocalReceiver<Vec<u8>>,
    pub closed: Rc<Cell<bool>>,
}

impl Flows {
    /// Connection numbers start at a random point, so a flow named in a
    /// dialog (alias, token) before a restart names no connection after it.
    pub fn new() -> Flows {
        let mut seed = [0u8; 4];
        let _ = getrandom::getrandom(&mut seed);
        Flows { next: u32::from_ne_bytes(seed), ..Flows::default() }
    }

    fn open(&mut self, shard: u16, peer: SocketAddr, listener: u16) -> Conn {
        self.next = self.next.wrapping_add(1);
        // Unbounded in type, bounded by `send`: a bounded channel would
        // allocate room for WRITE_QUEUE writes up front on every connection.
        let (tx, rx) = local_channel::new_unbounded();
        let closed = Rc::new(Cell::new(false));
        self.map.insert(self.next, Entry { tx, closed: closed.clone(), peer, listener });
        self.by_peer.insert(peer, self.next);
        *self.per_ip.entry(peer.ip()).or_default() += 1;
        Conn { flow: FlowId { shard, conn: self.next }, rx, closed }
    }

    /// Opens the table entry of a connection a peer opened to us.
    pub(super) fn accept(&mut self, shard: u16, peer: SocketAddr, listener: u16) -> Conn {
        self.accepted += 1;
        self.open(shard, peer, listener)
    }

    /// Remembers the name `peer`'s certificate must carry, for the next
    /// TLS connection this shard opens to it.
    pub fn name_tls_peer(&mut self, peer: SocketAddr, name: std::sync::Arc<str>) {
        if self.tls_names.len() >= TLS_NAMES && !self.tls_names.contains_key(&peer) {
            if let Some(old) = self.tls_names.keys().next().copied() {
                self.tls_names.remove(&old);
            }
        }
        self.tls_names.insert(peer, name);
    }

    /// A connection's peer address and listener.
    pub fn peer(&self, flow: FlowId) -> Option<(SocketAddr, u16)> {
        self.map.get(&flow.conn).map(|e| (e.peer, e.listener))
    }

    /// Is this connection still open?
    pub fn contains(&self, flow: FlowId) -> bool {
        self.map.contains_key(&flow.conn)
    }

    /// Queues bytes for a flow; false when it is gone or its queue is full.
    pub fn send(&self, flow: FlowId, bytes: Vec<u8>) -> bool {
        self.map.get(&flow.conn).map(|e| e.tx.len() < WRITE_QUEUE && e.tx.try_send(bytes).is_ok()).unwrap_or(false)
    }

    /// Closes a flow: its reader stops, its writer finishes what is queued.
    pub fn close(&mut self, flow: FlowId) {
        if let Some(e) = self.map.remove(&flow.conn) {
            e.closed.set(true);
            if self.by_peer.get(&e.peer) == Some(&flow.conn) {
                self.by_peer.remove(&e.peer);
            }
            if let Some(n) = self.per_ip.get_mut(&e.peer.ip()) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&e.peer.ip());
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn queued(&self) -> usize {
        self.map.values().map(|e| e.tx.len()).sum()
    }
}

/// Accepts the connections of listener `listener`, which speaks `transport`
/// (after a TLS handshake on `tls` and `wss` listeners).
pub async fn accept_loop(shard: Rc<Shard>, listener: u16, transport: Transport, sock: TcpListener) {
    let limits = &shard.config.limits;
    let (max, per_ip) =
        (limits.tcp_max_connections_per_shard.get() as usize, limits.tcp_max_connections_per_ip.get() as u32);
    loop {
        match sock.accept().await {
            Ok(stream) if shard.flows.borrow().len() >= max => {
                shard.flows.borrow_mut().refused.add(TcpRefused::ShardLimit);
                drop(stream);
            }
            Ok(stream)
                if stream
                    .peer_addr()
                    .is_ok_and(|p| shard.flows.borrow().per_ip.get(&p.ip()).copied().unwrap_or(0) >= per_ip) =>
            {
                shard.flows.borrow_mut().refused.add(TcpRefused::PerIpLimit);
                drop(stream);
            }
            Ok(stream) => {
                super::polls::spawn(serve(shard.clone(), listener, transport, stream)).detach();
            }
            Err(e) => {
                log::warn!("shard {}: tcp accept: {e}", shard.id);
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
        if shard.stopping.get() {
            return;
        }
    }
}

async fn serve(shard: Rc<Shard>, listener: u16, transport: Transport, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else { return };
    prepare(&shard, &stream);
    // Read at each handshake: a reload changes what the next client gets.
    let tls = shard.tls.borrow().servers.get(listener as usize).cloned().flatten();
    // Each kind of connection in an allocation of its own size: inline, a
    // plain TCP connection's task would be as large as the largest kind
    // (a WebSocket over TLS, ~9 kB).
    let Some(config) = tls else {
        return speak(shard, listener, transport, stream, peer).await;
    };
    // Boxed: the handshake's state (a whole mid-handshake rustls session)
    // would otherwise stay part of the connection's task for life.
    // (`let … else`, not `if let`: the handshake's result, a whole TLS
    // session, would otherwise stay reserved in this task's state.)
    let Ok(stream) = Box::pin(handshake(&shard, false, super::tls_stream::accept(config, stream))).await else {
        return;
    };
    speak(shard, listener, transport, stream, peer).await
}

/// An accepted connection, past TLS: SIP straight on the bytes, or a
/// WebSocket upgrade first. A plain function handing back the connection's
/// life in its own allocation: an `async fn` would keep its `stream`
/// argument (a whole TLS session) reserved in its state for the
/// connection's life, after moving it on.
fn speak<S>(
    shard: Rc<Shard>,
    listener: u16,
    transport: Transport,
    stream: S,
    peer: SocketAddr,
) -> std::pin::Pin<Box<dyn Future<Output = ()>>>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'static,
{
    if matches!(transport, Transport::Ws | Transport::Wss) {
        return Box::pin(super::ws::serve(shard, listener, transport, stream, peer));
    }
    let conn = shard.flows.borrow_mut().accept(shard.id, peer, listener);
    Box::pin(run(shard, listener, transport, stream, peer, conn))
}

/// How long a client may take over a TLS handshake or a WebSocket upgrade.
pub(super) fn handshake_timeout(shard: &Shard) -> Duration {
    Duration::from_millis(shard.config.limits.tls_handshake_timeout_ms.get())
}

/// Runs a TLS handshake (either side) under `limits.tls_handshake_timeout_ms`;
/// a failure is counted by cause and gives its cause and rustls' words.
async fn handshake<S>(shard: &Shard, outgoing: bool, h: impl Future<Output = std::io::Result<S>>) -> Result<S, String> {
    let (reason, why) =
        match glommio::timer::timeout(handshake_timeout(shard), async { h.await.map_err(glommio::GlommioError::from) })
            .await
        {
            Ok(s) => return Ok(s),
            Err(glommio::GlommioError::TimedOut(_)) => (TlsFailure::HandshakeTimeout, "no handshake in time".into()),
            Err(e) => (handshake_failure(&e, outgoing), describe(&e)),
        };
    shard.flows.borrow_mut().tls_failures.add(reason);
    Err(format!("{}: {why}", reason.label()))
}

/// A handshake error in rustls' own words where it is one.
fn describe(e: &glommio::GlommioError<()>) -> String {
    match e {
        glommio::GlommioError::IoError(io) => io.get_ref().map_or_else(|| io.to_string(), ToString::to_string),
        e => e.to_string(),
    }
}

/// A handshake error, by cause, for `sipedge_tls_handshake_failures_total`:
/// what an operator needs to see why a device model (or an upstream)
/// cannot connect.
fn handshake_failure(e: &glommio::GlommioError<()>, outgoing: bool) -> TlsFailure {
    use rustls::{Error as E, PeerIncompatible as P};
    let glommio::GlommioError::IoError(io) = e else { return TlsFailure::Other };
    let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<E>()) else { return TlsFailure::ConnectionLost };
    match tls {
        // A TLS 1.0/1.1 hello lacks signature_algorithms, which rustls checks first.
        E::PeerIncompatible(
            P::Tls12NotOffered
            | P::Tls12NotOfferedOrEnabled
            | P::SupportedVersionsExtensionRequired
            | P::SignatureAlgorithmsExtensionRequired,
        ) => TlsFailure::ProtocolVersion,
        E::PeerIncompatible(P::NoCipherSuitesInCommon) => TlsFailure::NoCommonCipher,
        E::PeerIncompatible(P::NoKxGroupsInCommon | P::NoSignatureSchemesInCommon) => TlsFailure::NoCommonKx,
        E::PeerIncompatible(_) => TlsFailure::IncompatibleClient,
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            TlsFailure::NotTls
        }
        E::NoCertificatesPresented | E::InvalidCertificate(_) if outgoing => TlsFailure::UpstreamCertificate,
        E::NoCertificatesPresented | E::InvalidCertificate(_) => TlsFailure::ClientCertificate,
        E::AlertReceived(_) => TlsFailure::AlertFromClient,
        _ => TlsFailure::Other,
    }
}

/// Socket options every connection gets: SIP messages are whole writes
/// (Nagle would hold them for the peer's delayed ACK), and idle ones end.
fn prepare(shard: &Shard, stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(shard.config.limits.tcp_idle_timeout_secs.get())));
}

/// Writes to this shard's connection to `peer`, opening one when there is
/// none, over TLS when `tls` (the bytes wait in its queue while it
/// connects; if it cannot, they go back to the core). False: queue full.
pub fn send_to_peer(shard: &Rc<Shard>, peer: SocketAddr, tls: bool, bytes: Vec<u8>) -> bool {
    let existing = shard.flows.borrow().by_peer.get(&peer).copied();
    if let Some(conn) = existing {
        return shard.flows.borrow().send(FlowId { shard: shard.id, conn }, bytes);
    }
    let max = shard.config.limits.tcp_max_connections_per_shard.get() as usize;
    if shard.flows.borrow().len() >= max {
        shard.flows.borrow_mut().refused.add(TcpRefused::ShardLimit);
        return false;
    }
    let transport = if tls { crate::config::Transport::Tls } else { crate::config::Transport::Tcp };
    let listener = shard.config.listen.iter().position(|l| l.transport == transport).unwrap_or(0) as u16;
    let conn = shard.flows.borrow_mut().open(shard.id, peer, listener);
    let flow = conn.flow;
    shard.flows.borrow_mut().opened += 1;
    let queued = shard.flows.borrow().send(flow, bytes);
    let shard = shard.clone();
    super::polls::spawn(async move {
        let failed = match TcpStream::connect(peer).await {
            Ok(stream) if !tls => {
                prepare(&shard, &stream);
                return run(shard, listener, Transport::Tcp, stream, peer, conn).await;
            }
            Ok(stream) => {
                prepare(&shard, &stream);
                match Box::pin(connect_tls(&shard, peer, stream)).await {
                    // A task of its own: this one's state holds the
                    // handshake's result (a whole TLS session) until it ends.
                    Some(stream) => {
                        super::polls::spawn(run(shard, listener, Transport::Tls, stream, peer, conn)).detach();
                        return;
                    }
                    None => TcpClosed::TlsHandshakeFailed,
                }
            }
            Err(_) => TcpClosed::ConnectFailed,
        };
        {
            let mut flows = shard.flows.borrow_mut();
            flows.close(flow);
            flows.closed.add(failed);
        }
        // Closing dropped the queue's sender: what waited in it goes back
        // to the core, whose branches fail over at once.
        while let Some(bytes) = conn.rx.recv().await {
            super::io::feed(&shard, super::clock::now_ms(), Input::Undeliverable(&bytes)).await;
        }
    })
    .detach();
    queued
}

/// The client side of a TLS handshake with `peer`, which must show a
/// certificate for the name the core gave for it (RFC 5922 §4: the domain
/// resolved, or the upstream's `server_name`), else for the `server_name`
/// of an upstream configured at its address, else for its IP address.
async fn connect_tls(
    shard: &Shard,
    peer: SocketAddr,
    stream: TcpStream,
) -> Option<super::tls_stream::TlsStream<TcpStream, rustls::client::UnbufferedClientConnection>> {
    let Some(config) = shard.tls.borrow().client.clone() else {
        shard.flows.borrow_mut().tls_failures.add(TlsFailure::NoOutgoingTls);
        return None;
    };
    let named = shard.flows.borrow().tls_names.get(&peer).cloned();
    let upstreams = shard.config.proxy.route.iter().flat_map(|r| &r.upstreams);
    let configured =
        upstreams.filter(|u| u.addr.literal() == Some(peer)).map(|u| u.server_name.as_str()).find(|n| !n.is_empty());
    let name = named.as_deref().or(configured).unwrap_or("");
    let server_name = crate::tls::client::server_name(name, peer).ok()?;
    match handshake(shard, true, super::tls_stream::connect(config, server_name, stream)).await {
        Ok(s) => Some(s),
        Err(why) => {
            // What an operator needs to mend it: who, which name was
            // asked for, and rustls' words (what the certificate names).
            if shard.tls_log.borrow_mut().take(super::clock::unix_now_ms()) {
                let name = if name.is_empty() { "its IP address" } else { name };
                log::warn!(target: TLS_LOG, "outgoing TLS to {peer} (expecting {name}) failed: {why}");
            }
            None
        }
    }
}

/// A byte-stream connection (TCP, TLS): its writer writes each queued
/// message as it is, its reader frames SIP messages out of the bytes. The
/// stream is split before the future is made, so the future holds the two
/// halves' handles, not the stream (see `speak`).
fn run<S>(
    shard: Rc<Shard>,
    listener: u16,
    transport: Transport,
    stream: S,
    peer: SocketAddr,
    conn: Conn,
) -> impl Future<Output = ()> + 'static
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + 'static,
{
    let (rd, wr) = futures_lite::io::split(stream);
    let origin = Origin { transport, listener, peer, flow: Some(conn.flow) };
    let closed = conn.closed.clone();
    let writer = spawn_writer(conn.rx, wr);
    async move { life(&shard, conn.flow, writer, read_stream(&shard, origin, &closed, rd)).await }
}

/// The writing half of a connection: queued SIP messages, one per `put`,
/// or joined into one `put` where the sink allows it (`JOINS`).
pub(super) trait Sink {
    /// Whether messages may be joined into one `put`: a byte stream's may
    /// (one write, one TLS record for what a turn queued), a WebSocket's
    /// may not (RFC 7118: one SIP message per WebSocket message).
    const JOINS: bool = false;
    /// Writes one message (several, joined, where `JOINS`); false when the
    /// connection is broken.
    async fn put(&mut self, bytes: Vec<u8>) -> bool;
    /// Ends the connection in an orderly way (FIN, WebSocket Close).
    async fn finish(&mut self);
    /// How long the queue may stay empty before `ping` (None: never).
    fn ping_every(&self) -> Option<Duration> {
        None
    }
    /// Shows an idle peer the connection is alive; false when broken.
    async fn ping(&mut self) -> bool {
        true
    }
}

impl<S: futures_lite::AsyncWrite + Unpin> Sink for futures_lite::io::WriteHalf<S> {
    const JOINS: bool = true;

    /// Written and flushed: a TLS record the socket did not take at once
    /// would otherwise wait for the next message.
    async fn put(&mut self, bytes: Vec<u8>) -> bool {
        self.write_all(&bytes).await.is_ok() && self.flush().await.is_ok()
    }

    async fn finish(&mut self) {
        let _ = self.close().await;
    }
}

/// What the writer waits for next.
enum Next {
    Message(Vec<u8>),
    Idle,
    Closed,
}

/// The writer task: drains the flow's queue into `sink` until the flow is
/// closed (its sender dropped) or a write fails, pinging when idle.
pub(super) fn spawn_writer<K: Sink + 'static>(rx: LocalReceiver<Vec<u8>>, mut sink: K) -> glommio::Task<()> {
    super::polls::spawn(async move {
        loop {
            let queued = async { rx.recv().await.map_or(Next::Closed, Next::Message) };
            let next = match sink.ping_every() {
                None => queued.await,
                Some(every) => {
                    let idle = async {
                        glommio::timer::sleep(every).await;
                        Next::Idle
                    };
                    futures_lite::future::or(queued, idle).await
                }
            };
            let ok = match next {
                Next::Message(mut bytes) => {
                    let closed = K::JOINS && join_queued(&rx, &mut bytes).await;
                    sink.put(bytes).await && !closed
                }
                Next::Idle => sink.ping().await,
                Next::Closed => break,
            };
            if !ok {
                break;
            }
        }
        sink.finish().await;
    })
}

/// Appends what else is queued to `bytes` (while under `JOIN_MAX`) without
/// waiting, so the messages one turn queued leave in one write, not one
/// system call each; true when the queue turned out closed.
async fn join_queued(rx: &LocalReceiver<Vec<u8>>, bytes: &mut Vec<u8>) -> bool {
    while bytes.len() < JOIN_MAX {
        match futures_lite::future::poll_once(rx.recv()).await {
            Some(Some(more)) => bytes.extend_from_slice(&more),
            Some(None) => return true,
            None => break,
        }
    }
    false
}

/// The end every connection shares: `read` runs until the peer, the edge
/// or a limit ends the connection (its reason), then the flow leaves the
/// table, counted by that reason, and its writer finishes what is queued.
pub(super) async fn life(
    shard: &Rc<Shard>,
    flow: FlowId,
    writer: glommio::Task<()>,
    read: impl Future<Output = TcpClosed>,
) {
    let reason = read.await;
    {
        let mut flows = shard.flows.borrow_mut();
        flows.close(flow);
        flows.closed.add(reason);
    }
    writer.await;
}

/// Hands one message of a connection to the core; false when the edge
/// closed the flow meanwhile.
/// (Boxed for the length of one message: inline, the core's outputs being
/// performed would be part of every idle connection's task.)
pub(super) async fn deliver(shard: &Rc<Shard>, now: u64, origin: Origin, closed: &Cell<bool>, bytes: &[u8]) -> bool {
    Box::pin(super::io::feed(shard, now, Input::Packet(Packet { origin, bytes }))).await;
    !closed.get()
}

/// Answers a CRLF keepalive (RFC 5626 §4.4.1) with a CRLF pong.
pub(super) fn pong(shard: &Shard, flow: FlowId) {
    shard.stats.borrow_mut().keepalives += 1;
    shard.flows.borrow().send(flow, b"\r\n".to_vec());
}

/// Reads a byte stream and frames SIP messages out of it until it ends.
async fn read_stream<R: futures_lite::AsyncRead + Unpin>(
    shard: &Rc<Shard>,
    origin: Origin,
    closed: &Cell<bool>,
    mut rd: R,
) -> TcpClosed {
    let limit = shard.config.limits.tcp_max_buffered_bytes.get() as usize;
    let flow = origin.flow.expect("a connection has a flow");
    // Bytes read and not yet framed: empty (no allocation) while idle.
    let mut buf: Vec<u8> = Vec::new();
    let mut want = READ_MIN;
    loop {
        let n = match read_some(shard, &mut rd, want, &mut buf).await {
            Ok(0) => return TcpClosed::PeerClosed,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return TcpClosed::IdleTimeout,
            Err(_) => return TcpClosed::ReadError,
        };
        let now = super::clock::now_ms();
        let mut off = 0;
        loop {
            match next_frame(&buf[off..], limit) {
                Frame::Need => break,
                Frame::Skip(k) => off += k,
                Frame::Ping(k) => {
                    off += k;
                    pong(shard, flow);
                }
                Frame::Message(k) => {
                    if !deliver(shard, now, origin, closed, &buf[off..off + k]).await {
                        return TcpClosed::ClosedByEdge;
                    }
                    off += k;
                }
                Frame::Garbage(why) => return TcpClosed::Unframed(why),
            }
        }
        // A full read (more is waiting) or an incomplete message: read more
        // at once next time. Otherwise the socket is drained: back to quiet
        // size, and nothing kept.
        if off == buf.len() {
            buf = Vec::new();
        } else {
            buf.drain(..off);
        }
        want = if n == want || !buf.is_empty() { (want * 2).min(READ_MAX) } else { READ_MIN };
        if closed.get() || shard.stopping.get() {
            return TcpClosed::ClosedByEdge;
        }
    }
}

/// One read of at most `want` bytes, appended to `buf`. The bytes land in
/// the shard's scratch buffer, borrowed for the length of one poll only
/// (never across an await), and are copied out at once.
async fn read_some<R: futures_lite::AsyncRead + Unpin>(
    shard: &Shard,
    rd: &mut R,
    want: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut scratch = shard.read_scratch.borrow_mut();
        if scratch.len() < want {
            scratch.resize(want, 0);
        }
        let read = std::pin::Pin::new(&mut *rd).poll_read(cx, &mut scratch[..want]);
        if let std::task::Poll::Ready(Ok(n)) = read {
            buf.extend_from_slice(&scratch[..n]);
        }
        read
    })
    .await
}

/// Waits (at most `limit`) until every queued flow write has been written.
pub async fn drain(shard: &Shard, limit: Duration) {
    let deadline = Instant::now() + limit;
    while shard.flows.borrow().queued() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}
