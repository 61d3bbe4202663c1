//! WebSocket connections (RFC 6455) carrying SIP (RFC 7118), on `ws` and
//! `wss` listeners: the HTTP/1.1 upgrade, which must offer the `sip`
//! subprotocol (a handshake without it gets `400 Bad Request` and is
//! counted), then one SIP message per text or binary WebSocket message
//! both ways. The frames, masking, ping/pong and close are async-tungstenite's
//! over the glommio (or `tls_stream.rs`) stream; this file owns the choices:
//! who may upgrade, the size limit (a message over
//! `limits.tcp_max_buffered_bytes` closes the connection), pings to idle
//! peers (browsers answer pings but send no keepalives of their own, so an
//! idle tab would otherwise reach `tcp_idle_timeout_secs`), and why a
//! connection ended. The connection is a flow like any TCP one (`conn.rs`).
//!
//! A request that is no WebSocket upgrade at all (a plain GET, a port scan)
//! gets no HTTP answer: tungstenite's server handshake refuses it before
//! any response is written. It is counted, by reason, like the others.

use super::conn::{deliver, life, pong, spawn_writer, Sink};
use super::stats::{TcpClosed, WsRefused};
use super::Shard;
use crate::core::framing::{message_frame, Frame};
use crate::core::{Origin, Transport};
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Error as WsError, Message};
use async_tungstenite::{WebSocketReceiver, WebSocketSender};
use futures_lite::{AsyncRead, AsyncWrite, StreamExt};
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// The subprotocol RFC 7118 registers for SIP.
const SUBPROTOCOL: &str = "sip";

/// Upgrades an accepted connection (past TLS on `wss`), then serves it as
/// a flow until it ends. A refused or timed-out handshake is counted.
pub(super) async fn serve<S>(shard: Rc<Shard>, listener: u16, transport: Transport, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let limit = shard.config.limits.tcp_max_buffered_bytes.get() as usize;
    // A small read buffer that grows for a longer message (tungstenite's
    // default, 128 KiB allocated up front, would dwarf what an idle
    // connection costs, see `conn.rs`); writes go out whole, one at a time.
    let config = WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let handshake = async {
        async_tungstenite::accept_hdr_async_with_config(stream, offers_sip, Some(config)).await.map_err(|e| refusal(&e))
    };
    let timeout = async {
        glommio::timer::sleep(super::conn::handshake_timeout(&shard)).await;
        Err(WsRefused::HandshakeTimeout)
    };
    // Boxed, as the TLS handshake in `conn.rs`: its state is freed once it
    // is done instead of staying part of the connection's task for life.
    let ws = match futures_lite::future::or(Box::pin(handshake), timeout).await {
        Ok(ws) => ws,
        Err(reason) => return shard.flows.borrow_mut().ws_refused.add(reason),
    };
    let conn = shard.flows.borrow_mut().accept(shard.id, peer, listener);
    let origin = Origin { transport, listener, peer, flow: Some(conn.flow) };
    let (tx, rx) = ws.split();
    let idle = Duration::from_secs(shard.config.limits.tcp_idle_timeout_secs.get());
    let writer = spawn_writer(conn.rx, WsSink { tx, ping_every: idle / 2 });
    let closed = conn.closed.clone();
    life(&shard, conn.flow, writer, read(&shard, origin, &closed, rx)).await
}

/// The handshake callback: accepts an upgrade that offers `sip` among its
/// subprotocols (any number of `Sec-WebSocket-Protocol` lines, each a
/// comma-separated list) and names it in the answer; refuses others with 400.
#[allow(clippy::result_large_err)] // the signature tungstenite's callback has
fn offers_sip(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if offered {
        response.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().expect("a valid header value"));
        return Ok(response);
    }
    let mut refusal = ErrorResponse::new(Some("SIP over WebSocket needs the subprotocol \"sip\" (RFC 7118)\n".into()));
    *refusal.status_mut() = async_tungstenite::tungstenite::http::StatusCode::BAD_REQUEST;
    Err(refusal)
}

