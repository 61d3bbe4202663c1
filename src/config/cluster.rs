//! `[cluster]`: one registrar across many edges, its location shared
//! through Redis (Redis Cluster when `redis` lists several seeds). Off by
//! default: a single edge works exactly as without it. Every value is
//! checked while it is read, so errors carry file, line and key.

use super::Bounded;
use serde::{de, Deserialize, Deserializer};
use std::net::SocketAddr;

/// Redis URLs: one (a single Redis) or several seeds (a Redis Cluster).
/// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedisUrls(pub Vec<String>);

impl<'de> Deserialize<'de> for RedisUrls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let urls = match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) if s.is_empty() => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        for u in &urls {
            let rest = u.strip_prefix("redis://").or_else(|| u.strip_prefix("rediss://"));
            let host = rest.map(|r| r.rsplit('@').next().unwrap_or(r)).map(|r| r.split('/').next().unwrap_or(r));
            if host.is_none_or(|h| h.is_empty()) {
                return Err(de::Error::custom(format!(
                    "`{u}` is not a Redis URL (redis://[user:password@]host:port[/db] or rediss://...)"
                )));
            }
        }
        Ok(RedisUrls(urls))
    }
}

/// This edge's name in the cluster: 1–64 of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeName(pub String);

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        if !ok {
            return Err(de::Error::custom(format!("`{s}` is not a node name (at most 64 of A-Z a-z 0-9 . _ -)")));
        }
        Ok(NodeName(s))
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// Share the location through Redis; the other keys matter only when on.
    pub enabled: bool,
    /// This edge's unique name (required when enabled).
    pub node: NodeName,
    /// One Redis URL, or a list of Redis Cluster seed URLs (required when enabled).
    pub redis: RedisUrls,
    /// `IP:port` (UDP) where other edges send requests for this edge's devices
    /// (required when enabled; a UDP listener must be bound there).
    #[serde(deserialize_with = "optional_addr")]
    pub peer_addr: Option<SocketAddr>,
    /// Deadline of one Redis round trip, milliseconds.
    pub redis_timeout_ms: Bounded<1, 10000>,
    /// Requests queued from the shards to the Redis thread; past it an ask is refused and counted.
    pub queue: Bounded<16, 1000000>,
    /// An edge whose heartbeat is older than this is dead, milliseconds.
    pub liveness_ms: Bounded<500, 600000>,
    /// How often this edge writes its heartbeat and reads the others', milliseconds.
    pub heartbeat_ms: Bounded<100, 60000>,
    /// AORs changed while Redis was unreachable, remembered per shard for replay;
    /// past it the shard re-asserts all of its bindings when Redis returns.
    pub journal: Bounded<1, 10000000>,
    /// Other edges' bindings kept in memory per shard (AORs).
    pub cache_entries: Bounded<0, 10000000>,
    /// How long a cached copy is trusted without an invalidation, seconds.
    pub cache_secs: Bounded<1, 3600>,
    /// Bindings re-asserted per second per shard after Redis lost them or came back.
    pub reassert_rate: Bounded<1, 1000000>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            enabled: false,
            node: NodeName::default(),
            redis: RedisUrls::default(),
            peer_addr: None,
            redis_timeout_ms: Bounded(50),
            queue: Bounded(65536),
            liveness_ms: Bounded(3000),
            heartbeat_ms: Bounded(1000),
            journal: Bounded(100000),
            cache_entries: Bounded(100000),
            cache_secs: Bounded(60),
            reassert_rate: Bounded(2000),
        }
    }
}

/// `""` = none, else `IP:port`.
fn optional_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| de::Error::custom(format!("`{s}` is not IP:port (no DNS names)")))
}

impl Cluster {
    /// What an enabled cluster still lacks, as (key, message).
    pub fn missing(&self) -> Option<(&'static str, &'static str)> {
        if !self.enabled {
            return None;
        }
        if self.node.0.is_empty() {
            return Some(("cluster.node", "a cluster needs this edge's node name"));
        }
        if self.redis.0.is_empty() {
            return Some(("cluster.redis", "a cluster needs a Redis URL (or Redis Cluster seeds)"));
        }
        if self.peer_addr.is_none() {
            return Some(("cluster.peer_addr", "a cluster needs the IP:port other edges reach this one at"));
        }
        None
    }
}
