//! Every message one shard sends another: one enum, owned data only (no
//! closures, no Rc), so it can cross threads through glommio's shared
//! channels. Shards batch these per destination per loop turn.

use super::Origin;

#[derive(Debug)]
pub enum MeshMsg {
    /// A SIP response that arrived on the wrong shard: its top Via branch
    /// names the shard holding the transaction.
    Response { from_shard: u16, origin: Origin, bytes: Vec<u8> },
}