/// Why a handshake failed, for `sipedge_ws_handshakes_refused_total`.
fn refusal(e: &WsError) -> WsRefused {
    use async_tungstenite::tungstenite::error::ProtocolError as P;
    match e {
        // Our own 400 from `offers_sip`.
        WsError::Http(_) => WsRefused::NoSipSubprotocol,
        WsError::Protocol(
            P::WrongHttpMethod
            | P::WrongHttpVersion
            | P::MissingConnectionUpgradeHeader
            | P::MissingUpgradeWebSocketHeader,
        ) => WsRefused::NotAnUpgrade,
        WsError::Protocol(
            P::MissingSecWebSocketVersionHeader | P::MissingSecWebSocketKey | P::InvalidSecWebSocketKey,
        ) => WsRefused::BadHeaders,
        WsError::Protocol(P::HandshakeIncomplete)
        | WsError::Io(_)
        | WsError::ConnectionClosed
        | WsError::AlreadyClosed => WsRefused::ConnectionLost,
        _ => WsRefused::BadRequest,
    }
}

/// Reads WebSocket messages, each one SIP message, until the connection ends.
async fn read<S: AsyncRead + AsyncWrite + Unpin>(
    shard: &Rc<Shard>,
    origin: Origin,
    closed: &Cell<bool>,
    mut rx: WebSocketReceiver<S>,
) -> TcpClosed {
    let flow = origin.flow.expect("a connection has a flow");
    loop {
        let msg = match rx.next().await {
            None => return TcpClosed::PeerClosed,
            Some(Ok(m)) => m,
            Some(Err(e)) => return read_failure(&e),
        };
        let bytes: &[u8] = match &msg {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
            // Pings are answered by tungstenite; after a Close it answers
            // too, and the next read ends the stream.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => continue,
        };
        match message_frame(bytes) {
            Frame::Ping(_) => pong(shard, flow),
            Frame::Message(_) if !deliver(shard, super::clock::now_ms(), origin, closed, bytes).await => {
                return TcpClosed::ClosedByEdge
            }
            _ => {}
        }
        if closed.get() || shard.stopping.get() {
            return TcpClosed::ClosedByEdge;
        }
    }
}

/// Why reading a WebSocket failed, for `sipedge_tcp_closed_total`.
fn read_failure(e: &WsError) -> TcpClosed {
    match e {
        WsError::Capacity(_) => TcpClosed::WsOverBufferLimit,
        WsError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => TcpClosed::IdleTimeout,
        WsError::Protocol(_) => TcpClosed::WsProtocolError,
        WsError::Utf8(_) => TcpClosed::WsTextNotUtf8,
        _ => TcpClosed::ReadError,
    }
}

/// The writing half: each queued SIP message is one WebSocket message,
/// text when it is UTF-8 (always, in practice), binary otherwise.
struct WsSink<S> {
    tx: WebSocketSender<S>,
    ping_every: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink for WsSink<S> {
    async fn put(&mut self, bytes: Vec<u8>) -> bool {
        let msg = match String::from_utf8(bytes) {
            Ok(text) => Message::text(text),
            Err(e) => Message::binary(e.into_bytes()),
        };
        self.tx.send(msg).await.is_ok()
    }

    async fn finish(&mut self) {
        let _ = self.tx.close(None).await;
    }

    fn ping_every(&self) -> Option<Duration> {
        Some(self.ping_every)
    }

    async fn ping(&mut self) -> bool {
        self.tx.send(Message::Ping(Default::default())).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(protocols: &[&str]) -> Request {
        let mut r =
            Request::builder().method("GET").uri("/").header("Connection", "Upgrade").header("Upgrade", "websocket");
        for p in protocols {
            r = r.header("Sec-WebSocket-Protocol", *p);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn only_an_upgrade_offering_sip_is_accepted() {
        let ok = offers_sip(&upgrade(&["chat, SIP"]), Response::new(())).unwrap();
        assert_eq!(ok.headers()["Sec-WebSocket-Protocol"], "sip");
        assert!(offers_sip(&upgrade(&["chat", "sip"]), Response::new(())).is_ok());
        let refused = offers_sip(&upgrade(&["chat"]), Response::new(())).unwrap_err();
        assert_eq!(refused.status(), 400);
        assert!(offers_sip(&upgrade(&[]), Response::new(())).is_err());
        assert!(offers_sip(&upgrade(&["sipx"]), Response::new(())).is_err());
    }
}
