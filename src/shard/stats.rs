//! What a shard counts about its own I/O, apart from the core's counters:
//! sockets that failed, receive batches, keepalives, the mesh's asks and
//! answers, and the reasons connections and handshakes end. Only shard code
//! writes these; `tick::flush` publishes them with the core's
//! (`telemetry::publish`), under the same metric names where the two meet
//! (`sipedge_drops_total`, `sipedge_mesh_*_total`): their labels differ
//! (checked below), their counts add up.

use crate::core::framing::Unframed;
use crate::reason::Tally;

crate::reasons! {
    /// Messages the shard could not read or write (`sipedge_drops_total`).
    pub enum IoDrop {
        UdpRecvError => "udp recv error",
        DatagramTruncated => "datagram truncated",
        UdpSendFailed => "udp send failed",
        ConnectionQueueFull => "connection queue full",
        FlowGone => "flow gone",
        FlowQueueFull => "flow queue full",
    }
}

crate::reasons! {
    /// Connections refused at accept (`sipedge_tcp_refused_total`).
    pub enum TcpRefused {
        ShardLimit => "shard limit",
        PerIpLimit => "per-IP limit",
    }
}

crate::reasons! {
    /// Why a connection ended (`sipedge_tcp_closed_total`).
    pub enum TcpClosed {
        PeerClosed => "peer closed",
        IdleTimeout => "idle timeout",
        ReadError => "read error",
        ClosedByEdge => "closed by edge",
        ConnectFailed => "connect failed",
        TlsHandshakeFailed => "tls handshake failed",
        WsOverBufferLimit => "websocket message over buffer limit",
        WsProtocolError => "websocket protocol error",
        WsTextNotUtf8 => "websocket text not UTF-8",
        ;
        /// The byte stream can never become a message.
        Unframed(Unframed),
    }
}

crate::reasons! {
    /// TLS handshakes that failed, by cause
    /// (`sipedge_tls_handshake_failures_total`).
    pub enum TlsFailure {
        HandshakeTimeout => "handshake timeout",
        ConnectionLost => "connection lost",
        ProtocolVersion => "protocol version",
        NoCommonCipher => "no common cipher",
        NoCommonKx => "no common key exchange or signature",
        IncompatibleClient => "incompatible client",
        NotTls => "not TLS",
        UpstreamCertificate => "upstream certificate",
        ClientCertificate => "client certificate",
        AlertFromClient => "alert from client",
        NoOutgoingTls => "no outgoing TLS configured",
        Other => "other",
    }
}

crate::reasons! {
    /// WebSocket upgrades refused (`sipedge_ws_handshakes_refused_total`).
    pub enum WsRefused {
        HandshakeTimeout => "handshake timeout",
        NoSipSubprotocol => "no sip subprotocol",
        NotAnUpgrade => "not a websocket upgrade",
        BadHeaders => "bad websocket headers",
        ConnectionLost => "connection lost",
        BadRequest => "bad request",
    }
}

/// The shard's own I/O counters.
#[derive(Clone, Debug, Default)]
pub struct IoStats {
    pub drops: Tally<IoDrop>,
    /// UDP receive batches (recvmmsg calls that returned data): messages
    /// per batch shows how much the load lets the shard amortize.
    pub udp_batches: u64,
    /// CRLF keepalives answered on stream transports.
    pub keepalives: u64,
    /// Asks routed to another shard over the mesh.
    pub mesh_sent: u64,
    /// Answers to this shard's asks taken in from the mesh.
    pub mesh_received: u64,
    /// Messages that could not be handed over because the queue was full.
    pub mesh_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::counters::{Drop, Malformed};
    use crate::reason::Reason;

    fn labels<R: Reason>() -> Vec<&'static str> {
        R::all().map(R::label).collect()
    }

    /// Families published under one metric name must not share a label,
    /// or one series would overwrite the other.
    #[test]
    fn labels_sharing_a_metric_are_distinct() {
        let mut drops = labels::<Drop>();
        drops.extend(labels::<IoDrop>());
        for family in
            [drops, labels::<Malformed>(), labels::<TcpClosed>(), labels::<TlsFailure>(), labels::<WsRefused>()]
        {
            let mut unique = family.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), family.len(), "{family:?}");
        }
    }
}
