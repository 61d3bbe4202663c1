//! The `[protect]` table: the allowlist, scanner User-Agent patterns, the
//! flood and authentication-failure bans, per-method size limits, the UDP
//! MTU above which forwarded requests go over TCP, and rate-limit rules
//! (`[[protect.limit]]`). Every value is checked while it is read, so a bad
//! one is refused with its line and key.

use super::{Bounded, Cidr, MethodName};
use serde::{de, Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protect {
    /// Never limited and never banned (with `proxy.trusted`): PBXs, trunks, monitoring.
    pub allow: Vec<Cidr>,
    /// User-Agent substrings (case-insensitive) of scanners: dropped without an answer.
    pub scanners: Vec<String>,
    pub flood: Flood,
    pub auth_ban: AuthBan,
    /// Largest request per method in bytes, e.g. `{ INVITE = 8192 }`: larger gets 513.
    pub max_size: BTreeMap<MethodName, Bounded<256, 65535>>,
    /// A request forwarded to a UDP next hop larger than this goes over TCP; 0 = never.
    pub udp_mtu: Bounded<0, 65535>,
    /// Rate-limit rules, checked in order.
    pub limit: Vec<Limit>,
}

impl Default for Protect {
    fn default() -> Self {
        Protect {
            allow: Vec::new(),
            scanners: [
                "friendly-scanner",
                "sipvicious",
                "sipcli",
                "VaxSIPUserAgent",
                "sundayddr",
                "iWar",
                "sip-scan",
                "SIPScan",
                "pplsip",
            ]
            .map(String::from)
            .to_vec(),
            flood: Flood::default(),
            auth_ban: AuthBan::default(),
            max_size: BTreeMap::new(),
            udp_mtu: Bounded(1300),
            limit: Vec::new(),
        }
    }
}

/// `[protect.flood]`: a source IP sending `requests` in `window_secs` (over
/// every shard) is banned for `ban_secs`; `requests = 0` turns it off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flood {
    pub requests: Bounded<0, 10_000_000>,
    pub window_secs: Bounded<1, 3600>,
    pub ban_secs: Bounded<1, 604800>,
}

impl Default for Flood {
    fn default() -> Self {
        Flood { requests: Bounded(1000), window_secs: Bounded(5), ban_secs: Bounded(300) }
    }
}

/// `[protect.auth_ban]`: `failures` wrong passwords from one source IP in
/// `window_secs` (over all shards) ban it for `ban_secs`; 0 turns it off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthBan {
    pub failures: Bounded<0, 1_000_000>,
    pub window_secs: Bounded<1, 86400>,
    pub ban_secs: Bounded<1, 604800>,
}

impl Default for AuthBan {
    fn default() -> Self {
        AuthBan { failures: Bounded(10), window_secs: Bounded(300), ban_secs: Bounded(3600) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitKey {
    Ip,
    Aor,
    Event,
    UserAgent,
    Global,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitAction {
    /// 503 with Retry-After.
    #[default]
    Reject,
    /// No answer.
    Drop,
}

/// `[[protect.limit]]`: one token-bucket rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Names the rule in `sipedge_ratelimit_hits_total{rule}`.
    pub name: String,
    pub key: LimitKey,
    /// Methods the rule counts; empty = all.
    #[serde(default)]
    pub methods: Vec<MethodName>,
    /// Only requests whose User-Agent contains this (case-insensitive); empty = any.
    #[serde(default)]
    pub user_agent: String,
    /// Only requests with this Event package; empty = any.
    #[serde(default)]
    pub event: String,
    /// Requests a second for the whole edge (fractions allowed).
    pub rate: Rate,
    /// Requests allowed at once above the rate.
    pub burst: Bounded<1, 10_000_000>,
    #[serde(default)]
    pub action: LimitAction,
}

/// A positive rate, requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0 && v <= 10_000_000.0) {
            return Err(de::Error::custom(format!(
                "{v} is not a rate: must be above 0 and at most 10000000 per second"
            )));
        }
        Ok(Rate(v))
    }
}
