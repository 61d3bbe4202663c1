//! Every message one shard sends another: one enum, owned data only (no
//! closures, no Rc), so it can cross threads through glommio's shared
//! channels. Shards batch these per destination per loop turn.

use super::registrar::{BindingView, RegisterOp, Reject};
use super::Origin;

#[derive(Debug)]
pub enum MeshMsg {
    /// A SIP response that arrived on the wrong shard: its top Via branch
    /// names the shard holding the transaction.
    Response { origin: Origin, bytes: Vec<u8> },
    /// A REGISTER authenticated on `reply_to`, for the shard owning its AOR.
    Register { reply_to: u16, token: u64, op: Box<RegisterOp> },
    /// The owner's answer: the AOR's bindings after the update, or a refusal.
    Registered { token: u64, result: Result<Vec<BindingView>, Reject> },
}
