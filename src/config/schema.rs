//! The configuration schema: one struct per TOML table. A user file must
//! name only known keys; an omitted key takes its table's `Default` value.
//!
//! Defaults: the `Default` impls of this room are where they are decided;
//! `default.toml` (the embedded default, every key commented) shows each of
//! them, and `tests.rs` fails when a value there differs from the impl or a
//! key is missing from it. Nothing else holds a default: the core is given
//! its settings (`shard::build`), and its `cfg(test)` fixtures are checked
//! against these. Why not read omitted keys out of `default.toml` instead:
//! serde's container `default` builds the whole default before reading a
//! table, so deriving it by deserializing the embedded file would recurse,
//! and merging TOML trees before deserializing would lose the spans that
//! errors report as file:line:column.

use super::Bounded;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    #[serde(default)]
    pub registrar: Registrar,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub proxy: super::Proxy,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub hygiene: super::Hygiene,
    #[serde(default)]
    pub hep: super::Hep,
    #[serde(default)]
    pub protect: super::Protect,
    #[serde(default)]
    pub cluster: super::Cluster,
    #[serde(default)]
    pub dns: super::Dns,
    /// Device and carrier profiles, first match wins (none by default).
    #[serde(default)]
    pub profile: Vec<super::Profile>,
}

/// `[tls]`: what is not per listener. Certificates of listeners are in
/// `[[listen]]`; these are the key log and outgoing TLS to upstreams.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// SSLKEYLOGFILE-format key log for Wireshark; empty = off.
    pub key_log: String,
    /// PEM CAs that upstream certificates must chain to; empty = the system's.
    pub ca: String,
    /// Client certificate chain and key (PEM) shown to upstreams that ask.
    pub client_cert: String,
    pub client_key: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub shards: Bounded<0, 1024>,
    pub cores: Vec<Bounded<0, 4095>>,
    pub drain_secs: Bounded<0, 60>,
    pub udp_coalesce_us: Bounded<0, 1000>,
    pub steering: Steering,
    pub steer_responses: bool,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            shards: Bounded(0),
            cores: Vec::new(),
            drain_secs: Bounded(1),
            udp_coalesce_us: Bounded(0),
            steering: Steering::Hash,
            steer_responses: true,
        }
    }
}

/// `server.steering`: which shard's socket of a listener the kernel hands a
/// datagram or a new connection to (see tuning/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Steering {
    /// `"none"`: the kernel's SO_REUSEPORT hash of addresses and ports.
    #[default]
    #[serde(rename = "none")]
    Hash,
    /// SO_INCOMING_CPU on each shard's sockets: the kernel prefers the socket
    /// of the shard on the CPU that received the packet (Linux 6.1+).
    IncomingCpu,
    /// A classic BPF program on each reuseport group returns the shard on
    /// the CPU that received the packet (SO_ATTACH_REUSEPORT_CBPF, Linux 4.6+).
    Cbpf,
}

