//! The configuration schema: one struct per TOML table. Defaults live in
//! `default.toml` (the embedded default); a user file must still name only
//! known keys, and omitted keys take the values shown there.

use super::Bounded;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub listen: Vec<Listen>,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub log: Log,
    #[serde(default)]
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub shards: Bounded<0, 1024>,
    pub cores: Vec<Bounded<0, 4095>>,
    pub drain_secs: Bounded<0, 60>,
    pub udp_coalesce_us: Bounded<0, 1000>,
}

impl Default for Server {
    fn default() -> Self {
        Server { shards: Bounded(0), cores: Vec::new(), drain_secs: Bounded(1), udp_coalesce_us: Bounded(100) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// The Via transport token (RFC 3261 §20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub transport: Transport,
    pub addr: SocketAddr,
    #[serde(default)]
    pub advertise: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub addr: SocketAddr,
}

impl Default for Admin {
    fn default() -> Self {
        Admin { addr: "127.0.0.1:9060".parse().unwrap() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_message_bytes: Bounded<1024, 65535>,
    pub tcp_max_buffered_bytes: Bounded<1024, 1048576>,
    pub tcp_idle_timeout_secs: Bounded<1, 86400>,
    pub tcp_max_connections_per_shard: Bounded<1, 1000000>,
    pub mesh_queue: Bounded<16, 1048576>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: Bounded(65535),
            tcp_max_buffered_bytes: Bounded(65535),
            tcp_idle_timeout_secs: Bounded(300),
            tcp_max_connections_per_shard: Bounded(10000),
            mesh_queue: Bounded(4096),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub fn filter(self) -> log::LevelFilter {
        match self {
            Level::Error => log::LevelFilter::Error,
            Level::Warn => log::LevelFilter::Warn,
            Level::Info => log::LevelFilter::Info,
            Level::Debug => log::LevelFilter::Debug,
            Level::Trace => log::LevelFilter::Trace,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: Level,
    pub queue: Bounded<16, 1048576>,
}

impl Default for Log {
    fn default() -> Self {
        Log { level: Level::Info, queue: Bounded(8192) }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    pub flush_ms: Bounded<10, 60000>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { flush_ms: Bounded(1000) }
    }
}
