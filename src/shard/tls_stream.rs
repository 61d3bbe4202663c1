//! TLS over a connection's byte stream, on rustls' unbuffered API: the
//! handshake (either side) and then a stream that reads and writes SIP
//! bytes through the session.
//!
//! Why not rustls' buffered `ServerConnection` (or futures-rustls on it):
//! it keeps a 4 KiB receive buffer for as long as the connection lives,
//! refilled before every read, also while the peer is quiet. An idle TLS
//! connection is what a shard holds by the ten thousand (phones register
//! and wait), and that buffer was over a third of one (11.3 kB measured,
//! `bench/idle-tls.sh`). Here the session keeps no buffer of its own: what
//! arrives is read into the caller's buffer (the shard's scratch while
//! polled, see `conn.rs`), and the connection keeps only what it cannot
//! hand on yet (an incomplete record, decrypted bytes the caller has not
//! taken, records not yet written), each freed once empty.
//!
//! Both halves of a split stream share one session: the reader takes in
//! every complete record before it returns, so the writer, asking the
//! session for leave to encrypt, never finds records waiting for it.

use futures_lite::{AsyncRead, AsyncWrite};
use rustls::unbuffered::{ConnectionState, EncryptError, UnbufferedConnectionCommon, UnbufferedStatus};
use std::io;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// Read size while a handshake is in progress.
const HANDSHAKE_READ: usize = 4 * 1024;

