//! Every message one shard sends another: one enum, owned data only (no
//! closures, no Rc), so it can cross threads through glommio's shared
//! channels. Shards batch these per destination per loop turn.

use super::proxy::state::Target;
use super::registrar::{BindingView, RegisterOp, Reject};
use super::{FlowId, Origin};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug)]
pub enum MeshMsg {
    /// A SIP response that arrived on the wrong shard: its top Via branch
    /// names the shard holding the transaction.
    Response { origin: Origin, bytes: Vec<u8> },
    /// A REGISTER authenticated on `reply_to`, for the shard owning its AOR.
    Register { reply_to: u16, token: u64, op: Box<RegisterOp> },
    /// The owner's answer: the AOR's bindings after the update, or a refusal.
    Registered { token: u64, result: Result<Vec<BindingView>, Reject> },
    /// The proxy on `reply_to` wants the bindings of an AOR this shard owns.
    Lookup { reply_to: u16, token: u64, aor: Vec<u8> },
    /// The owner's answer: where to fork to (empty: nobody registered).
    Located { token: u64, targets: Vec<Target> },
    /// Bytes for a connection this shard owns (a binding's flow).
    FlowSend { flow: FlowId, peer: SocketAddr, bytes: Vec<u8> },
    /// An upstream of the core went up or down (probe or timeout).
    Health { upstream: usize, up: bool },
    /// A request this shard could not write (its flow is gone), for the
    /// shard whose branch sent it: that branch fails at once (RFC 5626 430).
    Undeliverable { bytes: Vec<u8> },
    /// An authentication failure from `ip`, for the shard owning that IP
    /// (which counts them all, and bans at the threshold).
    AuthFailed { ip: IpAddr },
    /// A ban decided by one shard, for every other.
    Ban(super::protect::Ban),
}
