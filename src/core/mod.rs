//! EDGE LOGIC, sans-IO. `Edge::handle(now, input, out)` takes one input
//! (a datagram, a stream frame, a WebSocket message, a message from another
//! shard, the answer to something it asked) and appends the effects to
//! perform (`Output`) to `out`. Nothing here reads a clock or touches a
//! socket: `shard/` does that, which makes every rule here testable
//! deterministically. What the core waits for (`ask`) is parked in one
//! table (`pending`).

pub mod ask;
pub mod auth;
pub mod chunked;
pub mod counters;
pub mod edge;
pub mod framing;
pub mod location;
pub mod mesh;
pub mod net;
pub mod owner;
pub mod pack;
pub mod pending;
pub mod profile;
pub mod protect;
pub mod proxy;
pub mod registrar;
pub mod resolve;
pub mod split_map;
pub mod timer;
pub mod trace;
pub mod transaction;

pub use ask::{Answer, Ask};
pub use counters::Counters;
pub use edge::{AuthConfig, Dest, Edge, EdgeConfig, Input, Output, Packet};
pub use mesh::MeshMsg;

use std::net::SocketAddr;

/// Transport a message arrived on or leaves by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    /// SIP over WebSocket (RFC 7118), one message per WebSocket message.
    Ws,
    /// SIP over secure WebSocket (WebSocket over TLS).
    Wss,
}

impl Transport {
    pub const ALL: [Transport; 5] = [Transport::Udp, Transport::Tcp, Transport::Tls, Transport::Ws, Transport::Wss];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// The Via transport token (RFC 3261 §20.42, RFC 7118 §5.1).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Kamailio's protocol numbers (1 UDP, 2 TCP, 3 TLS, 5 WS, 6 WSS; 4 is
    /// SCTP, which the edge does not speak): nathelper's alias and the
    /// dialog tokens spell transports with them.
    pub fn proto_number(self) -> u8 {
        match self {
            Transport::Udp => 1,
            Transport::Tcp => 2,
            Transport::Tls => 3,
            Transport::Ws => 5,
            Transport::Wss => 6,
        }
    }

    pub fn from_proto_number(n: u8) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.proto_number() == n)
    }

    /// Connection-oriented, so reliable: no retransmission timers (§17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// How a message is delimited: a byte stream needs Content-Length;
    /// datagrams and WebSocket messages carry their own boundaries (RFC
    /// 7118 §5: Content-Length is not needed over WebSocket).
    pub fn framing(self) -> crate::sip::Framing {
        match self {
            Transport::Tcp | Transport::Tls => crate::sip::Framing::Stream,
            Transport::Udp | Transport::Ws | Transport::Wss => crate::sip::Framing::Datagram,
        }
    }

    /// The URI `transport` parameter value naming it (case-insensitive).
    pub fn from_uri_param(value: &[u8]) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.label().as_bytes().eq_ignore_ascii_case(value))
    }
}

/// A connection (flow, RFC 5626) owned by one shard: only that shard reads
/// or writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId {
    pub shard: u16,
    pub conn: u32,
}

/// Where a message came from: enough to answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub transport: Transport,
    /// Index of the listener (in config order) it arrived on.
    pub listener: u16,
    pub peer: SocketAddr,
    /// The connection it arrived on, for stream transports.
    pub flow: Option<FlowId>,
}