/// One side of a session: rustls names the record processing per side.
pub trait Side: DerefMut<Target = UnbufferedConnectionCommon<Self::Data>> + Unpin {
    type Data;
    fn records<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Side for rustls::server::UnbufferedServerConnection {
    type Data = rustls::server::ServerConnectionData;
    fn records<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Side for rustls::client::UnbufferedClientConnection {
    type Data = rustls::client::ClientConnectionData;
    fn records<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// A TLS session over the byte stream `io`.
pub struct TlsStream<S, C> {
    io: S,
    session: C,
    /// Received bytes not yet processed: an incomplete record.
    incoming: Vec<u8>,
    /// Decrypted bytes the reader has not taken yet.
    plain: Vec<u8>,
    /// Records to write, and how much of them is written.
    outgoing: Vec<u8>,
    sent: usize,
    /// The peer ended (close_notify or end of stream): reads give 0.
    peer_closed: bool,
    close_sent: bool,
}

/// What the session asks for after everything received was taken in.
#[derive(PartialEq)]
enum Step {
    /// Application data may be written (and was, if some was given).
    Writable,
    /// The handshake waits for the peer.
    Blocked,
    /// Closed both ways.
    Closed,
}

/// What to put through the session on the way.
enum Out<'a> {
    Nothing,
    Data(&'a [u8]),
    CloseNotify,
}

/// Accepts a TLS session on `io` (the server side of the handshake).
pub async fn accept<S>(
    config: Arc<rustls::ServerConfig>,
    io: S,
) -> io::Result<TlsStream<S, rustls::server::UnbufferedServerConnection>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = rustls::server::UnbufferedServerConnection::new(config).map_err(invalid)?;
    TlsStream::new(io, session).handshake().await
}

/// Opens a TLS session on `io` to `name` (the client side).
pub async fn connect<S>(
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
    io: S,
) -> io::Result<TlsStream<S, rustls::client::UnbufferedClientConnection>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = rustls::client::UnbufferedClientConnection::new(config, name).map_err(invalid)?;
    TlsStream::new(io, session).handshake().await
}

/// A TLS failure as an I/O error that carries it (`conn.rs` reads the
/// cause back out for its failure counts).
fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin, C: Side> TlsStream<S, C> {
    fn new(io: S, session: C) -> Self {
        TlsStream {
            io,
            session,
            incoming: Vec::new(),
            plain: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            peer_closed: false,
            close_sent: false,
        }
    }

    /// Runs the handshake to its end; on a failure, the alert rustls
    /// queued for the peer goes out (best effort) before the error.
    async fn handshake(mut self) -> io::Result<Self> {
        loop {
            let step = self.pump(Out::Nothing);
            let flushed = std::future::poll_fn(|cx| self.poll_flush_out(cx)).await;
            let step = step?;
            flushed?;
            if !self.session.is_handshaking() {
                return Ok(self);
            }
            if step == Step::Closed {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let n = std::future::poll_fn(|cx| self.poll_read_more(cx, HANDSHAKE_READ)).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Takes in every complete record of `incoming` (application data to
    /// `plain`, what the session answers to `outgoing`), then puts `out`
    /// through the session if it may be written.
    fn pump(&mut self, mut out: Out) -> io::Result<Step> {
        loop {
            let UnbufferedStatus { discard, state } = self.session.records(&mut self.incoming);
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    self.incoming.drain(..discard);
                    self.encode_alerts();
                    return Err(invalid(e));
                }
            };
            let step = match state {
                ConnectionState::ReadTraffic(mut r) => {
                    while let Some(record) = r.next_record() {
                        self.plain.extend_from_slice(record.map_err(invalid)?.payload);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut e) => {
                    grow_into(&mut self.outgoing, 1024, |buf| {
                        e.encode(buf).map_err(|e| match e {
                            rustls::unbuffered::EncodeError::InsufficientSize(s) => Some(s.required_size),
                            _ => None,
                        })
                    })?;
                    None
                }
                // Encoded records wait in `outgoing`, in order, until written.
                ConnectionState::TransmitTlsData(t) => {
                    t.done();
                    None
                }
                ConnectionState::WriteTraffic(mut w) => {
                    match std::mem::replace(&mut out, Out::Nothing) {
                        Out::Nothing => {}
                        Out::Data(data) => grow_into(&mut self.outgoing, sealed_size(data.len()), |buf| {
                            encrypted(w.encrypt(data, buf))
                        })?,
                        Out::CloseNotify => {
                            grow_into(&mut self.outgoing, 64, |buf| encrypted(w.queue_close_notify(buf)))?;
                            self.close_sent = true;
                        }
                    }
                    Some(Step::Writable)
                }
                ConnectionState::PeerClosed => {
                    self.peer_closed = true;
                    None
                }
                ConnectionState::Closed => Some(Step::Closed),
                // (Early data, the other state, is never enabled.)
                _ => Some(Step::Blocked),
            };
            self.incoming.drain(..discard);
            if let Some(step) = step {
                if self.incoming.is_empty() {
                    self.incoming = Vec::new();
                }
                return Ok(step);
            }
        }
    }

    /// After a failure: the alert the session queued, into `outgoing`.
    /// (Only while one is queued: the session hands those out before it
    /// looks at `incoming` again, which an error leaves as it was.)
    fn encode_alerts(&mut self) {
        while self.session.wants_write() {
            let UnbufferedStatus { state, .. } = self.session.records(&mut self.incoming);
            let Ok(ConnectionState::EncodeTlsData(mut e)) = state else { return };
            let _ = grow_into(&mut self.outgoing, 64, |buf| e.encode(buf).map_err(|_| None));
        }
    }

    /// Writes `outgoing` out; Ready once all of it is written.
    fn poll_flush_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.outgoing = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Reads at most `max` more bytes into `incoming`.
    fn poll_read_more(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        let at = self.incoming.len();
        self.incoming.resize(at + max, 0);
        let read = Pin::new(&mut self.io).poll_read(cx, &mut self.incoming[at..]);
        let n = match &read {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        self.incoming.truncate(at + n);
        read
    }

    /// Hands `buf` what was decrypted, from the front.
    fn take_plain(&mut self, buf: &mut [u8]) -> usize {
        let n = self.plain.len().min(buf.len());
        buf[..n].copy_from_slice(&self.plain[..n]);
        if n == self.plain.len() {
            self.plain = Vec::new();
        } else {
            self.plain.drain(..n);
        }
        n
    }
}

/// Lets `write` put bytes at the end of `out`: `room` of them, or as many
/// as the session then asks for (`Err(Some(size))`).
fn grow_into(
    out: &mut Vec<u8>,
    mut room: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> io::Result<()> {
    let at = out.len();
    for _ in 0..2 {
        out.resize(at + room, 0);
        match write(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return Ok(());
            }
            Err(Some(needed)) => room = needed,
            Err(None) => break,
        }
    }
    out.truncate(at);
    Err(io::Error::other("TLS: cannot encode a record"))
}

/// Room for `len` bytes of application data once sealed: a record per
/// 16 KiB, each with a header, a content type and a tag (22 bytes in TLS
/// 1.3; TLS 1.2's explicit nonce adds 8). Too little only costs a retry.
fn sealed_size(len: usize) -> usize {
    len + (len / 16_384 + 1) * 32
}

/// An encryption's result as `grow_into` wants it.
fn encrypted(r: Result<usize, EncryptError>) -> Result<usize, Option<usize>> {
    r.map_err(|e| match e {
        EncryptError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin, C: Side> AsyncRead for TlsStream<S, C> {
    /// The ciphertext is read into `buf` itself (the caller's scratch),
    /// then only an incomplete record's bytes are kept.
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if !this.plain.is_empty() {
                return Poll::Ready(Ok(this.take_plain(buf)));
            }
            if this.peer_closed || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            // What the session answered (a key update) goes out when it can;
            // the writer flushes it too.
            let _ = this.poll_flush_out(cx);
            let n = ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
            if n == 0 {
                this.peer_closed = true;
                continue;
            }
            this.incoming.extend_from_slice(&buf[..n]);
            if this.pump(Out::Nothing)? == Step::Closed {
                this.peer_closed = true;
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, C: Side> AsyncWrite for TlsStream<S, C> {
    /// Accepts `data` once earlier records are written; its record is
    /// written at once as far as the socket takes it (`poll_flush` for
    /// the rest).
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_flush_out(cx))?;
        if this.close_sent {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        match this.pump(Out::Data(data))? {
            Step::Writable => {}
            _ => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
        let _ = this.poll_flush_out(cx)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_out(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    /// Sends close_notify, then ends the byte stream.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sent {
            ready!(this.poll_flush_out(cx))?;
            // A session that cannot write any more has nothing to say.
            let _ = this.pump(Out::CloseNotify);
            this.close_sent = true;
        }
        ready!(this.poll_flush_out(cx))?;
        Pin::new(&mut this.io).poll_close(cx)
    }
}
