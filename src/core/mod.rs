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
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Udp, Transport::Tcp];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
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
