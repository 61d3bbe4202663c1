//! The `[proxy]` table: transaction timers, forking, trust, authentication
//! of calls, upstream routes with failover, answer mapping and topology
//! hiding. Every value is checked while it is read, so a bad one is refused
//! with its line and key like any other.

use super::dns::UpstreamAddr;
use super::{Bounded, Secret, Transport};
use serde::{de, Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Address blocks are the core's type; this room only reads them from text.
pub use crate::core::net::Cidr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forking {
    /// Every binding at once (up to `max_branches`).
    Parallel,
    /// One binding at a time, highest q first.
    Serial,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Proxy {
    /// Record-Route dialog-creating requests (two when the transport or interface changes).
    pub record_route: bool,
    pub forking: Forking,
    pub max_branches: Bounded<1, 32>,
    /// RFC 3261 T1, T2, T4 in milliseconds.
    pub t1_ms: Bounded<10, 10000>,
    pub t2_ms: Bounded<100, 60000>,
    pub t4_ms: Bounded<100, 60000>,
    /// Networks of the operator's core: never challenged, their Route headers trusted.
    pub trusted: Vec<Cidr>,
    /// Out-of-dialog methods from local users challenged with 407 when `[auth]` is on.
    pub authenticate: Vec<String>,
    /// Upstream answers (and timeouts, as 408) that make the edge try the next upstream.
    pub failover_on: Vec<Bounded<300, 699>>,
    /// Upstream negative answer -> answer the client gets, e.g. `500 = 480`.
    pub map_answers: BTreeMap<Code, Bounded<300, 699>>,
    /// Hide the core's Via, Record-Route and Contact from devices.
    pub topology_hiding: bool,
    /// Key of the tokens topology hiding hands out: 64 hex digits; empty = random at start
    /// (in-dialog requests then fail after a restart).
    pub topology_key: Secret,
    /// OPTIONS probe of every upstream, seconds; 0 = no probing.
    pub probe_interval_secs: Bounded<0, 3600>,
    /// Timer C: an INVITE branch ringing this long without a final answer is cancelled.
    pub invite_timeout_secs: Bounded<10, 3600>,
    /// Routes to the core, tried in order; the first that matches is used.
    pub route: Vec<Route>,
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            record_route: true,
            forking: Forking::Parallel,
            max_branches: Bounded(8),
            t1_ms: Bounded(500),
            t2_ms: Bounded(4000),
            t4_ms: Bounded(5000),
            trusted: Vec::new(),
            authenticate: vec!["INVITE".into(), "MESSAGE".into(), "SUBSCRIBE".into()],
            failover_on: vec![Bounded(408), Bounded(503)],
            map_answers: BTreeMap::new(),
            topology_hiding: false,
            topology_key: Secret(None),
            probe_interval_secs: Bounded(10),
            invite_timeout_secs: Bounded(180),
            route: Vec::new(),
        }
    }
}

/// One route to the core: which requests (Request-URI host and user
/// prefix; empty = any) and where they go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub prefix: String,
    pub upstreams: Vec<Upstream>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `IP:port`, or a name resolved per request (`[dns]`, RFC 3263).
    pub addr: UpstreamAddr,
    /// udp when not given (for a name: NAPTR and SRV choose).
    #[serde(default)]
    pub transport: Option<Transport>,
    /// Share of first attempts among the route's upstreams; 0 = backup only.
    #[serde(default = "one")]
    pub weight: Bounded<0, 1000>,
    /// TLS upstreams: the name their certificate must carry (empty: the
    /// certificate must carry the address's IP).
    #[serde(default)]
    pub server_name: String,
}

impl Upstream {
    /// The transport of an upstream given by address (UDP unless set); a
    /// name's, when its URI or `transport` key gives one (TLS for `sips:`).
    pub fn transport(&self) -> Transport {
        let named = match &self.addr {
            UpstreamAddr::Name(n) => n.transport.map(Transport::of).or(n.secure.then_some(Transport::Tls)),
            UpstreamAddr::Addr(_) => None,
        };
        self.transport.or(named).unwrap_or(Transport::Udp)
    }
}

fn one() -> Bounded<0, 1000> {
    Bounded(1)
}

/// A status code written as a table key (`503 = 480`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Code(pub u16);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse::<u16>() {
            Ok(c) if (300..=699).contains(&c) => Ok(Code(c)),
            _ => Err(de::Error::custom(format!("`{s}` is not a status code between 300 and 699"))),
        }
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).ok_or_else(|| de::Error::custom(format!("`{s}` is not an address or address/prefix-length")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_read_through_the_core_parser() {
        let c: Cidr = serde_json::from_str("\"10.0.0.0/8\"").unwrap();
        assert_eq!(c, Cidr::parse("10.0.0.0/8").unwrap());
    }

    #[test]
    fn bad_cidr_and_code_refused() {
        assert!(serde_json::from_str::<Cidr>("\"10.0.0.0/33\"").is_err());
        assert!(serde_json::from_str::<Cidr>("\"example.com\"").is_err());
        assert!(serde_json::from_str::<Code>("\"200\"").is_err());
        assert!(serde_json::from_str::<Code>("\"x\"").is_err());
        assert_eq!(serde_json::from_str::<Code>("\"503\"").unwrap(), Code(503));
    }
}
