//! Every message one shard sends another: one enum, owned data only (no
//! closures, no Rc), so it can cross threads through glommio's shared
//! channels. Shards batch these per destination per loop turn.
//!
//! Questions one shard's core asks another (`Output::Ask`, see `core::ask`)
//! travel as `Ask` and come back as `Answer`: `shard/` wraps them, the
//! owner's core serves them, and the asking shard feeds the answer to its
//! core as `Input::Answer`.

use super::ask::{Answer, Ask};
use super::{FlowId, Origin};
use std::net::{IpAddr, SocketAddr};
#[derive(Debug)]
pub enum MeshMsg {
    /// A SIP response that arrived on the wrong shard: its top Via branch
    /// names the shard holding the transaction.
    Response { origin: Origin, bytes: Vec<u8> },
    /// A request for this shard to handle as if it had received it: a
    /// REGISTER for an AOR it owns, in mid-registrar mode.
    Request { origin: Origin, bytes: Vec<u8> },
    /// A question the core of shard `reply_to` asked this shard (a REGISTER
    /// for an AOR it owns, a lookup of one); the answer goes back to it.
    Ask { reply_to: u16, token: u64, ask: Ask },
    /// The answer to an ask this shard sent.
    Answer { token: u64, answer: Answer },
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
    /// Requests per source IP read since the last report, for the shard
    /// owning those IPs (the flood tripwire counts over every shard).
    FloodCounts(Vec<(IpAddr, u32)>),
    /// Tokens of a rate-limit lease not spent, back to the key's owner.
    LeaseReturn { rule: u16, key: Vec<u8>, tokens: u32 },
}
