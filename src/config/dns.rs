//! `[dns]`: how the edge resolves names (RFC 3263) off its cores — which
//! servers, how long a lookup may take, what is cached and for how long,
//! static answers for hosts without DNS — and the addresses an upstream
//! may be written as. Every value is checked while it is read.

use super::Bounded;
use crate::core::resolve::Dest;
use crate::sip::host_name;
use serde::{de, Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// DNS servers, `IP:port`; empty: the system's (/etc/resolv.conf).
    pub servers: Vec<SocketAddr>,
    /// One query's wait for an answer, milliseconds.
    pub timeout_ms: Bounded<10, 10000>,
    /// Tries per query (each server in turn).
    pub attempts: Bounded<1, 5>,
    /// Whole lookup (NAPTR, SRV, A/AAAA) at most this long; past it the
    /// request gets its final answer (503). At most Timer B (64·T1).
    pub budget_ms: Bounded<50, 16000>,
    /// TTL floor and ceiling, seconds.
    pub ttl_min_secs: Bounded<1, 86400>,
    pub ttl_max_secs: Bounded<1, 604800>,
    /// A name that does not exist is remembered for its SOA's negative TTL, at most this long.
    pub negative_max_secs: Bounded<0, 86400>,
    /// A failed lookup (timeout, SERVFAIL, refused) is remembered this long, never over good data.
    pub failure_ms: Bounded<0, 60000>,
    /// An expired answer is still served this long when its refresh fails (RFC 8767), seconds.
    pub stale_secs: Bounded<0, 604800>,
    /// Names remembered per shard.
    pub cache_entries: Bounded<16, 10000000>,
    /// A target that timed out or refused the connection is tried last for this long, seconds.
    pub blocklist_secs: Bounded<0, 3600>,
    /// Which address family is tried first when a host has both.
    pub prefer: Family,
    /// Lookups queued to the resolver thread; past it a lookup fails at once (counted).
    pub queue: Bounded<16, 1000000>,
    /// Names answered from here, never from DNS: name -> `IP:port` list, tried in order.
    #[serde(rename = "static")]
    pub statics: BTreeMap<HostName, Vec<SocketAddr>>,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            servers: Vec::new(),
            timeout_ms: Bounded(500),
            attempts: Bounded(2),
            budget_ms: Bounded(2000),
            ttl_min_secs: Bounded(5),
            ttl_max_secs: Bounded(3600),
            negative_max_secs: Bounded(300),
            failure_ms: Bounded(1000),
            stale_secs: Bounded(300),
            cache_entries: Bounded(10000),
            blocklist_secs: Bounded(30),
            prefer: Family::Ipv4,
            queue: Bounded(65536),
            statics: BTreeMap::new(),
        }
    }
}

/// A host name as a table key (`[dns.static]`), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostName(pub String);

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        host_name(&s).map(HostName).ok_or_else(|| de::Error::custom(format!("`{s}` is not a host name")))
    }
}

/// Where an upstream is: `IP:port` as before, or a name — `host`,
/// `host:port`, `sip:host[:port][;transport=…]`, `sips:host` — resolved by
/// RFC 3263 per request (the core's `Dest`: config knows the core's types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamAddr {
    Addr(SocketAddr),
    Name(Dest),
}

impl UpstreamAddr {
    /// The address, when it is not a name.
    pub fn literal(&self) -> Option<SocketAddr> {
        match self {
            UpstreamAddr::Addr(a) => Some(*a),
            UpstreamAddr::Name(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for UpstreamAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_upstream(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "`{s}` is not an upstream: IP:port, a host name[:port], or a sip:/sips: URI with a host name"
            ))
        })
    }
}

fn parse_upstream(s: &str) -> Option<UpstreamAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(UpstreamAddr::Addr(a));
    }
    let lower = s.to_ascii_lowercase();
    let uri = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        s.to_string()
    } else {
        // host[:port]: only digits after the colon
        if s.rsplit_once(':').is_some_and(|(_, p)| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit())) {
            return None;
        }
        format!("sip:{s}")
    };
    let uri = crate::sip::parse_uri(uri.as_bytes()).ok()?;
    if uri.user.is_some() {
        return None;
    }
    Dest::of_uri(&uri).map(UpstreamAddr::Name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(s: &str) -> Result<UpstreamAddr, serde_json::Error> {
        serde_json::from_str(&format!("{s:?}"))
    }

    #[test]
    fn upstream_forms() {
        assert_eq!(up("10.0.0.1:5060").unwrap(), UpstreamAddr::Addr("10.0.0.1:5060".parse().unwrap()));
        let UpstreamAddr::Name(d) = up("sip:Core.Example.net").unwrap() else { panic!() };
        assert_eq!((d.host.as_str(), d.port, d.transport, d.secure), ("core.example.net", None, None, false));
        let UpstreamAddr::Name(d) = up("core.example.net:5080").unwrap() else { panic!() };
        assert_eq!(d.port, Some(5080));
        let UpstreamAddr::Name(d) = up("sips:trunk.carrier.example").unwrap() else { panic!() };
        assert!(d.secure);
        let UpstreamAddr::Name(d) = up("sip:core.example.net;transport=TCP").unwrap() else { panic!() };
        assert_eq!(d.transport, Some(crate::core::Transport::Tcp));
        for bad in ["", "10.0.0.1", "core..example", "sip:bob@core.example", "sip:10.0.0.1", "host:99999", "tel:+1"] {
            assert!(up(bad).is_err(), "{bad}");
        }
    }
}
