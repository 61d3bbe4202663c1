//! EDGE LOGIC, sans-IO. `Edge::handle(now, input, out)` takes one input
//! (a datagram, a stream frame, a message from another shard) and appends the
//! effects to perform (`Output`) to `out`. Nothing here reads a clock or
//! touches a socket: `shard/` does that, which makes every rule here
//! testable deterministically.

pub mod auth;
pub mod counters;
pub mod edge;
pub mod framing;
pub mod location;
pub mod mesh;
pub mod owner;
pub mod proxy;
pub mod registrar;
pub mod timer;
pub mod transaction;

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
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// Kamailio's protocol numbers (1 UDP, 2 TCP, 3 TLS): nathelper's
    /// alias and the dialog tokens spell transports with them.
    pub fn proto_number(self) -> u8 {
        match self {
            Transport::Udp => 1,
            Transport::Tcp => 2,
            Transport::Tls => 3,
        }
    }

    pub fn from_proto_number(n: u8) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.proto_number() == n)
    }

    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

impl From<crate::config::Transport> for Transport {
    fn from(t: crate::config::Transport) -> Self {
        match t {
            crate::config::Transport::Udp => Transport::Udp,
            crate::config::Transport::Tcp => Transport::Tcp,
            crate::config::Transport::Tls => Transport::Tls,
        }
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
