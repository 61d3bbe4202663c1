//! Stateless proxy rewriting (RFC 3261 §16.6 and §16.7 step 3), sans-IO:
//! bytes in, bytes out, no clock, no sockets, no transaction state.
//!
//! - [`forward_request`] turns a received request into the copy that goes to
//!   one target: Request-URI, Max-Forwards, loose routing (§16.4, including
//!   the strict-router repair), Record-Route (doubled per RFC 5658 when the
//!   transport or interface changes), Path values as Route (RFC 3327), our
//!   Via with the shard-owned branch of [`crate::core::owner::write_branch`],
//!   and a simple loop check (§16.3 step 4).
//! - [`strip_top_via`] turns a response to a request we forwarded into the
//!   response that goes upstream: checks that the top Via value is ours and
//!   removes that one value.
//!
//! Both are built on [`crate::sip::Editor`]: every byte not edited is
//! copied verbatim (unknown headers, header order, folding, compact names,
//! the body and its Content-Length). Inserted lines (Via, Record-Route,
//! Route from Path, a missing Max-Forwards) go on top of the header section,
//! in that order, with CRLF line ends.
//!
//! [`hygiene`] decides which relayed messages have their SDP codecs
//! filtered and which header patterns are removed in which direction.
//!
//! What is deliberately not here: choosing targets and destinations (the
//! caller passes the target URI and uses [`route_plan`] to learn the
//! effective Request-URI and next hop), the next-hop strict-router rewrite
//! of §16.6 step 6 (a remaining top Route without `lr` is left as it is),
//! `maddr`, and the spiral/loop distinction of §16.3 step 4 by branch hash
//! (see [`forward_request`]: any earlier Via of ours with a shard branch is
//! a loop).

pub mod ack;
mod forward;
pub mod hygiene;
pub mod lingering;
mod response;
pub mod route;
pub mod state;
pub mod table;
pub mod token;
pub mod wake;

pub use forward::{forward_request, route_plan, RoutePlan};
pub use response::strip_top_via;

use crate::sip::{parse_name_addr, Scheme};

/// What the edge knows about itself when it forwards.
#[derive(Clone, Copy, Debug)]
pub struct Hop<'a> {
    /// Shard that holds the client transaction; goes into the Via branch.
    pub shard: u16,
    /// Unique per shard; goes into the Via branch.
    pub seq: u64,
    /// Via transport token of the outgoing listener ("UDP", "TCP").
    pub transport: &'a str,
    /// Advertised host of the outgoing listener (IPv6 with brackets).
    pub host: &'a [u8],
    pub port: u16,
    /// The listener the request arrived on.
    pub in_transport: &'a str,
    pub in_host: &'a [u8],
    pub in_port: u16,
    /// Add Record-Route (the caller decides: dialog-creating requests).
    pub record_route: bool,
    /// Where the request came from: the sender's Via gets `received` (and
    /// its empty `rport` filled) when its sent-by differs (§18.2.1, RFC
    /// 3581 §4), so the next hop sees what the edge saw. None: left as is.
    pub source: Option<std::net::SocketAddr>,
    /// Stamp `rport` on the sender's Via though it did not ask (a
    /// profile's `nat = "always"`).
    pub force_rport: bool,
}

/// Why a request is not forwarded; the caller answers with [`Refuse::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refuse {
    /// Max-Forwards was 0: 483.
    TooManyHops,
    /// The request already went through this edge: 482.
    Loop,
    /// Something needed for forwarding does not parse: 400 with this reason.
    BadRoute(&'static str),
}

impl Refuse {
    pub fn code(self) -> u16 {
        match self {
            Refuse::TooManyHops => 483,
            Refuse::Loop => 482,
            Refuse::BadRoute(_) => 400,
        }
    }
    pub fn reason(self) -> &'static str {
        match self {
            Refuse::TooManyHops => "Too Many Hops",
            Refuse::Loop => "Loop Detected",
            Refuse::BadRoute(r) => r,
        }
    }
}

/// Hosts compare case-insensitively, IPv6 brackets ignored on either side.
pub(crate) fn host_eq(a: &[u8], b: &[u8]) -> bool {
    fn unbracket(h: &[u8]) -> &[u8] {
        match h {
            [b'[', mid @ .., b']'] => mid,
            _ => h,
        }
    }
    unbracket(a).eq_ignore_ascii_case(unbracket(b))
}

/// Port a sent-by or URI means when it names none (RFC 3261 §18.2.2, §19.1.2).
pub(crate) fn default_port(tls: bool) -> u16 {
    if tls {
        5061
    } else {
        5060
    }
}

impl Hop<'_> {
    /// Is `host:port` one of this edge's two listeners?
    pub(crate) fn is_us(&self, host: &[u8], port: u16) -> bool {
        (port == self.port && host_eq(host, self.host)) || (port == self.in_port && host_eq(host, self.in_host))
    }

    /// Does a Route value (name-addr) point at this edge? `Err` when it does
    /// not parse.
    pub(crate) fn route_is_us(&self, value: &[u8]) -> Result<bool, ()> {
        let a = parse_name_addr(value).map_err(|_| ())?;
        Ok(self.uri_is_us(&a.uri))
    }

    pub(crate) fn uri_is_us(&self, u: &crate::sip::Uri<'_>) -> bool {
        u.is_sip() && self.is_us(u.host, u.port.unwrap_or(default_port(u.scheme == Scheme::Sips)))
    }
}

#[cfg(test)]
mod tests;
