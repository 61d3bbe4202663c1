//! DNS for SIP, sans-IO (RFC 3263): what a name means, in which order its
//! targets are tried, and what a shard remembers of the answers.
//!
//! - `dest`: a destination given by name (`sip:core.example.net`,
//!   `core.example.net:5080`, a Route or Request-URI host), parsed from a URI.
//! - `select`: the RFC 3263 §4 procedure as pure steps (which query first,
//!   what a NAPTR set or an SRV set leads to) and RFC 2782 ordering.
//! - `names`: a shard's cache of resolved names: TTLs with floor and
//!   ceiling, negative answers, brief failures that never hide good data,
//!   stale answers served while a refresh fails (RFC 8767), refresh before
//!   expiry, merged lookups, a bound on entries, and the blocklist of
//!   targets that just failed.
//!
//! The queries themselves run in the resolver room (`services::resolver`),
//! off the shard cores; this module names no DNS library type.

pub mod dest;
pub mod names;
pub mod select;

pub use dest::Dest;
pub use names::{Lookup, Names, NamesConfig};

use super::Transport;
use std::net::IpAddr;

/// One way to reach a resolved name: a transport and port (from NAPTR and
/// SRV, or the defaults) and the addresses of the host, with the SRV
/// priority (lower first; NAPTR order folded in) and weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub priority: u32,
    pub weight: u16,
    pub transport: Transport,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// A name resolved: its candidates in priority order (the weighted order
/// within a priority is drawn per request) and how long this may be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub candidates: Vec<Candidate>,
    pub ttl_ms: u64,
}

/// Why a name gave no targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The name does not exist, or has no usable records: negative, kept
    /// for the given time (the SOA's, capped).
    NotFound { ttl_ms: u64 },
    /// No server answered in time.
    Timeout,
    /// A server failed (SERVFAIL) or refused.
    ServerFailed,
    /// The lookup did not finish within its budget.
    Budget,
    /// The resolver could not take the lookup (its queue was full).
    Unreachable,
}

impl Failure {
    pub fn label(self) -> &'static str {
        match self {
            Failure::NotFound { .. } => "not_found",
            Failure::Timeout => "timeout",
            Failure::ServerFailed => "server_failed",
            Failure::Budget => "budget",
            Failure::Unreachable => "unreachable",
        }
    }

    /// The answer a request whose only target failed this way gets.
    pub fn answer(self) -> (u16, &'static str) {
        match self {
            Failure::NotFound { .. } => (404, "Destination Not Found In DNS"),
            _ => (503, "DNS Lookup Failed"),
        }
    }
}