impl Steering {
    pub fn as_str(self) -> &'static str {
        match self {
            Steering::Hash => "none",
            Steering::IncomingCpu => "incoming-cpu",
            Steering::Cbpf => "cbpf",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    /// SIP over WebSocket (RFC 7118): browsers and WebRTC clients.
    Ws,
    /// SIP over WebSocket over TLS.
    Wss,
}

impl Transport {
    /// The configured spelling of the core's transport.
    pub fn of(t: crate::core::Transport) -> Transport {
        match t {
            crate::core::Transport::Udp => Transport::Udp,
            crate::core::Transport::Tcp => Transport::Tcp,
            crate::core::Transport::Tls => Transport::Tls,
            crate::core::Transport::Ws => Transport::Ws,
            crate::core::Transport::Wss => Transport::Wss,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// Takes `certificates` and `client_ca` (a TLS handshake first).
    pub fn is_tls(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// Listens on a TCP socket (everything but UDP).
    pub fn is_tcp(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// Speaks WebSocket after the accept (and TLS handshake).
    pub fn is_websocket(self) -> bool {
        matches!(self, Transport::Ws | Transport::Wss)
    }
}

/// The core's transport of a configured one (config knows the core's
/// types; the core never knows config's).
impl From<Transport> for crate::core::Transport {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Udp => crate::core::Transport::Udp,
            Transport::Tcp => crate::core::Transport::Tcp,
            Transport::Tls => crate::core::Transport::Tls,
            Transport::Ws => crate::core::Transport::Ws,
            Transport::Wss => crate::core::Transport::Wss,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub transport: Transport,
    pub addr: SocketAddr,
    #[serde(default)]
    pub advertise: String,
    /// TLS and WSS listeners: certificate chains and keys (PEM). The first
    /// one is the default for clients that send no SNI or an unknown name.
    #[serde(default)]
    pub certificates: Vec<CertificateFiles>,
    /// TLS and WSS listeners: PEM file of the CAs whose client certificates are
    /// accepted; set = mutual TLS required (trunks, the core). Empty = none asked.
    #[serde(default)]
    pub client_ca: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFiles {
    /// PEM chain, leaf first.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub addr: SocketAddr,
}

impl Default for Admin {
    fn default() -> Self {
        Admin { addr: "127.0.0.1:9060".parse().unwrap() }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_message_bytes: Bounded<1024, 65535>,
    pub tcp_max_buffered_bytes: Bounded<1024, 1048576>,
    pub tcp_idle_timeout_secs: Bounded<1, 86400>,
    pub tcp_max_connections_per_shard: Bounded<1, 1000000>,
    pub tcp_max_connections_per_ip: Bounded<1, 1000000>,
    pub tls_handshake_timeout_ms: Bounded<100, 60000>,
    pub mesh_queue: Bounded<16, 1048576>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: Bounded(65535),
            tcp_max_buffered_bytes: Bounded(65535),
            tcp_idle_timeout_secs: Bounded(300),
            tcp_max_connections_per_shard: Bounded(10000),
            tcp_max_connections_per_ip: Bounded(100),
            tls_handshake_timeout_ms: Bounded(10000),
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub level: Level,
    pub queue: Bounded<16, 1048576>,
    pub format: LogFormat,
}

impl Default for Log {
    fn default() -> Self {
        Log { level: Level::Info, queue: Bounded(8192), format: LogFormat::Text }
    }
}

/// How a log line is written: for people (text) or for log shippers (one
/// JSON object per line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    pub flush_ms: Bounded<10, 60000>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { flush_ms: Bounded(1000) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnMaxContacts {
    Reject,
    ReplaceOldest,
}

/// `registrar.mode`: keep registrations here, or in front of a core registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrarMode {
    Local,
    Mid,
}

/// `registrar.throttle` (mid mode): one upstream registration per device
/// contact, or one per AOR (the edge forks calls itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Throttle {
    Contact,
    Aor,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Registrar {
    pub domains: Vec<String>,
    pub default_expires: Bounded<1, 604800>,
    pub min_expires: Bounded<1, 604800>,
    pub max_expires: Bounded<1, 604800>,
    pub max_contacts: Bounded<1, 1000>,
    pub on_max_contacts: OnMaxContacts,
    pub flow_timer_secs: Bounded<10, 3600>,
    pub mode: RegistrarMode,
    /// Mid mode: the core registrar, tried in order (failover on `proxy.failover_on`).
    pub upstream: Vec<super::Upstream>,
    /// Mid mode: the expiry devices get.
    pub device_expires: Bounded<10, 86400>,
    /// Mid mode: the expiry the core gets.
    pub upstream_expires: Bounded<60, 604800>,
    pub throttle: Throttle,
}

impl Default for Registrar {
    fn default() -> Self {
        Registrar {
            domains: vec!["localhost".into(), "127.0.0.1".into()],
            default_expires: Bounded(3600),
            min_expires: Bounded(60),
            max_expires: Bounded(7200),
            max_contacts: Bounded(10),
            on_max_contacts: OnMaxContacts::Reject,
            flow_timer_secs: Bounded(120),
            mode: RegistrarMode::Local,
            upstream: Vec::new(),
            device_expires: Bounded(60),
            upstream_expires: Bounded(3600),
            throttle: Throttle::Contact,
        }
    }
}

/// A digest algorithm name as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-512-256")]
    Sha512_256,
    #[serde(rename = "MD5")]
    Md5,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub enabled: bool,
    pub users_file: String,
    pub algorithms: Vec<DigestAlgorithm>,
    pub nonce_lifetime_secs: Bounded<10, 86400>,
    pub secret: Secret,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            enabled: true,
            users_file: String::new(),
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            nonce_lifetime_secs: Bounded(300),
            secret: Secret(None),
        }
    }
}

/// 32-byte nonce secret, written as 64 hex digits; empty = random at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret(pub Option<[u8; 32]>);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(Secret(None));
        }
        let bytes = s.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(serde::de::Error::custom("must be 64 hex digits (32 bytes), or empty for a random secret"));
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(serde::de::Error::custom)?;
        }
        Ok(Secret(Some(out)))
    }
}
