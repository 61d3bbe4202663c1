//! The one pair of variants through which the core asks something of the
//! outside world and gets the answer back: `Output::Ask { token, ask }` out,
//! `Input::Answer { token, answer }` in, the work that waits for it parked
//! meanwhile in `core::pending` under the same token.
//!
//! An ask says what is wanted and of whom, never how to get there: the core
//! names no channel, socket or thread. Only `shard/` routes an ask (today
//! every ask goes over the mesh to the shard named in it, whose core serves
//! it; Redis and DNS asks will go to their I/O threads) and feeds the answer
//! back. An ask that cannot be handed over at all is answered `Unreachable`
//! at once by whoever routes it, so nothing waits for an answer that cannot
//! come. A new kind of question is a variant here, an answer variant, and a
//! route in `shard/`.

use super::location::shared::{Fetched, StoreWrite, Written};
use super::proxy::state::Target;
use super::registrar::{BindingView, RegisterOp, Reject};
use super::resolve::{Dest, Failure, Resolved};

/// A question for someone outside the core.
#[derive(Debug)]
pub enum Ask {
    /// Apply an authenticated REGISTER to an AOR that shard `shard` owns.
    Register { shard: u16, op: Box<RegisterOp> },
    /// The bindings of an AOR that shard `shard` owns, as targets to fork to
    /// (`only`: the one a mid-registrar tag names).
    Lookup { shard: u16, aor: Vec<u8>, only: Option<u64> },
    /// One atomic update of one AOR in the shared location (`[cluster]`).
    Store(Box<StoreWrite>),
    /// Every binding of an AOR in the shared location.
    Fetch { aor: Vec<u8> },
    /// Up to `want` tokens of the bucket of `key` under rate-limit rule
    /// `rule`, from shard `shard` that owns it (`core::protect`, leases);
    /// `returning`: what the asker's expired lease left, given back.
    Lease { shard: u16, rule: u16, key: Vec<u8>, want: u32, returning: u32 },
    /// The targets of a SIP destination given by name (RFC 3263), from the
    /// resolver room.
    Resolve(Dest),
}

impl Ask {
    /// The shard an ask is for; None: an I/O room's (the store's, the resolver's).
    pub fn shard(&self) -> Option<u16> {
        match self {
            Ask::Register { shard, .. } | Ask::Lookup { shard, .. } | Ask::Lease { shard, .. } => Some(*shard),
            Ask::Store(_) | Ask::Fetch { .. } | Ask::Resolve(_) => None,
        }
    }
}

/// What came back.
#[derive(Debug)]
pub enum Answer {
    /// To `Ask::Register`: the AOR's bindings after the update, or a refusal.
    Registered(Result<Vec<BindingView>, Reject>),
    /// To `Ask::Lookup`: where to fork to (empty: nobody registered).
    Located(Vec<Target>),
    /// To `Ask::Store`: the AOR's bindings after the update, or the store's refusal.
    Stored(Written),
    /// To `Ask::Fetch`.
    Fetched(Fetched),
    /// To `Ask::Lease`: the tokens lent, and 0, or the milliseconds until
    /// the owner's bucket has a token again (it is empty now).
    Leased { tokens: u32, wait_ms: u64 },
    /// To `Ask::Resolve`: the name's candidates, or why there are none.
    Resolved(Result<Resolved, Failure>),
    /// The asked party could not be reached (its queue was full, the store
    /// is down or missed its deadline): no other answer will come.
    Unreachable,
}
