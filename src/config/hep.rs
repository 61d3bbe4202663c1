//! `[hep]`: HEP v3 capture to a Homer collector. The collector address
//! (`"udp:IP:port"` / `"tcp:IP:port"`, empty = off), the capture agent id and
//! password, and what is captured: sources (CIDRs), AORs, methods and a
//! sampling ratio by Call-ID. Every value is checked while it is read, so
//! errors carry file, line and key like the rest of the config.

use super::{Bounded, Cidr, MethodName};
use serde::{de, Deserialize, Deserializer};
use std::net::SocketAddr;

/// Where captured messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Collector {
    /// No capture (the hot path pays one branch).
    #[default]
    Off,
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

impl<'de> Deserialize<'de> for Collector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(Collector::Off);
        }
        let bad = || de::Error::custom(format!("`{s}` is not \"udp:IP:port\" or \"tcp:IP:port\" (no DNS names)"));
        let (proto, addr) = s.split_once(':').ok_or_else(bad)?;
        let addr: SocketAddr = addr.parse().map_err(|_| bad())?;
        match proto {
            "udp" => Ok(Collector::Udp(addr)),
            "tcp" => Ok(Collector::Tcp(addr)),
            _ => Err(bad()),
        }
    }
}

/// A sampling ratio in 0.0..=1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio(pub f64);

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(de::Error::custom(format!("{v} is out of range: a ratio between 0.0 and 1.0")));
        }
        Ok(Ratio(v))
    }
}

/// An AOR pattern: `user@host` exact, or with a leading and/or trailing
/// `*` (suffix, prefix, substring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AorPattern(pub String);

impl<'de> Deserialize<'de> for AorPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let inner = s.trim_start_matches('*').trim_end_matches('*');
        if inner.is_empty() || inner.contains('*') || inner.bytes().any(|c| c.is_ascii_whitespace()) {
            return Err(de::Error::custom(format!("`{s}` is not an AOR pattern (user@host, `*` only at either end)")));
        }
        Ok(AorPattern(s))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hep {
    pub collector: Collector,
    /// Capture agent id (chunk 12), to tell edges apart in Homer.
    pub agent_id: Bounded<0, 4294967295>,
    /// Auth key (chunk 14); empty = no chunk.
    pub password: String,
    /// Share of Call-IDs captured (by a hash of the Call-ID).
    pub sample: Ratio,
    /// Capture only messages exchanged with peers in these CIDRs (empty = any).
    pub sources: Vec<Cidr>,
    /// Capture only messages whose From or To is one of these (empty = any).
    pub aors: Vec<AorPattern>,
    /// Capture only these methods (responses by their CSeq method; empty = any).
    pub methods: Vec<MethodName>,
    /// Encoded packets queued per shard to the sender thread; full = counted drop.
    pub queue: Bounded<16, 1048576>,
}

impl Default for Hep {
    fn default() -> Self {
        Hep {
            collector: Collector::Off,
            agent_id: Bounded(0),
            password: String::new(),
            sample: Ratio(1.0),
            sources: Vec::new(),
            aors: Vec::new(),
            methods: Vec::new(),
            queue: Bounded(8192),
        }
    }
}
