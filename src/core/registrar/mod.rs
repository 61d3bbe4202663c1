//! The registrar (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 Outbound).
//!
//! A REGISTER is checked and authenticated on the shard that received it
//! (`request::prepare`), then the binding update travels to the shard that
//! owns the address-of-record (`owner::shard_of`) as an owned `RegisterOp`;
//! the owner applies it to its slice of the location table
//! (`apply::apply`) and sends back the resulting bindings, and the
//! receiving shard answers (`reply`). When both are the same shard there is
//! no hop.

pub mod apply;
pub mod date;
pub mod mid;
pub mod reply;
pub mod request;

pub use request::{ContactChange, RegisterOp};

/// Registrar settings (from `[registrar]`, translated where shards are built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Domains served, lower-case. Empty: the registrar is off (REGISTER → 501).
    pub domains: Vec<Vec<u8>>,
    /// What a registration may ask for, unless a device's profile says otherwise.
    pub terms: Terms,
    /// Over `max_contacts`: drop the oldest bindings instead of refusing.
    pub replace_oldest: bool,
    /// A mid-registrar in front of a core registrar; None = the registrar is here.
    pub mid: Option<mid::MidConfig>,
}

/// A test fixture, not the product's default (that is `config`'s): the
/// embedded default's values with no domain served. `shard::build`'s tests
/// check it against the embedded default.
#[cfg(test)]
impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: Vec::new(),
            terms: Terms {
                default_expires: 3600,
                min_expires: 60,
                max_expires: 7200,
                max_contacts: 10,
                flow_timer: 120,
            },
            replace_oldest: false,
            mid: None,
        }
    }
}

/// The terms of a registration: expiry bounds, how many bindings an AOR
/// may hold, the Flow-Timer told to outbound clients. `[registrar]`'s, or
/// a device profile's (`[[profile]]`, its unset keys taken from
/// `[registrar]`). The receiving shard picks them and the `RegisterOp`
/// carries `max_contacts` to the AOR's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    pub default_expires: u32,
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_contacts: u32,
    /// Seconds advertised in Flow-Timer for outbound registrations.
    pub flow_timer: u32,
}

/// A refused registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub code: u16,
    pub reason: &'static str,
    /// For 423 Interval Too Brief.
    pub min_expires: Option<u32>,
}

impl Reject {
    pub const fn new(code: u16, reason: &'static str) -> Reject {
        Reject { code, reason, min_expires: None }
    }
}

/// A binding as the 200 lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingView {
    pub contact: Vec<u8>,
    pub expires_at: u64,
    pub q: u16,
}
